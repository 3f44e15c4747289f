"""``Embedding``: a lookup table from token ids to vectors, like ``torch.nn.Embedding``.

Looking up row ``ids[i]`` of ``weight`` is the same as multiplying a one-hot vector
by ``weight``, so its backward is the transpose of that product: every upstream
gradient row is added into the row it was read from (``np.add.at``, because the same
id can appear many times in a batch)::

    y[...]            = weight[ids[...]]          (..., E)
    dweight[ids[...]] += dy[...]                  (V, E)

The ids are integers, not differentiable, so ``backward`` returns ``None``.
With ``padding_idx`` that row starts at zero and never receives a gradient, as in
PyTorch: a padded position contributes nothing to the update.
"""

from __future__ import annotations

import numpy as np

from numrnn._checks import as_array, as_float_array, check_positive_int
from numrnn.backend import get_array_module
from numrnn.errors import UsageTypeError, UsageValueError
from numrnn.memory import check_allocation, parameter_bytes
from numrnn.nn.module import Module


class Embedding(Module):
    """Token ids (...) -> vectors (..., embedding_dim).

    Parameters
    ----------
    num_embeddings : V, the size of the vocabulary.
    embedding_dim : E, the size of each vector.
    padding_idx : optional id whose row is zero and gets no gradient (negative
        values count from the end, as in PyTorch).
    dtype, seed : parameter dtype and the seed of the N(0, 1) initialisation.

    Parameter ``weight`` (V, E), initialised from N(0, 1) as PyTorch does. Sizes beyond
    the allocation guard's bound raise :class:`numrnn.errors.SizeError` before anything
    is allocated (:mod:`numrnn.memory`).
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None,
                 dtype=np.float32, seed: int | None = None):
        super().__init__(dtype)
        self.num_embeddings = check_positive_int(num_embeddings, "num_embeddings", "Embedding")
        self.embedding_dim = check_positive_int(embedding_dim, "embedding_dim", "Embedding")
        if padding_idx is not None:
            if isinstance(padding_idx, bool) or not isinstance(padding_idx, (int, np.integer)):
                raise UsageTypeError(f"Embedding: padding_idx must be an integer or None; got "
                                     f"{padding_idx!r}")
            if not -self.num_embeddings <= padding_idx < self.num_embeddings:
                raise UsageValueError(f"Embedding: padding_idx must be in [-{self.num_embeddings}, "
                                      f"{self.num_embeddings}); got {padding_idx}")
            padding_idx = int(padding_idx) % self.num_embeddings
        self.padding_idx = padding_idx
        check_allocation(parameter_bytes([(self.num_embeddings, self.embedding_dim)], self.dtype),
                         f"Embedding({self.num_embeddings}, {self.embedding_dim}) (weight and its gradient)")
        self.rng = np.random.default_rng(seed)
        w = self.rng.standard_normal((self.num_embeddings, self.embedding_dim)).astype(self.dtype)
        if padding_idx is not None:
            w[padding_idx] = 0
        self._add_param("weight", w)
        self._cache = None

    def no_grad_entries(self) -> dict:
        """The padding row reads into the output but never gets a gradient (PyTorch's
        rule), so central differences cannot agree there: the checker skips it."""
        if self.padding_idx is None:
            return {}
        mask = np.zeros(self._params["weight"].shape, dtype=bool)
        mask[self.padding_idx] = True
        return {"weight": mask}

    def __repr__(self) -> str:
        extra = "" if self.padding_idx is None else f", padding_idx={self.padding_idx}"
        return f"Embedding({self.num_embeddings}, {self.embedding_dim}{extra})"

    def _check_ids(self, ids):
        ids = as_array(ids, "Embedding", "an array of integer token ids")
        if ids.dtype.kind not in "iu":
            raise UsageTypeError(f"Embedding: input must be integer token ids; got dtype {ids.dtype}")
        if ids.size and (int(ids.min()) < 0 or int(ids.max()) >= self.num_embeddings):
            raise UsageValueError(f"Embedding: ids must be in [0, {self.num_embeddings}); "
                                  f"got min {int(ids.min())}, max {int(ids.max())}")
        return ids

    def forward(self, ids):
        """Integer ids (...) -> vectors (..., E)."""
        ids = self._check_ids(ids)
        self._cache = ids
        return self._params["weight"][ids]  # (..., E)

    def backward(self, dy):
        """Add dL/dy (..., E) into ``grads["weight"]``; returns ``None`` (ids have no gradient)."""
        ids = self._saved_cache()  # this thread's forward; RuntimeError before it or after a backward
        dy = as_float_array(dy, "dy", "Embedding", self.dtype)
        expected = (*ids.shape, self.embedding_dim)
        if tuple(dy.shape) != expected:
            raise UsageValueError(f"Embedding: dy must have shape {expected} (the output's); "
                                  f"got {tuple(dy.shape)}")
        xp = get_array_module(dy)
        dw = xp.zeros_like(self._params["weight"])  # (V, E)
        xp.add.at(dw, ids.reshape(-1), dy.reshape(-1, self.embedding_dim))
        if self.padding_idx is not None:
            dw[self.padding_idx] = 0
        self._accumulate("weight", dw)
        self._used_cache()
        return None

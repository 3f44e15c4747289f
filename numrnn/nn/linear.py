"""``Linear``: the head that turns hidden states into scores, like ``torch.nn.Linear``."""

from __future__ import annotations

import math

import numpy as np

from numrnn._checks import as_float_array, check_bool, check_positive_int
from numrnn.errors import UsageValueError
from numrnn.functional.linear import linear_backward, linear_forward
from numrnn.memory import check_allocation, parameter_bytes
from numrnn.nn.module import Module


class Linear(Module):
    """``y = x @ weight.T + bias`` on (..., in_features) -> (..., out_features).

    Works on (N, F) and on sequences (T, N, F) alike. Parameters ``weight``
    (out_features, in_features) and ``bias`` (out_features,), initialised from
    U(-1/sqrt(in_features), 1/sqrt(in_features)) as PyTorch does. Sizes beyond the
    allocation guard's bound raise :class:`numrnn.errors.SizeError` before anything is
    allocated (:mod:`numrnn.memory`).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 dtype=np.float32, seed: int | None = None):
        super().__init__(dtype)
        self.in_features = check_positive_int(in_features, "in_features", "Linear")
        self.out_features = check_positive_int(out_features, "out_features", "Linear")
        self.bias = check_bool(bias, "bias", "Linear")
        shapes = [(self.out_features, self.in_features)] + [(self.out_features,)] * self.bias
        check_allocation(parameter_bytes(shapes, self.dtype),
                         f"Linear({self.in_features}, {self.out_features}) (parameters and gradients)")
        self.rng = np.random.default_rng(seed)
        k = 1.0 / math.sqrt(self.in_features)
        self._add_param("weight", self.rng.uniform(-k, k, (self.out_features, self.in_features))
                        .astype(self.dtype))
        if self.bias:
            self._add_param("bias", self.rng.uniform(-k, k, self.out_features).astype(self.dtype))
        self._cache = None

    def __repr__(self) -> str:
        extra = "" if self.bias else ", bias=False"
        return f"Linear({self.in_features}, {self.out_features}{extra})"

    def forward(self, x):
        """(..., in_features) -> (..., out_features)."""
        x = as_float_array(x, "input", "Linear", self.dtype)
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise UsageValueError(f"Linear: input must have in_features={self.in_features} features in its "
                                  f"last axis; got shape {tuple(x.shape)}")
        # a copy of x: the cache keeps it, and the caller may write into its own array
        y, self._cache = linear_forward(x.copy(), self._params["weight"], self._params.get("bias"))
        return y

    def backward(self, dy):
        """dL/dy (..., out_features) -> dL/dx (..., in_features); adds into :attr:`grads`."""
        cache = self._saved_cache()  # this thread's forward; RuntimeError before it or after a backward
        dy = as_float_array(dy, "dy", "Linear", self.dtype)
        expected = (*cache.lead, self.out_features)
        if tuple(dy.shape) != expected:
            raise UsageValueError(f"Linear: dy must have shape {expected} (the output's); got "
                                  f"{tuple(dy.shape)}")
        dx, dw, db = linear_backward(dy, cache)
        self._accumulate("weight", dw)
        if self.bias:
            self._accumulate("bias", db)
        self._used_cache()
        return dx

"""``Dropout``: inverted dropout, like ``torch.nn.Dropout``.

In training mode each element is kept with probability 1 - p and scaled by
1 / (1 - p), so the expected output equals the input and evaluation needs no
rescaling; in evaluation mode (``module.eval()``) it is the identity::

    mask = (u >= p) / (1 - p),  u ~ U(0, 1)      (same shape as x)
    y    = x * mask             dx = dy * mask

The mask of the last forward is kept for backward. Inside
``module.hold_randomness()`` forwards reuse it (the gradient checker needs the same
function at every evaluation).
"""

from __future__ import annotations

import numpy as np

from numrnn._checks import FLOAT_DTYPES, as_array, as_float_array, check_real, check_shape
from numrnn.backend import get_array_module
from numrnn.errors import UsageTypeError
from numrnn.nn.module import Module


class Dropout(Module):
    """Zero each element with probability ``p`` in training mode; identity in eval mode."""

    def __init__(self, p: float = 0.5, seed: int | None = None):
        super().__init__()
        self.p = check_real(p, "p", "Dropout", 0, 1, high_open=True)
        self.rng = np.random.default_rng(seed)
        self._mask = None  # from the last training-mode forward
        self._hold_masks = False
        self._cache = None

    def __repr__(self) -> str:
        return f"Dropout(p={self.p})"

    def forward(self, x):
        """x (any shape, float) -> same shape."""
        x = as_array(x, "Dropout")
        xp = get_array_module(x)
        if x.dtype not in FLOAT_DTYPES:
            raise UsageTypeError(f"Dropout: input must be float32 or float64; got dtype {x.dtype}")
        active = self.training and self.p > 0
        if active:
            held = self._hold_masks and self._mask is not None and self._mask.shape == x.shape
            if not held:
                keep = self.rng.random(x.shape) >= self.p
                self._mask = xp.asarray(keep / (1.0 - self.p))
            mask = self._mask.astype(x.dtype, copy=False)
            self._cache = (mask, x.shape, x.dtype)  # the mask travels with this thread's cache
            return x * mask
        self._cache = (None, x.shape, x.dtype)
        return x

    def backward(self, dy):
        """dL/dy -> dL/dx: the same mask (or the identity in eval mode)."""
        mask, shape, dtype = self._saved_cache()  # RuntimeError before a forward or after a backward
        dy = as_float_array(dy, "dy", "Dropout", dtype)  # an integer dy would truncate the mask
        check_shape(dy, shape, "dy", "Dropout", "(the output's)")
        self._used_cache()
        return dy if mask is None else dy * mask

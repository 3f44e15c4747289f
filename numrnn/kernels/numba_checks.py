"""Input checks at the entry points of the Numba kernels (``numba_{rnn,lstm,gru}.py``).

Compiled Numba code does not check its indexes: a weight one row short or a bias of
the wrong length is read past its end, and the kernel returns garbage (or crashes)
instead of the ValueError the NumPy reference raises. So every public kernel function
checks its arguments here first, in one place for the three cells, before any compiled
body runs. Each check raises TypeError (not an array, wrong dtype) or ValueError (wrong
shape, one bias without the other) with what was expected and what was given.

Shapes, with ``G`` gates per cell (RNN 1, GRU 3, LSTM 4)::

    x (T, N, I)   T, N, I >= 1           h0 (N, P)     P = H unless the LSTM projects
    w_ih (G*H, I)   w_hh (G*H, P)        c0 (N, H)     LSTM only
    b_ih, b_hh (G*H,), both or neither   w_hr (P, H)   LSTM with proj_size only
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from numrnn._checks import check_shape
from numrnn.errors import UsageTypeError, UsageValueError


class LayerArgs(NamedTuple):
    """A layer's checked arguments: C-contiguous, all of x's dtype; the sizes they imply."""

    x: np.ndarray  # (T, N, I)
    h0: np.ndarray  # (N, P)
    c0: np.ndarray | None  # (N, H), LSTM only
    w_ih: np.ndarray  # (G*H, I)
    w_hh: np.ndarray  # (G*H, P)
    b_ih: np.ndarray | None  # (G*H,)
    b_hh: np.ndarray | None  # (G*H,)
    w_hr: np.ndarray | None  # (P, H), LSTM with projection only
    H: int
    P: int


def check_float(owner: str, name: str, a, dtype: np.dtype) -> np.ndarray:
    """``a`` as a C-contiguous array if it is a NumPy array of ``dtype``, else a TypeError."""
    if not isinstance(a, np.ndarray):
        raise UsageTypeError(f"{owner}: {name} must be a NumPy array of dtype {dtype}; got "
                             f"{type(a).__name__}")
    if a.dtype != dtype:
        raise UsageTypeError(f"{owner}: {name} must have dtype {dtype} like x; got {a.dtype}")
    return np.ascontiguousarray(a)


def _shape(owner: str, name: str, a: np.ndarray, expected: tuple, meaning: str) -> None:
    check_shape(a, expected, name, owner, meaning, layout_first=True)


def check_input(owner: str, x) -> np.ndarray:
    """x as a C-contiguous float32/float64 array of shape (T, N, I), none of them 0."""
    x = np.ascontiguousarray(x)
    if x.dtype not in (np.float32, np.float64):
        raise UsageTypeError(f"{owner}: x must be float32 or float64; got {x.dtype}")
    if x.ndim != 3 or x.size == 0:
        raise UsageValueError(f"{owner}: x must have shape (T, N, I) with T, N, I >= 1; got {x.shape}")
    return x


def check_layer(owner: str, gates: int, x, h0, w_ih, w_hh, b_ih=None, b_hh=None, c0=None,
                w_hr=None, has_c: bool = False) -> LayerArgs:
    """Check one layer's arguments against each other and return them ready for the kernel.

    H is the hidden size: ``c0.shape[1]`` for the LSTM (``has_c``), else ``h0.shape[1]``;
    P is ``h0.shape[1]``, which must equal H unless ``w_hr`` is given.
    """
    x = check_input(owner, x)
    dtype = x.dtype
    T, N, I = x.shape
    h0 = check_float(owner, "h0", h0, dtype)
    if h0.ndim != 2 or h0.shape[0] != N:
        raise UsageValueError(f"{owner}: h0 must have shape (N, P) with N = {N} like x; got {h0.shape}")
    P = h0.shape[1]
    H = P
    if has_c:
        c0 = check_float(owner, "c0", c0, dtype)
        if c0.ndim != 2 or c0.shape[0] != N:
            raise UsageValueError(f"{owner}: c0 must have shape (N, H) with N = {N} like x; got {c0.shape}")
        H = c0.shape[1]
        if w_hr is None:
            if P != H:
                raise UsageValueError(f"{owner}: without w_hr, h0 (N, H) and c0 (N, H) must have the same "
                                      f"size; got h0 {h0.shape} and c0 {c0.shape}")
        else:
            w_hr = check_float(owner, "w_hr", w_hr, dtype)
            _shape(owner, "w_hr", w_hr, (P, H), "(P, H)")
    elif w_hr is not None:
        raise UsageValueError(f"{owner}: w_hr (a projection) is an LSTM argument only")
    if H < 1:
        raise UsageValueError(f"{owner}: the hidden size must be at least 1; got H = {H}")
    g = "" if gates == 1 else str(gates)
    w_ih = check_float(owner, "w_ih", w_ih, dtype)
    _shape(owner, "w_ih", w_ih, (gates * H, I), f"({g}H, I)")
    w_hh = check_float(owner, "w_hh", w_hh, dtype)
    _shape(owner, "w_hh", w_hh, (gates * H, P), f"({g}H, P)" if has_c else f"({g}H, H)")
    if (b_ih is None) != (b_hh is None):
        raise UsageValueError(f"{owner}: give both b_ih and b_hh or neither; got b_ih "
                              f"{'None' if b_ih is None else 'an array'} and b_hh "
                              f"{'None' if b_hh is None else 'an array'}")
    if b_ih is not None:
        b_ih = check_float(owner, "b_ih", b_ih, dtype)
        _shape(owner, "b_ih", b_ih, (gates * H,), f"({g}H,)")
        b_hh = check_float(owner, "b_hh", b_hh, dtype)
        _shape(owner, "b_hh", b_hh, (gates * H,), f"({g}H,)")
    return LayerArgs(x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr, H, P)


def check_grad(owner: str, name: str, d, like: np.ndarray, meaning: str) -> np.ndarray:
    """An upstream gradient ``d``: the dtype and shape of ``like`` (the forward's output)."""
    d = check_float(owner, name, d, like.dtype)
    _shape(owner, name, d, like.shape, meaning)
    return d

"""What every Numba kernel test shares: the grid, the tolerances and the comparisons
of a kernel's results with the NumPy reference's (tests/kernels/test_numba_*.py)."""

import numba
import numpy as np
import pytest

from tests.torch_oracle import max_rel

#: With ``NUMBA_DISABLE_JIT=1`` the kernels run as Python loops: a corner of the grid.
JIT_OFF = bool(numba.config.DISABLE_JIT)
#: max |kernel - reference| / max |reference| per returned array.
TOL = {np.float64: 1e-10, np.float32: 1e-5}
DTYPES = [np.float64, np.float32]
#: (T, N, D, H): one step, one sequence, H not a multiple of the vector width, wide H, ...
SHAPES = [(1, 1, 3, 4), (6, 1, 5, 7), (5, 3, 4, 6)] if JIT_OFF else [
    (1, 1, 3, 4), (6, 1, 5, 7), (5, 3, 4, 6), (9, 4, 8, 33), (7, 2, 16, 64), (3, 5, 3, 130)]


def uniform(rng, H: int, dtype):
    """``u(*shape)``: PyTorch's initialisation U(-1/sqrt(H), 1/sqrt(H)) in ``dtype``."""
    k = 1 / np.sqrt(H)
    return lambda *shape: rng.uniform(-k, k, shape).astype(dtype)


def assert_results_match(names, got, want, dtype) -> None:
    """Each kernel result equals the reference's within TOL (``None`` where it is ``None``)."""
    for name, g, w in zip(names, got, want, strict=True):
        if w is None:
            assert g is None, name
            continue
        assert g.shape == w.shape and g.dtype == dtype, name
        assert max_rel(g, w) <= TOL[dtype], name


def copies(arrays) -> list:
    """Copies of ``arrays`` (``None`` kept), for :func:`assert_unchanged`."""
    return [None if a is None else a.copy() for a in arrays]


def assert_unchanged(arrays, before) -> None:
    """The kernel modified none of its inputs."""
    for a, b in zip(arrays, before, strict=True):
        if a is not None:
            np.testing.assert_array_equal(a, b)


def assert_rejects(fn, good: dict, name: str, bad, error, match: str) -> None:
    """``fn(**good)`` runs; with ``good[name]`` replaced by ``bad`` it raises ``error``
    whose message matches ``match`` (compiled code checks no index: the entry point must)."""
    fn(**good)
    with pytest.raises(error, match=match):
        fn(**dict(good, **{name: bad}))

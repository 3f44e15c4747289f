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
#: (T, N, I, H): one step, one sequence, H not a multiple of the vector width, wide H, ...
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


def layer_args(rng, T, N, I, H, dtype, bias, gates, P=0, cell_state=False) -> tuple:
    """x, h0[, c0], w_ih, w_hh, b_ih, b_hh[, w_hr] for one layer of a cell with ``gates``
    row blocks; ``cell_state`` adds c0 and w_hr (the LSTM; P = 0: no projection)."""
    Po = P or H
    u = uniform(rng, H, dtype)
    x = rng.standard_normal((T, N, I)).astype(dtype)
    h0 = rng.standard_normal((N, Po)).astype(dtype)
    c0 = (rng.standard_normal((N, H)).astype(dtype),) if cell_state else ()
    b = (u(gates * H), u(gates * H)) if bias else (None, None)
    w_hr = ((u(P, H) if P else None),) if cell_state else ()
    return (x, h0, *c0, u(gates * H, I), u(gates * H, Po), b[0], b[1], *w_hr)


def twins(cls, dtype, **kw):
    """Two modules of class ``cls`` with the same weights, on the NumPy reference and on
    the Numba kernels."""
    a = cls(dtype=dtype, backend="numpy", seed=3, **kw)
    b = cls(dtype=dtype, backend="numba", seed=4, **kw)
    b.load_state_dict(a.state_dict())
    return a, b


def _as_tuple(s) -> tuple:
    return s if isinstance(s, tuple) else (s,)


def compare_modules(a, b, x, hx, dtype, kernels, lengths=None) -> None:
    """The Numba module ``b`` equals the reference module ``a`` within TOL: outputs, final
    states, dx, the initial states' gradients and every parameter gradient (the same names).
    ``kernels`` is the kernel module ``b`` must have run."""
    out_a, hn_a = a(x, hx, lengths=lengths)
    out_b, hn_b = b(x, hx, lengths=lengths)
    assert b.last_backend == "numba" and b.last_kernels == kernels.__name__ and a.last_backend == "numpy"
    for u, v in zip((out_b, *_as_tuple(hn_b)), (out_a, *_as_tuple(hn_a)), strict=True):
        assert max_rel(u, v) <= TOL[dtype]
    rng = np.random.default_rng(7)
    dout = rng.standard_normal(out_a.shape).astype(dtype)
    dhx = tuple(rng.standard_normal(s.shape).astype(dtype) for s in _as_tuple(hn_a))
    dhx = dhx if isinstance(hn_a, tuple) else dhx[0]
    dx_a, dh0_a = a.backward(dout, dhx)
    dx_b, dh0_b = b.backward(dout, dhx)
    for u, v in zip((dx_b, *_as_tuple(dh0_b)), (dx_a, *_as_tuple(dh0_a)), strict=True):
        assert max_rel(u, v) <= TOL[dtype]
    assert set(b.grads) == set(a.grads)
    for name, g in a.grads.items():
        assert max_rel(b.grads[name], g) <= TOL[dtype], name

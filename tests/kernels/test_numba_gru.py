"""numrnn/kernels/numba_gru.py against the NumPy reference numrnn/functional/gru.py.

Float64 must agree within 1e-10 and float32 within 1e-5, measured as
max |a - b| / max |b| per returned array. The kernel is checked on its own (bias,
both dtypes, several shapes, loops and BLAS), through ``nn.GRU(backend="numba")`` over
layers x directions x layout x bias, with lengths and unbatched input, and with the
gradient checker.
"""

import itertools

import numpy as np
import pytest

numba = pytest.importorskip("numba")

import numrnn as nr  # noqa: E402
from numrnn import backend as backend_mod  # noqa: E402
from numrnn.functional import gru as ref  # noqa: E402
from numrnn.kernels import numba_gru as nb  # noqa: E402
from tests.kernels.kernel_checks import (  # noqa: E402
    DTYPES,
    JIT_OFF,
    SHAPES,
    TOL,
    assert_rejects,
    assert_results_match,
    assert_unchanged,
    compare_modules,
    copies,
    layer_args,
    twins,
)
from tests.torch_oracle import max_rel  # noqa: E402


def _layer_args(rng, T, N, I, H, dtype, bias):
    """x, h0, w_ih, w_hh, b_ih, b_hh for one layer."""
    return layer_args(rng, T, N, I, H, dtype, bias, gates=3)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("use_loops", [None, True, False])
def test_kernel_matches_reference(rng, dtype, shape, bias, use_loops):
    T, N, D, H = shape
    args = _layer_args(rng, T, N, D, H, dtype, bias)
    before = copies(args)
    h_ref, cache_ref = ref.gru_forward(*args)
    h, cache = nb.gru_forward(*args, use_loops=use_loops)
    assert h.shape == (T, N, H) and h.dtype == dtype
    assert max_rel(h, h_ref) <= TOL[dtype]

    dh = rng.standard_normal((T, N, H)).astype(dtype)
    dh_before = dh.copy()
    got = nb.gru_backward(dh, cache)
    want = ref.gru_backward(dh, cache_ref)
    assert_results_match(["dx", "dh0", "dw_ih", "dw_hh", "db_ih", "db_hh"], got, want, dtype)
    assert_unchanged(args + (dh,), before + [dh_before])


def test_weights_are_not_cached_between_calls(rng):
    """The gradient checker perturbs weights in place between forwards."""
    x, h0, w_ih, w_hh, b_ih, b_hh = _layer_args(rng, 4, 2, 3, 5, np.float64, True)
    for use_loops in (True, False):
        nb.gru_forward(x, h0, w_ih, w_hh, b_ih, b_hh, use_loops=use_loops)
        w_hh[1, 2] += 0.3
        w_ih[0, 1] -= 0.2
        b_hh[11] += 0.1  # block n: used after the reset gate
        h, _ = nb.gru_forward(x, h0, w_ih, w_hh, b_ih, b_hh, use_loops=use_loops)
        h_ref, _ = ref.gru_forward(x, h0, w_ih, w_hh, b_ih, b_hh)
        assert max_rel(h, h_ref) <= 1e-12


def test_kernel_rejects_bad_inputs(rng):
    x, h0, w_ih, w_hh, b_ih, b_hh = _layer_args(rng, 3, 2, 3, 4, np.float64, True)
    with pytest.raises(TypeError, match="dtype"):
        nb.gru_forward(x, h0.astype(np.float32), w_ih, w_hh)
    with pytest.raises(TypeError, match="float32 or float64"):
        nb.gru_forward(x.astype(np.int64), h0, w_ih, w_hh)
    _, cache = nb.gru_forward(x, h0, w_ih, w_hh, b_ih, b_hh)
    with pytest.raises(ValueError, match="dh must have shape"):
        nb.gru_backward(np.zeros((3, 2, 5)), cache)


# N = 1, H = 4 takes the hand-written loop, which indexes every weight without checks.
BAD_FORWARD = [
    ("w_hh", np.zeros((12, 3)), ValueError, r"w_hh must have shape \(3H, H\) = \(12, 4\); got \(12, 3\)"),
    ("w_hh", np.zeros((4, 4)), ValueError, "w_hh must have shape"),
    ("w_ih", np.zeros((12, 3)), ValueError, r"w_ih must have shape \(3H, I\) = \(12, 2\)"),
    ("b_ih", np.zeros(11), ValueError, r"b_ih must have shape \(3H,\) = \(12,\); got \(11,\)"),
    ("b_hh", np.zeros(4), ValueError, "b_hh must have shape"),
    ("b_hh", None, ValueError, "both b_ih and b_hh or neither"),
    ("h0", np.zeros((3, 4)), ValueError, "h0 must have shape"),
    ("x", np.zeros((3, 0, 2)), ValueError, "T, N, I >= 1"),
    ("w_ih", np.zeros((12, 2), np.float32), TypeError, "w_ih must have dtype float64"),
]


@pytest.mark.parametrize("name, bad, error, match", BAD_FORWARD)
@pytest.mark.parametrize("use_loops", [True, False])
def test_forward_checks_every_shape(name, bad, error, match, use_loops):
    good = dict(x=np.zeros((3, 1, 2)), h0=np.zeros((1, 4)), w_ih=np.zeros((12, 2)), w_hh=np.zeros((12, 4)),
                b_ih=np.zeros(12), b_hh=np.zeros(12), use_loops=use_loops)
    assert_rejects(nb.gru_forward, good, name, bad, error, match)


def test_backward_checks_dh(rng):
    x, h0, w_ih, w_hh, b_ih, b_hh = _layer_args(rng, 3, 1, 2, 4, np.float64, True)
    _, cache = nb.gru_forward(x, h0, w_ih, w_hh, b_ih, b_hh)
    good = dict(dh=np.zeros((3, 1, 4)), cache=cache)
    for bad, error, match in [(np.zeros((1, 4)), ValueError, r"dh must have shape \(T, N, H\)"),
                              ([[[0.0] * 4]] * 3, TypeError, "dh must be a NumPy array")]:
        assert_rejects(nb.gru_backward, good, "dh", bad, error, match)


# -- through the module -------------------------------------------------------------------
MODULE_GRID = list(itertools.product([1, 2], [False, True], [False, True], [True, False]))
if JIT_OFF:  # Python loops: a corner of the grid
    MODULE_GRID = [(1, False, False, True), (2, True, True, False)]


def _twins(dtype, **kw):
    return twins(nr.GRU, dtype, **kw)


def _compare_modules(a, b, x, h0, dtype, lengths=None):
    compare_modules(a, b, x, h0, dtype, nb, lengths)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layers,bidirectional,batch_first,bias", MODULE_GRID)
def test_module_numba_equals_numpy(rng, dtype, layers, bidirectional, batch_first, bias):
    I, H, T, N = 3, 5, 6, 2
    a, b = _twins(dtype, input_size=I, hidden_size=H, num_layers=layers, bidirectional=bidirectional,
                  batch_first=batch_first, bias=bias)
    x = rng.standard_normal((N, T, I) if batch_first else (T, N, I)).astype(dtype)
    h0 = rng.standard_normal((layers * (2 if bidirectional else 1), N, H)).astype(dtype)
    _compare_modules(a, b, x, h0, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_module_unbatched_and_lengths(rng, dtype):
    a, b = _twins(dtype, input_size=3, hidden_size=4, num_layers=2, bidirectional=True)
    _compare_modules(a, b, rng.standard_normal((5, 3)).astype(dtype),
                     rng.standard_normal((4, 4)).astype(dtype), dtype)
    a, b = _twins(dtype, input_size=3, hidden_size=4, num_layers=2, bidirectional=True, batch_first=True)
    x = rng.standard_normal((3, 6, 3)).astype(dtype)
    _compare_modules(a, b, x, None, dtype, lengths=np.array([6, 2, 4]))


def test_gradients_check_through_numba(rng):
    x = rng.standard_normal((4, 2, 3))
    m = nr.GRU(3, 4, num_layers=2, bidirectional=True, dtype=np.float64, backend="numba", seed=0)
    report = nr.check_gradients(m, x)
    assert report.ok, str(report)
    m(x)  # the checker ran a float64 copy of m, with m's backend
    assert m.last_backend == "numba"
    report = nr.check_gradients(nr.GRU(3, 4, bias=False, dtype=np.float64, backend="numba", seed=1),
                                x, lengths=np.array([4, 3]))
    assert report.ok, str(report)


def test_get_ops_picks_this_kernel():
    assert backend_mod.get_ops("numba", "gru") is nb

"""numrnn/kernels/numba_lstm.py against the NumPy reference numrnn/functional/lstm.py.

Float64 must agree within 1e-10 and float32 within 1e-5, measured as
max |a - b| / max |b| per returned array (the two differ only in the order of their
sums and in the activations' last bits). The kernel is checked on its own (bias,
projection, both dtypes, several shapes, loops and BLAS), through
``nn.LSTM(backend="numba")`` over layers x directions x layout x projection, with
lengths and unbatched input, and with the gradient checker.
"""

import itertools

import numpy as np
import pytest

numba = pytest.importorskip("numba")

import numrnn as nr  # noqa: E402
from numrnn import backend as backend_mod  # noqa: E402
from numrnn.functional import lstm as ref  # noqa: E402
from numrnn.kernels import numba_lstm as nb  # noqa: E402
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


def _layer_args(rng, T, N, I, H, P, dtype, bias):
    """x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr for one layer (P = 0: no projection)."""
    return layer_args(rng, T, N, I, H, dtype, bias, gates=4, P=P, cell_state=True)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("proj", [0, 3])
@pytest.mark.parametrize("use_loops", [None, True, False])
def test_kernel_matches_reference(rng, dtype, shape, bias, proj, use_loops):
    T, N, D, H = shape
    args = _layer_args(rng, T, N, D, H, proj, dtype, bias)
    before = copies(args)
    h_ref, c_ref, cache_ref = ref.lstm_forward(*args)
    h, c, cache = nb.lstm_forward(*args, use_loops=use_loops)
    assert h.shape == (T, N, proj or H) and c.shape == (T, N, H) and h.dtype == c.dtype == dtype
    assert max_rel(h, h_ref) <= TOL[dtype] and max_rel(c, c_ref) <= TOL[dtype]

    dh = rng.standard_normal(h.shape).astype(dtype)
    dc = rng.standard_normal(c.shape).astype(dtype)
    upstream = (dh.copy(), dc.copy())
    got = nb.lstm_backward(dh, dc, cache)
    want = ref.lstm_backward(dh, dc, cache_ref)
    names = ["dx", "dh0", "dc0", "dw_ih", "dw_hh", "db_ih", "db_hh", "dw_hr"]
    assert_results_match(names, got, want, dtype)
    assert_unchanged(args + (dh, dc), before + list(upstream))


def test_weights_are_not_cached_between_calls(rng):
    """The gradient checker perturbs weights in place between forwards."""
    x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr = _layer_args(rng, 4, 2, 3, 5, 2, np.float64, True)
    for use_loops in (True, False):
        nb.lstm_forward(x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr, use_loops=use_loops)
        w_hh[1, 1] += 0.3
        w_ih[0, 1] -= 0.2
        b_hh[3] += 0.1
        w_hr[1, 4] += 0.2
        h, c, _ = nb.lstm_forward(x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr, use_loops=use_loops)
        h_ref, c_ref, _ = ref.lstm_forward(x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr)
        assert max_rel(h, h_ref) <= 1e-12 and max_rel(c, c_ref) <= 1e-12


def test_kernel_rejects_bad_inputs(rng):
    x, h0, c0, w_ih, w_hh, b_ih, b_hh, _ = _layer_args(rng, 3, 2, 3, 4, 0, np.float64, True)
    with pytest.raises(TypeError, match="dtype"):
        nb.lstm_forward(x, h0, c0.astype(np.float32), w_ih, w_hh)
    with pytest.raises(TypeError, match="float32 or float64"):
        nb.lstm_forward(x.astype(np.int64), h0, c0, w_ih, w_hh)
    _, _, cache = nb.lstm_forward(x, h0, c0, w_ih, w_hh, b_ih, b_hh)
    with pytest.raises(ValueError, match="dh must have shape"):
        nb.lstm_backward(np.zeros((3, 2, 5)), np.zeros((3, 2, 4)), cache)
    with pytest.raises(ValueError, match="dc must have shape"):
        nb.lstm_backward(np.zeros((3, 2, 4)), np.zeros((2, 2, 4)), cache)


# N = 1, H = 4 takes the hand-written loops, which index every weight without checks.
BAD_FORWARD = [
    ("w_hh", np.zeros((16, 3)), ValueError, r"w_hh must have shape \(4H, P\) = \(16, 4\); got \(16, 3\)"),
    ("w_ih", np.zeros((12, 2)), ValueError, r"w_ih must have shape \(4H, I\) = \(16, 2\)"),
    ("b_ih", np.zeros(15), ValueError, r"b_ih must have shape \(4H,\) = \(16,\); got \(15,\)"),
    ("b_hh", np.zeros(4), ValueError, "b_hh must have shape"),
    ("b_hh", None, ValueError, "both b_ih and b_hh or neither"),
    ("c0", np.zeros((2, 4)), ValueError, "c0 must have shape"),
    ("c0", np.zeros((1, 5)), ValueError, "h0 .* and c0 .* must have the same size"),
    ("h0", np.zeros((1, 3)), ValueError, "h0 .* and c0 .* must have the same size"),
    ("x", np.zeros((3, 1, 2, 1)), ValueError, r"x must have shape \(T, N, I\)"),
]
BAD_PROJ_FORWARD = [  # proj_size P = 3
    ("w_hr", np.zeros((3, 5)), ValueError, r"w_hr must have shape \(P, H\) = \(3, 4\); got \(3, 5\)"),
    ("w_hr", np.zeros((4, 3)), ValueError, "w_hr must have shape"),
    ("w_hh", np.zeros((16, 4)), ValueError, r"w_hh must have shape \(4H, P\) = \(16, 3\)"),
    ("h0", np.zeros((1, 4)), ValueError, "w_hr must have shape"),
    ("w_hr", np.zeros((3, 4), np.float32), TypeError, "w_hr must have dtype float64"),
]


def _good(proj, use_loops):
    P = 3 if proj else 4
    return dict(x=np.zeros((3, 1, 2)), h0=np.zeros((1, P)), c0=np.zeros((1, 4)), w_ih=np.zeros((16, 2)),
                w_hh=np.zeros((16, P)), b_ih=np.zeros(16), b_hh=np.zeros(16),
                w_hr=np.zeros((P, 4)) if proj else None, use_loops=use_loops)


@pytest.mark.parametrize("name, bad, error, match", BAD_FORWARD)
@pytest.mark.parametrize("use_loops", [True, False])
def test_forward_checks_every_shape(name, bad, error, match, use_loops):
    assert_rejects(nb.lstm_forward, _good(False, use_loops), name, bad, error, match)


@pytest.mark.parametrize("name, bad, error, match", BAD_PROJ_FORWARD)
@pytest.mark.parametrize("use_loops", [True, False])
def test_forward_checks_every_shape_with_projection(name, bad, error, match, use_loops):
    assert_rejects(nb.lstm_forward, _good(True, use_loops), name, bad, error, match)


def test_backward_checks_dh_and_dc():
    _, _, cache = nb.lstm_forward(**_good(True, True))
    good = dict(dh=np.zeros((3, 1, 3)), dc=np.zeros((3, 1, 4)), cache=cache)
    for name, bad, error, match in [
        ("dh", np.zeros((3, 1, 4)), ValueError, r"dh must have shape \(T, N, P\)"),
        ("dc", np.zeros((3, 1, 3)), ValueError, r"dc must have shape \(T, N, H\)"),
        ("dc", np.zeros((3, 1, 4), np.float32), TypeError, "dc must have dtype"),
    ]:
        assert_rejects(nb.lstm_backward, good, name, bad, error, match)


# -- through the module -------------------------------------------------------------------
MODULE_GRID = list(itertools.product([1, 2], [False, True], [False, True], [0, 2]))
if JIT_OFF:  # Python loops: a corner of the grid
    MODULE_GRID = [(1, False, False, 0), (2, True, True, 2)]


def _twins(dtype, **kw):
    return twins(nr.LSTM, dtype, **kw)


def _compare_modules(a, b, x, hx, dtype, lengths=None):
    compare_modules(a, b, x, hx, dtype, nb, lengths)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layers,bidirectional,batch_first,proj", MODULE_GRID)
def test_module_numba_equals_numpy(rng, dtype, layers, bidirectional, batch_first, proj):
    I, H, T, N = 3, 5, 6, 2
    a, b = _twins(dtype, input_size=I, hidden_size=H, num_layers=layers, bidirectional=bidirectional,
                  batch_first=batch_first, proj_size=proj, bias=layers == 1)
    x = rng.standard_normal((N, T, I) if batch_first else (T, N, I)).astype(dtype)
    LD, P = layers * (2 if bidirectional else 1), proj or H
    hx = (rng.standard_normal((LD, N, P)).astype(dtype), rng.standard_normal((LD, N, H)).astype(dtype))
    _compare_modules(a, b, x, hx, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_module_unbatched_and_lengths(rng, dtype):
    a, b = _twins(dtype, input_size=3, hidden_size=4, num_layers=2, bidirectional=True, proj_size=2)
    hx = (rng.standard_normal((4, 2)).astype(dtype), rng.standard_normal((4, 4)).astype(dtype))
    _compare_modules(a, b, rng.standard_normal((5, 3)).astype(dtype), hx, dtype)
    a, b = _twins(dtype, input_size=3, hidden_size=4, num_layers=2, bidirectional=True, batch_first=True)
    x = rng.standard_normal((3, 6, 3)).astype(dtype)
    _compare_modules(a, b, x, None, dtype, lengths=np.array([6, 2, 4]))


def test_gradients_check_through_numba(rng):
    x = rng.standard_normal((4, 2, 3))
    m = nr.LSTM(3, 4, num_layers=2, bidirectional=True, dtype=np.float64, backend="numba", seed=0)
    report = nr.check_gradients(m, x)
    assert report.ok, str(report)
    m(x)  # the checker ran a float64 copy of m, with m's backend
    assert m.last_backend == "numba"
    proj = nr.LSTM(3, 4, proj_size=2, num_layers=2, dtype=np.float64, backend="numba", seed=1)
    report = nr.check_gradients(proj, x, lengths=np.array([4, 3]))
    assert report.ok, str(report)


def test_get_ops_picks_this_kernel():
    assert backend_mod.get_ops("numba", "lstm") is nb

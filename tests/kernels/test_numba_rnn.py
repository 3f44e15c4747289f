"""numrnn/kernels/numba_rnn.py against the NumPy reference numrnn/functional/rnn.py.

Float64 must agree within 1e-10 and float32 within 1e-5, measured as
max |a - b| / max |b| per returned array (the two differ only in the order of
their sums). The kernel is checked on its own, through ``nn.RNN(backend="numba")``
over the configuration grid, and with the gradient checker; backend resolution is
checked with a monkeypatched ``numba_available``.
"""

import itertools

import numpy as np
import pytest

numba = pytest.importorskip("numba")

import numrnn as nr  # noqa: E402
from numrnn import backend as backend_mod  # noqa: E402
from numrnn.functional import rnn as ref  # noqa: E402
from numrnn.kernels import numba_rnn as nb  # noqa: E402
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
    return layer_args(rng, T, N, I, H, dtype, bias, gates=1)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("use_loops", [None, True, False])
def test_kernel_matches_reference(rng, dtype, shape, nonlinearity, bias, use_loops):
    T, N, D, H = shape
    args = _layer_args(rng, T, N, D, H, dtype, bias)
    before = copies(args)
    h_ref, cache_ref = ref.rnn_forward(*args, nonlinearity=nonlinearity)
    h, cache = nb.rnn_forward(*args, nonlinearity=nonlinearity, use_loops=use_loops)
    assert h.shape == (T, N, H) and h.dtype == dtype
    assert max_rel(h, h_ref) <= TOL[dtype]

    dh = rng.standard_normal((T, N, H)).astype(dtype)
    dh_before = dh.copy()
    got = nb.rnn_backward(dh, cache)
    want = ref.rnn_backward(dh, cache_ref)
    assert_results_match(["dx", "dh0", "dw_ih", "dw_hh", "db_ih", "db_hh"], got, want, dtype)
    assert_unchanged(args + (dh,), before + [dh_before])


def test_weights_are_not_cached_between_calls(rng):
    """The gradient checker perturbs weights in place between forwards."""
    x, h0, w_ih, w_hh, b_ih, b_hh = _layer_args(rng, 4, 2, 3, 5, np.float64, True)
    for use_loops in (True, False):
        nb.rnn_forward(x, h0, w_ih, w_hh, b_ih, b_hh, use_loops=use_loops)
        w_hh[1, 2] += 0.3
        w_ih[0, 1] -= 0.2
        b_hh[3] += 0.1
        h, _ = nb.rnn_forward(x, h0, w_ih, w_hh, b_ih, b_hh, use_loops=use_loops)
        h_ref, _ = ref.rnn_forward(x, h0, w_ih, w_hh, b_ih, b_hh)
        assert max_rel(h, h_ref) <= 1e-12


def test_kernel_rejects_bad_inputs(rng):
    x, h0, w_ih, w_hh, b_ih, b_hh = _layer_args(rng, 3, 2, 3, 4, np.float64, True)
    with pytest.raises(ValueError, match="nonlinearity"):
        nb.rnn_forward(x, h0, w_ih, w_hh, nonlinearity="sigmoid")
    with pytest.raises(TypeError, match="dtype"):
        nb.rnn_forward(x, h0.astype(np.float32), w_ih, w_hh)
    with pytest.raises(TypeError, match="float32 or float64"):
        nb.rnn_forward(x.astype(np.int64), h0, w_ih, w_hh)
    _, cache = nb.rnn_forward(x, h0, w_ih, w_hh, b_ih, b_hh)
    with pytest.raises(ValueError, match="dh must have shape"):
        nb.rnn_backward(np.zeros((3, 2, 5)), cache)


# The reviewer's reproducer: N = 1, H = 4 takes the hand-written loop, which read a
# w_hh of the wrong width and short biases past their end and returned numbers.
BAD_FORWARD = [
    ("w_hh", np.zeros((4, 3)), ValueError, r"w_hh must have shape \(H, H\) = \(4, 4\); got \(4, 3\)"),
    ("w_hh", np.zeros((3, 4)), ValueError, "w_hh must have shape"),
    ("w_ih", np.zeros((4, 3)), ValueError, r"w_ih must have shape \(H, I\) = \(4, 2\)"),
    ("b_ih", np.zeros(3), ValueError, r"b_ih must have shape \(H,\) = \(4,\); got \(3,\)"),
    ("b_hh", np.zeros(3), ValueError, "b_hh must have shape"),
    ("b_hh", None, ValueError, "both b_ih and b_hh or neither"),
    ("h0", np.zeros((2, 4)), ValueError, "h0 must have shape"),
    ("h0", np.zeros(4), ValueError, "h0 must have shape"),
    ("h0", [[0.0] * 4], TypeError, "h0 must be a NumPy array"),
    ("x", np.zeros((3, 2)), ValueError, r"x must have shape \(T, N, I\)"),
    ("x", np.zeros((0, 1, 2)), ValueError, "T, N, I >= 1"),
    ("b_ih", np.zeros(4, dtype=np.float32), TypeError, "b_ih must have dtype float64"),
]


@pytest.mark.parametrize("name, bad, error, match", BAD_FORWARD)
@pytest.mark.parametrize("use_loops", [True, False])
def test_forward_checks_every_shape(name, bad, error, match, use_loops):
    good = dict(x=np.zeros((3, 1, 2)), h0=np.zeros((1, 4)), w_ih=np.zeros((4, 2)), w_hh=np.zeros((4, 4)),
                b_ih=np.zeros(4), b_hh=np.zeros(4), use_loops=use_loops)
    assert_rejects(nb.rnn_forward, good, name, bad, error, match)


def test_backward_checks_dh(rng):
    x, h0, w_ih, w_hh, b_ih, b_hh = _layer_args(rng, 3, 1, 2, 4, np.float64, True)
    _, cache = nb.rnn_forward(x, h0, w_ih, w_hh, b_ih, b_hh)
    good = dict(dh=np.zeros((3, 1, 4)), cache=cache)
    for bad, error, match in [(np.zeros((3, 1, 4), np.float32), TypeError, "dh must have dtype"),
                              (np.zeros((3, 4)), ValueError, r"dh must have shape \(T, N, H\)")]:
        assert_rejects(nb.rnn_backward, good, "dh", bad, error, match)


def test_small_matmul_checks_its_shapes():
    """The loop product itself refuses shapes that would index past an array's end."""
    a, c0, out = np.ones((1, 3)), np.zeros(5), np.empty((1, 5))
    nb._small_matmul(a, np.ones((3, 5)), c0, out)
    np.testing.assert_array_equal(out, np.full((1, 5), 3.0))
    for b, c, o in [(np.ones((2, 5)), c0, out), (np.ones((3, 5)), np.zeros(4), out),
                    (np.ones((3, 5)), c0, np.empty((2, 5))), (np.ones((3, 5)), c0, np.empty((1, 4)))]:
        with pytest.raises(ValueError, match="_small_matmul"):
            nb._small_matmul(a, b, c, o)


def test_loop_crossover_follows_config(monkeypatch):
    monkeypatch.setattr(nr.config, "NUMBA_LOOP_MAX_N", 4)
    monkeypatch.setattr(nr.config, "NUMBA_LOOP_MAX_H", 64)
    assert nb.use_loops_for(4, 64) and not nb.use_loops_for(5, 64) and not nb.use_loops_for(1, 65)


# -- through the module -------------------------------------------------------------------
MODULE_GRID = list(itertools.product([1, 2, 3], [False, True], [False, True], [True, False],
                                     ["tanh", "relu"]))
if JIT_OFF:  # Python loops: a corner of the grid
    MODULE_GRID = [(1, False, False, True, "tanh"), (2, True, True, False, "relu")]


def _twins(dtype, **kw):
    return twins(nr.RNN, dtype, **kw)


def _compare_modules(a, b, x, h0, dtype, lengths=None):
    compare_modules(a, b, x, h0, dtype, nb, lengths)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layers,bidirectional,batch_first,bias,nonlinearity", MODULE_GRID)
def test_module_numba_equals_numpy(rng, dtype, layers, bidirectional, batch_first, bias, nonlinearity):
    I, H, T, N = 3, 5, 6, 2
    a, b = _twins(dtype, input_size=I, hidden_size=H, num_layers=layers, bidirectional=bidirectional,
                  batch_first=batch_first, bias=bias, nonlinearity=nonlinearity)
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
    m = nr.RNN(3, 4, num_layers=2, bidirectional=True, dtype=np.float64, backend="numba", seed=0)
    x = rng.standard_normal((4, 2, 3))
    report = nr.check_gradients(m, x)
    assert report.ok, str(report)
    m(x)
    assert m.last_backend == "numba"
    relu = nr.RNN(3, 4, nonlinearity="relu", dtype=np.float64, backend="numba", seed=1)
    assert nr.check_gradients(relu, x, lengths=np.array([4, 3])).ok


# -- backend resolution -----------------------------------------------------------------------
def test_auto_picks_numba_when_installed(monkeypatch):
    monkeypatch.delenv("NUMRNN_BACKEND", raising=False)
    assert backend_mod.resolve_backend("auto", np.zeros(3)) == "numba"
    assert backend_mod.get_ops("numba", "rnn") is nb
    m = nr.RNN(2, 3, seed=0)
    m(np.zeros((2, 1, 2), np.float32))
    assert m.last_backend == "numba"


def test_environment_variable_overrides_auto(monkeypatch):
    monkeypatch.setenv("NUMRNN_BACKEND", "numpy")
    assert backend_mod.resolve_backend("auto") == "numpy"
    monkeypatch.setenv("NUMRNN_BACKEND", "numba")
    assert backend_mod.resolve_backend("auto") == "numba"
    assert backend_mod.resolve_backend("numpy") == "numpy"  # the argument wins


def test_missing_numba_is_a_clear_error_and_auto_falls_back(monkeypatch):
    monkeypatch.delenv("NUMRNN_BACKEND", raising=False)
    monkeypatch.setattr(backend_mod, "numba_available", lambda: False)
    assert backend_mod.resolve_backend("auto", np.zeros(3)) == "numpy"
    with pytest.raises(RuntimeError, match="backend 'numba' needs Numba"):
        backend_mod.resolve_backend("numba")
    m = nr.RNN(2, 3, backend="numba", seed=0)
    with pytest.raises(RuntimeError, match="pip install"):
        m(np.zeros((2, 1, 2), np.float32))

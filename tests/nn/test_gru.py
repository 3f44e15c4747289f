"""nr.GRU and nr.GRUCell against torch.nn.GRU / torch.nn.GRUCell on the same weights, over
the grid layers x bidirectional x batch_first x bias, in float64 and float32; numerical
gradient checks over the same grid; variable lengths against pack_padded_sequence; and
the errors bad input gets."""

import importlib.util
import itertools

import numpy as np
import pytest

import numrnn as nr
from tests.torch_oracle import assert_close, torch_pass, twin

torch = pytest.importorskip("torch")

T, N, I, H = 4, 3, 3, 4
TOL = {np.float64: (1e-10, 1e-9), np.float32: (1e-5, 1e-4)}  # forward, gradients
BACKENDS = ["numpy"] + (["numba"] if importlib.util.find_spec("numba") else [])
GRID = list(itertools.product([1, 2], [False, True], [False, True], [True, False]))
GRID_IDS = [f"L{lay}-{'bi' if b else 'uni'}-{'bf' if bf else 'tm'}-{'bias' if bias else 'nobias'}"
            for lay, b, bf, bias in GRID]


def data(m, batched=True, seed=1):
    """x, h0, dout, dh_n for module ``m``, of its dtype."""
    rng = np.random.default_rng(seed)
    LD, D = m.num_layers * m.num_directions, m.num_directions

    def r(*shape):
        return rng.standard_normal(shape).astype(m.dtype)

    if not batched:
        return r(T, I), r(LD, H), r(T, D * H), r(LD, H)
    x = r(N, T, I) if m.batch_first else r(T, N, I)
    dout = r(N, T, D * H) if m.batch_first else r(T, N, D * H)
    return x, r(LD, N, H), dout, r(LD, N, H)


def compare(m, x, h0, dout, dh_n, lengths=None):
    """Run numrnn's ``m`` and its torch twin on the same data; compare everything."""
    ftol, gtol = TOL[m.dtype.type]
    m.zero_grad()
    out, h_n = m(x, h0, lengths=lengths)
    dx, dh0 = m.backward(dout, dh_n)
    t_out, (t_h,), t_dx, (t_dh0,), t_grads = torch_pass(
        twin(m), x, (h0,), dout, (dh_n,), lengths=lengths, batch_first=m.batch_first)
    assert_close(out, t_out, ftol)
    assert_close(h_n, t_h, ftol)
    assert_close(dx, t_dx, gtol)
    assert_close(dh0, t_dh0, gtol)
    assert set(m.grads) == set(t_grads)
    for k, g in m.grads.items():
        assert_close(g, t_grads[k], gtol)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("layers,bidir,batch_first,bias", GRID, ids=GRID_IDS)
def test_matches_torch(layers, bidir, batch_first, bias, dtype, backend):
    m = nr.GRU(I, H, num_layers=layers, bias=bias, batch_first=batch_first, bidirectional=bidir,
               dtype=dtype, backend=backend, seed=7)
    compare(m, *data(m))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_unbatched_matches_torch(dtype):
    m = nr.GRU(I, H, num_layers=2, bidirectional=True, dtype=dtype, backend="numpy", seed=3)
    compare(m, *data(m, batched=False))


@pytest.mark.parametrize("layers,bidir,batch_first", [(1, False, False), (2, True, False), (2, True, True)])
def test_lengths_match_packed_sequence(layers, bidir, batch_first):
    m = nr.GRU(I, H, num_layers=layers, batch_first=batch_first, bidirectional=bidir,
               dtype=np.float64, backend="numpy", seed=5)
    compare(m, *data(m), lengths=np.array([2, 4, 1]))


def test_state_dict_names_shapes_and_init_match_torch():
    m = nr.GRU(I, H, num_layers=2, bidirectional=True, seed=0)
    t = torch.nn.GRU(I, H, num_layers=2, bidirectional=True)
    sd = m.state_dict()
    assert list(sd) == list(t.state_dict())
    assert {k: v.shape for k, v in sd.items()} == {k: tuple(v.shape) for k, v in t.state_dict().items()}
    assert all(np.abs(v).max() <= 1 / np.sqrt(H) for v in sd.values())


@pytest.mark.parametrize("layers,bidir,batch_first,bias", GRID, ids=GRID_IDS)
def test_check_gradients(layers, bidir, batch_first, bias):
    m = nr.GRU(2, 3, num_layers=layers, bias=bias, batch_first=batch_first, bidirectional=bidir,
               backend="numpy", seed=11)
    x = np.random.default_rng(0).standard_normal((2, 3, 2) if batch_first else (3, 2, 2))
    report = nr.check_gradients(m, x)
    assert report.ok, str(report)
    assert {"input x", "h0"} <= set(report.errors)


@pytest.mark.parametrize("backend", BACKENDS)
def test_check_gradients_lengths_dropout_backends(backend):
    m = nr.GRU(2, 3, num_layers=2, bidirectional=True, dropout=0.5, backend=backend, seed=4)
    x = np.random.default_rng(0).standard_normal((4, 3, 2))
    report = nr.check_gradients(m, x, lengths=np.array([4, 1, 3]))
    assert report.ok, str(report)


def test_check_gradients_catches_a_wrong_backward(monkeypatch):
    """The checker sees a wrong b_hn gradient (so the checks above can fail)."""
    import numrnn.functional.gru as F

    real = F.gru_step_backward

    def broken(dh_next, cache):
        dx, dh_prev, dw_ih, dw_hh, db_ih, db_hh = real(dh_next, cache)
        return dx, dh_prev, dw_ih, dw_hh, db_ih, db_ih  # the bias_ih gradient for both
    monkeypatch.setattr(F, "gru_step_backward", broken)
    m = nr.GRU(2, 3, backend="numpy", seed=0)
    report = nr.check_gradients(m, np.random.default_rng(0).standard_normal((3, 2, 2)))
    assert report.failed == ["bias_hh_l0"]


# -- GRUCell --------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("batched", [True, False])
def test_cell_matches_torch(batched, bias, dtype):
    ftol, gtol = TOL[dtype]
    cell = nr.GRUCell(I, H, bias=bias, dtype=dtype, seed=1)
    rng = np.random.default_rng(0)
    lead = (N,) if batched else ()
    x, h, dh1 = (rng.standard_normal(lead + (s,)).astype(dtype) for s in (I, H, H))
    h1 = cell(x, h)
    dx, dh = cell.backward(dh1)
    _, (t_h1,), t_dx, (t_dh,), t_grads = torch_pass(twin(cell), x, (h,), None, (dh1,))
    assert_close(h1, t_h1, ftol)
    assert_close(dx, t_dx, gtol)
    assert_close(dh, t_dh, gtol)
    assert set(cell.grads) == set(t_grads)
    for k, g in cell.grads.items():
        assert_close(g, t_grads[k], gtol)


def test_cell_check_gradients():
    report = nr.check_gradients(nr.GRUCell(3, 4, seed=0), np.random.default_rng(0).standard_normal((2, 3)))
    assert report.ok and "h0" in report.errors, str(report)


def test_sequence_of_cells_equals_gru():
    m = nr.GRU(I, H, dtype=np.float64, backend="numpy", seed=0)
    cell = nr.GRUCell(I, H, dtype=np.float64)
    cell.load_state_dict({k[:-3]: v for k, v in m.state_dict().items()})
    x, h0, _, _ = data(m)
    out, _ = m(x, h0)
    h = h0[0]
    for t in range(T):
        h = cell(x[t], h)
        np.testing.assert_allclose(out[t], h, rtol=1e-13, atol=1e-14)


# -- bad input ------------------------------------------------------------------------------
def test_bad_input():
    with pytest.raises(TypeError):
        nr.GRU(3, 4, proj_size=2)  # only an LSTM projects
    with pytest.raises(TypeError):
        nr.GRU(3, 4, nonlinearity="relu")  # the GRU's activations are fixed
    m = nr.GRU(I, H, num_layers=2, seed=0)
    x = np.zeros((T, N, I), np.float32)
    with pytest.raises(ValueError, match=r"h0 must have shape \(2, 3, 4\)"):
        m(x, np.zeros((1, N, H), np.float32))
    with pytest.raises(ValueError, match="input must be 3-D"):
        m(np.zeros((T, N, I, 1), np.float32))
    with pytest.raises(ValueError, match=r"every length must be in \[1, 4\]"):
        m(x, lengths=np.array([1, 5, 2]))
    with pytest.raises(RuntimeError, match="before forward"):
        nr.GRU(I, H).backward(np.zeros((T, N, H), np.float32))
    out, h_n = m(x)
    with pytest.raises(ValueError, match="dh_n must have shape"):
        m.backward(out, h_n[0])
    cell = nr.GRUCell(I, H)
    with pytest.raises(ValueError, match=r"h must have shape \(3, 4\)"):
        cell(np.zeros((N, I), np.float32), np.zeros((N, H + 1), np.float32))

"""nr.LSTM and nr.LSTMCell against torch.nn.LSTM / torch.nn.LSTMCell on the same weights,
over the grid layers x bidirectional x batch_first x bias x proj_size, in float64 and
float32; numerical gradient checks over the same grid (c0 included); variable lengths
against pack_padded_sequence; and the errors bad input gets."""

import importlib.util
import itertools

import numpy as np
import pytest

import numrnn as nr
from tests.torch_oracle import assert_close, torch_pass, twin

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.filterwarnings("ignore:LSTM with projections is not supported with oneDNN")

T, N, I, H, P = 4, 3, 3, 4, 2
TOL = {np.float64: (1e-10, 1e-9), np.float32: (1e-5, 1e-4)}  # forward, gradients
BACKENDS = ["numpy"] + (["numba"] if importlib.util.find_spec("numba") else [])
GRID = list(itertools.product([1, 2], [False, True], [False, True], [True, False], [0, P]))
GRID_IDS = [f"L{lay}-{'bi' if b else 'uni'}-{'bf' if bf else 'tm'}-{'bias' if bias else 'nobias'}-p{p}"
            for lay, b, bf, bias, p in GRID]


def data(m, batched=True, seed=1):
    """x, (h0, c0), dout, (dh_n, dc_n) for module ``m``, of its dtype."""
    rng = np.random.default_rng(seed)
    LD, Po, D = m.num_layers * m.num_directions, m.output_size, m.num_directions

    def r(*shape):
        return rng.standard_normal(shape).astype(m.dtype)

    if not batched:
        return r(T, I), (r(LD, Po), r(LD, H)), r(T, D * Po), (r(LD, Po), r(LD, H))
    x = r(N, T, I) if m.batch_first else r(T, N, I)
    dout = r(N, T, D * Po) if m.batch_first else r(T, N, D * Po)
    return x, (r(LD, N, Po), r(LD, N, H)), dout, (r(LD, N, Po), r(LD, N, H))


def compare(m, x, hx, dout, dhx, lengths=None):
    """Run numrnn's ``m`` and its torch twin on the same data; compare everything."""
    ftol, gtol = TOL[m.dtype.type]
    t = twin(m)
    m.zero_grad()
    out, (h_n, c_n) = m(x, hx, lengths=lengths)
    dx, (dh0, dc0) = m.backward(dout, dhx)
    t_out, (t_h, t_c), t_dx, (t_dh0, t_dc0), t_grads = torch_pass(
        t, x, hx, dout, dhx, lengths=lengths, batch_first=m.batch_first)
    for a, b in ((out, t_out), (h_n, t_h), (c_n, t_c)):
        assert_close(a, b, ftol)
    for a, b in ((dx, t_dx), (dh0, t_dh0), (dc0, t_dc0)):
        assert_close(a, b, gtol)
    assert set(m.grads) == set(t_grads)
    for k, g in m.grads.items():
        assert_close(g, t_grads[k], gtol)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("layers,bidir,batch_first,bias,proj", GRID, ids=GRID_IDS)
def test_matches_torch(layers, bidir, batch_first, bias, proj, dtype, backend):
    m = nr.LSTM(I, H, num_layers=layers, bias=bias, batch_first=batch_first, bidirectional=bidir,
                proj_size=proj, dtype=dtype, backend=backend, seed=7)
    compare(m, *data(m))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("proj", [0, P])
def test_unbatched_matches_torch(proj, dtype):
    m = nr.LSTM(I, H, num_layers=2, bidirectional=True, proj_size=proj, dtype=dtype, backend="numpy", seed=3)
    x, hx, dout, dhx = data(m, batched=False)
    compare(m, x, hx, dout, dhx)
    out, (h_n, c_n) = m(x, hx)
    assert out.shape == (T, 2 * m.output_size) and h_n.shape == (4, m.output_size) and c_n.shape == (4, H)


@pytest.mark.parametrize("layers,bidir,batch_first,proj", [(1, False, False, 0), (2, True, False, P),
                                                           (2, True, True, 0), (1, True, True, P)])
def test_lengths_match_packed_sequence(layers, bidir, batch_first, proj):
    m = nr.LSTM(I, H, num_layers=layers, batch_first=batch_first, bidirectional=bidir, proj_size=proj,
                dtype=np.float64, backend="numpy", seed=5)
    compare(m, *data(m), lengths=np.array([2, 4, 1]))


def test_default_states_are_zeros_and_partial_state_grads():
    m = nr.LSTM(I, H, num_layers=2, proj_size=P, dtype=np.float64, backend="numpy", seed=2)
    x, (h0, c0), dout, (dh_n, dc_n) = data(m)
    zeros = (np.zeros_like(h0), np.zeros_like(c0))
    out, (h_n, c_n) = m(x)
    out_z, (h_z, c_z) = m(x, zeros)
    np.testing.assert_array_equal(out, out_z)
    np.testing.assert_array_equal(c_n, c_z)
    results = []
    for dhx in (None, (None, None), (np.zeros_like(dh_n), np.zeros_like(dc_n)), (dh_n, None),
                (dh_n, np.zeros_like(dc_n)), (None, dc_n), (np.zeros_like(dh_n), dc_n)):
        m.zero_grad()
        m(x, zeros)
        dx, (dh0, dc0) = m.backward(dout, dhx)
        results.append((dx, dh0, dc0, m.grads["weight_hh_l0"].copy()))
    for a, b in ((0, 1), (0, 2), (3, 4), (5, 6)):
        for u, v in zip(results[a], results[b]):
            np.testing.assert_array_equal(u, v)
    assert not np.allclose(results[0][2], results[5][2])  # dc_n reaches dc0


def test_state_dict_names_shapes_and_init_match_torch():
    m = nr.LSTM(I, H, num_layers=2, bidirectional=True, proj_size=P, seed=0)
    t = torch.nn.LSTM(I, H, num_layers=2, bidirectional=True, proj_size=P)
    sd = m.state_dict()
    assert list(sd) == list(t.state_dict())
    assert {k: v.shape for k, v in sd.items()} == {k: tuple(v.shape) for k, v in t.state_dict().items()}
    assert m.num_parameters() == sum(p.numel() for p in t.parameters())
    bound = 1 / np.sqrt(H)
    assert all(np.abs(v).max() <= bound for v in sd.values())
    m.load_state_dict(t.state_dict())  # torch tensors load directly
    np.testing.assert_array_equal(m.params["weight_hr_l1_reverse"], t.weight_hr_l1_reverse.detach().numpy())


@pytest.mark.parametrize("layers,bidir,batch_first,bias,proj", GRID, ids=GRID_IDS)
def test_check_gradients(layers, bidir, batch_first, bias, proj):
    m = nr.LSTM(2, 3, num_layers=layers, bias=bias, batch_first=batch_first, bidirectional=bidir,
                proj_size=proj and 2, backend="numpy", seed=11)
    x = np.random.default_rng(0).standard_normal((2, 3, 2) if batch_first else (3, 2, 2))
    report = nr.check_gradients(m, x)
    assert report.ok, str(report)
    assert {"input x", "h0", "c0"} <= set(report.errors)


@pytest.mark.parametrize("backend", BACKENDS)
def test_check_gradients_lengths_dropout_backends(backend):
    m = nr.LSTM(2, 3, num_layers=2, bidirectional=True, dropout=0.5, proj_size=2, backend=backend, seed=4)
    x = np.random.default_rng(0).standard_normal((4, 3, 2))
    report = nr.check_gradients(m, x, lengths=np.array([4, 1, 3]))
    assert report.ok, str(report)


def test_check_gradients_catches_a_wrong_backward(monkeypatch):
    """The checker sees a broken forget-gate gradient (so the checks above can fail)."""
    import numrnn.functional.lstm as F

    real = F.lstm_step_backward

    def broken(dh_next, dc_next, cache):
        dx, dh_prev, dc_prev, *rest = real(dh_next, dc_next, cache)
        return (dx, dh_prev, dc_prev * 1.01, *rest)

    monkeypatch.setattr(F, "lstm_step_backward", broken)
    m = nr.LSTM(2, 3, backend="numpy", seed=0)
    report = nr.check_gradients(m, np.random.default_rng(0).standard_normal((3, 2, 2)))
    assert not report.ok and "c0" in report.failed


# -- LSTMCell -------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("batched", [True, False])
def test_cell_matches_torch(batched, bias, dtype):
    ftol, gtol = TOL[dtype]
    cell = nr.LSTMCell(I, H, bias=bias, dtype=dtype, seed=1)
    rng = np.random.default_rng(0)
    lead = (N,) if batched else ()
    x, h, c, dh1, dc1 = (rng.standard_normal(lead + (s,)).astype(dtype) for s in (I, H, H, H, H))
    h1, c1 = cell(x, (h, c))
    dx, (dh, dc) = cell.backward((dh1, dc1))
    _, (t_h1, t_c1), t_dx, (t_dh, t_dc), t_grads = torch_pass(twin(cell), x, (h, c), None, (dh1, dc1))
    assert_close(h1, t_h1, ftol)
    assert_close(c1, t_c1, ftol)
    for a, b in ((dx, t_dx), (dh, t_dh), (dc, t_dc)):
        assert_close(a, b, gtol)
    assert set(cell.grads) == set(t_grads)
    for k, g in cell.grads.items():
        assert_close(g, t_grads[k], gtol)


def test_cell_check_gradients_and_partial_grads():
    cell = nr.LSTMCell(3, 4, seed=0)
    x = np.random.default_rng(0).standard_normal((2, 3))
    report = nr.check_gradients(cell, x)
    assert report.ok and "c0" in report.errors, str(report)
    h1, c1 = cell(x.astype(np.float32))
    assert h1.shape == c1.shape == (2, 4)
    dx, (dh, dc) = cell.backward((None, np.ones((2, 4), np.float32)))
    assert dx.shape == (2, 3) and dh.shape == dc.shape == (2, 4)


def test_sequence_of_cells_equals_lstm():
    m = nr.LSTM(I, H, dtype=np.float64, backend="numpy", seed=0)
    cell = nr.LSTMCell(I, H, dtype=np.float64)
    cell.load_state_dict({k[:-3]: v for k, v in m.state_dict().items()})
    x, (h0, c0), _, _ = data(m)
    out, (h_n, c_n) = m(x, (h0, c0))
    h, c = h0[0], c0[0]
    for t in range(T):
        h, c = cell(x[t], (h, c))
        np.testing.assert_allclose(out[t], h, rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(c_n[0], c, rtol=1e-13, atol=1e-14)


# -- bad input ------------------------------------------------------------------------------
def test_bad_construction():
    with pytest.raises(ValueError, match="proj_size must be smaller than hidden_size"):
        nr.LSTM(3, 4, proj_size=4)
    with pytest.raises(ValueError, match="proj_size must be >= 0"):
        nr.LSTM(3, 4, proj_size=-1)
    with pytest.raises(TypeError, match="proj_size must be an integer"):
        nr.LSTM(3, 4, proj_size=1.5)
    with pytest.raises(ValueError, match="hidden_size"):
        nr.LSTM(3, 0)
    with pytest.raises(ValueError, match="dropout"):
        nr.LSTM(3, 4, dropout=1.0)


def test_bad_states_and_shapes():
    m = nr.LSTM(I, H, num_layers=2, proj_size=P, seed=0)
    x = np.zeros((T, N, I), np.float32)
    h0, c0 = np.zeros((2, N, P), np.float32), np.zeros((2, N, H), np.float32)
    with pytest.raises(TypeError, match=r"tuple \(h, c\)"):
        m(x, h0)
    with pytest.raises(TypeError, match=r"tuple \(h, c\)"):
        m(x, (h0,))
    with pytest.raises(TypeError, match=r"tuple \(h, c\)"):
        m(x, (h0, c0, c0))
    with pytest.raises(ValueError, match=r"c0 must have shape \(2, 3, 4\)"):
        m(x, (h0, np.zeros((2, N, P), np.float32)))  # c has hidden_size, not proj_size
    with pytest.raises(ValueError, match=r"h0 must have shape \(2, 3, 2\)"):
        m(x, (np.zeros((2, N, H), np.float32), c0))
    with pytest.raises(ValueError, match="input_size=3"):
        m(np.zeros((T, N, I + 1), np.float32))
    with pytest.raises(TypeError, match="dtype float32"):
        m(x.astype(np.float64))
    with pytest.raises(RuntimeError, match="before forward"):
        nr.LSTM(I, H).backward(np.zeros((T, N, H), np.float32))
    out, _ = m(x, (h0, c0))
    with pytest.raises(TypeError, match=r"tuple \(h, c\)"):
        m.backward(out, h0)
    with pytest.raises(ValueError, match=r"dc_n must have shape"):
        m.backward(out, (None, np.zeros((2, N, P), np.float32)))
    with pytest.raises(ValueError, match="dout must have shape"):
        m.backward(out[:-1])


def test_cell_bad_input():
    cell = nr.LSTMCell(I, H)
    x, h = np.zeros((N, I), np.float32), np.zeros((N, H), np.float32)
    with pytest.raises(TypeError, match=r"tuple \(h, c\)"):
        cell(x, h)
    with pytest.raises(ValueError, match=r"c must have shape \(3, 4\)"):
        cell(x, (h, np.zeros((N, H + 1), np.float32)))
    with pytest.raises(ValueError, match="input_size=3"):
        cell(np.zeros((N, I + 1), np.float32))
    with pytest.raises(RuntimeError, match="before forward"):
        nr.LSTMCell(I, H).backward((h, h))
    cell(x, (h, h))
    with pytest.raises(TypeError, match=r"tuple \(h, c\)"):
        cell.backward(h)
    with pytest.raises(TypeError):
        nr.LSTMCell(I, H, proj_size=2)  # like torch.nn.LSTMCell: no projection

"""Truncated BPTT: k = T is full BPTT, the cut matches PyTorch's detach, stateful training."""

import numpy as np
import pytest

import numrnn as nr
from numrnn.errors import UsageTypeError
from numrnn.tbptt import chunk_slices, train_tbptt, truncated_gradients, truncated_vs_full, windows

T, N = 12, 2


def _model():
    return nr.Sequential(nr.RNN(1, 5, dtype=np.float64, seed=0), nr.Linear(5, 1, dtype=np.float64, seed=1))


def _data(seed=0):
    r = np.random.default_rng(seed)
    x = r.standard_normal((T, N, 1))
    return x, np.cumsum(x, axis=0) * 0.3  # the target needs memory of the past


def test_chunk_slices():
    assert chunk_slices(7, 3) == [slice(0, 3), slice(3, 6), slice(6, 7)]
    assert chunk_slices(4, 9) == [slice(0, 4)]
    with pytest.raises(ValueError, match="truncation length"):
        chunk_slices(4, 0)
    for bad in (2.5, "3", True):  # the wrong kind of value: a TypeError, not a ValueError
        with pytest.raises(UsageTypeError, match="truncation length k must be an integer"):
            chunk_slices(4, bad)
    assert chunk_slices(4, np.int64(2)) == [slice(0, 2), slice(2, 4)]


def test_k_equal_T_is_full_bptt_exactly():
    m = _model()
    x, y = _data()
    loss, grads, state = truncated_gradients(m, x, y, T)
    m.zero_grad()
    pred = m(x)
    full_loss, d = nr.mse_loss(pred, y)
    m.backward(d)
    assert loss == full_loss
    for k, g in m.grads.items():
        np.testing.assert_array_equal(grads[k], g)
    np.testing.assert_array_equal(state, m.state)


def test_truncation_matches_torch_detach():
    torch = pytest.importorskip("torch")
    m = _model()
    x, y = _data(1)
    k = 5
    loss, grads, state = truncated_gradients(m, x, y, k)
    rnn, lin = torch.nn.RNN(1, 5).double(), torch.nn.Linear(5, 1).double()
    with torch.no_grad():
        for name, p in rnn.named_parameters():
            p.copy_(torch.from_numpy(m.params["0." + name]))
        for name, p in lin.named_parameters():
            p.copy_(torch.from_numpy(m.params["1." + name]))
    h = None
    for sl in chunk_slices(T, k):
        out, h = rnn(torch.from_numpy(x[sl]), h)
        w = (sl.stop - sl.start) / T
        (w * torch.nn.functional.mse_loss(lin(out), torch.from_numpy(y[sl]))).backward()
        h = h.detach()  # the cut
    tgrads = {"0." + n: p.grad for n, p in rnn.named_parameters()}
    tgrads.update({"1." + n: p.grad for n, p in lin.named_parameters()})
    for name, g in grads.items():
        np.testing.assert_allclose(g, tgrads[name].numpy(), rtol=1e-10, atol=1e-13, err_msg=name)
    np.testing.assert_allclose(state, h.numpy(), rtol=1e-12)


def test_explorer():
    m = _model()
    x, y = _data(2)
    before = {k: g.copy() for k, g in m.grads.items()}
    rows = truncated_vs_full(m, x, y, ks=[1, 3, 6, T])
    assert [r.k for r in rows] == [1, 3, 6, T]
    assert rows[-1].rel_error == 0.0 and rows[-1].cosine == pytest.approx(1.0)
    assert rows[0].rel_error > 1e-3 and rows[0].cosine < 1.0
    assert set(rows[0].per_param) == set(m.params)
    assert m.training  # mode and gradients are restored
    for k, g in m.grads.items():
        np.testing.assert_array_equal(g, before[k])


def test_bare_rnn_and_stateful_training_learns():
    rnn = nr.RNN(1, 1, dtype=np.float64, seed=3)
    x, _ = _data(3)
    rows = truncated_vs_full(rnn, x, np.tanh(x), ks=[T])
    assert rows[0].rel_error == 0.0
    m = _model()
    opt = nr.Adam(m, lr=0.02)
    first, state, step = train_tbptt(m, opt, x, y := _data(3)[1], k=4)
    assert step == 3 and state.shape == (1, N, 5)
    for _ in range(40):
        last, _, step = train_tbptt(m, opt, x, y, k=4, clip_norm=1.0, step=step)
    assert last < 0.5 * first


def test_misuse():
    x, y = _data()
    with pytest.raises(TypeError, match="must be an RNN/LSTM/GRU or a Sequential"):
        truncated_gradients(nr.Linear(1, 1), x, y, 3)
    with pytest.raises(ValueError, match="batch_first=False"):
        truncated_gradients(nr.RNN(1, 2, batch_first=True), x, y, 3)
    with pytest.raises(ValueError, match="same number of steps"):
        truncated_gradients(_model(), x, y[:5], 3)


def test_windows_of_the_plain_and_the_overlapping_scheme():
    assert windows(7, 3) == [(0, 0, 3), (3, 3, 6), (6, 6, 7)]  # k2 = k1: the windows are the chunks
    assert windows(7, 3, 5) == [(0, 0, 3), (1, 3, 6), (4, 6, 7)]  # 2 steps of history before each chunk
    assert windows(4, 1, 9) == [(0, 0, 1), (0, 1, 2), (0, 2, 3), (0, 3, 4)]
    with pytest.raises(ValueError, match="k2 .* must be >= k1"):
        windows(7, 3, 2)
    with pytest.raises(ValueError, match="truncation length k2"):
        windows(7, 3, 0)


@pytest.mark.parametrize("k1", [1, 3, 5])
def test_k2_covering_the_sequence_is_full_bptt(k1):
    """With k2 >= T + k1 - 1 every window starts at step 0: at fixed weights the chunks'
    gradients add up to the full one (linearity), to rounding."""
    m = _model()
    x, y = _data(4)
    full_loss, full, full_state = truncated_gradients(m, x, y, T)
    loss, grads, state = truncated_gradients(m, x, y, k1, k2=T + k1 - 1)
    assert loss == pytest.approx(full_loss, rel=1e-12)
    for name, g in full.items():
        np.testing.assert_allclose(grads[name], g, rtol=1e-10, atol=1e-14, err_msg=name)
    np.testing.assert_array_equal(state, full_state)
    rows = truncated_vs_full(m, x, y, ks=[(k1, T + k1 - 1), (k1, T + 7)])
    assert all(r.rel_error < 1e-10 and r.k == k1 for r in rows)
    assert [r.k2 for r in rows] == [T + k1 - 1, T + 7]


def _scalar_relu_rnn():
    """h_t = relu(0.5 h_{t-1} + x_t) with x_t = 1 and h_0 = 4: linear (all positive), so
    dh_t/dw over a window that starts at s is sum_{j=1}^{t-s} w^(j-1) h_{t-j}."""
    rnn = nr.RNN(1, 1, nonlinearity="relu", bias=False, dtype=np.float64)
    rnn.load_state_dict({"weight_ih_l0": [[1.0]], "weight_hh_l0": [[0.5]]})
    return rnn, np.ones((3, 1, 1)), np.full((1, 1, 1), 4.0)  # h = 3, 2.5, 2.25


def _mean_of_pred(pred, y):
    return float(pred.mean()), np.full_like(pred, 1.0 / pred.size)  # L = mean of the h_t


@pytest.mark.parametrize("k1, k2, by_hand", [
    (3, 3, 4 + 5 + 5),          # full: dh1/dw = h0, dh2/dw = h1 + w h0, dh3/dw = h2 + w h1 + w^2 h0
    (1, 1, 4 + 3 + 2.5),        # plain k = 1: only the direct term h_{t-1}
    (2, 2, 4 + 5 + 2.5),        # chunks [1, 2], [3]: step 3 starts a chunk and gets no history
    (1, 2, 4 + 5 + (2.5 + 1.5)),  # BPTT(2; 1): step 3 looks one step further back, to h1
    (2, 3, 4 + 5 + (2.5 + 1.5)),  # BPTT(3; 2): the short last chunk [3] also looks 1 step back
    (1, 3, 4 + 5 + 5),          # BPTT(3; 1): every window reaches step 0, as full BPTT
])
def test_hand_computed_gradients(k1, k2, by_hand):
    rnn, x, h0 = _scalar_relu_rnn()
    _, grads, _ = truncated_gradients(rnn, x, np.zeros_like(x), k1, _mean_of_pred, h0, k2=k2)
    assert grads["weight_hh_l0"][0, 0] == pytest.approx(by_hand / 3, rel=1e-14)


def test_overlap_brings_the_gradient_closer_to_full_bptt():
    m = _model()
    x, y = _data(5)
    plain, overlapping = truncated_vs_full(m, x, y, ks=[3, (3, 9)])
    assert overlapping.rel_error < plain.rel_error and overlapping.cosine > plain.cosine


def test_train_tbptt_with_overlapping_windows_learns():
    m = _model()
    x, y = _data(3)
    opt = nr.Adam(m, lr=0.02)
    first, state, step = train_tbptt(m, opt, x, y, k=4, k2=8)
    assert step == 3 and state.shape == (1, N, 5)
    for _ in range(40):
        last, state, step = train_tbptt(m, opt, x, y, k=4, k2=8, clip_norm=1.0, step=step, state=None)
    assert last < 0.5 * first


def test_zero_length_sequence_is_refused():
    """Issue 13 item 6: train_tbptt returned a NaN loss, silently."""
    m = _model()
    x, y = np.zeros((0, N, 1)), np.zeros((0, N, 1))
    with pytest.raises(ValueError, match=r"no steps \(T = 0\)"):
        train_tbptt(m, nr.SGD(m), x, y, k=3)
    with pytest.raises(ValueError, match=r"no steps \(T = 0\)"):
        truncated_gradients(m, x, y, 3)
    with pytest.raises(ValueError, match="same number of steps"):
        train_tbptt(m, nr.SGD(m), *_data()[:1], _data()[1][:4], k=3)


def test_train_tbptt_takes_the_trainers_step_with_its_parameter_guard():
    """train_tbptt copied Trainer.train_step and lost the check of the parameters after the
    update: an update that overflows them went unnoticed. It is now the Trainer's step."""
    m = _model()
    x, y = _data()

    class Overflowing(nr.SGD):
        def step(self):
            super().step()
            m.params["1.bias"][...] = np.inf

    with pytest.raises(nr.NonFiniteError, match=r"step 6: param 1.bias is not finite"):
        train_tbptt(m, Overflowing(m), x, y, k=4, step=5)

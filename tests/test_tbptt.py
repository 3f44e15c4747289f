"""Truncated BPTT: k = T is full BPTT, the cut matches PyTorch's detach, stateful training."""

import numpy as np
import pytest

import numrnn as nr
from numrnn.tbptt import chunk_slices, train_tbptt, truncated_gradients, truncated_vs_full

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

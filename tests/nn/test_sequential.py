"""Sequential and LastStep: composition, PyTorch-style names, state, gradients, parity."""

import numpy as np
import pytest

import numrnn as nr


def _char_model(dtype=np.float64):
    return nr.Sequential(nr.Embedding(5, 3, seed=0, dtype=dtype), nr.RNN(3, 4, seed=1, dtype=dtype),
                         nr.Linear(4, 5, seed=2, dtype=dtype))


def test_names_like_torch_sequential():
    m = _char_model()
    assert list(m.params) == ["0.weight", "1.weight_ih_l0", "1.weight_hh_l0", "1.bias_ih_l0",
                              "1.bias_hh_l0", "2.weight", "2.bias"]
    assert list(m.grads) == list(m.params)
    assert m.num_parameters() == 15 + 12 + 16 + 4 + 4 + 20 + 5
    assert len(m) == 3 and isinstance(m[1], nr.RNN)
    m.load_state_dict(m.state_dict())


def test_embedding_rnn_linear_gradcheck_and_state():
    m = _char_model()
    ids = np.array([[1, 2], [0, 3], [4, 4]])  # (T, N)
    y = m(ids)
    assert y.shape == (3, 2, 5) and m.state.shape == (1, 2, 4)
    assert m.backward(np.ones_like(y)) is None  # ids have no gradient
    assert m.dhx.shape == (1, 2, 4)
    report = nr.check_gradients(m, ids)
    assert report.ok, str(report)


def test_state_carries_over():
    m = _char_model()
    ids = np.array([[1], [2], [3], [4]])
    whole = m(ids)
    first = m(ids[:2])
    second = m(ids[2:], hx=m.state)
    np.testing.assert_allclose(np.concatenate([first, second]), whole, rtol=1e-12)


def test_forecaster_with_lengths_and_dropout_gradcheck():
    m = nr.Sequential(nr.RNN(2, 4, num_layers=2, batch_first=True, seed=0), nr.Dropout(0.3, seed=1),
                      nr.LastStep(batch_first=True), nr.Linear(4, 1, seed=2))
    x = np.random.default_rng(0).standard_normal((3, 5, 2))
    lengths = np.array([5, 2, 3])
    assert m(x.astype(np.float32), lengths=lengths).shape == (3, 1)
    report = nr.check_gradients(m, x, lengths=lengths)
    assert report.ok, str(report)


def test_laststep_picks_last_real_step():
    x = np.arange(24, dtype=np.float64).reshape(4, 3, 2)  # (T, N, F)
    last = nr.LastStep()
    np.testing.assert_array_equal(last(x), x[-1])
    y = last(x, lengths=np.array([1, 4, 2]))
    np.testing.assert_array_equal(y, np.stack([x[0, 0], x[3, 1], x[1, 2]]))
    dx = last.backward(np.ones((3, 2)))
    assert dx.sum() == 6 and dx[0, 0].sum() == 2 and dx[3, 1].sum() == 2 and dx[1, 2].sum() == 2
    bf = nr.LastStep(batch_first=True)
    np.testing.assert_array_equal(bf(x.transpose(1, 0, 2), lengths=np.array([1, 4, 2])), y)
    np.testing.assert_array_equal(bf.backward(np.ones((3, 2))), dx.transpose(1, 0, 2))
    np.testing.assert_array_equal(last(x[:, 0]), x[-1, 0])  # unbatched (T, F)


def test_matches_torch_embedding_rnn_linear():
    torch = pytest.importorskip("torch")
    m = _char_model()
    t = torch.nn.ModuleDict(dict(emb=torch.nn.Embedding(5, 3), rnn=torch.nn.RNN(3, 4),
                                 lin=torch.nn.Linear(4, 5))).double()
    tparams = dict(t.named_parameters())
    names = {"0.": "emb.", "1.": "rnn.", "2.": "lin."}
    with torch.no_grad():
        for k, v in m.params.items():
            tparams[names[k[:2]] + k[2:]].copy_(torch.from_numpy(v))
    ids = np.array([[1, 2], [0, 3], [4, 4]])
    dy = np.random.default_rng(0).standard_normal((3, 2, 5))
    y = m(ids)
    m.backward(dy)
    ty = t["lin"](t["rnn"](t["emb"](torch.from_numpy(ids)))[0])
    ty.backward(torch.from_numpy(dy))
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-12, atol=1e-12)
    for k, g in m.grads.items():
        np.testing.assert_allclose(g, tparams[names[k[:2]] + k[2:]].grad.numpy(), rtol=1e-10, atol=1e-12)


def test_bad_use():
    with pytest.raises(ValueError, match="at least one"):
        nr.Sequential()
    with pytest.raises(TypeError, match="argument 1"):
        nr.Sequential(nr.Linear(2, 2), "relu")
    with pytest.raises(ValueError, match="no recurrent"):
        nr.Sequential(nr.Linear(2, 2))(np.zeros((1, 2), np.float32), hx=np.zeros((1, 2)))
    with pytest.raises(RuntimeError, match="Embedding must come first"):
        m = nr.Sequential(nr.Linear(2, 2), nr.Embedding(3, 2))
        m[0](np.zeros((1, 2), np.float32))  # an Embedding second cannot run forward: fake its cache
        m[1](np.array([0]))
        m.backward(np.zeros((1, 2), np.float32))
    last = nr.LastStep()
    with pytest.raises(ValueError, match="in \\[1, 3\\]"):
        last(np.zeros((3, 2, 1)), lengths=np.array([0, 3]))
    with pytest.raises(ValueError, match="3-D"):
        last(np.zeros(3))
    with pytest.raises(RuntimeError, match="before forward"):
        nr.LastStep().backward(np.zeros((2, 1)))


def test_dtype_comes_from_the_first_child_with_parameters():
    assert nr.Sequential(nr.Dropout(0.1), nr.RNN(4, 8, dtype=np.float64)).dtype == np.float64
    assert nr.Sequential(nr.RNN(4, 8), nr.LastStep(), nr.Linear(8, 1)).dtype == np.float32
    assert nr.Sequential(nr.LastStep()).dtype == np.float32  # no parameters at all


def test_last_step_backward_checks_dy():
    last = nr.LastStep()
    last(np.zeros((3, 2, 4)))  # float64
    with pytest.raises(TypeError, match="dy must have dtype float64; got int64"):
        last.backward(np.ones((2, 4), np.int64))
    with pytest.raises(TypeError, match="dy must have dtype float64"):
        last.backward(np.ones((2, 4), np.float32))
    with pytest.raises(ValueError, match=r"dy must have shape \(2, 4\)"):
        last.backward(np.ones((4, 2)))
    assert last.backward([[1.0] * 4] * 2).dtype == np.float64


@pytest.mark.parametrize("lengths, err, match", [
    (np.array([2.0, 3.0]), TypeError, "lengths must be integers"),  # was a ValueError, unlike the RNN's
    (np.array([2, 3, 1]), ValueError, r"shape \(2,\)"),
    (np.array([0, 3]), ValueError, r"in \[1, 3\]"),
])
def test_last_step_checks_lengths_as_the_recurrent_modules_do(lengths, err, match):
    x = np.zeros((3, 2, 1))
    with pytest.raises(err, match=match):
        nr.LastStep()(x, lengths=lengths)
    with pytest.raises(err, match=match):
        nr.RNN(1, 2, dtype=np.float64)(x, lengths=lengths)


def test_junk_found_by_the_property_suite_is_a_usage_error():
    """Each was NumPy's ValueError or a RuntimeError about a module 2 that does not exist."""
    with pytest.raises(TypeError, match="LastStep: input must be an array"):
        nr.LastStep()([[1.0], [1.0, 2.0]])
    with pytest.raises(TypeError, match="LastStep: batch_first must be True or False"):
        nr.LastStep(batch_first=np.array([]))
    seq = nr.Sequential(nr.RNN(1, 2, seed=0), nr.LastStep())
    seq(np.ones((3, 2, 1), np.float32))
    with pytest.raises(TypeError, match="Sequential.backward: dy must be the gradient of the output"):
        seq.backward(None)

"""Embedding: lookup, scatter-add backward, padding row, PyTorch parity, bad inputs."""

import numpy as np
import pytest

import numrnn as nr


def test_forward_is_row_lookup_and_gradcheck():
    emb = nr.Embedding(6, 3, seed=0)
    ids = np.array([[1, 5], [1, 0], [3, 3]])  # repeated ids: their gradients must add up
    y = emb(ids)
    assert y.shape == (3, 2, 3)
    np.testing.assert_array_equal(y[0, 0], emb.params["weight"][1])
    report = nr.check_gradients(emb, ids)
    assert report.ok, str(report)
    assert emb.backward(np.ones((3, 2, 3), np.float32)) is None


def test_padding_row_is_zero_and_gets_no_gradient():
    emb = nr.Embedding(5, 4, padding_idx=-1, dtype=np.float64, seed=1)
    assert emb.padding_idx == 4
    np.testing.assert_array_equal(emb.params["weight"][4], 0)
    ids = np.array([[4, 2], [2, 4], [0, 1]])
    dy = np.random.default_rng(0).standard_normal((3, 2, 4))
    emb(ids)
    emb.backward(dy)
    dw = emb.grads["weight"]
    np.testing.assert_array_equal(dw[4], 0)
    # every other row: the numerical gradient of sum(weight[ids] * dy)
    w = emb.params["weight"]
    num = nr.numerical_gradient(lambda _: emb(ids), w, dy)
    np.testing.assert_allclose(dw[:4], num[:4], rtol=1e-7, atol=1e-9)


def test_matches_torch():
    torch = pytest.importorskip("torch")
    emb = nr.Embedding(7, 3, padding_idx=2, dtype=np.float64, seed=2)
    t = torch.nn.Embedding(7, 3, padding_idx=2).double()
    with torch.no_grad():
        t.weight.copy_(torch.from_numpy(emb.params["weight"]))
    ids = np.array([[0, 2, 6], [6, 6, 1]])
    dy = np.random.default_rng(1).standard_normal((2, 3, 3))
    y = emb(ids)
    emb.backward(dy)
    ty = t(torch.from_numpy(ids))
    ty.backward(torch.from_numpy(dy))
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=0, atol=0)
    np.testing.assert_allclose(emb.grads["weight"], t.weight.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_init_is_standard_normal():
    w = nr.Embedding(400, 50, seed=3).params["weight"]
    assert abs(w.mean()) < 0.02 and abs(w.std() - 1) < 0.02


@pytest.mark.parametrize("ids, err", [
    (np.array([0.0, 1.0]), TypeError),
    (np.array([0, 6]), ValueError),
    (np.array([-1, 0]), ValueError),
])
def test_bad_ids(ids, err):
    with pytest.raises(err, match="Embedding"):
        nr.Embedding(6, 2)(ids)


def test_bad_construction_and_call_order():
    with pytest.raises(ValueError, match="padding_idx"):
        nr.Embedding(3, 2, padding_idx=3)
    with pytest.raises(TypeError, match="padding_idx"):
        nr.Embedding(3, 2, padding_idx=1.0)
    with pytest.raises(ValueError, match="num_embeddings"):
        nr.Embedding(0, 2)
    emb = nr.Embedding(3, 2)
    with pytest.raises(RuntimeError, match="before forward"):
        emb.backward(np.zeros((1, 2), np.float32))
    emb(np.array([0, 1]))
    with pytest.raises(ValueError, match="dy must have shape"):
        emb.backward(np.zeros((3, 2), np.float32))


def test_ragged_ids_are_a_usage_error():
    """Found by tests/properties/test_junk.py: was NumPy's 'inhomogeneous shape' ValueError."""
    with pytest.raises(TypeError, match="Embedding: input must be an array of integer token ids"):
        nr.Embedding(5, 2)([[1], [1, 2]])

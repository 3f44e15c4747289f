"""Losses: values and gradients against central differences and torch.nn.functional."""

import numpy as np
import pytest

import numrnn as nr
from numrnn.functional.losses import log_softmax, softmax


@pytest.fixture
def logits_targets():
    r = np.random.default_rng(0)
    return r.standard_normal((4, 3, 5)), r.integers(0, 5, size=(4, 3))  # (T, N, C), (T, N)


def test_cross_entropy_gradient_is_numerical(logits_targets):
    z, y = logits_targets
    y = y.copy()
    y[0, 1] = -100  # ignored
    mask = np.ones((4, 3))
    mask[3] = 0  # the last step masked out
    loss, dz = nr.cross_entropy(z, y, mask=mask)
    num = nr.numerical_gradient(lambda a: np.array(nr.cross_entropy(a, y, mask=mask)[0]), z.copy(), 1.0)
    np.testing.assert_allclose(dz, num, rtol=1e-6, atol=1e-10)
    assert np.all(dz[3] == 0) and np.all(dz[0, 1] == 0)


def test_mse_gradient_is_numerical():
    r = np.random.default_rng(1)
    p, t = r.standard_normal((5, 2)), r.standard_normal((5, 2))
    loss, dp = nr.mse_loss(p, t)
    num = nr.numerical_gradient(lambda a: np.array(nr.mse_loss(a, t)[0]), p.copy(), 1.0)
    np.testing.assert_allclose(dp, num, rtol=1e-6, atol=1e-10)


def test_cross_entropy_matches_torch(logits_targets):
    torch = pytest.importorskip("torch")
    z, y = logits_targets
    y = y.copy()
    y[1, 2] = y[2, 0] = 7  # our ignore_index
    loss, dz = nr.cross_entropy(z, y, ignore_index=7)
    tz = torch.tensor(z, requires_grad=True)
    tl = torch.nn.functional.cross_entropy(tz.reshape(-1, 5), torch.from_numpy(y).reshape(-1), ignore_index=7)
    tl.backward()
    assert loss == pytest.approx(tl.item(), rel=1e-12)
    np.testing.assert_allclose(dz, tz.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_mask_equals_ignore_index(logits_targets):
    z, y = logits_targets
    mask = np.array([[1, 1, 1], [1, 0, 1], [0, 0, 1], [1, 1, 0]], dtype=bool)
    a = nr.cross_entropy(z, y, mask=mask)
    b = nr.cross_entropy(z, np.where(mask, y, -100))
    assert a[0] == b[0]
    np.testing.assert_array_equal(a[1], b[1])


def test_mse_matches_torch():
    torch = pytest.importorskip("torch")
    r = np.random.default_rng(2)
    p, t = r.standard_normal((6, 3, 1)), r.standard_normal((6, 3, 1))
    loss, dp = nr.mse_loss(p, t)
    tp = torch.tensor(p, requires_grad=True)
    tl = torch.nn.functional.mse_loss(tp, torch.from_numpy(t))
    tl.backward()
    assert loss == pytest.approx(tl.item(), rel=1e-12)
    np.testing.assert_allclose(dp, tp.grad.numpy(), rtol=1e-12)


def test_stable_for_huge_logits_and_float32():
    z = np.array([[1000.0, 0.0, -1000.0]], dtype=np.float32)
    loss, dz = nr.cross_entropy(z, np.array([0]))
    assert loss == 0.0 and dz.dtype == np.float32 and np.isfinite(dz).all()
    np.testing.assert_allclose(softmax(z), np.exp(log_softmax(z)), rtol=1e-6)
    loss, dz = nr.cross_entropy(z, np.array([2]))
    assert loss == pytest.approx(2000.0)


def test_nothing_counted_gives_zero():
    loss, dz = nr.cross_entropy(np.ones((2, 3)), np.array([-100, -100]))
    assert loss == 0.0 and not dz.any()


def test_bad_inputs():
    z = np.zeros((4, 3))
    with pytest.raises(ValueError, match="targets must have shape"):
        nr.cross_entropy(z, np.zeros(3, dtype=int))
    with pytest.raises(TypeError, match="integer class ids"):
        nr.cross_entropy(z, np.zeros(4))
    with pytest.raises(ValueError, match=r"in \[0, 3\)"):
        nr.cross_entropy(z, np.array([0, 1, 3, 0]))
    with pytest.raises(ValueError, match="mask must have shape"):
        nr.cross_entropy(z, np.zeros(4, dtype=int), mask=np.ones(3))
    with pytest.raises(ValueError, match="shape of pred"):
        nr.mse_loss(np.zeros((2, 1)), np.zeros(2))


@pytest.mark.parametrize("target", [np.zeros((3, 2)), np.zeros((3, 2), dtype=np.int64), [[0.0, 1.0]] * 3])
def test_mse_gradient_has_the_dtype_of_pred(target):
    pred = np.ones((3, 2), dtype=np.float32)
    loss, dpred = nr.mse_loss(pred, target)
    assert dpred.dtype == np.float32
    np.testing.assert_allclose(loss, np.mean((1.0 - np.asarray(target, np.float64)) ** 2), rtol=1e-6)


def test_mse_accepts_a_list_pred_and_refuses_bad_ones():
    loss, dpred = nr.mse_loss([1.0, 3.0], [0.0, 1.0])
    assert loss == pytest.approx(2.5) and dpred.tolist() == [1.0, 2.0]
    with pytest.raises(TypeError, match="pred must hold floats"):
        nr.mse_loss(np.array([1, 2]), np.array([1.0, 2.0]))
    with pytest.raises(TypeError, match="target must be numeric"):
        nr.mse_loss(np.ones(2), np.array(["a", "b"]))


def test_cross_entropy_accepts_list_logits_and_refuses_integer_ones():
    loss, dz = nr.cross_entropy([[0.0, 0.0]], [1])
    assert loss == pytest.approx(np.log(2)) and dz.dtype == np.float64
    with pytest.raises(TypeError, match="logits must hold floats"):
        nr.cross_entropy(np.array([[1, 2]]), np.array([0]))


def test_textbook_pair_is_what_cross_entropy_runs(logits_targets):
    """cross_entropy = its checks + softmax_cross_entropy_forward/backward (the exercise pair)."""
    from numrnn.functional.losses import softmax_cross_entropy_backward, softmax_cross_entropy_forward
    z, y = logits_targets
    mask = np.ones(y.shape, dtype=bool)
    mask[1, 2] = False
    loss, cache = softmax_cross_entropy_forward(z, y, mask)
    want_loss, want_dz = nr.cross_entropy(z, y, mask=mask)
    assert loss == want_loss
    np.testing.assert_array_equal(softmax_cross_entropy_backward(1.0, cache), want_dz)
    np.testing.assert_allclose(softmax_cross_entropy_backward(2.5, cache), 2.5 * want_dz, rtol=1e-15)
    all_counted, _ = softmax_cross_entropy_forward(z, y)
    assert all_counted == pytest.approx(nr.cross_entropy(z, y)[0], rel=1e-15)


def test_mse_loss_on_an_empty_batch_is_a_clear_error():
    """Issue 13 item 6: was a ZeroDivisionError (after a NaN mean and a RuntimeWarning)."""
    with pytest.raises(ValueError, match=r"mse_loss: pred is empty \(shape \(0, 3\)\)"):
        nr.mse_loss(np.zeros((0, 3)), np.zeros((0, 3)))

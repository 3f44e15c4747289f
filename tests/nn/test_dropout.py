"""Dropout: inverted scaling, eval identity, mask reuse, gradient check."""

import numpy as np
import pytest

import numrnn as nr


def test_train_mode_zeros_and_scales():
    p = 0.25
    drop = nr.Dropout(p, seed=0)
    x = np.ones((200, 50), np.float32)
    y = drop(x)
    assert y.dtype == np.float32
    kept = y != 0
    assert set(np.unique(y)) <= {0.0, np.float32(1 / (1 - p))}
    assert abs(kept.mean() - (1 - p)) < 0.02  # 10,000 draws: about 0.004 standard error
    dx = drop.backward(np.full_like(x, 2.0))
    np.testing.assert_array_equal(dx, 2.0 * y)  # backward reuses the mask


def test_eval_mode_and_p_zero_are_identity():
    x = np.random.default_rng(0).standard_normal((3, 4))
    drop = nr.Dropout(0.5, seed=0).eval()
    np.testing.assert_array_equal(drop(x), x)
    np.testing.assert_array_equal(drop.backward(x), x)
    np.testing.assert_array_equal(nr.Dropout(0.0)(x), x)


def test_new_mask_each_forward_unless_held():
    drop = nr.Dropout(0.5, seed=1)
    x = np.ones((10, 10))
    a, b = drop(x), drop(x)
    assert not np.array_equal(a, b)
    with drop.hold_randomness():
        c = drop(x)
    np.testing.assert_array_equal(c, b)


def test_gradcheck():
    x = np.random.default_rng(2).standard_normal((4, 3, 5))
    report = nr.check_gradients(nr.Dropout(0.4, seed=3), x)
    assert report.ok, str(report)


@pytest.mark.parametrize("p, err", [(1.0, ValueError), (-0.1, ValueError), (float("nan"), ValueError),
                                    ("0.5", TypeError), (True, TypeError)])
def test_bad_p(p, err):
    with pytest.raises(err, match=r"Dropout: p must be a number in \[0, 1\)"):
        nr.Dropout(p)


def test_p_may_be_a_numpy_scalar():
    assert nr.Dropout(np.float32(0.25)).p == 0.25


def test_bad_input_and_call_order():
    drop = nr.Dropout(0.5)
    with pytest.raises(RuntimeError, match="before forward"):
        drop.backward(np.zeros(3))
    with pytest.raises(TypeError, match="float32 or float64"):
        drop(np.arange(3))
    drop(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="dy must have shape"):
        drop.backward(np.zeros((3, 2)))


def test_backward_checks_the_dtype_of_dy():
    drop = nr.Dropout(0.5, seed=0)
    x = np.ones((4, 5), np.float32)
    y = drop(x)
    with pytest.raises(TypeError, match="dy must have dtype float32; got int64"):  # it truncated 1/(1-p)
        drop.backward(np.ones((4, 5), np.int64))
    with pytest.raises(TypeError, match="dy must have dtype float32"):
        drop.backward(np.ones((4, 5), np.float64))
    np.testing.assert_array_equal(drop.backward([[1.0] * 5] * 4), y)  # a float list is cast
    drop(np.ones((4, 5)))  # the same module on float64 input: dy must follow
    assert drop.backward(np.ones((4, 5))).dtype == np.float64


def test_ragged_input_is_a_usage_error():
    with pytest.raises(TypeError, match="Dropout: input must be an array"):
        nr.Dropout(0.5)([[1.0], [1.0, 2.0]])

"""The textbook functions on their own: step vs sequence, and numerical gradients."""

import numpy as np
import pytest

from numrnn.functional.activations import activation_backward, activation_forward, sigmoid
from numrnn.functional.rnn import rnn_backward, rnn_forward, rnn_step_backward, rnn_step_forward
from numrnn.gradcheck import numerical_gradient, rel_error

T, N, I, H = 4, 3, 5, 6


@pytest.fixture
def weights(rng):
    return (0.5 * rng.standard_normal((H, I)), 0.5 * rng.standard_normal((H, H)),
            0.1 * rng.standard_normal(H), 0.1 * rng.standard_normal(H))


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_step_forward_is_the_equation(weights, nonlinearity, rng):
    w_ih, w_hh, b_ih, b_hh = weights
    x, h = rng.standard_normal((N, I)), rng.standard_normal((N, H))
    h1, _ = rnn_step_forward(x, h, w_ih, w_hh, b_ih, b_hh, nonlinearity)
    a = x @ w_ih.T + b_ih + h @ w_hh.T + b_hh
    np.testing.assert_allclose(h1, np.tanh(a) if nonlinearity == "tanh" else np.maximum(a, 0))


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("bias", [True, False])
def test_step_backward_numerically(weights, nonlinearity, bias, rng):
    w_ih, w_hh, b_ih, b_hh = weights if bias else (*weights[:2], None, None)
    x, h = rng.standard_normal((N, I)), rng.standard_normal((N, H))
    dh1 = rng.standard_normal((N, H))
    _, cache = rnn_step_forward(x, h, w_ih, w_hh, b_ih, b_hh, nonlinearity)
    dx, dh, dw_ih, dw_hh, db_ih, db_hh = rnn_step_backward(dh1, cache)

    def f(_):
        return rnn_step_forward(x, h, w_ih, w_hh, b_ih, b_hh, nonlinearity)[0]

    for analytic, wrt in [(dx, x), (dh, h), (dw_ih, w_ih), (dw_hh, w_hh)] + (
            [(db_ih, b_ih), (db_hh, b_hh)] if bias else []):
        assert np.max(rel_error(analytic, numerical_gradient(f, wrt, dh1))) < 1e-6
    if not bias:
        assert db_ih is None and db_hh is None


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_sequence_is_the_steps_unrolled(weights, nonlinearity, rng):
    x, h0 = rng.standard_normal((T, N, I)), rng.standard_normal((N, H))
    h, _ = rnn_forward(x, h0, *weights, nonlinearity)
    prev = h0
    for t in range(T):
        prev, _ = rnn_step_forward(x[t], prev, *weights, nonlinearity)
        np.testing.assert_array_equal(h[t], prev)


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_bptt_numerically(weights, nonlinearity, rng):
    x, h0 = rng.standard_normal((T, N, I)), rng.standard_normal((N, H))
    dh = rng.standard_normal((T, N, H))
    _, cache = rnn_forward(x, h0, *weights, nonlinearity)
    grads = rnn_backward(dh, cache)

    def f(_):
        return rnn_forward(x, h0, *weights, nonlinearity)[0]

    for analytic, wrt in zip(grads, (x, h0, *weights)):
        assert np.max(rel_error(analytic, numerical_gradient(f, wrt, dh))) < 1e-6


def test_dtype_is_kept(weights, rng):
    w32 = tuple(w.astype(np.float32) for w in weights)
    x = rng.standard_normal((T, N, I)).astype(np.float32)
    h, cache = rnn_forward(x, np.zeros((N, H), np.float32), *w32)
    grads = rnn_backward(np.ones_like(h), cache)
    assert h.dtype == np.float32 and all(g.dtype == np.float32 for g in grads)


def test_activations():
    a = np.linspace(-30, 30, 101)
    np.testing.assert_array_equal(activation_forward(a, "relu"), np.maximum(a, 0))
    y = activation_forward(a, "tanh")
    np.testing.assert_allclose(activation_backward(np.ones_like(y), y, "tanh"), 1 / np.cosh(a) ** 2,
                               atol=1e-15)
    with np.errstate(over="raise"):
        s = sigmoid(np.array([-1000.0, -1.0, 0.0, 1.0, 1000.0]))
    np.testing.assert_allclose(s, [0.0, 1 / (1 + np.e), 0.5, 1 / (1 + np.exp(-1)), 1.0])
    with pytest.raises(ValueError, match="'tanh' or 'relu'"):
        activation_forward(a, "elu")


def test_step_bias_gradients_are_two_arrays(weights, rng):
    """db_ih and db_hh are equal but separate: adding into one must not change the other."""
    _, cache = rnn_step_forward(rng.standard_normal((N, I)), rng.standard_normal((N, H)), *weights)
    *_, db_ih, db_hh = rnn_step_backward(rng.standard_normal((N, H)), cache)
    np.testing.assert_array_equal(db_ih, db_hh)
    assert not np.shares_memory(db_ih, db_hh)

"""numrnn.interop: Keras weight layouts. Keras is not a dependency: its forward pass is
written here in NumPy from Keras's documented equations (keras/src/layers/rnn/lstm.py,
gru.py, simple_rnn.py), and numrnn on converted weights must compute the same thing."""

import numpy as np
import pytest

import numrnn as nr
from numrnn.interop import from_keras, to_keras

N, T, I, H = 3, 5, 2, 4


def sigmoid(a):
    return 1 / (1 + np.exp(-a))


def keras_forward(kind, x, weights, reset_after=True):
    """Keras's recurrent layer on batch-first x (N, T, I) from zero states; h at every step."""
    kernel, recurrent = weights[0], weights[1]
    bias = weights[2] if len(weights) == 3 else None
    h = np.zeros((x.shape[0], recurrent.shape[0]))
    c = np.zeros_like(h)
    outs = []
    for t in range(x.shape[1]):
        xt = x[:, t]
        if kind == "SimpleRNN":
            h = np.tanh(xt @ kernel + h @ recurrent + (0 if bias is None else bias))
        elif kind == "LSTM":
            z = xt @ kernel + h @ recurrent + (0 if bias is None else bias)
            zi, zf, zc, zo = np.split(z, 4, axis=1)
            c = sigmoid(zf) * c + sigmoid(zi) * np.tanh(zc)
            h = sigmoid(zo) * np.tanh(c)
        elif reset_after:  # GRU, Keras's default: two biases, reset applied after U_h
            b_in, b_rec = (0, 0) if bias is None else (bias[0], bias[1])
            x_z, x_r, x_h = np.split(xt @ kernel + b_in, 3, axis=1)
            r_z, r_r, r_h = np.split(h @ recurrent + b_rec, 3, axis=1)
            z, r = sigmoid(x_z + r_z), sigmoid(x_r + r_r)
            hh = np.tanh(x_h + r * r_h)
            h = z * h + (1 - z) * hh
        else:  # GRU reset_after=False: one bias, reset applied to h before U_h
            x_z, x_r, x_h = np.split(xt @ kernel + bias, 3, axis=1)
            u_z, u_r, u_h = np.split(recurrent, 3, axis=1)
            z, r = sigmoid(x_z + h @ u_z), sigmoid(x_r + h @ u_r)
            hh = np.tanh(x_h + (r * h) @ u_h)
            h = z * h + (1 - z) * hh
        outs.append(h)
    return np.stack(outs, axis=1)  # (N, T, H)


def keras_weights(kind, bias=True, seed=0):
    rng = np.random.default_rng(seed)
    G = {"SimpleRNN": 1, "LSTM": 4, "GRU": 3}[kind]
    w = [0.5 * rng.standard_normal((I, G * H)), 0.5 * rng.standard_normal((H, G * H))]
    if bias:
        w.append(0.5 * rng.standard_normal((2, G * H) if kind == "GRU" else (G * H,)))
    return w


MODULES = {"SimpleRNN": nr.RNN, "LSTM": nr.LSTM, "GRU": nr.GRU}
CELLS = {"SimpleRNN": nr.RNNCell, "LSTM": nr.LSTMCell, "GRU": nr.GRUCell}


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("kind", list(MODULES))
def test_numrnn_on_keras_weights_computes_keras(kind, bias):
    w = keras_weights(kind, bias)
    m = from_keras(MODULES[kind](I, H, bias=bias, batch_first=True, dtype=np.float64, backend="numpy"), w)
    x = np.random.default_rng(1).standard_normal((N, T, I))
    out, _ = m(x)
    np.testing.assert_allclose(out, keras_forward(kind, x, w), rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("kind", list(MODULES))
def test_keras_on_numrnn_weights_computes_numrnn(kind):
    m = MODULES[kind](I, H, batch_first=True, dtype=np.float64, backend="numpy", seed=3)
    x = np.random.default_rng(1).standard_normal((N, T, I))
    out, _ = m(x)
    np.testing.assert_allclose(keras_forward(kind, x, to_keras(m)), out, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("kind", list(MODULES))
def test_cells(kind):
    w = keras_weights(kind)
    cell = from_keras(CELLS[kind](I, H, dtype=np.float64), w)
    x = np.random.default_rng(1).standard_normal((N, 1, I))
    h = cell(x[:, 0])
    h = h[0] if isinstance(h, tuple) else h
    np.testing.assert_allclose(h, keras_forward(kind, x, w)[:, 0], rtol=1e-12, atol=1e-13)
    for a, b in zip(to_keras(cell), w):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("kind", list(MODULES))
def test_round_trips(kind, bias):
    # Keras -> numrnn -> Keras is exact
    w = keras_weights(kind, bias)
    back = to_keras(from_keras(MODULES[kind](I, H, bias=bias), w))
    assert [a.shape for a in back] == [a.shape for a in w]
    for a, b in zip(back, w):
        np.testing.assert_allclose(a, b, rtol=1e-6)  # float32 module
    # numrnn -> Keras -> numrnn: the same weights; RNN/LSTM biases summed into bias_ih
    m = MODULES[kind](I, H, bias=bias, dtype=np.float64, seed=5)
    m2 = from_keras(MODULES[kind](I, H, bias=bias, dtype=np.float64), to_keras(m))
    a, b = m.state_dict(), m2.state_dict()
    for k in ("weight_ih_l0", "weight_hh_l0"):
        np.testing.assert_array_equal(a[k], b[k])
    if bias and kind == "GRU":
        for k in ("bias_ih_l0", "bias_hh_l0"):
            np.testing.assert_array_equal(a[k], b[k])
    elif bias:
        np.testing.assert_allclose(b["bias_ih_l0"], a["bias_ih_l0"] + a["bias_hh_l0"], rtol=1e-15)
        np.testing.assert_array_equal(b["bias_hh_l0"], 0)


def test_layouts_by_hand():
    """The documented layouts: LSTM's gate order is kept, the GRU's r and z blocks swap."""
    lstm = nr.LSTM(I, H, seed=0)
    kernel, recurrent, bias = to_keras(lstm)
    p = lstm.params
    assert kernel.shape == (I, 4 * H) and recurrent.shape == (H, 4 * H) and bias.shape == (4 * H,)
    np.testing.assert_array_equal(kernel[:, H:2 * H], p["weight_ih_l0"][H:2 * H].T)  # forget gate
    gru = nr.GRU(I, H, seed=0)
    kernel, recurrent, bias = to_keras(gru)
    p = gru.params
    assert bias.shape == (2, 3 * H)
    np.testing.assert_array_equal(kernel[:, :H], p["weight_ih_l0"][H:2 * H].T)  # Keras z = PyTorch z
    np.testing.assert_array_equal(recurrent[:, H:2 * H], p["weight_hh_l0"][:H].T)  # Keras r = PyTorch r
    np.testing.assert_array_equal(bias[1, 2 * H:], p["bias_hh_l0"][2 * H:])  # b_hn


def test_gru_reset_before_is_a_different_network_and_refused():
    w = keras_weights("GRU")
    w_before = [w[0], w[1], w[2][0]]  # a reset_after=False GRU has one (3H,) bias
    x = np.random.default_rng(1).standard_normal((N, T, I))
    nearest = [w[0], w[1], np.stack([w[2][0], 0 * w[2][0]])]  # same weights, b_hn = 0
    out, _ = from_keras(nr.GRU(I, H, batch_first=True, dtype=np.float64), nearest)(x)
    assert np.abs(out - keras_forward("GRU", x, w_before, reset_after=False)).max() > 1e-3
    with pytest.raises(ValueError, match="reset_after=False"):
        from_keras(nr.GRU(I, H), w_before)
    with pytest.raises(ValueError, match="reset_after=False"):
        from_keras(nr.GRU(I, H), w, reset_after=False)
    with pytest.raises(ValueError, match="reset_after=False"):
        to_keras(nr.GRU(I, H), reset_after=False)


def test_bad_input():
    with pytest.raises(ValueError, match="single-layer, single-direction"):
        to_keras(nr.LSTM(I, H, num_layers=2))
    with pytest.raises(ValueError, match="single-layer, single-direction"):
        from_keras(nr.GRU(I, H, bidirectional=True), keras_weights("GRU"))
    with pytest.raises(ValueError, match="no projection"):
        to_keras(nr.LSTM(I, H, proj_size=2))
    with pytest.raises(TypeError, match="RNN, LSTM, GRU"):
        to_keras(nr.Linear(2, 3))
    with pytest.raises(ValueError, match="use_bias=False has 2 weight arrays"):
        from_keras(nr.LSTM(I, H, bias=False), keras_weights("LSTM"))
    with pytest.raises(ValueError, match=r"kernel of a Keras LSTM\(4\) on 3 input features must have shape"):
        from_keras(nr.LSTM(3, H), keras_weights("LSTM"))
    with pytest.raises(TypeError, match="get_weights"):
        from_keras(nr.LSTM(I, H), {"kernel": 0})

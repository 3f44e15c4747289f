"""numrnn.diagnostics against finite differences, explicit formulas and np.linalg."""

import numpy as np
import pytest

import numrnn as nr
from numrnn import diagnostics as dg
from numrnn.functional.gru import gru_forward
from numrnn.functional.lstm import lstm_forward
from numrnn.functional.rnn import rnn_forward

I, H, T, N = 2, 3, 5, 2


def make(cell: str, seed: int = 0):
    if cell in ("tanh", "relu"):
        return nr.RNN(I, H, nonlinearity=cell, dtype=np.float64, seed=seed)
    return {"lstm": nr.LSTM, "gru": nr.GRU}[cell](I, H, dtype=np.float64, seed=seed)


def last_h_from(model, x, t, state):
    """h_{T-1} when the run restarts after step t from ``state`` (h_t, or (h_t, c_t))."""
    w = model.layer_weights(0, 0)
    rest = x[t + 1:]
    if len(rest) == 0:
        return state[0].copy()
    if model.cell.name == "rnn":
        return rnn_forward(rest, state[0], *w, nonlinearity=model.nonlinearity)[0][-1]
    if model.cell.name == "lstm":
        return lstm_forward(rest, state[0], state[1], *w)[0][-1]
    return gru_forward(rest, state[0], *w)[0][-1]


def fd_jacobian(model, x, t, eps=1e-6):
    """dh_{T-1}/ds_t by central differences: (N, H, S), s_t = h_t (or (h_t, c_t))."""
    run = dg.run_textbook(model, x)
    if model.cell.name == "lstm":
        s = run.steps[t]
        state = [run.h[t].copy(), s.f * s.c_prev + s.i * s.g]  # c_t from step t's gates
    else:
        state = [run.h[t].copy()]
    sizes = [a.shape[1] for a in state]
    J = np.zeros((N, H, sum(sizes)))
    col = 0
    for a in state:
        for j in range(a.shape[1]):
            old = a[:, j].copy()
            a[:, j] = old + eps
            plus = last_h_from(model, x, t, state)
            a[:, j] = old - eps
            minus = last_h_from(model, x, t, state)
            a[:, j] = old
            J[:, :, col] = (plus - minus) / (2 * eps)
            col += 1
    return J


@pytest.mark.parametrize("cell", ["tanh", "relu", "lstm", "gru"])
def test_state_jacobians_match_finite_differences(cell, rng):
    model = make(cell)
    x = rng.standard_normal((T, N, I))
    J = dg.state_jacobians(model, x)  # (T, N, H, S)
    assert J.shape == (T, N, H, 2 * H if cell == "lstm" else H)
    for t in range(T):
        np.testing.assert_allclose(J[t], fd_jacobian(model, x, t), rtol=1e-6, atol=1e-8)


def test_rnn_jacobian_is_the_product_of_step_jacobians(rng):
    model = make("tanh")
    x = rng.standard_normal((T, N, I))
    run = dg.run_textbook(model, x)
    J = dg.state_jacobians(model, x)
    product = np.broadcast_to(np.eye(H), (N, H, H))
    for t in reversed(range(T)):
        np.testing.assert_allclose(J[t], product, rtol=1e-12, atol=1e-14)
        product = product @ dg.rnn_step_jacobian(run.steps[t])  # dh_{T-1}/dh_{t-1}


def test_jacobian_norms_spectral_and_frobenius(rng):
    model = make("gru")
    x = rng.standard_normal((T, N, I))
    J = dg.state_jacobians(model, x)
    spectral = dg.jacobian_norms(model, x)
    frob = dg.jacobian_norms(model, x, ord="fro")
    assert spectral[-1] == pytest.approx(1.0) and frob[-1] == pytest.approx(np.sqrt(H))
    for t in range(T):
        expected = np.mean([np.linalg.svd(J[t, n], compute_uv=False)[0] for n in range(N)])
        assert spectral[t] == pytest.approx(expected)
    assert np.all(spectral <= frob + 1e-12)


@pytest.mark.parametrize("cell", ["tanh", "relu", "lstm", "gru"])
def test_hidden_grads_agree_with_the_modules_bptt(cell, rng):
    """dL/dh_t = dout[t] + what the module's own BPTT sends back to h_t from the steps after t."""
    model = make(cell)
    x = rng.standard_normal((T, N, I))
    dout = rng.standard_normal((T, N, H))
    dh = dg.hidden_grads(model, x, dout)
    run = dg.run_textbook(model, x)
    np.testing.assert_allclose(dh[-1], dout[-1])  # nothing comes back to the last step
    for t in range(T - 1):
        h_t = run.h[t][None]  # (1, N, H): the state the rest of the run starts from
        hx = (h_t, run.steps[t + 1].c_prev[None]) if cell == "lstm" else h_t
        model(x[t + 1:], hx)
        _, dhx = model.backward(dout[t + 1:])
        dh_future = dhx[0] if cell == "lstm" else dhx
        np.testing.assert_allclose(dh[t], dout[t] + dh_future[0], rtol=1e-10, atol=1e-12)


def test_hidden_grad_norms_read_only_the_last_state(rng):
    model = make("tanh")
    x = rng.standard_normal((T, N, I))
    dh_last = rng.standard_normal((N, H))
    norms = dg.hidden_grad_norms(model, x, dh_last)
    J = dg.state_jacobians(model, x)
    expected = [np.linalg.norm(np.einsum("nk,nkj->nj", dh_last, J[t])) for t in range(T)]
    np.testing.assert_allclose(norms, expected, rtol=1e-10)


def test_spectral_radius_matches_eigvals(rng):
    w = rng.standard_normal((7, 7))
    assert dg.spectral_radius(w) == pytest.approx(np.abs(np.linalg.eigvals(w)).max())
    theta = 0.3
    rotation = 0.5 * np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    assert dg.spectral_radius(rotation) == pytest.approx(0.5)  # complex eigenvalues 0.5 e^{+-i theta}
    with pytest.raises(ValueError, match="square"):
        dg.spectral_radius(np.ones((2, 3)))


def test_recurrent_spectral_radii_per_gate_block():
    lstm = make("lstm")
    radii = dg.recurrent_spectral_radii(lstm)
    w = lstm.params["weight_hh_l0"]
    assert list(radii) == ["W_hi", "W_hf", "W_hg", "W_ho"]
    for k, r in enumerate(radii.values()):
        assert r == pytest.approx(np.abs(np.linalg.eigvals(w[k * H:(k + 1) * H])).max())
    assert list(dg.recurrent_spectral_radii(make("gru"))) == ["W_hr", "W_hz", "W_hn"]
    assert list(dg.recurrent_spectral_radii(make("tanh"))) == ["W_hh"]


def test_saturation_on_constructed_weights(rng):
    x = rng.standard_normal((T, N, I))
    rnn = make("tanh")
    for p in rnn.params.values():
        p[...] = 0
    assert dg.saturation(rnn, x) == {"h (tanh)": 0.0}  # tanh(0) = 0: nothing saturated
    rnn.params["bias_ih_l0"][...] = 5.0  # tanh(5) = 0.9999
    assert dg.saturation(rnn, x) == {"h (tanh)": 1.0}
    rnn.params["bias_ih_l0"][...] = [5.0, 0.0, 0.0]  # one unit of three
    assert dg.saturation(rnn, x)["h (tanh)"] == pytest.approx(1 / 3)

    relu = make("relu")
    for p in relu.params.values():
        p[...] = 0
    relu.params["bias_hh_l0"][...] = -1.0  # every pre-activation is -1: every unit off
    assert dg.saturation(relu, x) == {"h (relu off)": 1.0}

    lstm = make("lstm")
    for p in lstm.params.values():
        p[...] = 0
    lstm.params["bias_ih_l0"][H:2 * H] = 10.0  # forget gate pinned open, the rest at sigmoid(0)
    shares = dg.saturation(lstm, x)
    assert shares["f"] == 1.0 and shares["i"] == 0.0 and shares["o"] == 0.0 and shares["g"] == 0.0

    gru = make("gru")
    for p in gru.params.values():
        p[...] = 0
    gru.params["bias_hh_l0"][:H] = -10.0  # reset gate shut
    assert dg.saturation(gru, x) == {"r": 1.0, "z": 0.0, "n": 0.0}


def test_saturation_threshold_is_respected(rng):
    rnn = make("tanh")
    for p in rnn.params.values():
        p[...] = 0
    rnn.params["bias_ih_l0"][...] = np.arctanh(0.9)  # |h| = 0.9 everywhere
    x = rng.standard_normal((T, N, I))
    assert dg.saturation(rnn, x)["h (tanh)"] == 0.0
    assert dg.saturation(rnn, x, tanh_threshold=0.85)["h (tanh)"] == 1.0


def test_vanishing_and_exploding_are_visible(rng):
    """PyTorch's init (radius ~0.6) vanishes over 40 steps; a ReLU RNN at radius 3 explodes."""
    x = rng.standard_normal((40, 4, I))
    tanh = nr.RNN(I, 16, dtype=np.float64, seed=0)
    norms = dg.jacobian_norms(tanh, x)
    assert norms[0] < 1e-4 * norms[-1]
    relu = nr.RNN(I, 16, nonlinearity="relu", dtype=np.float64, seed=0)
    w = relu.params["weight_hh_l0"]
    w *= 3.0 / dg.spectral_radius(w)
    assert dg.jacobian_norms(relu, x)[0] > 1e4


def test_bad_input():
    with pytest.raises(TypeError, match="RNN, LSTM or GRU"):
        dg.saturation(nr.Linear(2, 3), np.zeros((4, 1, 2)))
    with pytest.raises(ValueError, match="time-major"):
        dg.jacobian_norms(make("tanh"), np.zeros((4, I)))
    with pytest.raises(ValueError, match="dout"):
        dg.hidden_grads(make("tanh"), np.zeros((T, N, I)), np.zeros((T, N, H + 1)))


def test_save_heatmap_writes_a_png(tmp_path, rng):
    pytest.importorskip("matplotlib")
    from numrnn import plotting

    path = plotting.save_heatmap(rng.random((T, H)), tmp_path / "sub" / "heat.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    both = plotting.save_heatmaps({"a": rng.random((T, H)), "b": np.zeros((T, H))}, tmp_path / "two.png")
    assert both.stat().st_size > 0


def test_bad_inputs_are_named():
    rnn = nr.RNN(3, 4, num_layers=2, dtype=np.float64, seed=0)
    x = np.zeros((5, 2, 3))
    with pytest.raises(ValueError, match=r"h0 must have shape \(2, 4\)"):  # NumPy broadcast error before
        dg.hidden_grads(rnn, x, np.zeros((5, 2, 4)), h0=np.zeros((3, 4)))
    with pytest.raises(ValueError, match=r"dh_last must have shape \(2, 4\)"):
        dg.hidden_grad_norms(rnn, x, np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"x must be time-major \(T, N, 3\)"):
        dg.hidden_grad_norms(rnn, np.zeros(5), np.ones((2, 4)))
    with pytest.raises(ValueError, match="layer must be < num_layers = 2; got 3"):  # a KeyError before
        dg.recurrent_spectral_radii(rnn, layer=3)
    with pytest.raises(ValueError, match="layer must be >= 0"):
        dg.recurrent_spectral_radii(rnn, layer=-1)
    assert set(dg.recurrent_spectral_radii(rnn, layer=np.int64(1))) == {"W_hh"}

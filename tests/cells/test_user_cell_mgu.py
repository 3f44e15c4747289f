"""A user's own cell, written outside numrnn with nothing but ``nr.CellSpec`` and ``nr.Recurrent``.

The minimal gated unit (MGU; Zhou, Wu, Zhang and Zhou 2016) has one gate, the forget
gate f, and a candidate n computed from f * h:

    f_t = sigmoid(x_t @ W_if.T + b_if + h_{t-1} @ W_hf.T + b_hf)
    n_t = tanh(x_t @ W_in.T + b_in + (f_t * h_{t-1}) @ W_hn.T + b_hn)
    h_t = (1 - f_t) * h_{t-1} + f_t * n_t

Two row blocks (f, n), so gates=2: w_ih (2H, I), w_hh (2H, H). The step functions
below are all a user writes; layers, directions, batch_first, lengths, dropout,
gradient checks, summaries, traces and checkpoints come from numrnn.
"""

from typing import NamedTuple

import numpy as np
import pytest

import numrnn as nr
from numrnn import diagnostics

I, H = 3, 4


# -- the user's cell ---------------------------------------------------------------------------
def _sigmoid(a):
    return 1 / (1 + np.exp(-a))


class MGUCache(NamedTuple):
    x: np.ndarray
    h: np.ndarray
    f: np.ndarray
    n: np.ndarray
    w_ih: np.ndarray
    w_hh: np.ndarray
    has_bias: bool


def mgu_step_forward(x, states, w_ih, w_hh, b_ih=None, b_hh=None):
    (h,) = states
    H = h.shape[1]
    a_x = x @ w_ih.T  # (N, 2H): both biases enter outside the recurrent products
    if b_ih is not None:
        a_x = a_x + b_ih + b_hh
    f = _sigmoid(a_x[:, :H] + h @ w_hh[:H].T)
    n = np.tanh(a_x[:, H:] + (f * h) @ w_hh[H:].T)
    h_next = (1 - f) * h + f * n
    return (h_next,), MGUCache(x, h, f, n, w_ih, w_hh, b_ih is not None)


def mgu_step_backward(dstates, cache):
    (dh,) = dstates
    c = cache
    H = c.h.shape[1]
    dn = dh * c.f
    df = dh * (c.n - c.h)
    dh_prev = dh * (1 - c.f)
    dan = dn * (1 - c.n * c.n)  # through tanh
    dfh = dan @ c.w_hh[H:]  # d(f * h)
    df = df + dfh * c.h
    dh_prev = dh_prev + dfh * c.f
    daf = df * c.f * (1 - c.f)  # through sigmoid
    da = np.concatenate([daf, dan], axis=1)  # (N, 2H)
    dx = da @ c.w_ih
    dh_prev = dh_prev + daf @ c.w_hh[:H]
    dw_ih = da.T @ c.x
    dw_hh = np.concatenate([daf.T @ c.h, dan.T @ (c.f * c.h)])
    db = da.sum(axis=0) if c.has_bias else None
    return dx, (dh_prev,), dw_ih, dw_hh, db, None if db is None else db.copy()


MGU = nr.CellSpec(name="mgu", gates=2, states=("h",), step_forward=mgu_step_forward,
                  step_backward=mgu_step_backward, gate_names=("f", "n"))


def mgu_loop(x, h0, w_ih, w_hh, b_ih, b_hh):
    """The same equations as a plain loop over one sequence batch: (T, N, I) -> (T, N, H)."""
    H = h0.shape[1]
    h, out = h0, []
    for x_t in x:
        f = _sigmoid(x_t @ w_ih[:H].T + b_ih[:H] + h @ w_hh[:H].T + b_hh[:H])
        n = np.tanh(x_t @ w_ih[H:].T + b_ih[H:] + (f * h) @ w_hh[H:].T + b_hh[H:])
        h = (1 - f) * h + f * n
        out.append(h)
    return np.stack(out)


# -- the tests ---------------------------------------------------------------------------------
def test_layer_shapes_and_names():
    layer = nr.Recurrent(MGU, I, H, num_layers=2, bidirectional=True, dtype=np.float64, seed=0)
    assert layer.params["weight_ih_l0"].shape == (2 * H, I)
    assert layer.params["weight_ih_l1_reverse"].shape == (2 * H, 2 * H)
    assert layer.params["weight_hh_l1"].shape == (2 * H, H)
    assert layer.params["bias_hh_l0_reverse"].shape == (2 * H,)
    k = 1 / np.sqrt(H)
    assert all(np.abs(p).max() <= k for p in layer.params.values())
    out, h_n = layer(np.zeros((5, 2, I)))
    assert out.shape == (5, 2, 2 * H) and h_n.shape == (4, 2, H)
    assert "mgu" in repr(layer)


def test_matches_a_plain_numpy_loop(rng):
    layer = nr.Recurrent(MGU, I, H, bidirectional=True, dtype=np.float64, seed=1)
    x, h0 = rng.standard_normal((6, 2, I)), rng.standard_normal((2, 2, H))
    out, h_n = layer(x, h0)
    p = layer.params
    fwd = mgu_loop(x, h0[0], p["weight_ih_l0"], p["weight_hh_l0"], p["bias_ih_l0"], p["bias_hh_l0"])
    rev = mgu_loop(x[::-1], h0[1], p["weight_ih_l0_reverse"], p["weight_hh_l0_reverse"],
                   p["bias_ih_l0_reverse"], p["bias_hh_l0_reverse"])[::-1]
    np.testing.assert_allclose(out, np.concatenate([fwd, rev], axis=2), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(h_n, np.stack([fwd[-1], rev[0]]), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("with_lengths", [False, True])
def test_gradient_check(num_layers, bidirectional, batch_first, bias, with_lengths, rng):
    layer = nr.Recurrent(MGU, I, H, num_layers=num_layers, bias=bias, batch_first=batch_first,
                         bidirectional=bidirectional, dropout=0.3 if num_layers > 1 else 0.0, seed=2)
    T, N = 4, 3
    x = rng.standard_normal((N, T, I) if batch_first else (T, N, I))
    kwargs = {"lengths": np.array([4, 2, 3])} if with_lengths else {}
    report = nr.check_gradients(layer, x, **kwargs)
    assert report.ok, str(report)
    assert {c.name for c in report.checks} >= {"input x", "h0", "weight_hh_l0"}


def test_a_wrong_step_backward_is_caught(rng):
    def broken(dstates, cache):
        dx, dprev, *dw = mgu_step_backward(dstates, cache)
        return (dx, (0.5 * dprev[0],), *dw)  # the carried gradient halved

    bad = nr.CellSpec(name="mgu_broken", gates=2, states=("h",), step_forward=mgu_step_forward,
                      step_backward=broken)
    report = nr.check_gradients(nr.Recurrent(bad, I, H, seed=0), rng.standard_normal((4, 2, I)))
    assert not report.ok and "h0" in report.failed


def test_step_functions_that_break_the_contract_are_named():
    def three_values(x, states, w_ih, w_hh, b_ih=None, b_hh=None):
        return (*mgu_step_forward(x, states, w_ih, w_hh, b_ih, b_hh), None)

    def wrong_shape(x, states, w_ih, w_hh, b_ih=None, b_hh=None):
        (h,), cache = mgu_step_forward(x, states, w_ih, w_hh, b_ih, b_hh)
        return (h[:, :-1],), cache

    def bare_array(dstates, cache):
        dx, dprev, *dw = mgu_step_backward(dstates, cache)
        return (dx, dprev[0], *dw)

    x = np.zeros((3, 2, I), np.float32)
    cases = [
        (dict(step_forward=three_values), "three_values", r"must return \(new_states, cache\)"),
        (dict(step_forward=wrong_shape), "wrong_shape",
         r"new_state 'h' of shape \(2, 3\); expected \(2, 4\)"),
        (dict(step_backward=bare_array), "bare_array", "dstates_prev as a ndarray"),
    ]
    for i, (fns, fname, message) in enumerate(cases):
        spec = nr.CellSpec(**{"name": f"bad{i}", "gates": 2, "states": ("h",),
                              "step_forward": mgu_step_forward, "step_backward": mgu_step_backward, **fns})
        layer = nr.Recurrent(spec, I, H, backend="numpy", seed=0)
        with pytest.raises(nr.UsageError, match=message) as info:
            out, _ = layer(x)
            layer.backward(np.ones_like(out))
        assert fname in str(info.value)


def test_float32_and_the_cell_module(rng):
    layer = nr.Recurrent(MGU, I, H, seed=0)  # float32 by default
    out, h_n = layer(rng.standard_normal((5, 2, I)).astype(np.float32))
    assert out.dtype == np.float32
    cell = nr.Cell(MGU, I, H, dtype=np.float64, seed=0)
    x, h = rng.standard_normal((2, I)), rng.standard_normal((2, H))
    report = nr.check_gradients(cell, x, h)
    assert report.ok, str(report)


def test_learns_hello_to_ohlol():
    from numrnn.data import HELLO_VOCAB, decode, encode, one_hot

    V = len(HELLO_VOCAB)
    x = one_hot(encode("hello", HELLO_VOCAB)[:, None], V)  # (T, 1, V)
    targets = encode("ohlol", HELLO_VOCAB)[:, None]  # (T, 1)
    model = nr.Sequential(nr.Recurrent(MGU, V, 8, seed=1), nr.Linear(8, V, seed=2))
    opt = nr.Adam(model, lr=0.05)
    for _ in range(150):
        opt.zero_grad()
        logits = model(x)
        loss, dlogits = nr.cross_entropy(logits, targets)
        model.backward(dlogits)
        opt.step()
    assert decode(model(x).argmax(axis=-1)[:, 0], HELLO_VOCAB) == "ohlol"
    assert loss < 0.1


def test_saves_and_loads(tmp_path, rng):
    from numrnn.cells import unregister_cell

    def build(seed):
        return nr.Sequential(nr.Recurrent(MGU, I, H, num_layers=2, bidirectional=True, seed=seed),
                             nr.Linear(2 * H, 2))

    model = build(5)
    path = nr.save(model, tmp_path / "mgu.npz", note="mine")
    x = rng.standard_normal((4, 2, I)).astype(np.float32)
    with pytest.raises(nr.CheckpointError, match="mgu"):  # the file names the cell: not registered yet
        nr.load(path)
    into = build(6)
    nr.load(path, into)  # a model built by hand takes the weights
    np.testing.assert_array_equal(into(x), model(x))
    nr.register_cell(MGU)
    try:
        back = nr.load(path)  # rebuilt from the registry
        assert back[0].cell is MGU
        np.testing.assert_array_equal(back(x), model(x))
    finally:
        unregister_cell("mgu")


def test_summary_and_trace_diagnostics(rng):
    layer = nr.Recurrent(MGU, I, H, num_layers=2, dtype=np.float64, seed=3)
    text = nr.summary(layer, input=(5, 2, I), print_fn=None)
    assert "mgu" in text and "h_n (2, 2, 4)" in text
    assert f"Total params: {layer.num_parameters():,}" in text
    assert layer.num_parameters() == 2 * (2 * H * I + 2 * H * H + 4 * H) + 2 * H * (H - I)
    x = rng.standard_normal((6, 2, I))
    norms = diagnostics.hidden_grad_norms(layer, x, rng.standard_normal((2, H)))
    assert norms.shape == (6,) and np.all(norms > 0)
    J = diagnostics.state_jacobians(layer, x)
    np.testing.assert_allclose(J[-1], np.broadcast_to(np.eye(H), (2, H, H)))
    assert set(diagnostics.recurrent_spectral_radii(layer)) == {"W_hf", "W_hn"}
    assert diagnostics.saturation(layer, x) == {}  # the spec lists no activations to judge


def test_jacobian_matches_finite_differences(rng):
    """The trace's dh_T/dh_t, pushed back through the user's step backward, is the real Jacobian."""
    layer = nr.Recurrent(MGU, I, H, dtype=np.float64, seed=4)
    x = rng.standard_normal((4, 1, I))
    J = diagnostics.state_jacobians(layer, x)  # (T, N, H, H)
    run = diagnostics.run_textbook(layer, x)
    w = layer.layer_weights()
    t, eps = 1, 1e-6
    numeric = np.zeros((H, H))
    for j in range(H):
        h = run.h[t].copy()
        h[0, j] += eps
        plus = mgu_loop(x[t + 1:], h, *w)[-1, 0]
        h[0, j] -= 2 * eps
        minus = mgu_loop(x[t + 1:], h, *w)[-1, 0]
        numeric[:, j] = (plus - minus) / (2 * eps)
    np.testing.assert_allclose(J[t, 0], numeric, rtol=1e-6, atol=1e-9)


def test_register_makes_the_name_known():
    spec = nr.CellSpec(name="mgu_registered", gates=2, states=("h",), step_forward=mgu_step_forward,
                       step_backward=mgu_step_backward)
    try:
        assert nr.register_cell(spec) is spec
        assert nr.get_cell("mgu_registered") is spec and "mgu_registered" in nr.registered_cells()
        layer = nr.Recurrent("mgu_registered", I, H, seed=0)
        assert layer.cell is spec
        other = nr.CellSpec(name="mgu_registered", gates=1, states=("h",), step_forward=mgu_step_forward,
                            step_backward=mgu_step_backward)
        with pytest.raises(ValueError, match="already registered"):
            nr.register_cell(other)
    finally:
        from numrnn.cells import unregister_cell

        unregister_cell("mgu_registered")
    with pytest.raises(ValueError, match="no cell is registered as 'mgu_registered'"):
        nr.Recurrent("mgu_registered", I, H)

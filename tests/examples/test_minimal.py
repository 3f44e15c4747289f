"""numrnn/examples/minimal.py: its hand-written BPTT equals numrnn's textbook functions and
central differences, and its training loop equals min-char-rnn's, step for step."""

import numpy as np
import pytest

from numrnn.examples import minimal
from numrnn.functional.linear import linear_backward, linear_forward
from numrnn.functional.losses import cross_entropy
from numrnn.functional.rnn import rnn_backward, rnn_forward
from numrnn.gradcheck import numerical_gradient, rel_error

V, H, T = 5, 4, 6


@pytest.fixture
def chunk(rng):
    params = minimal.init_params(V, H, rng)
    for k in params:  # weights of 0.01 make a nearly linear, nearly silent network: scale up
        params[k] = 0.5 * rng.standard_normal(params[k].shape)
    inputs = list(rng.integers(0, V, T))
    targets = list(rng.integers(0, V, T))
    return params, inputs, targets, 0.3 * rng.standard_normal(H)


def test_loss_and_gradients_equal_numrnn_functional(chunk):
    p, inputs, targets, h0 = chunk
    loss, grads, h_T = minimal.loss_and_grads(p, inputs, targets, h0)

    x = np.eye(V)[inputs][:, None, :]  # (T, 1, V) one-hot
    zero = np.zeros(H)  # minimal.py has one bias: numrnn's b_ih = b, b_hh = 0
    h, rnn_cache = rnn_forward(x, h0[None], p["w_ih"], p["w_hh"], p["b"], zero)  # (T, 1, H)
    logits, lin_cache = linear_forward(h, p["w_hy"], p["b_y"])  # (T, 1, V)
    mean_loss, dlogits = cross_entropy(logits, np.array(targets)[:, None])
    dh, dw_hy, db_y = linear_backward(dlogits * T, lin_cache)  # summed loss: T times the mean
    dx, dh0, dw_ih, dw_hh, db_ih, db_hh = rnn_backward(dh, rnn_cache)

    np.testing.assert_allclose(loss, mean_loss * T, rtol=1e-12)
    np.testing.assert_allclose(h_T, h[-1, 0], rtol=1e-12)
    for name, ref in (("w_ih", dw_ih), ("w_hh", dw_hh), ("b", db_ih), ("w_hy", dw_hy), ("b_y", db_y)):
        np.testing.assert_allclose(grads[name], ref, rtol=1e-10, atol=1e-13, err_msg=name)


def test_gradients_match_central_differences(chunk):
    p, inputs, targets, h0 = chunk
    _, grads, _ = minimal.loss_and_grads(p, inputs, targets, h0)
    for name in p:
        numeric = numerical_gradient(
            lambda _: np.array(minimal.loss_and_grads(p, inputs, targets, h0)[0]), p[name], 1.0, eps=1e-5)
        assert rel_error(grads[name], numeric).max() < 1e-7, name


def min_char_rnn_step(Wxh, Whh, Why, bh, by, mem, inputs, targets, hprev, lr=0.1):
    """Karpathy's lossFun and Adagrad update, transcribed (column vectors, dicts, hs[-1])."""
    xs, hs, ps = {}, {}, {}
    hs[-1] = np.copy(hprev)
    loss = 0
    for t in range(len(inputs)):
        xs[t] = np.zeros((Wxh.shape[1], 1))
        xs[t][inputs[t]] = 1
        hs[t] = np.tanh(np.dot(Wxh, xs[t]) + np.dot(Whh, hs[t - 1]) + bh)
        ys = np.dot(Why, hs[t]) + by
        ps[t] = np.exp(ys) / np.sum(np.exp(ys))
        loss += -np.log(ps[t][targets[t], 0])
    dWxh, dWhh, dWhy = np.zeros_like(Wxh), np.zeros_like(Whh), np.zeros_like(Why)
    dbh, dby = np.zeros_like(bh), np.zeros_like(by)
    dhnext = np.zeros_like(hs[0])
    for t in reversed(range(len(inputs))):
        dy = np.copy(ps[t])
        dy[targets[t]] -= 1
        dWhy += np.dot(dy, hs[t].T)
        dby += dy
        dh = np.dot(Why.T, dy) + dhnext
        dhraw = (1 - hs[t] * hs[t]) * dh
        dbh += dhraw
        dWxh += np.dot(dhraw, xs[t].T)
        dWhh += np.dot(dhraw, hs[t - 1].T)
        dhnext = np.dot(Whh.T, dhraw)
    for dparam in [dWxh, dWhh, dWhy, dbh, dby]:
        np.clip(dparam, -5, 5, out=dparam)
    for param, dparam, m in zip([Wxh, Whh, Why, bh, by], [dWxh, dWhh, dWhy, dbh, dby], mem):
        m += dparam * dparam
        param += -lr * dparam / np.sqrt(m + 1e-8)
    return loss, hs[len(inputs) - 1]


def test_training_equals_min_char_rnn_step_for_step():
    text = "the cat sat on the mat. " * 4
    p, vocab, history = minimal.train(text, steps=6, H=8, T=5, seed=3, report=None)

    start = minimal.init_params(len(vocab), 8, np.random.default_rng(3))  # train's first draws
    Wxh, Whh, Why = start["w_ih"], start["w_hh"], start["w_hy"]
    bh, by = start["b"][:, None], start["b_y"][:, None]
    mem = [np.zeros_like(a) for a in (Wxh, Whh, Why, bh, by)]
    data = [vocab.index(ch) for ch in text]
    smooth, pos, hprev = -np.log(1.0 / len(vocab)) * 5, 0, np.zeros((8, 1))
    for n in range(6):
        if pos + 5 + 1 >= len(data) or n == 0:
            hprev, pos = np.zeros((8, 1)), 0
        loss, hprev = min_char_rnn_step(Wxh, Whh, Why, bh, by, mem, data[pos:pos + 5],
                                        data[pos + 1:pos + 6], hprev)
        smooth = smooth * 0.999 + loss * 0.001
        np.testing.assert_allclose(history[n], smooth, rtol=1e-12)
        pos += 5
    for name, ref in (("w_ih", Wxh), ("w_hh", Whh), ("w_hy", Why), ("b", bh[:, 0]), ("b_y", by[:, 0])):
        np.testing.assert_allclose(p[name], ref, rtol=1e-10, atol=1e-14, err_msg=name)


def test_clip_and_adagrad_follow_min_char_rnn():
    grads = {"w": np.array([-7.0, 0.5, 9.0, 1e-5])}
    minimal.clip(grads)
    np.testing.assert_array_equal(grads["w"], [-5.0, 0.5, 5.0, 1e-5])
    p, memory = {"w": np.zeros(4)}, {"w": np.zeros(4)}
    minimal.adagrad(p, grads, memory, lr=0.1)
    # 1e-8 inside the square root: a gradient of 1e-5 moves its weight by about lr / 10, where
    # torch's eps outside the root would move it by lr
    np.testing.assert_allclose(p["w"], -0.1 * grads["w"] / np.sqrt(grads["w"] ** 2 + 1e-8), rtol=1e-12)
    assert abs(p["w"][3]) < 0.011


def test_training_learns_a_repeated_phrase():
    text = "hello world. " * 30
    p, vocab, _ = minimal.train(text, steps=300, H=24, T=12, seed=0, report=None)
    ids = [vocab.index(ch) for ch in text]
    loss, _, _ = minimal.loss_and_grads(p, ids[:12], ids[1:13], np.zeros(24))
    assert loss < 0.25 * 12 * np.log(len(vocab))  # a quarter of the uniform guess
    sampled = minimal.sample(p, np.zeros(24), vocab.index("h"), 40, np.random.default_rng(0))
    assert all(0 <= i < len(vocab) for i in sampled)


def test_command_line_on_a_file(tmp_path, capsys):
    path = tmp_path / "text.txt"
    path.write_text("abcabcabc " * 10, encoding="utf-8")
    assert minimal.main(["--steps", "3", "--text", str(path)]) == 0
    assert "smoothed loss" in capsys.readouterr().out


def test_nr_adagrad_reproduces_min_char_rnn_with_the_documented_settings(chunk):
    import numrnn as nr

    p, inputs, targets, h0 = chunk
    q = {k: v.copy() for k, v in p.items()}
    memory = {k: np.zeros_like(v) for k, v in p.items()}
    grads = {k: np.zeros_like(v) for k, v in p.items()}
    opt = nr.Adagrad((q, grads), lr=0.1, initial_accumulator_value=1e-8, eps=0.0)
    for _ in range(3):
        _, g, _ = minimal.loss_and_grads(p, inputs, targets, h0)
        minimal.clip(g)
        minimal.adagrad(p, g, memory, lr=0.1)
        _, g, _ = minimal.loss_and_grads(q, inputs, targets, h0)
        minimal.clip(g)
        for k in grads:
            grads[k][...] = g[k]
        opt.step()
    for k in p:
        np.testing.assert_allclose(q[k], p[k], rtol=1e-12, atol=1e-15, err_msg=k)


def test_check_function_passes_minimal_as_a_forward_backward_pair(chunk):
    """minimal.py's loss_and_grads, wrapped in the textbook's convention, checked entry by entry."""
    import numrnn as nr

    p, inputs, targets, h0 = chunk

    def forward(w_ih, w_hh, b, w_hy, b_y):
        params = dict(w_ih=w_ih, w_hh=w_hh, b=b, w_hy=w_hy, b_y=b_y)
        loss, grads, _ = minimal.loss_and_grads(params, inputs, targets, h0)
        return np.array(loss), grads

    def backward(dloss, grads):
        return tuple(float(dloss) * grads[k] for k in ("w_ih", "w_hh", "b", "w_hy", "b_y"))

    report = nr.check_function(forward, backward, (p["w_ih"], p["w_hh"], p["b"], p["w_hy"], p["b_y"]))
    assert report.ok, str(report)
    assert [c.name for c in report.checks] == ["w_ih", "w_hh", "b", "w_hy", "b_y"]

    def broken(dloss, grads):  # a transposed recurrent gradient must fail, on w_hh only
        g = backward(dloss, grads)
        return (g[0], g[1].T, *g[2:])

    bad = nr.check_function(forward, broken, (p["w_ih"], p["w_hh"], p["b"], p["w_hy"], p["b_y"]))
    assert bad.failed == ["w_hh"]

"""The gradient checker: it passes correct gradients and catches wrong ones by name."""

import numpy as np
import pytest

import numrnn as nr
from numrnn.functional.rnn import rnn_step_backward


class WrongRecurrentWeightGradRNN(nr.RNN):
    """A user's subclass whose backward forgets a factor 2 in dW_hh."""

    def _run_layer_backward(self, ops, dstates, cache):
        dx, dh0, (dw_ih, dw_hh, db_ih, db_hh) = super()._run_layer_backward(ops, dstates, cache)
        return dx, dh0, (dw_ih, 2 * dw_hh, db_ih, db_hh)


class NoRecurrenceRNN(nr.RNN):
    """The classic BPTT bug: forgetting to carry dh_next back through time."""

    def _run_layer_backward(self, ops, dstates, cache):
        dh = dstates[0]
        T, N, H = dh.shape
        dx = np.empty((T, N, cache.steps[0].x.shape[1]))
        dws = [np.zeros_like(cache.steps[0].w_ih), np.zeros_like(cache.steps[0].w_hh), 0, 0]
        for t in reversed(range(T)):
            dx[t], _, *g = rnn_step_backward(dh[t], cache.steps[t])  # dh_next dropped
            for i in range(4):
                dws[i] = dws[i] + g[i]
        return dx, (np.zeros((N, H)),), tuple(dws)


def test_correct_rnn_passes(rng):
    report = nr.check_gradients(nr.RNN(3, 4, num_layers=2, bidirectional=True, backend="numpy"),
                                rng.standard_normal((5, 2, 3)))
    assert report.ok
    assert max(report.errors.values()) < 1e-6
    assert "PASSED" in str(report)


def test_broken_weight_gradient_fails_and_is_named(rng):
    rnn = WrongRecurrentWeightGradRNN(3, 4, backend="numpy", seed=0)
    report = nr.check_gradients(rnn, rng.standard_normal((5, 2, 3)))
    assert not report.ok
    assert report.failed == ["weight_hh_l0"]
    assert report.errors["weight_hh_l0"] > 0.1
    text = str(report)
    assert "FAILED: weight_hh_l0" in text
    assert any(line.startswith("weight_hh_l0") and line.endswith("FAIL") for line in text.splitlines())


def test_missing_recurrence_fails_everywhere_it_should(rng):
    rnn = NoRecurrenceRNN(3, 4, backend="numpy", seed=0)
    report = nr.check_gradients(rnn, rng.standard_normal((5, 2, 3)))
    assert not report.ok
    assert {"weight_hh_l0", "input x", "h0"} <= set(report.failed)


def test_module_is_not_modified(rng):
    rnn = nr.RNN(3, 4, seed=0)
    before = rnn.state_dict()
    nr.check_gradients(rnn, rng.standard_normal((5, 2, 3)))
    assert rnn.dtype == np.float32
    for k, v in before.items():
        np.testing.assert_array_equal(rnn.params[k], v)
        assert not rnn.grads[k].any()


def test_given_h0_is_checked(rng):
    rnn = nr.RNN(3, 4, num_layers=2)
    h0 = rng.standard_normal((2, 2, 4))
    report = nr.check_gradients(rnn, rng.standard_normal((5, 2, 3)), h0)
    assert report.ok and "h0" in report.errors


def test_sampled_mode_for_large_tensors(rng):
    rnn = nr.RNN(30, 40, seed=0)
    report = nr.check_gradients(rnn, rng.standard_normal((3, 2, 30)), full_max=500, samples=20, directions=3)
    assert report.ok, str(report)
    modes = {c.name: c.mode for c in report.checks}
    assert modes["weight_hh_l0"] == "sampled" and modes["bias_ih_l0"] == "full"
    checked = {c.name: c.checked for c in report.checks}
    assert checked["weight_hh_l0"] == 23


def test_sampled_mode_catches_a_broken_backward(rng):
    rnn = WrongRecurrentWeightGradRNN(20, 30, backend="numpy", seed=0)
    report = nr.check_gradients(rnn, rng.standard_normal((3, 2, 20)), full_max=100, samples=10)
    assert report.failed == ["weight_hh_l0"]


def test_numerical_gradient_matches_analytic():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4))
    w = rng.standard_normal((4, 5))
    df = rng.standard_normal((3, 5))
    num = nr.numerical_gradient(lambda x: np.tanh(x @ w), x, df)
    analytic = (df * (1 - np.tanh(x @ w) ** 2)) @ w.T
    assert np.max(nr.rel_error(analytic, num)) < 1e-7


def test_numerical_gradient_needs_float64():
    with pytest.raises(TypeError, match="float64"):
        nr.numerical_gradient(np.tanh, np.zeros(3, dtype=np.float32), np.ones(3))


def test_rel_error_is_cs231n():
    assert nr.rel_error(1.0, 1.0) == 0
    assert nr.rel_error(1.0, -1.0) == 1
    assert nr.rel_error(0.0, 0.0) == 0
    np.testing.assert_allclose(nr.rel_error(1.0, 1.1), 0.1 / 2.1)


def test_report_table_lists_every_tensor(rng):
    report = nr.check_gradients(nr.RNNCell(3, 4), rng.standard_normal((2, 3)))
    text = str(report)
    for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "input x", "h0"):
        assert name in text
    assert "max rel error" in text and "tol=1e-05" in text


def test_partly_given_state_is_completed_and_paired_right(rng):
    """(None, c0): h0 is drawn at random; c0 is compared with dc0, not with dh0."""
    for proj in (0, 2):
        lstm = nr.LSTM(3, 4, proj_size=proj, dtype=np.float64, seed=0)
        c0 = rng.standard_normal((1, 2, 4))
        report = nr.check_gradients(lstm, rng.standard_normal((5, 2, 3)), (None, c0))
        assert report.ok, str(report)
        shapes = {c.name: c.shape for c in report.checks}
        assert shapes["h0"] == (1, 2, proj or 4) and shapes["c0"] == (1, 2, 4)


def test_more_samples_than_entries(rng):
    report = nr.check_gradients(nr.RNN(3, 4), rng.standard_normal((5, 2, 3)), full_max=10, samples=64)
    assert report.ok
    # weight_hh_l0 has 16 entries > full_max: sampled, all 16 (not 64) plus 4 directions
    assert {c.name: c.checked for c in report.checks}["weight_hh_l0"] == 16 + 4


def test_padding_row_is_exempt_not_failed(rng):
    model = nr.Sequential(nr.Embedding(6, 3, padding_idx=0, seed=0), nr.GRU(3, 4, seed=1), nr.Linear(4, 2))
    ids = np.array([[0, 1], [2, 0], [5, 3]])  # (T, N), the padding id included
    report = nr.check_gradients(model, ids)
    assert report.ok, str(report)
    assert {c.name: c.checked for c in report.checks}["0.weight"] == 5 * 3  # the padding row skipped


def test_a_wrong_padding_row_gradient_is_still_caught(rng):
    class LeakyPadding(nr.Embedding):
        def no_grad_entries(self):
            return {}  # claims nothing is exempt: the zeroed padding row must then fail

    model = nr.Sequential(LeakyPadding(6, 3, padding_idx=0, seed=0), nr.Linear(3, 2))
    report = nr.check_gradients(model, np.array([[0, 1], [2, 0]]))
    assert report.failed == ["0.weight"]

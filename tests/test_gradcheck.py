"""The gradient checker: it passes correct gradients and catches wrong ones by name."""

import numpy as np
import pytest

import numrnn as nr
from numrnn.functional import gru as F_gru
from numrnn.functional import linear as F_linear
from numrnn.functional import losses as F_losses
from numrnn.functional import lstm as F_lstm
from numrnn.functional import rnn as F_rnn
from numrnn.functional.rnn import rnn_step_backward
from numrnn.gradcheck import describe_steps


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


# -- the per-time-step breakdown ---------------------------------------------------------
def test_dropped_recurrence_shows_where_the_error_starts(rng):
    rnn = NoRecurrenceRNN(3, 4, backend="numpy", seed=0)
    report = nr.check_gradients(rnn, rng.standard_normal((5, 2, 3)))
    steps = report.steps["input x"]
    assert len(steps) == 5 and steps[-1] < 1e-8 and min(steps[:-1]) > 1e-3
    text = str(report)
    assert "dx[0..3] wrong, dx[4..] correct: correct at t >= 5, wrong before" in text
    assert "not carried back through time" in text


def test_time_axis_follows_batch_first(rng):
    report = nr.check_gradients(nr.RNN(3, 4, batch_first=True, seed=0), rng.standard_normal((2, 6, 3)))
    assert report.ok and len(report.steps["input x"]) == 6
    assert "dx[0..5] correct" in str(report)
    cell = nr.check_gradients(nr.RNNCell(3, 4), rng.standard_normal((2, 3)))
    assert cell.steps == {}  # a cell's input has no time axis


def test_sampled_input_breakdown_marks_unchecked_steps(rng):
    report = nr.check_gradients(nr.RNN(3, 4, seed=0), rng.standard_normal((8, 2, 3)), full_max=10, samples=3)
    steps = report.steps["input x"]
    assert len(steps) == 8 and sum(np.isnan(steps)) >= 5
    assert report.ok


@pytest.mark.parametrize("errs, text", [
    ([1, 1, 1e-12, 1e-12], "dx[0..1] wrong, dx[2..] correct: correct at t >= 3, wrong before"),
    ([1e-12, 1, 1], "dx[0] correct, dx[1..] wrong: wrong from t = 2 on"),
    ([1, 1e-12, 1], "dx[0, 2] wrong, dx[1] correct"),
    ([1, 1], "dx[0..1] wrong at every step"),
    ([1e-12, 1e-12], "dx[0..1] correct"),
    ([np.nan, 1, np.nan, 1e-12], "dx[1] wrong, dx[3..] correct: correct at t >= 4, wrong before"),
])
def test_describe_steps(errs, text):
    assert describe_steps("dx", errs, 1e-5).startswith(text)


# -- bad input ---------------------------------------------------------------------------
def test_check_gradients_refuses_a_function_and_points_to_check_function(rng):
    from numrnn.functional.rnn import rnn_forward
    with pytest.raises(TypeError, match="numrnn module.*got function.*nr.check_function"):
        nr.check_gradients(rnn_forward, rng.standard_normal((5, 2, 3)))
    with pytest.raises(nr.errors.UsageTypeError, match="got dict"):
        nr.check_gradients({"w": np.zeros(3)}, np.zeros(3))


def test_check_gradients_refuses_a_nested_list_input():
    with pytest.raises(nr.errors.UsageTypeError, match=r"x must be an array; got a list \(pass np.asarray"):
        nr.check_gradients(nr.RNN(3, 4), [[[0.1, 0.2, 0.3]]])
    with pytest.raises(TypeError, match="x must be an array; got str"):
        nr.check_gradients(nr.RNN(3, 4), "hello")


# -- check_function ------------------------------------------------------------------------
def _arrays(rng, *shapes):
    return tuple(None if s is None else 0.5 * rng.standard_normal(s) for s in shapes)


PAIRS = {
    "rnn_step": (F_rnn.rnn_step_forward, F_rnn.rnn_step_backward,
                 [(2, 3), (2, 4), (4, 3), (4, 4), (4,), (4,)],
                 ["x", "h_prev", "w_ih", "w_hh", "b_ih", "b_hh"]),
    "rnn_seq": (F_rnn.rnn_forward, F_rnn.rnn_backward, [(5, 2, 3), (2, 4), (4, 3), (4, 4), None, None],
                ["x", "h0", "w_ih", "w_hh"]),
    "lstm_step_proj": (F_lstm.lstm_step_forward, F_lstm.lstm_step_backward,
                       [(2, 3), (2, 2), (2, 4), (16, 3), (16, 2), (16,), (16,), (2, 4)],
                       ["x", "h_prev", "c_prev", "w_ih", "w_hh", "b_ih", "b_hh", "w_hr"]),
    "lstm_seq": (F_lstm.lstm_forward, F_lstm.lstm_backward, [(4, 2, 3), (2, 4), (2, 4), (16, 3), (16, 4)],
                 ["x", "h0", "c0", "w_ih", "w_hh"]),
    "gru_step": (F_gru.gru_step_forward, F_gru.gru_step_backward,
                 [(2, 3), (2, 4), (12, 3), (12, 4), (12,), (12,)],
                 ["x", "h_prev", "w_ih", "w_hh", "b_ih", "b_hh"]),
    "gru_seq": (F_gru.gru_forward, F_gru.gru_backward, [(4, 2, 3), (2, 4), (12, 3), (12, 4), (12,), (12,)],
                ["x", "h0", "w_ih", "w_hh", "b_ih", "b_hh"]),
    "linear": (F_linear.linear_forward, F_linear.linear_backward, [(4, 2, 3), (5, 3), (5,)], ["x", "w", "b"]),
}


@pytest.mark.parametrize("pair", PAIRS)
def test_check_function_passes_the_textbook(pair, rng):
    forward, backward, shapes, names = PAIRS[pair]
    report = nr.check_function(forward, backward, _arrays(rng, *shapes))
    assert report.ok, str(report)
    assert [c.name for c in report.checks] == names
    assert all(c.mode == "full" for c in report.checks)
    assert report.module == f"{forward.__name__} / {backward.__name__}"
    # inferred time axes: x (T, N, I) beside a 3-D output (T, N, ...), linear's (T, N, F) too
    timed = {c.name for c in report.checks if c.steps is not None}
    assert timed == ({"x"} if pair.endswith("seq") or pair == "linear" else set())


def test_check_function_linear_time_axes_can_be_turned_off(rng):
    forward, backward, shapes, _ = PAIRS["linear"]
    report = nr.check_function(forward, backward, _arrays(rng, *shapes), time_axes={})
    assert report.steps == {}


def test_check_function_passes_non_differentiable_arguments_through(rng):
    z, y = rng.standard_normal((3, 4, 5)), rng.integers(0, 5, (3, 4))
    mask = rng.random((3, 4)) < 0.5
    mask[0, 0] = True
    report = nr.check_function(F_losses.softmax_cross_entropy_forward,
                               F_losses.softmax_cross_entropy_backward, (z, y, mask))
    assert report.ok and [c.name for c in report.checks] == ["logits"]
    x, h = rng.standard_normal((2, 3)), rng.standard_normal((2, 4))
    w = _arrays(rng, (4, 3), (4, 4))
    relu = nr.check_function(F_rnn.rnn_step_forward, F_rnn.rnn_step_backward, (x, h, *w),
                             {"nonlinearity": "relu"})
    assert relu.ok and len(relu.checks) == 4


def test_check_function_casts_to_float64_and_leaves_the_inputs_alone(rng):
    x = rng.standard_normal((4, 2, 3)).astype(np.float32)
    w = rng.standard_normal((5, 3)).astype(np.float32)
    before = x.copy()
    report = nr.check_function(F_linear.linear_forward, F_linear.linear_backward, (x, w))
    assert report.ok and report.errors["x"] < 1e-7  # float32 would give ~1e-3
    np.testing.assert_array_equal(x, before)


def test_check_function_finds_a_dropped_carry_and_its_steps(rng):
    def rnn_backward_no_carry(dh, cache):
        T, N, H = dh.shape
        dx = np.empty((T, N, cache.steps[0].x.shape[1]))
        sums = [0, 0]
        for t in reversed(range(T)):
            dx[t], _, dw_ih, dw_hh, _, _ = F_rnn.rnn_step_backward(dh[t], cache.steps[t])
            sums = [sums[0] + dw_ih, sums[1] + dw_hh]
        return dx, np.zeros((N, H)), *sums, None, None

    args = _arrays(rng, (6, 2, 3), (2, 4), (4, 3), (4, 4))
    report = nr.check_function(F_rnn.rnn_forward, rnn_backward_no_carry, args)
    assert set(report.failed) == {"x", "h0", "w_ih", "w_hh"}
    assert "dx[0..4] wrong, dx[5..] correct" in str(report)


def test_check_function_names_a_gradient_of_the_wrong_shape(rng):
    def transposed(dy, cache):
        dx, dw, db = F_linear.linear_backward(dy, cache)
        return dx, dw.T, db

    report = nr.check_function(F_linear.linear_forward, transposed, _arrays(rng, (2, 3), (5, 3), (5,)))
    assert report.failed == ["w"]
    check = report.checks[1]
    assert check.mode == "shape" and "shape (3, 5), expected (5, 3)" in check.worst_index
    assert "shape (3, 5), expected (5, 3)" in str(report)


def test_check_function_refuses_douts_of_the_wrong_shape(rng):
    args = _arrays(rng, (2, 3), (5, 3))
    message = r"dout 0 has shape \(2, 4\); output 0 of linear_forward has shape \(2, 5\)"
    with pytest.raises(ValueError, match=message):
        nr.check_function(F_linear.linear_forward, F_linear.linear_backward, args, douts=(np.ones((2, 4)),))
    with pytest.raises(ValueError, match="2 douts for the 1 outputs"):
        nr.check_function(F_linear.linear_forward, F_linear.linear_backward, args,
                          douts=(np.ones((2, 5)), np.ones(1)))
    ok = nr.check_function(F_linear.linear_forward, F_linear.linear_backward, args, douts=(np.ones((2, 5)),))
    assert ok.ok


def test_check_function_gradient_count_and_none_rules(rng):
    args = _arrays(rng, (2, 3), (5, 3), (5,))

    def too_few(dy, cache):
        return F_linear.linear_backward(dy, cache)[:2]

    message = r"returned 2 gradients; linear_forward was given 3 tensor inputs \(x, w, b\)"
    with pytest.raises(ValueError, match=message):
        nr.check_function(F_linear.linear_forward, too_few, args)

    def none_for_w(dy, cache):
        dx, _, db = F_linear.linear_backward(dy, cache)
        return dx, None, db

    report = nr.check_function(F_linear.linear_forward, none_for_w, args)
    assert report.failed == ["w"] and report.checks[1].mode == "missing"

    def zeros_for_absent_bias(dy, cache):
        dx, dw, _ = F_linear.linear_backward(dy, cache)
        return dx, dw, np.zeros(5)

    report = nr.check_function(F_linear.linear_forward, zeros_for_absent_bias, (*args[:2], None))
    assert report.failed == ["b"] and "b is None, so its gradient must be None" in str(report)


def test_check_function_bad_arguments(rng):
    x = rng.standard_normal((2, 3))
    with pytest.raises(TypeError, match="inputs must be a tuple"):
        nr.check_function(F_linear.linear_forward, F_linear.linear_backward, x)
    with pytest.raises(TypeError, match="two functions"):
        nr.check_function(F_linear.linear_forward, None, (x,))
    with pytest.raises(TypeError, match="input 'x' is a list"):
        nr.check_function(F_linear.linear_forward, F_linear.linear_backward, ([[1.0]], x))
    with pytest.raises(ValueError, match="takes 3 positional arguments; got 4 inputs"):
        nr.check_function(F_linear.linear_forward, F_linear.linear_backward, (x, x, None, None))
    with pytest.raises(TypeError, match=r"must return \(out, cache\)"):
        nr.check_function(np.tanh, F_linear.linear_backward, (x,), names=["x"])


def test_check_function_takes_a_tuple_output_and_a_tuple_dout(rng):
    """forward -> ((h, c), cache) takes backward((dh, dc), cache)."""
    def forward(x, h, c, w_ih, w_hh):
        h1, c1, cache = F_lstm.lstm_step_forward(x, h, c, w_ih, w_hh)
        return (h1, c1), cache

    def backward(dstate, cache):
        dh, dc = dstate
        return F_lstm.lstm_step_backward(dh, dc, cache)[:5]

    report = nr.check_function(forward, backward, _arrays(rng, (2, 3), (2, 4), (2, 4), (16, 3), (16, 4)))
    assert report.ok and [c.name for c in report.checks] == ["x", "h", "c", "w_ih", "w_hh"]

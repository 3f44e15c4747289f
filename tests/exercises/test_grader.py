"""The grader passes the reference, and catches six classic bugs planted in a copy of it,
naming the function, the tensor, and (for the carried gradient) the time steps."""

import sys

import pytest

from numrnn.exercises.catalog import EXERCISES
from numrnn.exercises.grader import grade
from numrnn.exercises.student import make
from tests.exercises.conftest import plant


def failing(result, function):
    """The tensors of ``function`` whose rows failed."""
    return {r.tensor for r in result.rows_of(function) if not r.ok}


def test_reference_solutions_pass(solutions_dir):
    result = grade(solutions_dir)
    assert result.ok, str(result)
    assert result.functions == [e.name for e in EXERCISES]
    assert str(result).splitlines()[-1] == f"PASSED: all {len(EXERCISES)} functions"


def test_student_folder_fails_and_names_every_function(tmp_path):
    make(tmp_path)
    result = grade(tmp_path)
    assert not result.ok
    assert list(result.failed) == [e.name for e in EXERCISES]
    assert all(r.status == "ERROR" and "NotImplementedError" in r.message for r in result.rows)
    text = str(result)
    for e in EXERCISES:
        assert e.name in text
    row = result.rows_of("rnn_step_backward")[0]  # its own stub raised, not the forward's
    assert "rnn.py line" in row.message and "in rnn_step_backward" in row.message
    assert "checked with numrnn's rnn_step_forward" in row.message


def test_a_backward_is_graded_even_when_its_forward_is_wrong(solutions):
    """The backward is checked with numrnn's forward while the student's forward fails."""
    plant(solutions, "rnn.py", "h_next = activation_forward(a, nonlinearity)",
          "h_next = activation_forward(2 * a, nonlinearity)")
    result = grade(solutions, only="rnn.py")
    assert "rnn_step_forward" in result.failed
    backward = result.rows_of("rnn_step_backward")
    assert backward and all(r.ok for r in backward)
    assert all("checked with numrnn's rnn_step_forward" in r.message for r in backward)


@pytest.mark.parametrize("new", ["dh[t], cache.steps[t]", "dh[t] + 0.5 * dh_carry, cache.steps[t]"],
                         ids=["dropped", "scaled"])
def test_carried_gradient_bug_names_the_steps(solutions, new):
    plant(solutions, "rnn.py", "dh[t] + dh_carry, cache.steps[t]", new)
    result = grade(solutions, only="rnn.py")
    assert list(result.failed) == ["rnn_backward"]  # the step functions are right
    assert {"dx", "dh0", "dw_hh"} <= failing(result, "rnn_backward")
    dx = next(r for r in result.rows_of("rnn_backward") if r.tensor == "dx")
    # T = 5: the last step gets no carried gradient, so only dx[4] is right
    assert dx.steps.startswith("dx[0..3] wrong, dx[4..] correct: correct at t >= 5, wrong before")
    assert "docs/bptt.md (9)" in dx.derivation
    assert dx.steps in str(result)


def test_transposed_weight_gradient(solutions):
    plant(solutions, "rnn.py", "dw_hh = da.T @ cache.h_prev  # (H, H)", "dw_hh = cache.h_prev.T @ da")
    result = grade(solutions, only="rnn.py")
    assert failing(result, "rnn_step_backward") == {"dw_hh"}
    row = next(r for r in result.rows_of("rnn_step_backward") if r.tensor == "dw_hh")
    assert "docs/bptt.md (7)" in row.derivation and row.error > 1e-2


def test_transposed_weight_gradient_of_another_shape(solutions):
    plant(solutions, "linear.py", "dw = dy2.T @ cache.x  # (O, F)", "dw = cache.x.T @ dy2")
    result = grade(solutions, only="linear_backward")
    assert failing(result, "linear_backward") == {"dw"}
    row = next(r for r in result.rows_of("linear_backward") if r.tensor == "dw")
    assert "shape (3, 4)" in row.where + row.message and "expected (4, 3)" in row.message


def test_activation_derivative_from_a_instead_of_h(solutions):
    plant(solutions, "rnn.py",
          "    da = activation_backward(dh, cache.h_next, cache.nonlinearity)  # (N, H)\n",
          "    a = cache.x @ cache.w_ih.T + cache.h_prev @ cache.w_hh.T\n"
          "    da = activation_backward(dh, a, cache.nonlinearity)\n")
    result = grade(solutions, only="rnn_step_backward")
    assert {"dx", "dh_prev", "dw_ih", "dw_hh"} <= failing(result, "rnn_step_backward")
    row = next(r for r in result.rows_of("rnn_step_backward") if r.tensor == "dx")
    assert row.where.startswith("tanh:")  # ReLU's derivative is the same from a or from h
    assert "from (3)" in row.derivation


def test_lstm_gate_order_swapped(solutions):
    plant(solutions, "lstm.py",
          "tanh_backward(dg, s.g),\n         sigmoid_backward(do, s.o)]",
          "sigmoid_backward(do, s.o),\n         tanh_backward(dg, s.g)]")
    result = grade(solutions, only="lstm.py")
    bad = failing(result, "lstm_step_backward")
    assert {"dx", "dh_prev", "dw_ih", "dw_hh", "db_ih", "db_hh"} <= bad
    assert "dc_prev" not in bad and "dw_hr" not in bad  # they come before the gates
    row = next(r for r in result.rows_of("lstm_step_backward") if r.tensor == "dw_ih")
    assert "(L1)" in row.derivation and "gates i, f, g, o" in row.derivation


def test_gru_reset_gate_applied_after_the_product(solutions):
    """The reset gate's gradient applied after the recurrent product, as for Keras's
    reset_after=False, instead of before it as PyTorch's GRU needs."""
    plant(solutions, "gru.py", "dahn = dan * s.r  # (N, H)", "dahn = dan  # (N, H)")
    plant(solutions, "gru.py", "dh_prev = dh * s.z + da_h @ s.w_hh  # (N, H): the direct path and the gates",
          "H = s.r.shape[1]\n"
          "    dh_prev = dh * s.z + da_h[:, :2 * H] @ s.w_hh[:2 * H] + s.r * (dahn @ s.w_hh[2 * H:])")
    result = grade(solutions, only="gru_step_backward")
    assert failing(result, "gru_step_backward") == {"dh_prev", "dw_hh", "db_hh"}
    row = next(r for r in result.rows_of("gru_step_backward") if r.tensor == "dw_hh")
    assert "(G3)" in row.derivation


def test_softmax_without_the_max_shift(solutions):
    plant(solutions, "losses.py", "shifted = z - z.max(axis=axis, keepdims=True)\n    return shifted - xp",
          "shifted = z\n    return shifted - xp")
    result = grade(solutions, only="losses.py")
    assert set(result.failed) == {"log_softmax", "softmax_cross_entropy_forward"}
    for name, tensor in (("log_softmax", "logp"), ("softmax_cross_entropy_forward", "loss")):
        (row,) = result.rows_of(name)
        assert row.tensor == tensor and row.where.startswith("large logits")
        assert "not finite" in row.message
    assert "not finite" in str(result)


def test_forward_state_not_carried(solutions):
    plant(solutions, "rnn.py", "rnn_step_forward(x[t], h_prev,", "rnn_step_forward(x[t], h0,")
    result = grade(solutions, only="rnn_forward")
    (row,) = result.rows_of("rnn_forward")
    assert row.tensor == "h" and not row.ok
    assert row.steps.startswith("h[0] correct, h[1..] wrong: wrong from t = 2 on")


def test_numerical_gradient_bugs(solutions):
    plant(solutions, "gradcheck.py", "grad[i] = (plus - minus) / (2 * eps)", "grad[i] = (plus - minus) / eps")
    result = grade(solutions, only="numerical_gradient")
    assert failing(result, "numerical_gradient") == {"grad"}


def test_numerical_gradient_that_does_not_restore_x(solutions):
    plant(solutions, "gradcheck.py", "        x[i] = old  # restore", "        # x[i] = old  # restore")
    result = grade(solutions, only="numerical_gradient")
    assert failing(result, "numerical_gradient") == {"grad", "x"}
    row = next(r for r in result.rows_of("numerical_gradient") if r.tensor == "x")
    assert "restore" in row.message


def test_clip_that_does_not_work_in_place(solutions):
    plant(solutions, "clip.py", "g *= clip_coef  # in place", "g = g * clip_coef  # in place")
    result = grade(solutions, only="clip_grad_norm")
    assert failing(result, "clip_grad_norm") == {"grads"}
    assert "in place" in result.rows_of("clip_grad_norm")[1].message


def test_syntax_error_names_its_line_and_the_others_are_graded(solutions):
    plant(solutions, "gru.py", "    dn = dh * (1 - s.z)  # (N, H)", "    dn = dh * (1 - s.z  # (N, H)")
    result = grade(solutions)
    (row,) = result.rows_of("gru_step_backward")
    assert row.status == "ERROR" and "gru.py did not import: SyntaxError in gru.py line" in row.message
    assert list(result.failed) == ["gru_step_backward"]


def test_an_error_at_import_is_reported_and_the_others_are_graded(solutions):
    plant(solutions, "clip.py", "import numpy as np\n", "import numpy as np\nnp.nonexistent()\n")
    result = grade(solutions)
    (row,) = result.rows_of("clip_grad_norm")
    assert "AttributeError" in row.message and "clip.py line" in row.message
    assert list(result.failed) == ["clip_grad_norm"]


def test_any_exception_is_reported_with_its_last_line(solutions):
    plant(solutions, "lstm.py", "    do = dm * s.tanh_c  # (N, H)\n", "    do = dm * s.tanh_cell\n")
    result = grade(solutions, only="lstm_step_backward")
    (row,) = result.rows_of("lstm_step_backward")
    assert row.status == "ERROR"
    assert "AttributeError" in row.message and "tanh_cell" in row.message
    assert "lstm.py line" in row.message and "in lstm_step_backward" in row.message


def test_wrong_number_of_gradients_is_an_error_row(solutions):
    plant(solutions, "linear.py", "    return dx, dw, db\n", "    return dx, dw\n")
    result = grade(solutions, only="linear_backward")
    (row,) = result.rows_of("linear_backward")
    assert row.status == "ERROR" and "returned 2 gradients" in row.message


def test_missing_files_are_named(solutions):
    (solutions / "lstm.py").unlink()
    (solutions / "gru.py").unlink()
    result = grade(solutions)
    assert result.missing == ["lstm.py", "gru.py"] and not result.ok
    assert {r.function for r in result.rows if r.status == "MISSING"} == {"lstm_step_backward",
                                                                            "gru_step_backward"}
    assert "missing files: lstm.py, gru.py" in str(result)


def test_a_folder_without_any_file_is_refused(tmp_path):
    with pytest.raises(ValueError, match="holds none of the exercise files"):
        grade(tmp_path)
    with pytest.raises(ValueError, match="is not a folder"):
        grade(tmp_path / "nowhere")


def test_a_removed_function_is_named(solutions):
    plant(solutions, "rnn.py", "def rnn_step_backward(", "def rnn_step_backward_renamed(")
    result = grade(solutions, only="rnn_step_backward")
    assert "rnn.py has no function rnn_step_backward" in result.rows[0].message


def test_only_selects_a_function_or_a_file(solutions_dir):
    assert grade(solutions_dir, only="rnn_backward").functions == ["rnn_backward"]
    assert grade(solutions_dir, only="losses").functions == ["log_softmax", "softmax_cross_entropy_forward",
                                                             "softmax_cross_entropy_backward"]
    with pytest.raises(ValueError, match="no exercise or file 'nope'"):
        grade(solutions_dir, only="nope")


def test_an_edit_is_seen_at_once_and_nothing_is_left_behind(solutions):
    """The file is compiled from its text each time (no stale bytecode), and neither the
    folder nor its modules stay on sys.path / in sys.modules."""
    path_before, modules_before = list(sys.path), set(sys.modules)
    assert grade(solutions, only="clip.py").ok
    plant(solutions, "clip.py", "if clip_coef < 1:", "if clip_coef < 0:")  # same length, same second
    assert not grade(solutions, only="clip.py").ok
    assert sys.path == path_before
    assert not {m for m in set(sys.modules) - modules_before if "student" in m}
    assert not (solutions / "__pycache__").exists()


def test_student_files_may_import_each_other(solutions):
    plant(solutions, "linear.py", "from typing import NamedTuple\n",
          "from typing import NamedTuple\n\nfrom clip import clip_grad_norm  # noqa: F401\n")
    result = grade(solutions, only="linear.py")
    assert result.ok, str(result)
    folder = str(solutions.resolve())
    assert not [m for m in list(sys.modules.values()) if str(getattr(m, "__file__", "")).startswith(folder)]


def test_a_forward_that_forgets_its_cache(solutions):
    plant(solutions, "rnn.py", "    return h_next, cache\n", "    return h_next\n")
    result = grade(solutions, only="rnn_step_forward")
    (row,) = result.rows
    assert row.status == "FAIL" and row.tensor == "h_next"
    assert "returned ndarray; expected (h_next, cache)" in row.message

"""exercises train: the student's RNN functions run inside nr.Recurrent and learn "ohlol"."""

import numpy as np
import pytest

import numrnn as nr
from numrnn.exercises.train import load_rnn, student_cell, train
from tests.exercises.conftest import plant


def test_reference_solutions_learn_ohlol(solutions_dir):
    result = train(load_rnn(solutions_dir))
    assert result.ok and result.prediction == "ohlol" and result.first is not None
    assert result.losses[-1] < result.losses[0] / 10
    assert result.ran == f"rnn_forward/rnn_backward of {solutions_dir.resolve() / 'rnn.py'}"


def test_the_layer_runs_the_student_s_functions(solutions):
    """A forward that forgets the state cannot learn: so it is the student's that ran."""
    plant(solutions, "rnn.py", "    return h_next, cache\n", "    return 0 * h_next, cache\n")
    result = train(load_rnn(solutions), steps=50)
    assert not result.ok and len(set(result.prediction)) == 1


def test_student_cell_equals_the_built_in_rnn(solutions_dir, rng):
    """Same weights, same numbers: the cell description adds nothing of its own."""
    mine = nr.Recurrent(student_cell(load_rnn(solutions_dir)), 3, 4, dtype=np.float64, seed=0,
                        backend="numpy")
    ref = nr.RNN(3, 4, dtype=np.float64, seed=0, backend="numpy")
    x = rng.standard_normal((5, 2, 3))
    out, h_n = mine(x)
    out_ref, h_n_ref = ref(x)
    np.testing.assert_array_equal(out, out_ref)
    dout = rng.standard_normal(out.shape)
    np.testing.assert_array_equal(mine.backward(dout)[0], ref.backward(dout)[0])
    assert nr.check_gradients(mine, x).ok


def test_learning_is_not_proof(solutions):
    """A dropped carried gradient, which the grader fails, still learns five characters:
    the grader decides, not this command (docs/exercises.md says so)."""
    plant(solutions, "rnn.py", "dh[t] + dh_carry, cache.steps[t]", "dh[t], cache.steps[t]")
    assert train(load_rnn(solutions)).ok


def test_missing_rnn_py(tmp_path):
    with pytest.raises(ValueError, match="rnn.py does not exist"):
        load_rnn(tmp_path)

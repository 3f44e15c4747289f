"""Every misuse of RNN / RNNCell gets a clear exception naming expected and given."""

import numpy as np
import pytest

import numrnn as nr


@pytest.fixture
def rnn():
    return nr.RNN(3, 4, num_layers=2, bidirectional=True, seed=0)


def x_ok(T=5, N=2, I=3):
    return np.zeros((T, N, I), dtype=np.float32)


def test_wrong_input_size(rnn):
    with pytest.raises(ValueError, match=r"input_size=3 .* got 7"):
        rnn(x_ok(I=7))


@pytest.mark.parametrize("shape", [(3,), (1, 2, 3, 3)])
def test_wrong_rank(rnn, shape):
    with pytest.raises(ValueError, match=rf"3-D \(T, N, I\) or 2-D \(T, I\).*got {len(shape)}-D"):
        rnn(np.zeros(shape, dtype=np.float32))


def test_batch_first_message_names_layout():
    rnn = nr.RNN(3, 4, batch_first=True)
    with pytest.raises(ValueError, match=r"\(N, T, I\)"):
        rnn(np.zeros(3, dtype=np.float32))


def test_h0_wrong_shape(rnn):
    with pytest.raises(ValueError, match=r"h0 must have shape \(4, 2, 4\).*got \(2, 2, 4\)"):
        rnn(x_ok(), np.zeros((2, 2, 4), dtype=np.float32))


def test_h0_unbatched_shape(rnn):
    with pytest.raises(ValueError, match=r"h0 must have shape \(4, 4\).*unbatched.*got \(4, 1, 4\)"):
        rnn(np.zeros((5, 3), dtype=np.float32), np.zeros((4, 1, 4), dtype=np.float32))


def test_dout_wrong_shape(rnn):
    out, h_n = rnn(x_ok())
    with pytest.raises(ValueError, match=r"dout must have shape \(5, 2, 8\).*got \(5, 2, 4\)"):
        rnn.backward(np.zeros((5, 2, 4), dtype=np.float32))


def test_dh_n_wrong_shape(rnn):
    out, h_n = rnn(x_ok())
    with pytest.raises(ValueError, match=r"dh_n must have shape \(4, 2, 4\).*got \(4, 4\)"):
        rnn.backward(np.zeros_like(out), np.zeros((4, 4), dtype=np.float32))


def test_empty_sequence(rnn):
    with pytest.raises(ValueError, match=r"empty sequence \(T = 0\)"):
        rnn(x_ok(T=0))


def test_empty_batch(rnn):
    with pytest.raises(ValueError, match=r"empty batch"):
        rnn(x_ok(N=0))


@pytest.mark.parametrize("bad", [np.zeros((5, 2, 3), dtype=np.int64), np.zeros((5, 2, 3), dtype=bool)])
def test_non_float_input(rnn, bad):
    with pytest.raises(TypeError, match=r"must have dtype float32; got (int64|bool)"):
        rnn(bad)


def test_mismatched_float_dtype(rnn):
    with pytest.raises(TypeError, match=r"dtype float32; got float64 \(cast it with"):
        rnn(np.zeros((5, 2, 3)))


def test_mismatched_h0_dtype(rnn):
    with pytest.raises(TypeError, match=r"h0 must have dtype float32; got float64"):
        rnn(x_ok(), np.zeros((4, 2, 4)))


def test_lists_are_accepted_as_float_data():
    rnn = nr.RNN(1, 2)
    out, _ = rnn([[[0.5]], [[1.0]]])
    assert out.shape == (2, 1, 2) and out.dtype == np.float32


def test_unknown_nonlinearity():
    with pytest.raises(ValueError, match=r"'tanh' or 'relu'; got 'sigmoid'"):
        nr.RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match=r"'tanh' or 'relu'; got 'gelu'"):
        nr.RNNCell(3, 4, nonlinearity="gelu")


@pytest.mark.parametrize("kwargs,match", [
    (dict(hidden_size=0), "hidden_size must be >= 1; got 0"),
    (dict(num_layers=0), "num_layers must be >= 1; got 0"),
    (dict(input_size=2.5), "input_size must be an integer; got 2.5"),
    (dict(dropout=1.0), r"dropout must be a number in \[0, 1\); got 1.0"),
    (dict(dtype=np.int32), "dtype must be np.float32 or np.float64; got int32"),
    (dict(backend="tpu"), "backend must be one of"),
])
def test_bad_constructor_arguments(kwargs, match):
    args = dict(input_size=3, hidden_size=4)
    args.update(kwargs)
    with pytest.raises((TypeError, ValueError), match=match):
        nr.RNN(**args)


def test_backward_before_forward():
    with pytest.raises(RuntimeError, match=r"backward called before forward"):
        nr.RNN(3, 4).backward(np.zeros((5, 2, 4), dtype=np.float32))
    with pytest.raises(RuntimeError, match=r"backward called before forward"):
        nr.RNNCell(3, 4).backward(np.zeros((2, 4), dtype=np.float32))


class TestLoadStateDict:
    def test_missing(self, rnn):
        sd = rnn.state_dict()
        del sd["bias_hh_l1_reverse"]
        with pytest.raises(ValueError, match=r"missing keys \['bias_hh_l1_reverse'\]"):
            rnn.load_state_dict(sd)

    def test_extra(self, rnn):
        sd = rnn.state_dict()
        sd["weight_hr_l0"] = np.zeros((2, 4))
        with pytest.raises(ValueError, match=r"unexpected keys \['weight_hr_l0'\]"):
            rnn.load_state_dict(sd)

    def test_misshaped(self, rnn):
        sd = rnn.state_dict()
        sd["weight_ih_l1"] = np.zeros((4, 4))
        with pytest.raises(ValueError, match=r"weight_ih_l1: expected shape \(4, 8\), got \(4, 4\)"):
            rnn.load_state_dict(sd)

    def test_nothing_changes_on_error(self, rnn):
        before = rnn.state_dict()
        sd = {k: np.ones_like(v) for k, v in before.items()}
        sd["weight_ih_l0"] = np.zeros((1, 1))
        with pytest.raises(ValueError):
            rnn.load_state_dict(sd)
        for k, v in before.items():
            np.testing.assert_array_equal(rnn.params[k], v)

    def test_not_a_dict(self, rnn):
        with pytest.raises(TypeError, match="expects a dict; got list"):
            rnn.load_state_dict([1, 2])


class TestCellBadInput:
    def test_wrong_sizes(self):
        cell = nr.RNNCell(3, 4)
        with pytest.raises(ValueError, match=r"input_size=3 .* got 5"):
            cell(np.zeros((2, 5), dtype=np.float32))
        with pytest.raises(ValueError, match=r"h must have shape \(2, 4\).*got \(2, 3\)"):
            cell(np.zeros((2, 3), dtype=np.float32), np.zeros((2, 3), dtype=np.float32))
        with pytest.raises(ValueError, match=r"2-D \(N, I\) or 1-D \(I,\)"):
            cell(np.zeros((1, 2, 3), dtype=np.float32))

    def test_dh_wrong_shape(self):
        cell = nr.RNNCell(3, 4)
        cell(np.zeros((2, 3), dtype=np.float32))
        with pytest.raises(ValueError, match=r"dh must have shape \(2, 4\)"):
            cell.backward(np.zeros((4,), dtype=np.float32))


def test_dropout_may_be_a_numpy_scalar_but_not_a_string():
    assert nr.RNN(3, 4, num_layers=2, dropout=np.float32(0.5)).dropout == 0.5
    with pytest.raises(TypeError, match=r"RNN: dropout must be a number in \[0, 1\); got '0.5'"):
        nr.RNN(3, 4, num_layers=2, dropout="0.5")


def test_load_state_dict_lists_a_ragged_entry_with_the_other_problems():
    lin = nr.Linear(2, 2)
    before = lin.state_dict()
    sd = dict(before, weight=[[1.0, 2.0], [3.0]])  # NumPy alone says "inhomogeneous shape"
    del sd["bias"]
    expected = r"missing keys \['bias'\].*weight: expected an array of shape \(2, 2\)"
    with pytest.raises(ValueError, match=expected):
        lin.load_state_dict(sd)
    np.testing.assert_array_equal(lin.params["weight"], before["weight"])  # nothing changed

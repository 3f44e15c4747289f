"""Variable-length batches: ``rnn(x, h0, lengths=...)`` against PyTorch's packed sequences.

PyTorch's oracle is ``pack_padded_sequence(enforce_sorted=False)`` -> RNN ->
``pad_packed_sequence``: outputs past each length are zero, ``h_n`` is each sequence's
state at its own last step, and the reverse direction starts at the last real step.
"""

import itertools

import numpy as np
import pytest

import numrnn as nr
from tests.torch_oracle import torch_pass, twin

LENGTHS = np.array([3, 5, 1, 4])  # unsorted, one full length, one of a single step
T, N, I, H = 5, 4, 3, 4


GRID = list(itertools.product(["tanh", "relu"], [1, 2], [False, True], [False, True]))


@pytest.mark.parametrize("nonlinearity, layers, bidirectional, batch_first", GRID)
def test_matches_torch_packed_sequences(nonlinearity, layers, bidirectional, batch_first):
    pytest.importorskip("torch")
    rnn = nr.RNN(I, H, num_layers=layers, nonlinearity=nonlinearity, bidirectional=bidirectional,
                 batch_first=batch_first, dtype=np.float64, backend="numpy", seed=0)
    D = 2 if bidirectional else 1
    r = np.random.default_rng(1)
    x = r.standard_normal((N, T, I) if batch_first else (T, N, I))
    h0 = 0.5 * r.standard_normal((layers * D, N, H))
    dout = r.standard_normal((N, T, D * H) if batch_first else (T, N, D * H))
    dhn = r.standard_normal((layers * D, N, H))

    out, hn = rnn(x, h0, lengths=LENGTHS)
    dx, dh0 = rnn.backward(dout, dhn)
    t_out, (t_hn,), t_dx, (t_dh0,), t_grads = torch_pass(twin(rnn), x, (h0,), dout, (dhn,),
                                                         lengths=LENGTHS, batch_first=batch_first)
    tol = dict(rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(out, t_out, **tol)
    np.testing.assert_allclose(hn, t_hn, **tol)
    np.testing.assert_allclose(dx, t_dx, **tol)
    np.testing.assert_allclose(dh0, t_dh0, **tol)
    assert set(rnn.grads) == set(t_grads)
    for k, g in rnn.grads.items():
        np.testing.assert_allclose(g, t_grads[k], err_msg=k, **tol)


def test_outputs_past_length_are_zero_and_full_lengths_change_nothing():
    rnn = nr.RNN(I, H, bidirectional=True, dtype=np.float64, backend="numpy", seed=2)
    x = np.random.default_rng(3).standard_normal((T, N, I))
    out, _ = rnn(x, lengths=LENGTHS)
    for n, L in enumerate(LENGTHS):
        assert not out[L:, n].any() and out[L - 1, n].all()
    full, hn_full = rnn(x)
    same, hn_same = rnn(x, lengths=np.full(N, T))
    np.testing.assert_array_equal(same, full)
    np.testing.assert_array_equal(hn_same, hn_full)


@pytest.mark.parametrize("layers, bidirectional", [(1, False), (2, True)])
def test_gradcheck_with_lengths(layers, bidirectional):
    rnn = nr.RNN(I, 3, num_layers=layers, bidirectional=bidirectional, backend="numpy", seed=4)
    x = np.random.default_rng(5).standard_normal((T, N, I))
    report = nr.check_gradients(rnn, x, lengths=LENGTHS)
    assert report.ok, str(report)


@pytest.mark.parametrize("lengths, err, match", [
    (np.array([3.0, 5.0, 1.0, 4.0]), TypeError, "lengths must be integers"),
    (np.array([3, 5, 1]), ValueError, r"shape \(4,\)"),
    (np.array([[3, 5, 1, 4]]), ValueError, r"shape \(4,\)"),
    (np.array([3, 0, 1, 4]), ValueError, r"in \[1, 5\]"),
    (np.array([3, 6, 1, 4]), ValueError, r"in \[1, 5\]"),
    (np.array([3, -1, 1, 4]), ValueError, r"in \[1, 5\]"),
])
def test_bad_lengths(lengths, err, match):
    rnn = nr.RNN(I, H, backend="numpy")
    with pytest.raises(err, match=match):
        rnn(np.zeros((T, N, I), np.float32), lengths=lengths)


def test_lengths_need_a_batch():
    rnn = nr.RNN(I, H, backend="numpy")
    with pytest.raises(ValueError, match="batched"):
        rnn(np.zeros((T, I), np.float32), lengths=np.array([2]))

"""Past each sequence's length: exact zeros out, and the padding never reaches anything valid.

Issue 13, item 3: padded steps used to be computed and then multiplied by a 0/1 mask,
and NaN * 0 is NaN, so NaN in one sequence's padding made its outputs past its length
NaN and every weight gradient of the batch NaN. The driver (numrnn/nn/stack.py) now
replaces padding by zeros before any cell sees it and selects, never multiplies.
"""

import importlib.util

import numpy as np
import pytest

import numrnn as nr

BACKENDS = ["numpy"] + (["numba"] if importlib.util.find_spec("numba") else [])
CELLS = {"rnn": nr.RNN, "lstm": nr.LSTM, "gru": nr.GRU}
T, N, I, H = 5, 3, 2, 4


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("fill", [np.nan, np.inf, -np.inf, 1e30])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_padding_never_leaks(backend, cell, fill, bidirectional, rng):
    kw = dict(num_layers=2, bidirectional=bidirectional, dtype=np.float64, backend=backend, seed=0)
    clean, dirty = CELLS[cell](I, H, **kw), CELLS[cell](I, H, **kw)
    lengths = np.array([5, 2, 3])
    x = rng.standard_normal((T, N, I))
    valid = (np.arange(T)[:, None] < lengths[None, :])[:, :, None]
    x_clean = np.where(valid, x, 0.0)
    x_dirty = np.where(valid, x, fill)
    out_c, hn_c = clean(x_clean, lengths=lengths)
    out_d, hn_d = dirty(x_dirty, lengths=lengths)
    np.testing.assert_array_equal(out_d, out_c)
    assert np.all(out_d[~np.broadcast_to(valid, out_d.shape)] == 0)  # exact zeros past the length
    for a, b in zip(*(s if isinstance(s, tuple) else (s,) for s in (hn_d, hn_c))):
        np.testing.assert_array_equal(a, b)  # h_n (and c_n) at each sequence's own last step
    dout = np.where(np.broadcast_to(valid, out_c.shape), rng.standard_normal(out_c.shape), fill)
    dx_c, _ = clean.backward(np.where(np.broadcast_to(valid, out_c.shape), dout, 0.0))
    dx_d, _ = dirty.backward(dout)  # garbage in dout's padding is ignored too
    np.testing.assert_array_equal(dx_d, dx_c)
    assert np.all(dx_d[~np.broadcast_to(valid, dx_d.shape)] == 0)
    for k in clean.grads:
        assert np.all(np.isfinite(dirty.grads[k])), k
        np.testing.assert_array_equal(dirty.grads[k], clean.grads[k], err_msg=k)

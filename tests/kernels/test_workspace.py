"""numrnn/kernels/workspace.py: scratch buffers reused per name, per thread, up to a size."""

import threading

import numpy as np

from numrnn import config
from numrnn.kernels.workspace import scratch


def test_same_name_gives_the_same_memory_back_and_grows():
    a = scratch("test_a", (3, 4), np.float32)
    assert a.shape == (3, 4) and a.dtype == np.float32 and a.flags.c_contiguous
    b = scratch("test_a", (2, 5), np.float32)
    assert np.shares_memory(a, b)
    c = scratch("test_a", (100, 100), np.float32)  # larger: new memory
    assert c.shape == (100, 100) and not np.shares_memory(a, c)
    assert not np.shares_memory(scratch("test_b", (3, 4), np.float32), scratch("test_a", (3, 4), np.float32))
    assert not np.shares_memory(scratch("test_a", (3, 4), np.float64), c)  # per dtype


def test_other_threads_and_large_requests_get_their_own():
    mine = scratch("test_c", (8,), np.float64)
    theirs = []
    t = threading.Thread(target=lambda: theirs.append(scratch("test_c", (8,), np.float64)))
    t.start()
    t.join()
    assert not np.shares_memory(mine, theirs[0])
    n = config.WORKSPACE_MAX_BYTES // 8 + 1
    assert not np.shares_memory(scratch("test_d", (n,), np.float64), scratch("test_d", (n,), np.float64))


def test_backward_results_do_not_alias_between_calls():
    """Only scratch is reused: what a backward returns stays the caller's."""
    from numrnn.kernels import numba_lstm

    rng = np.random.default_rng(0)
    T, N, D, H = 3, 2, 4, 5
    x = rng.standard_normal((T, N, D))
    h0, c0 = np.zeros((N, H)), np.zeros((N, H))
    w_ih, w_hh = rng.standard_normal((4 * H, D)), rng.standard_normal((4 * H, H))
    _, _, cache = numba_lstm.lstm_forward(x, h0, c0, w_ih, w_hh)
    dh, dc = rng.standard_normal((T, N, H)), np.zeros((T, N, H))
    first = numba_lstm.lstm_backward(dh, dc, cache)
    kept = [g.copy() for g in first if g is not None]
    second = numba_lstm.lstm_backward(2 * dh, dc, cache)
    for a, b, k in zip([g for g in first if g is not None], [g for g in second if g is not None], kept):
        assert not np.shares_memory(a, b)
        np.testing.assert_array_equal(a, k)

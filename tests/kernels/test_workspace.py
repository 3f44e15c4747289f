"""numrnn/kernels/workspace.py: scratch buffers reused per name, per thread, up to a
total per thread, released by clear()."""

import gc
import threading
import weakref

import numpy as np

from numrnn import config
from numrnn.kernels import workspace
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


def test_the_limit_is_a_total_per_thread(monkeypatch):
    monkeypatch.setattr(config, "WORKSPACE_MAX_BYTES", 1000)
    workspace.clear()
    a = scratch("test_e", (50,), np.float64)  # 400 B
    scratch("test_f", (50,), np.float64)  # 400 B
    assert workspace.held_bytes() == 800
    assert np.shares_memory(a, scratch("test_e", (50,), np.float64))  # both kept
    a[:] = 1.0
    c = scratch("test_g", (50,), np.float64)  # 1200 B would go over: the others are dropped
    assert workspace.held_bytes() == 400
    assert not np.shares_memory(a, scratch("test_e", (50,), np.float64))
    assert np.shares_memory(c, scratch("test_g", (50,), np.float64))
    assert np.all(a == 1.0)  # what was handed out stays the caller's
    held = workspace.held_bytes()
    big = scratch("test_h", (126,), np.float64)  # 1008 B > the total: fresh, not kept
    assert big.shape == (126,) and workspace.held_bytes() == held
    workspace.clear()


def test_clear_releases_this_threads_buffers_only():
    mine = scratch("test_i", (16,), np.float32)
    assert workspace.held_bytes() >= mine.nbytes
    theirs = []

    def other():
        theirs.append(scratch("test_i", (16,), np.float32))
        done.wait()
        theirs.append(workspace.held_bytes())

    done = threading.Event()
    t = threading.Thread(target=other)
    t.start()
    while not theirs:
        threading.Event().wait(0.001)
    workspace.clear()
    assert workspace.held_bytes() == 0
    assert not np.shares_memory(mine, scratch("test_i", (16,), np.float32))  # fresh after clear
    done.set()
    t.join()
    assert theirs[1] == theirs[0].nbytes  # the other thread kept its own
    workspace.clear()


def _one_backward(cell: str, dtype, rng) -> None:
    """Forward and backward of one layer of ``cell`` at T=5, N=4, D=3, H=16."""
    from numrnn.kernels import numba_gru, numba_lstm, numba_rnn

    T, N, D, H = 5, 4, 3, 16
    G = {"rnn": 1, "gru": 3, "lstm": 4}[cell]
    x = rng.standard_normal((T, N, D)).astype(dtype)
    h0, dh = np.zeros((N, H), dtype), np.ones((T, N, H), dtype)
    w_ih = rng.uniform(-0.25, 0.25, (G * H, D)).astype(dtype)
    w_hh = rng.uniform(-0.25, 0.25, (G * H, H)).astype(dtype)
    if cell == "rnn":
        numba_rnn.rnn_backward(dh, numba_rnn.rnn_forward(x, h0, w_ih, w_hh)[1])
    elif cell == "gru":
        numba_gru.gru_backward(dh, numba_gru.gru_forward(x, h0, w_ih, w_hh)[1])
    else:
        numba_lstm.lstm_backward(dh, np.zeros_like(dh), numba_lstm.lstm_forward(x, h0, h0, w_ih, w_hh)[2])


def test_backward_passes_keep_at_most_the_total(monkeypatch):
    """The reviewer's case, scaled down: every cell's backward in both dtypes, one after
    the other, keeps no more scratch than the total; clear() then releases all of it."""
    cap = 12_000  # the largest buffer, the LSTM's float64 da, is 5 * 4 * 64 * 8 = 10240 B
    monkeypatch.setattr(config, "WORKSPACE_MAX_BYTES", cap)
    workspace.clear()
    rng = np.random.default_rng(1)
    for dtype in (np.float64, np.float32):
        for cell in ("rnn", "lstm", "gru"):
            _one_backward(cell, dtype, rng)
            assert 0 < workspace.held_bytes() <= cap
    workspace.clear()
    assert workspace.held_bytes() == 0


def test_clear_all_threads_releases_every_threads_buffers():
    from numrnn import parallel

    with parallel.limited_threads(2):
        parallel.run([lambda: workspace.scratch("test_all", (100,), np.float64)] * 2)
    workspace.scratch("test_all", (100,), np.float64)
    workspace.clear(all_threads=True)
    assert workspace.held_bytes() == 0
    with parallel.limited_threads(2):
        assert parallel.run([workspace.held_bytes] * 2) == [0, 0]


def test_a_threads_buffers_are_released_when_it_ends():
    """Nothing but the thread keeps its buffers: once it has ended they are freed, without
    waiting for another thread to ask for scratch."""
    refs = []

    def work():
        workspace.scratch("test_ends", (1000,), np.float64)
        refs.extend(weakref.ref(b) for b in workspace._buffers().values())

    t = threading.Thread(target=work)
    t.start()
    t.join()
    gc.collect()
    assert refs and all(r() is None for r in refs)

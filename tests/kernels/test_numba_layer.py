"""numrnn/kernels/numba_layer.py (time blocks, row ranges, the schedule) and
numrnn/kernels/numba_sync.py (one thread waiting for another's counter)."""

import threading

import numpy as np
import pytest

numba = pytest.importorskip("numba")

from numba import njit  # noqa: E402

from numrnn import config, parallel  # noqa: E402
from numrnn.kernels import numba_layer as layer  # noqa: E402
from numrnn.kernels import numba_sync as sync  # noqa: E402


@pytest.mark.parametrize("T, N", [(1, 1), (7, 3), (200, 16), (1000, 1), (100, 1024)])
def test_time_blocks_cover_the_steps(T, N):
    blocks = layer.time_blocks(T, N)
    assert blocks.dtype == np.int64 and blocks[0, 0] == 0 and blocks[-1, 1] == T
    assert np.all(blocks[1:, 0] == blocks[:-1, 1]) and np.all(blocks[:, 1] > blocks[:, 0])
    steps = blocks[0, 1] - blocks[0, 0]
    assert np.all(blocks[:-1, 1] - blocks[:-1, 0] == steps)  # equal blocks, the last maybe shorter
    assert steps * N <= max(N, config.NUMBA_BLOCK_ROWS)
    assert len(blocks) == 1 or len(blocks) % 4 == 0 or len(blocks) == T or steps == 1


@pytest.mark.parametrize("N, parts", [(1, 1), (16, 2), (18, 2), (7, 2), (33, 3), (8, 4)])
def test_row_ranges_are_whole_tiles(N, parts):
    ranges = layer.row_ranges(N, parts)
    assert len(ranges) == parts and ranges[0][0] == 0 and ranges[-1][1] == N
    for (a0, a1), (b0, _) in zip(ranges, ranges[1:]):
        assert a1 == b0 and (a1 - a0) % 4 == 0


def test_schedule(monkeypatch):
    monkeypatch.setattr(config, "NUMBA_SPLIT_MIN_FLOPS", 1e6)
    monkeypatch.setattr(config, "NUMBA_GEMM_SPLIT_MIN_FLOPS", 1e6)
    monkeypatch.setattr(config, "NUMBA_OVERLAP_MIN_FLOPS", 1e6)
    with parallel.limited_threads(2):
        s = layer.schedule(100, 32, 1e7, 1e7, True)
        assert s.loop_rows == ((0, 16), (16, 32)) and not s.overlap and s.threads == 2
        assert len(layer.schedule(100, 32, 1e5, 1e7, True).loop_rows) == 1  # too little work
        assert len(layer.schedule(100, 32, 1e7, 1e7, False).loop_rows) == 1  # BLAS per step: not split
        s = layer.schedule(1000, 4, 1e7, 1e7, True)  # too few rows: the GEMMs beside the loop
        assert s.loop_rows == ((0, 4),) and s.overlap
        assert not layer.schedule(10, 4, 1e7, 1e7, True).overlap  # one block: nothing to overlap
        s = layer.schedule(1000, 4, 1e7, 1e5, True)  # GEMMs too small to hand over, or to cut
        assert not s.overlap and s.blocks.tolist() == [[0, 1000]]
        inner = parallel.run([lambda: layer.schedule(100, 32, 1e7, 1e7, True)] * 2)
        assert all(s.loop_rows == ((0, 32),) and s.threads == 1 for s in inner)
    with parallel.limited_threads(1):
        s = layer.schedule(100, 32, 1e7, 1e7, True)
        assert s.loop_rows == ((0, 32),) and not s.overlap


@njit(nogil=True)
def _produce(counter, out, n):
    for i in range(n):
        out[i] = i * i
        sync.publish(counter, i + 1)


@njit(nogil=True)
def _consume(counter, src, dst, n):
    for i in range(n):
        sync.wait_for(counter, i + 1)
        dst[i] = src[i]


def test_a_waiting_thread_sees_what_was_published():
    n = 2000
    counter = np.zeros(1, np.int64)
    src, dst = np.zeros(n), np.full(n, -1.0)
    t = threading.Thread(target=_consume, args=(counter, src, dst, n))
    t.start()
    _produce(counter, src, n)
    t.join(timeout=60)
    assert not t.is_alive()
    np.testing.assert_array_equal(dst, np.arange(n) ** 2.0)

"""What the Numba kernels of the RNN, LSTM and GRU share: time blocks, the GEMMs outside
the time loop, and how one layer's work goes to numrnn's threads (``numrnn/parallel.py``).

A layer's forward is the input projection (one GEMM over all T*N rows), then the time
loop; its backward is the time loop, then the weight and input gradients (GEMMs and sums
over all T*N rows). Here the rows are cut into **time blocks** of about
``config.NUMBA_BLOCK_ROWS`` rows (:func:`time_blocks`, a function of T and N only), and
every GEMM outside the loop is done block by block:

    forward      out[t0:t1] = x[t0:t1] @ w_ih.T              each block on its own
    backward     dx[t0:t1]  = da[t0:t1] @ w_ih                each block on its own
                 dw_ih      = sum over blocks of da[t0:t1].T @ x[t0:t1]     in a fixed
                 dw_hh      = sum over blocks of da[t0:t1].T @ h_prev[t0:t1]  order: the
                 db         = sum over blocks of the rows of da[t0:t1]      last block first

How the work is spread (:func:`schedule`, with n = ``parallel.threads()``):

* **The time loop split by batch rows.** Rows of a batch never interact in the
  recurrence, so with n >= 2 threads and at least ``config.NUMBA_SPLIT_MIN_ROWS`` rows
  each, every thread runs the whole time loop on its own rows; no thread waits for
  another until the loop is over. Then the GEMMs above run on all threads: whole sums
  (a weight's gradient, all blocks in order) and single blocks (the input projection,
  dx) go to the threads with the least work so far.
* **The weight gradients beside the loop.** When the loop is not split (too few rows,
  or BLAS asked for the per-step product), a second thread runs the GEMMs of each block
  as soon as the backward loop has finished it (``numba_sync.py``: the loop publishes a
  counter, the GEMM thread waits for it).

Nothing here depends on the thread count: the blocks depend on T and N only, each block's
GEMM is one BLAS call (OpenBLAS gives the same bits for the same call on any number of
threads), each sum is taken in the same order, and each row of the loop is computed by
the same code whichever thread runs it. So float64 results are bitwise the same for one
thread and for two (tests/kernels/test_numba_threads_invariance.py).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from numrnn import config, parallel
from numrnn.kernels.numba_gemm import TILE_ROWS
from numrnn.kernels.numba_sync import wait_for


def time_blocks(T: int, N: int) -> np.ndarray:
    """The time blocks: (nb, 2) int64 rows ``[t0, t1)``, ascending, about
    ``config.NUMBA_BLOCK_ROWS`` rows (steps x N) each."""
    steps = max(1, min(T, -(-config.NUMBA_BLOCK_ROWS // N)))
    starts = np.arange(0, T, steps, dtype=np.int64)
    return np.stack([starts, np.minimum(starts + steps, T)], axis=1)


def row_ranges(N: int, parts: int) -> tuple:
    """``parts`` contiguous ranges ``(n0, n1)`` covering the N rows, each a whole number of
    register tiles (4 rows) except the last, which also takes the rows left over."""
    tiles = N // TILE_ROWS
    base, extra = divmod(tiles, parts)
    out, n0 = [], 0
    for p in range(parts):
        n1 = N if p == parts - 1 else n0 + (base + (p < extra)) * TILE_ROWS
        out.append((n0, n1))
        n0 = n1
    return tuple(out)


class Schedule(NamedTuple):
    """How one layer's forward and backward use the threads."""

    blocks: np.ndarray  # (nb, 2) the time blocks
    loop_rows: tuple  # ((n0, n1), ...): one range per thread running the time loop
    threads: int  # threads for the GEMMs outside the loop
    overlap: bool  # backward: the GEMMs of finished blocks on a second thread during the loop


def schedule(T: int, N: int, loop_flops: float, use_tiles: bool) -> Schedule:
    """The :class:`Schedule` of a layer: T steps, N rows, ``loop_flops`` the multiply-adds x 2
    of its time loop, ``use_tiles`` whether the per-step product is the register tile."""
    n = 1 if parallel.inside_task() else parallel.threads()
    blocks = time_blocks(T, N)
    parts = 1
    if n >= 2 and use_tiles and loop_flops >= config.NUMBA_SPLIT_MIN_FLOPS:
        parts = max(1, min(n, N // config.NUMBA_SPLIT_MIN_ROWS))
    overlap = n >= 2 and parts == 1 and len(blocks) >= 2
    return Schedule(blocks, row_ranges(N, parts), n, overlap)


def finished(blocks: np.ndarray) -> np.ndarray:
    """A progress counter that says every block is done (for GEMMs run after the loop)."""
    return np.full(1, len(blocks), dtype=np.int64)


def not_started() -> np.ndarray:
    """A progress counter at zero, for a backward loop to publish into."""
    return np.zeros(1, dtype=np.int64)


# -- kernel bodies (plain Python; compiled below) ----------------------------------------
def _map_blocks(a, w, out, blocks, b0, b1, progress):
    """``out[t0:t1] = a[t0:t1] @ w`` for blocks b0 <= b < b1; a (T, N, X), w (X, Y),
    out (T, N, Y). Block b waits until ``progress`` counts ``nb - b`` finished blocks
    (the backward loop finishes the last block first)."""
    N, X = a.shape[1], a.shape[2]
    Y = out.shape[2]
    nb = blocks.shape[0]
    for b in range(b0, b1):
        wait_for(progress, nb - b)
        t0, t1 = blocks[b, 0], blocks[b, 1]
        rows = (t1 - t0) * N
        np.dot(a[t0:t1].reshape(rows, X), w, out[t0:t1].reshape(rows, Y))


def _reduce_block(a, b, out, tmp, blocks, bi, first, progress):
    """``out (+)= a[t0:t1].T @ b[t0:t1]`` for block bi (``=`` when ``first``); a (T, N, X),
    b (T' >= T, N, Y), out and tmp (X, Y). Waits for block bi to be finished."""
    N, X = a.shape[1], a.shape[2]
    Y = b.shape[2]
    wait_for(progress, blocks.shape[0] - bi)
    t0, t1 = blocks[bi, 0], blocks[bi, 1]
    rows = (t1 - t0) * N
    if first:
        np.dot(a[t0:t1].reshape(rows, X).T, b[t0:t1].reshape(rows, Y), out)
    else:
        np.dot(a[t0:t1].reshape(rows, X).T, b[t0:t1].reshape(rows, Y), tmp)
        o, s = out.reshape(-1), tmp.reshape(-1)
        for i in range(o.size):
            o[i] += s[i]


def _reduce_blocks(a, b, out, tmp, blocks, progress):
    """``out = sum over blocks of a[t0:t1].T @ b[t0:t1]``, the last block first."""
    nb = blocks.shape[0]
    for i in range(nb):
        _reduce_block(a, b, out, tmp, blocks, nb - 1 - i, i == 0, progress)


def _sum_block(a, out64, blocks, bi, progress):
    """``out64 += the rows of a[t0:t1]`` summed in float64; a (T, N, X), out64 (X,)."""
    wait_for(progress, blocks.shape[0] - bi)
    for t in range(blocks[bi, 0], blocks[bi, 1]):
        at = a[t]
        for n in range(at.shape[0]):
            row = at[n]
            for k in range(row.size):
                out64[k] += row[k]


def _sum_blocks(a, out64, blocks, progress):
    """``out64 = the sum of every row of a`` in float64, the last block first (out64 zeros)."""
    nb = blocks.shape[0]
    for i in range(nb):
        _sum_block(a, out64, blocks, nb - 1 - i, progress)


_reduce_block = njit(**config.NUMBA_JIT_OPTIONS)(_reduce_block)  # called by the bodies below
_sum_block = njit(**config.NUMBA_JIT_OPTIONS)(_sum_block)
_map_blocks_jit = njit(**config.NUMBA_JIT_OPTIONS)(_map_blocks)
_reduce_blocks_jit = njit(**config.NUMBA_JIT_OPTIONS)(_reduce_blocks)
_sum_blocks_jit = njit(**config.NUMBA_JIT_OPTIONS)(_sum_blocks)
_reduce_block_jit = _reduce_block
_sum_block_jit = _sum_block


# -- the GEMMs outside the loop, spread over the threads ----------------------------------
def _spans(n_items: int, parts: int) -> list:
    """``parts`` contiguous (start, stop) ranges of about equal length covering n_items."""
    edges = np.linspace(0, n_items, parts + 1).round().astype(int)
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:]) if b > a]


def project_input(x, w_t, out, sched: Schedule) -> None:
    """``out[t] = x[t] @ w_t`` for every step, one GEMM per time block, blocks over the threads.

    x (T, N, X), w_t (X, Y) (``w_ih.T``, a view), out (T, N, Y) C-contiguous.
    """
    blocks, done = sched.blocks, finished(sched.blocks)
    parallel.run([lambda b0=b0, b1=b1: _map_blocks_jit(x, w_t, out, blocks, b0, b1, done)
                  for b0, b1 in _spans(len(blocks), sched.threads)])


class Gradients(NamedTuple):
    """The GEMMs and sums a backward runs outside its loop (each an (a, ...) tuple)."""

    maps: list  # (a, w, out): out[t] = a[t] @ w           (dx)
    reductions: list  # (a, b, out): out = sum_t a[t].T @ b[t]   (dw_ih, dw_hh, dw_hr)
    sums: list  # (a, out64): out64 = sum of every row of a    (db, float64)


def _cost_map(a, w) -> float:
    return float(a.shape[1]) * a.shape[2] * w.shape[1]  # per step


def _cost_reduction(a, b) -> float:
    return float(a.shape[0]) * a.shape[1] * a.shape[2] * b.shape[2]


def _gradient_tasks(g: Gradients, blocks, progress, parts: int) -> list:
    """The work of ``g`` split into ``parts`` tasks: whole sums to the least-loaded task,
    then map blocks one by one to the least-loaded task."""
    load = [0.0] * parts
    work = [[] for _ in range(parts)]
    whole = [(_cost_reduction(a, b), "reduce", (a, b, out)) for a, b, out in g.reductions]
    whole += [(0.02 * _cost_reduction(a, a[:, :, :1]), "sum", (a, out64)) for a, out64 in g.sums]
    for cost, kind, args in sorted(whole, key=lambda c: -c[0]):
        p = load.index(min(load))
        load[p] += cost
        work[p].append((kind, args))
    for a, w, out in g.maps:
        step_cost = _cost_map(a, w)
        for b in range(len(blocks)):
            p = load.index(min(load))
            load[p] += step_cost * (blocks[b, 1] - blocks[b, 0])
            work[p].append(("map", (a, w, out, b)))

    def task(items):
        for kind, args in items:
            if kind == "reduce":
                a, b, out = args
                _reduce_blocks_jit(a, b, out, np.empty_like(out), blocks, progress)
            elif kind == "sum":
                _sum_blocks_jit(args[0], args[1], blocks, progress)
            else:
                a, w, out, b = args
                _map_blocks_jit(a, w, out, blocks, b, b + 1, progress)

    return [lambda items=items: task(items) for items in work if items]


def _gradients_by_block(g: Gradients, blocks, progress) -> None:
    """All of ``g``, block by block as the backward loop finishes them (the last first)."""
    nb = len(blocks)
    tmps = [np.empty_like(out) for _, _, out in g.reductions]
    for i in range(nb):
        bi = nb - 1 - i
        for (a, b, out), tmp in zip(g.reductions, tmps):
            _reduce_block_jit(a, b, out, tmp, blocks, bi, i == 0, progress)
        for a, out64 in g.sums:
            _sum_block_jit(a, out64, blocks, bi, progress)
        for a, w, out in g.maps:
            _map_blocks_jit(a, w, out, blocks, bi, bi + 1, progress)


def run_backward(sched: Schedule, loop, g: Gradients) -> None:
    """Run a backward: ``loop(n0, n1, progress)`` (the time loop over rows n0..n1, which
    publishes into ``progress`` each block it finishes), then the gradients ``g``.

    Split loop: every thread runs ``loop`` on its rows, then ``g`` runs on every thread.
    Overlap: ``loop`` on all rows in this thread, ``g`` block by block on a second.
    Otherwise both in this thread, one after the other.
    """
    blocks = sched.blocks
    if len(sched.loop_rows) > 1:
        parallel.run([lambda n0=n0, n1=n1: loop(n0, n1, not_started()) for n0, n1 in sched.loop_rows])
        done = finished(blocks)
        parallel.run(_gradient_tasks(g, blocks, done, sched.threads))
        return
    N = sched.loop_rows[0][1]
    if sched.overlap:
        progress = not_started()

        def guarded_loop():
            try:
                loop(0, N, progress)
            finally:  # should the loop fail, the GEMM thread must not wait for it forever
                progress[0] = len(blocks)

        parallel.run([guarded_loop, lambda: _gradients_by_block(g, blocks, progress)])
        return
    loop(0, N, not_started())
    for t in _gradient_tasks(g, blocks, finished(blocks), 1):
        t()


def run_loop(sched: Schedule, loop) -> None:
    """Run a forward time loop ``loop(n0, n1)`` over every range of ``sched.loop_rows``."""
    if len(sched.loop_rows) == 1:
        n0, n1 = sched.loop_rows[0]
        loop(n0, n1)
        return
    parallel.run([lambda n0=n0, n1=n1: loop(n0, n1) for n0, n1 in sched.loop_rows])

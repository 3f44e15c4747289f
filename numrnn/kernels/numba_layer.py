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

import functools
from typing import NamedTuple

import numpy as np
from numba import njit

from numrnn import config, parallel
from numrnn.kernels.numba_gemm import TILE_ROWS
from numrnn.kernels.numba_sync import wait_for
from numrnn.kernels.workspace import scratch


def time_blocks(T: int, N: int) -> np.ndarray:
    """The time blocks: (nb, 2) int64 rows ``[t0, t1)``, ascending, of about
    ``config.NUMBA_BLOCK_ROWS`` rows (steps x N) each, nb a multiple of 4 when there are
    several (the threads then get equal shares). (Cached: do not write into it.)"""
    return _time_blocks(T, N, config.NUMBA_BLOCK_ROWS)


@functools.lru_cache(maxsize=64)
def _time_blocks(T: int, N: int, block_rows: int) -> np.ndarray:
    nb = -(-T * N // block_rows)  # blocks of about block_rows rows
    if nb > 1:  # a multiple of 4 (when T allows), so that 2 or 4 threads get equal shares
        nb = min(T, -(-nb // 4) * 4)
    steps = -(-T // max(1, nb))
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


def schedule(T: int, N: int, loop_flops: float, gemm_flops: float, use_tiles: bool) -> Schedule:
    """The :class:`Schedule` of a layer: T steps, N rows; ``loop_flops`` and ``gemm_flops``
    the multiply-adds x 2 of its time loop and of the GEMMs outside it (the backward's);
    ``use_tiles`` whether the per-step product is the register tile.

    Work below ``config.NUMBA_SPLIT_MIN_FLOPS`` (the loop), ``NUMBA_GEMM_SPLIT_MIN_FLOPS``
    (the GEMMs) or ``NUMBA_OVERLAP_MIN_FLOPS`` (the gradients beside the loop) stays on
    the calling thread: handing it to another thread would cost more than it saves. GEMMs
    below theirs are not cut into time blocks at all: one block, the whole sequence. (Like
    the blocks, that depends on the sizes only, never on the thread count.)

    The kernels run inside ``parallel.blas_limit()``.
    """
    n = 1 if parallel.inside_task() else parallel.threads()
    # small GEMMs stay whole (one BLAS call each), whatever the thread count
    blocks = time_blocks(T, N) if gemm_flops >= config.NUMBA_GEMM_SPLIT_MIN_FLOPS else _whole(T)
    parts = 1
    if n >= 2 and use_tiles and loop_flops >= config.NUMBA_SPLIT_MIN_FLOPS:
        parts = max(1, min(n, N // config.NUMBA_SPLIT_MIN_ROWS))
    gemm_threads = n if gemm_flops >= config.NUMBA_GEMM_SPLIT_MIN_FLOPS else 1
    overlap = (gemm_threads >= 2 and parts == 1 and len(blocks) >= 2
               and gemm_flops >= config.NUMBA_OVERLAP_MIN_FLOPS)
    return Schedule(blocks, row_ranges(N, parts), gemm_threads, overlap)


def serial(sched: Schedule) -> bool:
    """Whether ``sched`` runs everything on the calling thread (then a kernel may do its
    whole forward or backward in one compiled call)."""
    return sched.threads == 1 and len(sched.loop_rows) == 1 and not sched.overlap


@functools.lru_cache(maxsize=64)
def _whole(T: int) -> np.ndarray:
    """One time block: the whole sequence. (Cached: do not write into it.)"""
    return np.array([[0, T]], dtype=np.int64)


def finished(blocks: np.ndarray) -> np.ndarray:
    """A progress counter that says every block is done (for GEMMs run after the loop)."""
    return np.full(1, len(blocks), dtype=np.int64)


def not_started() -> np.ndarray:
    """A progress counter at zero, for a backward loop to publish into."""
    return np.zeros(1, dtype=np.int64)


# -- kernel bodies (plain Python; compiled below) ----------------------------------------
def _map_blocks(a, w, out, blocks, b0, b1):
    """``out[t0:t1] = a[t0:t1] @ w`` for blocks b0 <= b < b1; a (T, N, X), w (X, Y),
    out (T, N, Y)."""
    N, X = a.shape[1], a.shape[2]
    Y = out.shape[2]
    for b in range(b0, b1):
        t0, t1 = blocks[b, 0], blocks[b, 1]
        rows = (t1 - t0) * N
        np.dot(a[t0:t1].reshape(rows, X), w, out[t0:t1].reshape(rows, Y))


def _gradients(red_a, red_b, red_out, red_tmp, red_mine, sum_a, sum_out, sum_mine,
               map_a, map_w, map_out, map_mine, blocks, progress):
    """The backward's work outside the time loop, block by block, the last block first.

    For each block [t0, t1) (after waiting until ``progress`` says the loop has finished
    it), the items this thread owns:

        reduction i (red_mine[i]):  red_out[i] (+)= red_a[i][t0:t1].T @ red_b[i][t0:t1]
        sum j (sum_mine[j]):        sum_out[j] += every row of sum_a[j][t0:t1] (float64)
        the map (map_mine[b]):      map_out[t0:t1] = map_a[t0:t1] @ map_w

    A reduction's first block writes ``red_out[i]``, the others go through ``red_tmp[i]``
    and are added: each weight gradient is the same sum, in the same order, whichever
    thread owns it. red_a, sum_a, map_a (T, N, X); red_b (T' >= T, N, Y); red_out,
    red_tmp (X, Y); sum_out (X,) float64; map_w (X, Y); map_out (T, N, Y).
    """
    nb = blocks.shape[0]
    N = map_a.shape[1]
    for i in range(nb):
        b = nb - 1 - i
        wait_for(progress, i + 1)
        t0, t1 = blocks[b, 0], blocks[b, 1]
        rows = (t1 - t0) * N
        for r in range(len(red_a)):
            if not red_mine[r]:
                continue
            a, bb, out, tmp = red_a[r], red_b[r], red_out[r], red_tmp[r]
            A = a[t0:t1].reshape(rows, a.shape[2]).T
            B = bb[t0:t1].reshape(rows, bb.shape[2])
            if i == 0:
                np.dot(A, B, out)
            else:
                np.dot(A, B, tmp)
                o, s = out.reshape(-1), tmp.reshape(-1)
                for k in range(o.size):
                    o[k] += s[k]
        for j in range(len(sum_a)):
            if not sum_mine[j]:
                continue
            a, out64 = sum_a[j], sum_out[j]
            for t in range(t0, t1):
                for n in range(N):
                    row = a[t, n]
                    for k in range(row.size):
                        out64[k] += row[k]
        if map_mine[b]:
            X, Y = map_a.shape[2], map_out.shape[2]
            np.dot(map_a[t0:t1].reshape(rows, X), map_w, map_out[t0:t1].reshape(rows, Y))


map_blocks = njit(**config.NUMBA_JIT_OPTIONS)(_map_blocks)  # also called by the kernels' one-call paths
_gradients_jit = njit(**config.NUMBA_JIT_OPTIONS)(_gradients)


# -- the GEMMs outside the loop, spread over the threads ----------------------------------
def _spans(n_items: int, parts: int) -> list:
    """At most ``parts`` contiguous (start, stop) ranges of about equal length covering n_items."""
    parts = max(1, min(parts, n_items))
    edges = [round(i * n_items / parts) for i in range(parts + 1)]
    return list(zip(edges[:-1], edges[1:]))


def project_input(x, w_t, out, sched: Schedule) -> None:
    """``out[t] = x[t] @ w_t`` for every step, one GEMM per time block, the blocks spread
    over ``sched.threads`` (a forward's schedule: its ``gemm_flops`` are this projection's).

    x (T, N, X), w_t (X, Y) (``w_ih.T``, a view), out (T, N, Y) C-contiguous.
    """
    blocks = sched.blocks
    spans = _spans(len(blocks), sched.threads)
    if len(spans) == 1:
        map_blocks(x, w_t, out, blocks, 0, len(blocks))
        return
    parallel.run([lambda b0=b0, b1=b1: map_blocks(x, w_t, out, blocks, b0, b1) for b0, b1 in spans])


class Gradients(NamedTuple):
    """The backward's GEMMs and sums outside its loop (see :func:`_gradients`)."""

    reductions: list  # (a, b, out): out = sum over t of a[t].T @ b[t]   (dw_ih, dw_hh, dw_hr)
    sums: list  # (a, out64): out64 = sum of every row of a, float64    (db_ih, db_hh)
    map: tuple  # (a, w, out): out[t] = a[t] @ w                          (dx)


@functools.lru_cache(maxsize=32)
def _everything(n: int) -> np.ndarray:
    """An ownership mask that owns all n items (shared: never written)."""
    return np.ones(n, dtype=np.bool_)


def _gradient_tasks(g: Gradients, blocks, progress, parts: int) -> list:
    """The work of ``g`` as ``parts`` tasks: each whole reduction and sum to the task with
    the least work so far, then the map's blocks one by one likewise."""
    red_a = tuple(r[0] for r in g.reductions)
    red_b = tuple(r[1] for r in g.reductions)
    red_out = tuple(r[2] for r in g.reductions)
    # a second block goes through a scratch copy (kernels/workspace.py: the tasks are done
    # with it when run() returns); with one block none is needed
    red_tmp = tuple(scratch(f"layer_red_tmp{i}", r[2].shape, r[2].dtype) if len(blocks) > 1 else r[2]
                    for i, r in enumerate(g.reductions))
    sums = g.sums or [(g.map[0], np.zeros(g.map[0].shape[2]))]  # a stand-in nobody owns
    sum_a = tuple(s[0] for s in sums)
    sum_out = tuple(s[1] for s in sums)
    map_a, map_w, map_out = g.map
    if parts == 1:
        sum_mine = _everything(len(sum_a)) if g.sums else np.zeros(1, dtype=np.bool_)
        return [lambda: _gradients_jit(red_a, red_b, red_out, red_tmp, _everything(len(red_a)), sum_a,
                                       sum_out, sum_mine, map_a, map_w, map_out, _everything(len(blocks)),
                                       blocks, progress)]
    load = [0.0] * parts
    red_mine = np.zeros((parts, len(red_a)), dtype=np.bool_)
    sum_mine = np.zeros((parts, len(sum_a)), dtype=np.bool_)
    map_mine = np.zeros((parts, len(blocks)), dtype=np.bool_)
    T, N = map_a.shape[:2]
    items = [(float(T) * N * a.shape[2] * b.shape[2], red_mine, i)
             for i, (a, b, _) in enumerate(g.reductions)]
    items += [(0.05 * T * N * a.shape[2], sum_mine, j) for j, (a, _) in enumerate(g.sums)]
    for cost, mine, i in sorted(items, key=lambda c: -c[0]):
        p = load.index(min(load))
        load[p] += cost
        mine[p, i] = True
    per_step = float(N) * map_a.shape[2] * map_out.shape[2]
    for b in range(len(blocks) - 1, -1, -1):
        p = load.index(min(load))
        load[p] += per_step * (blocks[b, 1] - blocks[b, 0])
        map_mine[p, b] = True
    return [lambda p=p: _gradients_jit(red_a, red_b, red_out, red_tmp, red_mine[p], sum_a, sum_out,
                                       sum_mine[p], map_a, map_w, map_out, map_mine[p], blocks, progress)
            for p in range(parts)]


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
        parallel.run(_gradient_tasks(g, blocks, finished(blocks), sched.threads))
        return
    N = sched.loop_rows[0][1]
    if sched.overlap:
        progress = not_started()

        def guarded_loop():
            try:
                loop(0, N, progress)
            finally:  # should the loop fail, the GEMM thread must not wait for it forever
                progress[0] = len(blocks)

        (gradients,) = _gradient_tasks(g, blocks, progress, 1)
        parallel.run([guarded_loop, gradients])
        return
    loop(0, N, not_started())
    (gradients,) = _gradient_tasks(g, blocks, finished(blocks), 1)
    gradients()


def run_loop(sched: Schedule, loop) -> None:
    """Run a forward time loop ``loop(n0, n1)`` over every range of ``sched.loop_rows``."""
    if len(sched.loop_rows) == 1:
        n0, n1 = sched.loop_rows[0]
        loop(n0, n1)
        return
    parallel.run([lambda n0=n0, n1=n1: loop(n0, n1) for n0, n1 in sched.loop_rows])

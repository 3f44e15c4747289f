"""The recurrent product of one time step, ``out = a @ B``, as register tiles.

Every step of an RNN, LSTM or GRU multiplies a small matrix by a weight that does not
change during the sequence: ``h_{t-1} @ w_hh.T`` forward, ``da_t @ w_hh`` backward
(N rows, K = P or G*H, M = G*H or P columns). At the sizes where a step is short
(N = 16..64, H = 64..256) a BLAS call spends more time getting ready than multiplying;
measured on the 2-core AMD EPYC (one thread, float32), OpenBLAS's ``np.dot`` ran
(16, 64) @ (64, 256) at 23-30 GFLOP/s and the tile below at 62 (docs/performance.md).

Two things make it fast:

* **The weight is packed once per call** (:func:`pack_panels`), into *panels* of W
  columns (W = two vectors: 16 float32 or 8 float64) stored one after the other, each
  (K, W) row-major. The tile reads its panel front to back, one cache line per k.
  Columns are padded with zeros to a multiple of W, per *group* (a gate): the columns of
  gate g start at panel ``g * U``, so a gate's block of the output starts on a panel.
* **The output is computed in register tiles** of 4 rows x W columns: eight vector
  accumulators (:mod:`numba_simd`) that stay in registers while k runs over the whole K,
  each k loading two vectors of the panel and broadcasting four values of ``a``. Rows
  left over (N mod 4) take a tile of one row by four panels (eight accumulators again),
  then by two panels and by one for the panels left over.

Every element of ``out`` is computed by fused multiply-adds in an order fixed by its row's
tile: one chain k = 0, 1, ..., K-1 in the 4-row tiles and the one-row tiles over four
panels; two or four interleaved chains, added at the end, in the one-row tiles over two
panels or one (a single row would otherwise wait on the multiply-add's latency). Rows in
whole 4-row tiles and the rows left over are the same whichever thread computes them,
as long as each thread's rows start at a multiple of 4 (``numba_layer.row_ranges``): so
the result does not depend on the thread count (tests/kernels/test_numba_gemm.py checks it
bitwise). It differs from BLAS's in the last bits, as BLAS's own results differ between
its kernels.

Shapes: a (N, K) C-contiguous; packed weight ``wp`` (Pn, K, W); ``out`` (N, Pn * W)
C-contiguous, padding columns included.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from numrnn import config
from numrnn.errors import UsageValueError
from numrnn.kernels.numba_simd import lanes, vadd, vfma, vload, vload_splat, vstore, vzero_like

#: Rows of the main register tile.
TILE_ROWS = 4


def panel_width(dtype) -> int:
    """W: columns of one panel, two vectors (16 for float32, 8 for float64)."""
    return 2 * lanes(dtype)


def panels_per_group(columns: int, dtype) -> int:
    """U: panels one group of ``columns`` columns needs (the last one zero-padded)."""
    W = panel_width(dtype)
    return -(-columns // W)


def pack_panels(b: np.ndarray, groups: int = 1) -> np.ndarray:
    """``b`` (K, M) as panels (groups * U, K, W), each group of M / groups columns padded.

    Parameters
    ----------
    b : (K, M) float32 or float64, any strides (``w_hh.T`` is a view).
    groups : the columns split into this many equal groups (the gates), each padded
        with zero columns to U * W, U = :func:`panels_per_group`.

    Returns
    -------
    wp : (groups * U, K, W) C-contiguous: ``wp[g * U + u, k, w] = b[k, g * Mg + u * W + w]``
        (Mg = M / groups), zero where ``u * W + w >= Mg``.
    """
    return packed(b, groups)


def operands(w: np.ndarray, groups: int, use_tiles: bool) -> tuple:
    """The two forms of a weight ``w`` (K, M) a kernel's loop may read, and the width of
    its product's scratch: ``(wp, w_c, width)``.

    With ``use_tiles``: ``wp`` = :func:`pack_panels` ``(w, groups)``, ``w_c`` an empty
    (0, 0) stand-in, width = Pn * W (padding columns included). Without (BLAS):
    ``wp`` an empty (0, K, W) stand-in, ``w_c`` = ``w`` C-contiguous, width = M. The
    stand-ins have the types the compiled loop was compiled for, so both paths run the
    same compiled function. Made per call: weights may change between calls.
    """
    dtype, (K, M) = w.dtype, w.shape
    if use_tiles:
        wp = pack_panels(w, groups)
        return wp, np.zeros((0, 0), dtype=dtype), wp.shape[0] * wp.shape[2]
    return np.zeros((0, K, panel_width(dtype)), dtype=dtype), np.ascontiguousarray(w), M


# -- kernel bodies (plain Python; compiled below) ----------------------------------------
def _pack(b, groups, wp):
    """``wp[g * U + u, k, w] = b[k, g * Mg + u * W + w]``, zero past a group's Mg columns."""
    K, M = b.shape
    Mg = M // groups
    W = wp.shape[2]
    U = wp.shape[0] // groups
    for g in range(groups):
        for u in range(U):
            panel = wp[g * U + u]
            for k in range(K):
                for w in range(W):
                    j = u * W + w
                    panel[k, w] = b[k, g * Mg + j] if j < Mg else 0


# Each tile runs k over [k0, k1) and either starts its accumulators at zero (``keep``
# False) or loads them from ``out`` and goes on (``keep`` True), so a long K done in
# pieces is the same chain of multiply-adds as K done at once.
def _tile_4x1(af, lda, ai, k0, k1, wf, wi, of, oi, ldo, keep):
    """Rows of ``a`` starting at flat offset ai (row stride lda) .. +3, times one panel:
    a 4 x W block of ``out`` at flat offset oi (row stride ldo).

    af, wf, of are the flat a, packed weight and out; wi is the offset of the panel's row
    k0 in wf.
    """
    L = lanes(af.dtype)
    if keep:
        c00, c01 = vload(of, oi), vload(of, oi + L)
        c10, c11 = vload(of, oi + ldo), vload(of, oi + ldo + L)
        c20, c21 = vload(of, oi + 2 * ldo), vload(of, oi + 2 * ldo + L)
        c30, c31 = vload(of, oi + 3 * ldo), vload(of, oi + 3 * ldo + L)
    else:
        c00 = vzero_like(af)
        c01, c10, c11, c20, c21, c30, c31 = c00, c00, c00, c00, c00, c00, c00
    for k in range(k0, k1):
        b0 = vload(wf, wi)
        b1 = vload(wf, wi + L)
        wi += 2 * L
        x = vload_splat(af, ai + k)
        c00 = vfma(x, b0, c00)
        c01 = vfma(x, b1, c01)
        x = vload_splat(af, ai + lda + k)
        c10 = vfma(x, b0, c10)
        c11 = vfma(x, b1, c11)
        x = vload_splat(af, ai + 2 * lda + k)
        c20 = vfma(x, b0, c20)
        c21 = vfma(x, b1, c21)
        x = vload_splat(af, ai + 3 * lda + k)
        c30 = vfma(x, b0, c30)
        c31 = vfma(x, b1, c31)
    vstore(of, oi, c00)
    vstore(of, oi + L, c01)
    vstore(of, oi + ldo, c10)
    vstore(of, oi + ldo + L, c11)
    vstore(of, oi + 2 * ldo, c20)
    vstore(of, oi + 2 * ldo + L, c21)
    vstore(of, oi + 3 * ldo, c30)
    vstore(of, oi + 3 * ldo + L, c31)


def _tile_1x4(af, ai, k0, k1, wf, wi, step, of, oi, keep):
    """One row of ``a`` times four consecutive panels (``step`` apart in wf): 4 W outputs."""
    L = lanes(af.dtype)
    W = 2 * L
    if keep:
        c0, c1, c2, c3 = vload(of, oi), vload(of, oi + L), vload(of, oi + W), vload(of, oi + W + L)
        c4, c5 = vload(of, oi + 2 * W), vload(of, oi + 2 * W + L)
        c6, c7 = vload(of, oi + 3 * W), vload(of, oi + 3 * W + L)
    else:
        c0 = vzero_like(af)
        c1, c2, c3, c4, c5, c6, c7 = c0, c0, c0, c0, c0, c0, c0
    for k in range(k0, k1):
        x = vload_splat(af, ai + k)
        c0 = vfma(x, vload(wf, wi), c0)
        c1 = vfma(x, vload(wf, wi + L), c1)
        c2 = vfma(x, vload(wf, wi + step), c2)
        c3 = vfma(x, vload(wf, wi + step + L), c3)
        c4 = vfma(x, vload(wf, wi + 2 * step), c4)
        c5 = vfma(x, vload(wf, wi + 2 * step + L), c5)
        c6 = vfma(x, vload(wf, wi + 3 * step), c6)
        c7 = vfma(x, vload(wf, wi + 3 * step + L), c7)
        wi += W
    vstore(of, oi, c0)
    vstore(of, oi + L, c1)
    vstore(of, oi + W, c2)
    vstore(of, oi + W + L, c3)
    vstore(of, oi + 2 * W, c4)
    vstore(of, oi + 2 * W + L, c5)
    vstore(of, oi + 3 * W, c6)
    vstore(of, oi + 3 * W + L, c7)


def _tile_1x2(af, ai, k0, k1, wf, wi, step, of, oi, keep):
    """One row of ``a`` times two consecutive panels: 2 W outputs.

    A single row is bound by the multiply-add's latency, not its throughput: two panels
    give four chains, so even and odd k go to two sets of accumulators (eight chains),
    added at the end.
    """
    L = lanes(af.dtype)
    W = 2 * L
    z = vzero_like(af)
    if keep:
        c0, c1, c2, c3 = vload(of, oi), vload(of, oi + L), vload(of, oi + W), vload(of, oi + W + L)
    else:
        c0, c1, c2, c3 = z, z, z, z
    d0, d1, d2, d3 = z, z, z, z
    k = k0
    while k + 1 < k1:
        x = vload_splat(af, ai + k)
        c0 = vfma(x, vload(wf, wi), c0)
        c1 = vfma(x, vload(wf, wi + L), c1)
        c2 = vfma(x, vload(wf, wi + step), c2)
        c3 = vfma(x, vload(wf, wi + step + L), c3)
        x = vload_splat(af, ai + k + 1)
        d0 = vfma(x, vload(wf, wi + W), d0)
        d1 = vfma(x, vload(wf, wi + W + L), d1)
        d2 = vfma(x, vload(wf, wi + step + W), d2)
        d3 = vfma(x, vload(wf, wi + step + W + L), d3)
        wi += 2 * W
        k += 2
    if k < k1:
        x = vload_splat(af, ai + k)
        c0 = vfma(x, vload(wf, wi), c0)
        c1 = vfma(x, vload(wf, wi + L), c1)
        c2 = vfma(x, vload(wf, wi + step), c2)
        c3 = vfma(x, vload(wf, wi + step + L), c3)
    vstore(of, oi, vadd(c0, d0))
    vstore(of, oi + L, vadd(c1, d1))
    vstore(of, oi + W, vadd(c2, d2))
    vstore(of, oi + W + L, vadd(c3, d3))


def _tile_1x1(af, ai, k0, k1, wf, wi, of, oi, keep):
    """One row of ``a`` times one panel: W outputs; k modulo 4 to four sets of
    accumulators (eight chains, for the reason of :func:`_tile_1x2`), added at the end."""
    L = lanes(af.dtype)
    W = 2 * L
    z = vzero_like(af)
    if keep:
        c0, c1 = vload(of, oi), vload(of, oi + L)
    else:
        c0, c1 = z, z
    d0, d1, e0, e1, f0, f1 = z, z, z, z, z, z
    k = k0
    while k + 3 < k1:
        x = vload_splat(af, ai + k)
        c0 = vfma(x, vload(wf, wi), c0)
        c1 = vfma(x, vload(wf, wi + L), c1)
        x = vload_splat(af, ai + k + 1)
        d0 = vfma(x, vload(wf, wi + W), d0)
        d1 = vfma(x, vload(wf, wi + W + L), d1)
        x = vload_splat(af, ai + k + 2)
        e0 = vfma(x, vload(wf, wi + 2 * W), e0)
        e1 = vfma(x, vload(wf, wi + 2 * W + L), e1)
        x = vload_splat(af, ai + k + 3)
        f0 = vfma(x, vload(wf, wi + 3 * W), f0)
        f1 = vfma(x, vload(wf, wi + 3 * W + L), f1)
        wi += 4 * W
        k += 4
    while k < k1:
        x = vload_splat(af, ai + k)
        c0 = vfma(x, vload(wf, wi), c0)
        c1 = vfma(x, vload(wf, wi + L), c1)
        wi += W
        k += 1
    vstore(of, oi, vadd(vadd(c0, d0), vadd(e0, f0)))
    vstore(of, oi + L, vadd(vadd(c1, d1), vadd(e1, f1)))


def gemm_panels(a, wp, out, n0, n1, p0, p1):
    """``out[n, p*W:(p+1)*W] = a[n] @ panel p`` for rows n0 <= n < n1, panels p0 <= p < p1.

    a (N, K) and out (N, M) C-contiguous with M >= p1 * W; wp (Pn, K, W) from
    :func:`pack_panels`. Indexes are not checked here (the compiled vector loads check
    nothing): :func:`check_gemm` does it once per call, outside the time loop.
    """
    K = a.shape[1]
    W = wp.shape[2]
    ldo = out.shape[1]
    af = a.reshape(-1)
    wf = wp.reshape(-1)
    of = out.reshape(-1)
    kb = config.NUMBA_TILE_K_BLOCK
    n4 = n0 + (n1 - n0) // 4 * 4
    for k0 in range(0, K, kb):  # a piece of K whose panel rows stay in L1
        k1 = min(K, k0 + kb)
        keep = k0 > 0
        for p in range(p0, p1):  # each panel piece is used by every 4-row block
            for n in range(n0, n4, 4):
                _tile_4x1(af, K, n * K, k0, k1, wf, (p * K + k0) * W, of, n * ldo + p * W, ldo, keep)
        for n in range(n4, n1):  # the rows left over, one at a time
            p = p0
            while p + 4 <= p1:
                _tile_1x4(af, n * K, k0, k1, wf, (p * K + k0) * W, K * W, of, n * ldo + p * W, keep)
                p += 4
            if p + 2 <= p1:
                _tile_1x2(af, n * K, k0, k1, wf, (p * K + k0) * W, K * W, of, n * ldo + p * W, keep)
                p += 2
            if p < p1:
                _tile_1x1(af, n * K, k0, k1, wf, (p * K + k0) * W, of, n * ldo + p * W, keep)
                p += 1


def packed(b, groups):
    """:func:`pack_panels` inside compiled code: ``b`` (K, M) as a new (groups * U, K, W)."""
    K, M = b.shape
    W = 2 * lanes(b.dtype)
    U = (M // groups + W - 1) // W
    wp = np.empty((groups * U, K, W), dtype=b.dtype)
    _pack(b, groups, wp)
    return wp


_pack = njit(**config.NUMBA_JIT_OPTIONS)(_pack)
packed = njit(**config.NUMBA_JIT_OPTIONS)(packed)
_tile_4x1 = njit(**config.NUMBA_JIT_OPTIONS)(_tile_4x1)  # called by the bodies below
_tile_1x4 = njit(**config.NUMBA_JIT_OPTIONS)(_tile_1x4)
_tile_1x2 = njit(**config.NUMBA_JIT_OPTIONS)(_tile_1x2)
_tile_1x1 = njit(**config.NUMBA_JIT_OPTIONS)(_tile_1x1)
gemm_panels = njit(**config.NUMBA_JIT_OPTIONS)(gemm_panels)


def check_gemm(a: np.ndarray, wp: np.ndarray, out: np.ndarray) -> None:
    """ValueError unless :func:`gemm_panels` may run on these arrays (every row, every panel).

    The kernels call it once per call, with the buffers their loop will use.
    """
    W = panel_width(a.dtype)
    ok = (a.ndim == 2 and wp.ndim == 3 and out.ndim == 2 and a.flags.c_contiguous
          and wp.flags.c_contiguous and out.flags.c_contiguous
          and a.dtype == wp.dtype == out.dtype and wp.shape[1] == a.shape[1] and wp.shape[2] == W
          and out.shape[0] == a.shape[0] and out.shape[1] >= wp.shape[0] * W)
    if not ok:
        raise UsageValueError(f"gemm_panels: need a (N, K), wp (Pn, K, {W}), out (N, >= Pn*{W}), "
                              f"C-contiguous, one dtype; got a {a.shape} {a.dtype}, "
                              f"wp {wp.shape} {wp.dtype}, out {out.shape} {out.dtype}")

"""The LSTM compiled with Numba: the reference's contract, the work reorganised.

Same names, signatures and results as ``numrnn/functional/lstm.py`` (read that first:
it is the literal equations, gate order i, f, g, o) and the same plan as the Elman
kernel in ``numba_rnn.py``; only where the work happens changes.

Forward, one call per layer and direction::

    gates = x @ w_ih.T                         GEMMs over all T*N rows, per time block
    for t in range(T):                         the only sequential part, compiled
        rec = h_{t-1} @ w_hh.T                 register tiles (numba_gemm.py) or BLAS
        i, f, o = sigmoid(gates[t] + rec + b)  in place, one pass per gate
        g = tanh(gates[t] + rec + b);  c_t = f * c_{t-1} + i * g          one pass
        m_t = o * tanh(c_t)                                                one pass
        h_t = m_t   (or m_t @ w_hr.T with proj_size: tiles or BLAS again)

Every buffer is made before the loop: ``hs`` (T+1, N, P) and ``cs`` (T+1, N, H) hold
h0, c0 and then every state (the returned h and c are the views ``hs[1:]``, ``cs[1:]``;
``hs[:-1]`` is every h_{t-1} as one matrix), ``gates`` (T, N, 4H) holds x @ w_ih.T and
is overwritten by the activated gates, ``tanh_c`` (T, N, H) keeps tanh(c_t), and ``ms``
(T, N, H) keeps m_t when there is a projection (without one, m_t is h_t). The tiles
write ``rec`` with each gate's columns padded to a whole number of panels: gate g of
row n starts at ``rec[n, g * Hg]`` (Hg = H rounded up to 16 float32 or 8 float64 columns;
Hg = H for BLAS).

Backward::

    for t in reversed(range(T)):               the only sequential part, compiled
        dh_t = dh[t] + dh_carry;   dm = dh_t (or dh_t @ w_hr)
        dc   = dc[t] + dc_carry + dm * o * (1 - tanh(c_t)**2)
        da_t = [dc*g*i(1-i), dc*c_{t-1}*f(1-f), dc*i*(1-g**2), dm*tanh(c_t)*o(1-o)]
        dc_carry = dc * f
        dh_carry = da_t @ w_hh                 tiles or one BLAS call
    dx    = da @ w_ih                          GEMMs over all T*N rows, per time block
    dw_ih = da.T @ x;   dw_hh = da.T @ hs[:-1];   dw_hr = dH.T @ ms   (dH: every dh_t)
    db    = sum of da over T*N                 float64

With two or more threads the time loop runs on each thread for its own batch rows and
the GEMMs outside it are spread over the threads (``numba_layer.py``). The elementwise
loops run over row slices indexed from 0, which LLVM vectorises (the comments above the
kernel bodies say why, with the measurements). Every BLAS call is ``np.dot`` inside the
compiled code, so it goes to SciPy's OpenBLAS, the one pool Numba uses
(``numba_threads.py``).

The bodies are plain functions compiled once at import with the options of
``numrnn/config.py``; ``NUMBA_DISABLE_JIT=1`` runs them as Python. Weights are never
cached between calls: the packed copies the loops read are made in each call.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from numrnn import config, parallel
from numrnn.kernels import numba_layer as layer
from numrnn.kernels.numba_checks import check_grad, check_layer
from numrnn.kernels.numba_gemm import check_gemm, gemm_panels, operands, packed
from numrnn.kernels.numba_layer import map_blocks
from numrnn.kernels.numba_math import gate_sigmoid, sigmoid_grad, tanh, tanh_grad
from numrnn.kernels.numba_sync import publish
from numrnn.kernels.workspace import scratch


class LSTMKernelCache(NamedTuple):
    """What :func:`lstm_backward` needs from :func:`lstm_forward`."""

    x: np.ndarray  # (T, N, D) the layer's input
    hs: np.ndarray  # (T+1, N, P) h0, then h_t after every step
    cs: np.ndarray  # (T+1, N, H) c0, then c_t after every step
    gates: np.ndarray  # (T, N, 4H) i, f, g, o after their activations
    tanh_c: np.ndarray  # (T, N, H) tanh(c_t)
    ms: np.ndarray  # (T, N, H) m_t = o * tanh(c_t) with a projection; (0, N, H) without
    w_ih: np.ndarray  # (4H, D)
    w_hh: np.ndarray  # (4H, P)
    w_hr: np.ndarray | None  # (P, H), or None without projection
    has_bias: bool
    use_loops: bool  # register-tiled per-step products (numba_gemm.py) instead of BLAS


# -- kernel bodies (plain Python; compiled below) ----------------------------------------
# A step makes five passes over its rows where the equations have seven operations
# (bias add, three gate activations, c, tanh(c), m): each pass does everything that
# touches the same elements while they are in registers. Each pass applies one
# activation and is its own small function, and each indexes row slices from 0: both
# for the reasons in numba_math's docstring (inlining an activation twice into one
# function floods the compile with NumbaIRAssumptionWarning; an index Numba cannot prove
# non-negative stops LLVM vectorising the loop). The gates' sigmoid is numba_math's
# gate_sigmoid, 1/2 + 1/2 tanh(v/2): the cost of a tanh, within two ulps of 1/2.
def _sigmoid_gate(gt, rec, bias, g, hg, n0, n1):
    """Gate g (i = 0, f = 1, o = 3) of rows n0..n1 of one step, in place.

    ``gt[n, gH + j] = sigmoid(gt[n, gH + j] + rec[n, g hg + j] + bias[gH + j])``: the input
    part x_t @ w_ih.T, the recurrent part h_{t-1} @ w_hh.T (gate g's columns start at
    ``g * hg`` in rec) and b_ih + b_hh. gt (N, 4H).
    """
    H = gt.shape[1] // 4
    b = bias[g * H:(g + 1) * H]
    for n in range(n0, n1):
        a, r = gt[n, g * H:(g + 1) * H], rec[n, g * hg:g * hg + H]
        for k in range(H):
            a[k] = gate_sigmoid(a[k] + r[k] + b[k])


def _cell_input(gt, rec, bias, c_prev, c_t, hg, n0, n1):
    """``g = tanh(pre-activation)`` in place in ``gt[:, 2H:3H]``, then ``c_t = f * c_{t-1} + i * g``.

    gt (N, 4H) with i and f already activated; rec's gate g starts at column 2 hg;
    c_prev, c_t (N, H).
    """
    H = c_t.shape[1]
    b = bias[2 * H:3 * H]
    for n in range(n0, n1):
        i, f, g, r = gt[n, :H], gt[n, H:2 * H], gt[n, 2 * H:3 * H], rec[n, 2 * hg:2 * hg + H]
        cp, cn = c_prev[n], c_t[n]
        for j in range(H):
            gj = tanh(g[j] + r[j] + b[j])
            g[j] = gj
            cn[j] = f[j] * cp[j] + i[j] * gj  # c_t = f * c_{t-1} + i * g


def _cell_output(gt, c_t, tanh_c, m, n0, n1):
    """``tanh_c = tanh(c_t)`` (kept for the backward) and ``m_t = o * tanh(c_t)`` for rows
    n0..n1; c_t, tanh_c (N, H), m (N, >= H), gt (N, 4H) with o activated."""
    H = c_t.shape[1]
    for n in range(n0, n1):
        o, cn, tc, mn = gt[n, 3 * H:], c_t[n], tanh_c[n], m[n, :H]
        for j in range(H):
            t = tanh(cn[j])
            tc[j] = t
            mn[j] = o[j] * t  # m_t = o * tanh(c_t)


def _copy_rows(src, dst, n0, n1):
    """``dst[n, :P] = src[n, :P]`` for rows n0..n1 (P = dst's width)."""
    P = dst.shape[1]
    for n in range(n0, n1):
        s, d = src[n, :P], dst[n]
        for p in range(P):
            d[p] = s[p]


def _forward_rows(gates, wp, w_hh_t, bias, wp_r, w_hr_t, has_proj, use_tiles, hs, cs, tanh_c, ms,
                  rec, proj_buf, n0, n1):
    """The time loop for batch rows n0 <= n < n1: fill hs[1:], cs[1:], gates, tanh_c (and
    ms with a projection) for those rows; hs[0], cs[0] hold h0, c0 and ``gates`` holds
    x_t @ w_ih.T on entry.

    wp, wp_r: w_hh.T (P, 4H) and w_hr.T (H, P) packed (tiles); w_hh_t, w_hr_t the same
    contiguous (BLAS). bias (4H,) = b_ih + b_hh (zeros without bias). rec (N, >= 4H)
    and proj_buf (N, >= P) are scratch.
    """
    T = gates.shape[0]
    hg = rec.shape[1] // 4  # where gate g's columns start in rec: g * hg
    for t in range(T):
        if use_tiles:
            gemm_panels(hs[t], wp, rec, n0, n1, 0, wp.shape[0])
        else:
            np.dot(hs[t, n0:n1], w_hh_t, rec[n0:n1])  # one BLAS call
        gt = gates[t]  # (N, 4H): x_t @ w_ih.T, overwritten by the gates i, f, g, o
        _sigmoid_gate(gt, rec, bias, 0, hg, n0, n1)  # i
        _sigmoid_gate(gt, rec, bias, 1, hg, n0, n1)  # f
        _sigmoid_gate(gt, rec, bias, 3, hg, n0, n1)  # o
        _cell_input(gt, rec, bias, cs[t], cs[t + 1], hg, n0, n1)  # g, c_t
        if not has_proj:
            _cell_output(gt, cs[t + 1], tanh_c[t], hs[t + 1], n0, n1)  # tanh(c_t), h_t = m_t
            continue
        _cell_output(gt, cs[t + 1], tanh_c[t], ms[t], n0, n1)  # tanh(c_t), m_t
        if use_tiles:  # h_t = m_t @ w_hr.T
            gemm_panels(ms[t], wp_r, proj_buf, n0, n1, 0, wp_r.shape[0])
            _copy_rows(proj_buf, hs[t + 1], n0, n1)
        else:
            np.dot(ms[t, n0:n1], w_hr_t, hs[t + 1, n0:n1])


def _backward_rows(dh, dc, hs, cs, gates, tanh_c, wp, w_hh, wp_r, w_hr, has_proj, use_tiles,
                   da, dhs, dm, dh_carry, dc_carry, blocks, progress, n0, n1):
    """BPTT for batch rows n0 <= n < n1: fills ``da[:, n0:n1]`` (T, N, 4H: every dL/d
    pre-activation) and, with a projection, ``dhs[:, n0:n1]`` (T, N, P: every dh_t); leaves
    dL/dh0 in ``dh_carry[n0:n1, :P]`` and dL/dc0 in ``dc_carry[n0:n1]``.

    ``dh`` (T, N, P) and ``dc`` (T, N, H) come from above only; the recurrence is added
    here. ``dh_carry`` (N, >= P) and ``dc_carry`` (N, H) must be zeros on entry; ``dm``
    (N, >= H) is scratch. wp, wp_r: w_hh (4H, P) and w_hr (P, H) packed (tiles). After
    each time block the loop publishes how many blocks it has finished into ``progress``.
    """
    T, N, P = dh.shape
    H = dc.shape[2]
    nb = blocks.shape[0]
    b = nb - 1
    for t in range(T - 1, -1, -1):
        if has_proj:  # dm = (dh[t] + dh_carry) @ w_hr
            dht = dhs[t]
            for n in range(n0, n1):
                d, g, c = dht[n], dh[t, n], dh_carry[n, :P]
                for p in range(P):
                    d[p] = g[p] + c[p]
            if use_tiles:
                gemm_panels(dht, wp_r, dm, n0, n1, 0, wp_r.shape[0])
            else:
                np.dot(dht[n0:n1], w_hr, dm[n0:n1])
        else:  # dm = dh_t = dh[t] + dh_carry
            for n in range(n0, n1):
                dmn, dhn, dhc = dm[n, :H], dh[t, n], dh_carry[n, :H]
                for j in range(H):
                    dmn[j] = dhn[j] + dhc[j]
        gt, dat, c_prev, tanh_ct = gates[t], da[t], cs[t], tanh_c[t]
        # One pass per row: every gate gradient and dc_{t-1}.
        for n in range(n0, n1):
            i, f, g, o = gt[n, :H], gt[n, H:2 * H], gt[n, 2 * H:3 * H], gt[n, 3 * H:]
            di, df, dg, do = dat[n, :H], dat[n, H:2 * H], dat[n, 2 * H:3 * H], dat[n, 3 * H:]
            dmn, tc, cp, dcn, dcc = dm[n, :H], tanh_ct[n], c_prev[n], dc[t, n], dc_carry[n]
            for j in range(H):
                dmj = dmn[j]  # dL/dm_t
                # dL/dc_t: from outside, from step t+1 (dc_carry) and through h_t
                dct = dcn[j] + dcc[j] + tanh_grad(dmj * o[j], tc[j])
                vo = sigmoid_grad(dmj * tc[j], o[j])  # gradients of the pre-activations
                vi = sigmoid_grad(dct * g[j], i[j])
                vf = sigmoid_grad(dct * cp[j], f[j])
                vg = tanh_grad(dct * i[j], g[j])
                di[j], df[j], dg[j], do[j] = vi, vf, vg, vo
                dcc[j] = dct * f[j]  # the cell's gradient highway: dc_{t-1} = dc * f
        # dh_carry = da_t @ w_hh: dL/dh_{t-1} through the recurrence
        if use_tiles:
            gemm_panels(dat, wp, dh_carry, n0, n1, 0, wp.shape[0])
        else:
            np.dot(dat[n0:n1], w_hh, dh_carry[n0:n1])
        if t == blocks[b, 0]:
            publish(progress, nb - b)
            b -= 1


_sigmoid_gate = njit(**config.NUMBA_JIT_OPTIONS)(_sigmoid_gate)  # called by the bodies below
_cell_input = njit(**config.NUMBA_JIT_OPTIONS)(_cell_input)
_cell_output = njit(**config.NUMBA_JIT_OPTIONS)(_cell_output)
_copy_rows = njit(**config.NUMBA_JIT_OPTIONS)(_copy_rows)
def _forward_serial(x, w_ih, w_hh, w_hr, has_proj, bias, hs, cs, gates, tanh_c, ms, blocks, use_tiles):
    """The whole forward in one compiled call, for a schedule that runs it all on this
    thread (the Python around separate calls costs microseconds: at N = 1 and T = 1000 a
    noticeable part of the forward): the input projection, the packing, the loop.
    ``w_hr`` (P, H) only with ``has_proj``."""
    N, H = cs.shape[1], cs.shape[2]
    dtype = hs.dtype
    map_blocks(x, w_ih.T, gates, blocks, 0, blocks.shape[0])
    e2 = np.empty((0, 0), dtype=dtype)
    if use_tiles:
        wp = packed(w_hh.T, 4)
        rec = np.empty((N, wp.shape[0] * wp.shape[2]), dtype=dtype)
        if has_proj:
            wp_r = packed(w_hr.T, 1)
        else:
            wp_r = np.empty((0, H, wp.shape[2]), dtype=dtype)
        proj_buf = np.empty((N, wp_r.shape[0] * wp_r.shape[2]), dtype=dtype)
        _forward_rows(gates, wp, e2, bias, wp_r, e2, has_proj, True, hs, cs, tanh_c, ms, rec, proj_buf, 0, N)
    else:
        e3 = np.empty((0, 0, 2), dtype=dtype)
        rec = np.empty((N, w_hh.shape[0]), dtype=dtype)
        w_hr_t = np.ascontiguousarray(w_hr.T) if has_proj else e2
        _forward_rows(gates, e3, np.ascontiguousarray(w_hh.T), bias, e3, w_hr_t, has_proj, False, hs, cs,
                      tanh_c, ms, rec, e2, 0, N)


_forward_rows = njit(**config.NUMBA_JIT_OPTIONS)(_forward_rows)  # called by _forward_serial too
_forward_serial_jit = njit(**config.NUMBA_JIT_OPTIONS)(_forward_serial)
_backward_rows_jit = njit(**config.NUMBA_JIT_OPTIONS)(_backward_rows)


# -- the contract -------------------------------------------------------------------------
_OWNER = "numba lstm kernel"


def lstm_forward(x, h0, c0, w_ih, w_hh, b_ih=None, b_hh=None, w_hr=None, use_loops=None):
    """Run the cell over a whole sequence, time-major (compiled; see the module docstring).

    Parameters
    ----------
    x : (T, N, D) inputs, float32 or float64.
    h0 : (N, P) initial hidden state;  c0 : (N, H) initial cell state.
    w_ih : (4H, D);  w_hh : (4H, P);  b_ih, b_hh : (4H,), both or neither.
    w_hr : (P, H) projection, or None (then P = H).
    use_loops : the per-step products as register tiles (True, the default when
        ``None``) or as BLAS calls (False).

    Returns
    -------
    h : (T, N, P);  c : (T, N, H): the states after every step (views into the cache's
        buffers: do not write into them before the backward).
    cache : LSTMKernelCache for :func:`lstm_backward`.
    """
    # Compiled code does not check indexes: every shape is checked here (numba_checks.py).
    a = check_layer(_OWNER, 4, x, h0, w_ih, w_hh, b_ih, b_hh, c0=c0, w_hr=w_hr, has_c=True)
    x, h0, c0, w_ih, w_hh, w_hr, H, P = a.x, a.h0, a.c0, a.w_ih, a.w_hh, a.w_hr, a.H, a.P
    dtype = x.dtype
    T, N, D = x.shape
    has_proj = w_hr is not None
    use_tiles = True if use_loops is None else bool(use_loops)
    bias = np.zeros(4 * H, dtype=dtype) if b_ih is None else a.b_ih + a.b_hh
    loop_flops = 2.0 * T * N * 4 * H * P + (2.0 * T * N * H * P if has_proj else 0)
    sched = layer.schedule(T, N, loop_flops, 2.0 * T * N * 4 * H * D, use_tiles)
    hs = np.empty((T + 1, N, P), dtype=dtype)
    cs = np.empty((T + 1, N, H), dtype=dtype)
    hs[0], cs[0] = h0, c0
    gates = np.empty((T, N, 4 * H), dtype=dtype)
    tanh_c = np.empty((T, N, H), dtype=dtype)
    ms = np.empty((T if has_proj else 0, N, H), dtype=dtype)
    if layer.serial(sched):  # everything on this thread: one compiled call
        with parallel.blas_limit():
            _forward_serial_jit(x, w_ih, w_hh, w_hr if has_proj else np.zeros((0, 0), dtype=dtype), has_proj,
                                bias, hs, cs, gates, tanh_c, ms, sched.blocks, use_tiles)
        cache = LSTMKernelCache(x, hs, cs, gates, tanh_c, ms, w_ih, w_hh, w_hr, b_ih is not None, use_tiles)
        return hs[1:], cs[1:], cache
    with parallel.blas_limit():  # BLAS on at most NUMRNN_THREADS (one while tasks run)
        layer.project_input(x, w_ih.T, gates, sched)
        # the weights' packed or contiguous copies, made per call: weights may change
        wp, w_hh_t, rec_width = operands(w_hh.T, 4, use_tiles)
        w_hr_ = w_hr.T if has_proj else np.zeros((H, 0), dtype=dtype)
        wp_r, w_hr_t, proj_width = operands(w_hr_, 1, use_tiles and has_proj)
        rec = scratch("lstm_rec", (N, rec_width), dtype)
        proj_buf = scratch("lstm_proj", (N, proj_width), dtype)
        if use_tiles:
            check_gemm(hs[0], wp, rec)
            if has_proj:
                check_gemm(cs[0], wp_r, proj_buf)

        def loop(n0, n1):
            _forward_rows(gates, wp, w_hh_t, bias, wp_r, w_hr_t, has_proj, use_tiles, hs, cs, tanh_c,
                          ms, rec, proj_buf, n0, n1)

        layer.run_loop(sched, loop)
    cache = LSTMKernelCache(x, hs, cs, gates, tanh_c, ms, w_ih, w_hh, w_hr, b_ih is not None, use_tiles)
    return hs[1:], cs[1:], cache


def lstm_backward(dh, dc, cache: LSTMKernelCache):
    """Backpropagation through time over the whole sequence (compiled).

    Parameters
    ----------
    dh : (T, N, P) dL/dh_t from above only (the caller has added dL/dh_n into dh[-1]).
    dc : (T, N, H) dL/dc_t from outside only (usually zero except dL/dc_n in dc[-1]).
    cache : LSTMKernelCache from :func:`lstm_forward`.

    Returns
    -------
    dx : (T, N, D);  dh0 : (N, P);  dc0 : (N, H);  dw_ih : (4H, D);  dw_hh : (4H, P);
    db_ih, db_hh : (4H,), or None without bias;  dw_hr : (P, H), or None without projection.
    """
    x, hs, cs, use_tiles = cache.x, cache.hs, cache.cs, cache.use_loops
    dtype = x.dtype
    dh = check_grad(_OWNER, "dh", dh, hs[1:], "(T, N, P)")
    dc = check_grad(_OWNER, "dc", dc, cs[1:], "(T, N, H)")
    T, N, D = x.shape
    P, H = hs.shape[2], cs.shape[2]
    has_proj = cache.w_hr is not None
    proj_flops = 2.0 * T * N * H * P if has_proj else 0.0
    sched = layer.schedule(T, N, 2.0 * T * N * 4 * H * P + proj_flops,
                           2.0 * T * N * 4 * H * (2 * D + P) + proj_flops, use_tiles)
    dx = np.empty_like(x)
    dw_ih = np.empty_like(cache.w_ih)
    dw_hh = np.empty_like(cache.w_hh)
    dw_hr = np.empty_like(cache.w_hr) if has_proj else None
    db64 = np.zeros(4 * H, dtype=np.float64)
    wp, w_hh_c, carry_width = operands(cache.w_hh, 1, use_tiles)
    w_hr = cache.w_hr if has_proj else np.zeros((0, H), dtype=dtype)
    wp_r, w_hr_c, dm_width = operands(w_hr, 1, use_tiles and has_proj)
    dm_width = max(dm_width, H)
    dh_carry = np.zeros((N, carry_width), dtype=dtype)
    dc_carry = np.zeros((N, H), dtype=dtype)
    da = scratch("lstm_da", (T, N, 4 * H), dtype)  # reused by the next call: workspace.py
    dhs = scratch("lstm_dhs", (T if has_proj else 0, N, P), dtype)
    dm = scratch("lstm_dm", (N, dm_width), dtype)
    if use_tiles:
        check_gemm(da[0], wp, dh_carry)
        if has_proj:
            check_gemm(dhs[0], wp_r, dm)

    def loop(n0, n1, progress):
        _backward_rows_jit(dh, dc, hs, cs, cache.gates, cache.tanh_c, wp, w_hh_c, wp_r, w_hr_c,
                           has_proj, use_tiles, da, dhs, dm, dh_carry, dc_carry, sched.blocks,
                           progress, n0, n1)

    reductions = [(da, x, dw_ih), (da, hs, dw_hh)]
    if has_proj:
        reductions.append((dhs, cache.ms, dw_hr))
    grads = layer.Gradients(reductions=reductions, sums=[(da, db64)] if cache.has_bias else [],
                            map=(da, cache.w_ih, dx))
    with parallel.blas_limit():  # BLAS on at most NUMRNN_THREADS (one while tasks run)
        layer.run_backward(sched, loop, grads)
    dh0 = np.ascontiguousarray(dh_carry[:, :P])
    db = db64.astype(dtype) if cache.has_bias else None
    return (dx, dh0, dc_carry, dw_ih, dw_hh, db, None if db is None else db.copy(), dw_hr)

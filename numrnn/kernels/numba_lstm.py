"""The LSTM compiled with Numba: the reference's contract, the work reorganised.

Same names, signatures and results as ``numrnn/functional/lstm.py`` (read that first:
it is the literal equations, gate order i, f, g, o) and the same plan as the Elman
kernel in ``numba_rnn.py``; only where the work happens changes.

Forward, one call per layer and direction::

    gates = x @ w_ih.T                         one GEMM over all T*N rows      (T*N, 4H)
    for t in range(T):                         the only sequential part, compiled
        rec = h_{t-1} @ w_hh.T                 hand-written loop (N = 1) or one BLAS call
        i, f, o = sigmoid(gates[t] + rec + b)  in place (two passes: i and f, then o)
        g = tanh(gates[t] + rec + b);  c_t = f * c_{t-1} + i * g          one pass
        m_t = o * tanh(c_t)                                                one pass
        h_t = m_t   (or m_t @ w_hr.T with proj_size: loop or BLAS again)

Every buffer is made before the loop: ``hs`` (T+1, N, P) and ``cs`` (T+1, N, H) hold
h0, c0 and then every state (the returned h and c are the views ``hs[1:]``, ``cs[1:]``;
``hs[:-1]`` is every h_{t-1} as one matrix), ``gates`` (T, N, 4H) holds x @ w_ih.T and
is overwritten by the activated gates, ``tanh_c`` (T, N, H) keeps tanh(c_t), and ``ms``
(T, N, H) keeps m_t when there is a projection (without one, m_t is h_t).

Backward::

    for t in reversed(range(T)):               the only sequential part, compiled
        dh_t = dh[t] + dh_carry;   dm = dh_t (or dh_t @ w_hr)
        dc   = dc[t] + dc_carry + dm * o * (1 - tanh(c_t)**2)
        da_t = [dc*g*i(1-i), dc*c_{t-1}*f(1-f), dc*i*(1-g**2), dm*tanh(c_t)*o(1-o)]
        dc_carry = dc * f;   db += sum of da_t over N (float64)
        dh_carry = da_t @ w_hh                 loop or one BLAS call
    dx    = da @ w_ih                          large GEMMs over all T*N rows
    dw_ih = da.T @ x;   dw_hh = da.T @ hs[:-1];   dw_hr = dH.T @ ms   (dH: every dh_t)

The elementwise loops run over row slices indexed from 0, which LLVM vectorises (the
comments above the kernel bodies say why, with the measurements). Every BLAS call is
``np.dot`` inside the compiled code, so it goes to SciPy's OpenBLAS, the one pool
Numba uses (``numba_threads.py``).

The bodies are plain functions compiled once at import with the options of
``numrnn/config.py``; ``NUMBA_DISABLE_JIT=1`` runs them as Python. Weights are never
cached between calls: the transposed copies the forward reads are made in each call.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from numrnn import config
from numrnn.kernels.numba_checks import check_grad, check_layer
from numrnn.kernels.numba_math import gate_sigmoid, sigmoid_grad, tanh, tanh_grad
from numrnn.kernels.numba_rnn import _small_matmul, use_loops_for
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
    use_loops: bool  # hand-written per-step products instead of BLAS


# -- kernel bodies (plain Python; compiled below) ----------------------------------------
# A step makes four passes over its rows where the equations have seven operations
# (bias add, three gate activations, c, tanh(c), m): each pass does everything that
# touches the same elements while they are in registers. Each pass applies one
# activation and is its own small function, and each indexes row slices from 0: both
# for the reasons in numba_math's docstring (inlining an activation twice into one
# function floods the compile with NumbaIRAssumptionWarning; an index Numba cannot prove
# non-negative stops LLVM vectorising the loop). The gates' sigmoid is numba_math's
# gate_sigmoid, 1/2 + 1/2 tanh(v/2): the cost of a tanh, within two ulps of 1/2.
def _sigmoid_gates(gt, rec, bias, lo, hi):
    """Gates i, f (columns [0, 2H)) or o ([3H, 4H)) of one step, in place.

    ``gt[n, k] = sigmoid(gt[n, k] + rec[n, k] + bias[k])`` for k in [lo, hi): the input
    part x_t @ w_ih.T, the recurrent part h_{t-1} @ w_hh.T and b_ih + b_hh. gt, rec (N, 4H).
    """
    b = bias[lo:hi]
    for n in range(gt.shape[0]):
        a, r = gt[n, lo:hi], rec[n, lo:hi]
        for k in range(a.size):
            a[k] = gate_sigmoid(a[k] + r[k] + b[k])


def _cell_input(gt, rec, bias, c_prev, c_t):
    """``g = tanh(pre-activation)`` in place in ``gt[:, 2H:3H]``, then ``c_t = f * c_{t-1} + i * g``.

    gt, rec (N, 4H) with i and f already activated; c_prev, c_t (N, H).
    """
    H = c_t.shape[1]
    b = bias[2 * H:3 * H]
    for n in range(gt.shape[0]):
        i, f, g, r = gt[n, :H], gt[n, H:2 * H], gt[n, 2 * H:3 * H], rec[n, 2 * H:3 * H]
        cp, cn = c_prev[n], c_t[n]
        for j in range(H):
            gj = tanh(g[j] + r[j] + b[j])
            g[j] = gj
            cn[j] = f[j] * cp[j] + i[j] * gj  # c_t = f * c_{t-1} + i * g


def _cell_output(gt, c_t, tanh_c, m):
    """``tanh_c = tanh(c_t)`` (kept for the backward) and ``m_t = o * tanh(c_t)``; all (N, H)
    but gt (N, 4H) with o activated."""
    H = c_t.shape[1]
    for n in range(gt.shape[0]):
        o, cn, tc, mn = gt[n, 3 * H:], c_t[n], tanh_c[n], m[n]
        for j in range(H):
            t = tanh(cn[j])
            tc[j] = t
            mn[j] = o[j] * t  # m_t = o * tanh(c_t)


def _forward(x, w_ih, w_hh_t, bias, w_hr_t, has_proj, use_loops, hs, cs, gates, tanh_c, ms):
    """Fill hs[1:], cs[1:], gates, tanh_c (and ms with a projection); hs[0], cs[0] hold h0, c0.

    x (T, N, D), w_ih (4H, D), w_hh_t (P, 4H) = w_hh.T, bias (4H,) = b_ih + b_hh (zeros
    without bias), w_hr_t (H, P) = w_hr.T (unused without projection).
    """
    T, N, D = x.shape
    H = cs.shape[2]
    P = hs.shape[2]
    np.dot(x.reshape(T * N, D), w_ih.T, gates.reshape(T * N, 4 * H))  # input projection, one GEMM
    rec = np.empty((N, 4 * H), dtype=x.dtype)  # h_{t-1} @ w_hh.T, reused every step
    zero_g = np.zeros(4 * H, dtype=x.dtype)
    zero_p = np.zeros(P, dtype=x.dtype)
    for t in range(T):
        if use_loops:
            _small_matmul(hs[t], w_hh_t, zero_g, rec)
        else:
            np.dot(hs[t], w_hh_t, rec)  # one BLAS call
        gt = gates[t]  # (N, 4H): x_t @ w_ih.T, overwritten by the gates i, f, g, o
        _sigmoid_gates(gt, rec, bias, 0, 2 * H)  # i, f
        _sigmoid_gates(gt, rec, bias, 3 * H, 4 * H)  # o
        _cell_input(gt, rec, bias, cs[t], cs[t + 1])  # g, c_t
        m = ms[t] if has_proj else hs[t + 1]  # (N, H)
        _cell_output(gt, cs[t + 1], tanh_c[t], m)  # tanh(c_t), m_t
        if has_proj:  # h_t = m_t @ w_hr.T
            if use_loops:
                _small_matmul(m, w_hr_t, zero_p, hs[t + 1])
            else:
                np.dot(m, w_hr_t, hs[t + 1])


def _backward(dh, dc, x, hs, cs, gates, tanh_c, ms, w_ih, w_hh, w_hr, has_proj, use_loops,
              da, dhs, dx, dw_ih, dw_hh, dw_hr, db64, dh0, dc0):
    """BPTT: fills dx (T, N, D), dw_ih (4H, D), dw_hh (4H, P), dw_hr (P, H) (with a
    projection), db64 (4H,) float64, dh0 (N, P) and dc0 (N, H).

    ``da`` (T, N, 4H) and ``dhs`` (T, N, P) with a projection, (0, N, P) without, are
    scratch: every dL/d(pre-activations) and every dh_t (for dw_hr).

    ``dh`` (T, N, P) and ``dc`` (T, N, H) come from above only; the recurrence is added
    here. ``dh0`` and ``dc0`` must be zeros on entry: they carry dL/dh_t and dL/dc_t
    from step t+1 back to step t.
    """
    T, N, P = dh.shape
    H = dc.shape[2]
    D = x.shape[2]
    dm = np.empty((N, H), dtype=dh.dtype)  # dL/dm_t
    zero_h = np.zeros(H, dtype=dh.dtype)
    zero_p = np.zeros(P, dtype=dh.dtype)
    dh_carry, dc_carry = dh0, dc0
    for t in range(T - 1, -1, -1):
        if has_proj:  # dm = (dh[t] + dh_carry) @ w_hr
            dht = dhs[t]
            for n in range(N):
                for p in range(P):
                    dht[n, p] = dh[t, n, p] + dh_carry[n, p]
            if use_loops:
                _small_matmul(dht, w_hr, zero_h, dm)
            else:
                np.dot(dht, w_hr, dm)
        else:  # dm = dh_t = dh[t] + dh_carry
            for n in range(N):
                dmn, dhn, dhc = dm[n], dh[t, n], dh_carry[n]
                for j in range(H):
                    dmn[j] = dhn[j] + dhc[j]
        gt, dat, c_prev, tanh_ct = gates[t], da[t], cs[t], tanh_c[t]
        # One pass per row: every gate gradient and dc_{t-1}. (Summing db in the same pass
        # is slower: with four more arrays in the loop LLVM gives up vectorising it.)
        for n in range(N):
            i, f, g, o = gt[n, :H], gt[n, H:2 * H], gt[n, 2 * H:3 * H], gt[n, 3 * H:]
            di, df, dg, do = dat[n, :H], dat[n, H:2 * H], dat[n, 2 * H:3 * H], dat[n, 3 * H:]
            dmn, tc, cp, dcn, dcc = dm[n], tanh_ct[n], c_prev[n], dc[t, n], dc_carry[n]
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
        for n in range(N):  # db summed over the rows while they are at hand, in float64
            dan = dat[n]
            for k in range(4 * H):
                db64[k] += dan[k]
        # dh_carry = da_t @ w_hh: dL/dh_{t-1} through the recurrence
        if use_loops:
            _small_matmul(dat, w_hh, zero_p, dh_carry)
        else:
            np.dot(dat, w_hh, dh_carry)
    # Everything else is not sequential: large GEMMs over all T*N rows.
    da2 = da.reshape(T * N, 4 * H)
    np.dot(da2, w_ih, dx.reshape(T * N, D))  # dx = da @ w_ih
    np.dot(da2.T, x.reshape(T * N, D), dw_ih)  # dw_ih = da.T @ x
    np.dot(da2.T, hs[:T].reshape(T * N, P), dw_hh)  # dw_hh = da.T @ h_prev
    if has_proj:
        np.dot(dhs.reshape(T * N, P).T, ms.reshape(T * N, H), dw_hr)  # dw_hr = dH.T @ m


_sigmoid_gates = njit(**config.NUMBA_JIT_OPTIONS)(_sigmoid_gates)  # called by the bodies below
_cell_input = njit(**config.NUMBA_JIT_OPTIONS)(_cell_input)
_cell_output = njit(**config.NUMBA_JIT_OPTIONS)(_cell_output)
_forward_jit = njit(**config.NUMBA_JIT_OPTIONS)(_forward)
_backward_jit = njit(**config.NUMBA_JIT_OPTIONS)(_backward)


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
    use_loops : force the hand-written (True) or BLAS (False) per-step products;
        ``None`` chooses with :func:`numrnn.kernels.numba_rnn.use_loops_for`.

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
    if has_proj:
        w_hr_t = np.ascontiguousarray(w_hr.T)  # (H, P), made per call
    else:
        w_hr_t = np.zeros((0, 0), dtype=dtype)
    bias = np.zeros(4 * H, dtype=dtype) if b_ih is None else a.b_ih + a.b_hh
    if use_loops is None:
        use_loops = use_loops_for(N, H)
    hs = np.empty((T + 1, N, P), dtype=dtype)
    cs = np.empty((T + 1, N, H), dtype=dtype)
    hs[0], cs[0] = h0, c0
    gates = np.empty((T, N, 4 * H), dtype=dtype)
    tanh_c = np.empty((T, N, H), dtype=dtype)
    ms = np.empty((T if has_proj else 0, N, H), dtype=dtype)
    w_hh_t = np.ascontiguousarray(w_hh.T)  # (P, 4H), made per call: weights may change
    _forward_jit(x, w_ih, w_hh_t, bias, w_hr_t, has_proj, bool(use_loops), hs, cs, gates, tanh_c, ms)
    cache = LSTMKernelCache(x, hs, cs, gates, tanh_c, ms, w_ih, w_hh, w_hr, b_ih is not None,
                            bool(use_loops))
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
    x, hs, cs = cache.x, cache.hs, cache.cs
    dtype = x.dtype
    dh = check_grad(_OWNER, "dh", dh, hs[1:], "(T, N, P)")
    dc = check_grad(_OWNER, "dc", dc, cs[1:], "(T, N, H)")
    T, N, D = x.shape
    P, H = hs.shape[2], cs.shape[2]
    has_proj = cache.w_hr is not None
    dx = np.empty_like(x)
    dw_ih = np.empty_like(cache.w_ih)
    dw_hh = np.empty_like(cache.w_hh)
    dw_hr = np.empty_like(cache.w_hr) if has_proj else np.zeros((0, 0), dtype=dtype)
    db64 = np.zeros(4 * H, dtype=np.float64)
    dh0 = np.zeros((N, P), dtype=dtype)
    dc0 = np.zeros((N, H), dtype=dtype)
    w_hr = cache.w_hr if has_proj else np.zeros((0, 0), dtype=dtype)
    da = scratch("lstm_da", (T, N, 4 * H), dtype)  # reused by the next call: workspace.py
    dhs = scratch("lstm_dhs", (T if has_proj else 0, N, P), dtype)
    _backward_jit(dh, dc, x, hs, cs, cache.gates, cache.tanh_c, cache.ms, cache.w_ih, cache.w_hh,
                  w_hr, has_proj, cache.use_loops, da, dhs, dx, dw_ih, dw_hh, dw_hr, db64, dh0, dc0)
    db = db64.astype(dtype) if cache.has_bias else None
    return (dx, dh0, dc0, dw_ih, dw_hh, db, None if db is None else db.copy(),
            dw_hr if has_proj else None)

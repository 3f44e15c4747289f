"""The GRU compiled with Numba: the reference's contract, the work reorganised.

Same names, signatures and results as ``numrnn/functional/gru.py`` (read that first:
it is the literal equations, gate order r, z, n, PyTorch's reset-after candidate) and
the same plan as the Elman kernel in ``numba_rnn.py``; only where the work happens
changes.

Forward, one call per layer and direction::

    gates = x @ w_ih.T                         GEMMs over all T*N rows, per time block
    for t in range(T):                         the only sequential part, compiled
        a_h = h_{t-1} @ w_hh.T                 register tiles (numba_gemm.py) or BLAS
        r, z = sigmoid(gates[t] + a_h + b_ih + b_hh)   first 2H columns, in place: one pass
        n    = tanh(gates[t] + b_in + r * (a_h + b_hn))   last H columns, and in the same
        h_t  = (1 - z) * n + z * h_{t-1}                  pass h_t: two passes per step

Every buffer is made before the loop: ``hs`` (T+1, N, H) holds h0 and then every h_t
(the returned h is the view ``hs[1:]``, and ``hs[:-1]`` is every h_{t-1} as one matrix),
``gates`` (T, N, 3H) holds x @ w_ih.T and is overwritten by r, z, n, and ``a_hn``
(T, N, H) keeps the hidden half of n before the reset gate. The tiles write ``a_h``
with each gate's columns padded to whole panels (gate g of row n starts at
``a_h[n, g * Hg]``, Hg = H rounded up to 16 float32 or 8 float64 columns; Hg = H for BLAS).

Backward::

    for t in reversed(range(T)):               the only sequential part, compiled
        dh_t = dh[t] + dh_carry
        dan  = dh_t * (1 - z) * (1 - n**2);   dz = dh_t * (h_{t-1} - n)
        da_x[t] = [dan * a_hn * r(1-r), dz * z(1-z), dan]
        da_h[t] = [dan * a_hn * r(1-r), dz * z(1-z), dan * r]
        dh_carry = dh_t * z + da_h[t] @ w_hh   tiles or one BLAS call
    dx    = da_x @ w_ih                        GEMMs over all T*N rows, per time block
    dw_ih = da_x.T @ x;   dw_hh = da_h.T @ hs[:-1]
    db_ih = sum of da_x;  db_hh = sum of da_h  over T*N, in float64

With two or more threads the time loop runs on each thread for its own batch rows and
the GEMMs outside it are spread over the threads (``numba_layer.py``). As in
``numba_lstm.py``, each activation has its own small function and the loops index row
slices from 0, so that LLVM vectorises them; every BLAS call is ``np.dot`` inside the
compiled code (SciPy's OpenBLAS, one thread pool: ``numba_threads.py``).

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


class GRUKernelCache(NamedTuple):
    """What :func:`gru_backward` needs from :func:`gru_forward`."""

    x: np.ndarray  # (T, N, D) the layer's input
    hs: np.ndarray  # (T+1, N, H) h0, then h_t after every step
    gates: np.ndarray  # (T, N, 3H) r, z, n after their activations
    a_hn: np.ndarray  # (T, N, H) h_{t-1} @ w_hn.T + b_hn, the hidden half of n before r
    w_ih: np.ndarray  # (3H, D)
    w_hh: np.ndarray  # (3H, H)
    has_bias: bool
    use_loops: bool  # register-tiled recurrent product (numba_gemm.py) instead of BLAS


# -- kernel bodies (plain Python; compiled below) ----------------------------------------
# A step makes three passes over its rows: r, z, then n and h_t, each pass also adding
# the biases. One activation per small function and row slices indexed from 0, for the
# reasons in numba_math's docstring; the gates' sigmoid is numba_math's gate_sigmoid,
# 1/2 + 1/2 tanh(v/2) (the cost of a tanh, within two ulps of 1/2).
def _sigmoid_gate(gt, a_h, bias_rz, g, hg, n0, n1):
    """Gate g (r = 0, z = 1) of rows n0..n1 in place:
    ``gt[n, gH + k] = sigmoid(gt[n, gH + k] + a_h[n, g hg + k] + bias_rz[gH + k])``.

    gt (N, 3H) holds x_t @ w_ih.T, a_h h_{t-1} @ w_hh.T (gate g from column g * hg),
    bias_rz (2H,) = b_ih + b_hh of the r and z blocks.
    """
    H = gt.shape[1] // 3
    b = bias_rz[g * H:(g + 1) * H]
    for n in range(n0, n1):
        a, r = gt[n, g * H:(g + 1) * H], a_h[n, g * hg:g * hg + H]
        for k in range(H):
            a[k] = gate_sigmoid(a[k] + r[k] + b[k])


def _candidate_and_state(gt, a_h, b_in, b_hn, h_prev, h_t, a_hn, hg, n0, n1):
    """n = tanh(x part + b_in + r * a_hn) in place in ``gt[:, 2H:]``, and h_t, rows n0..n1.

    a_hn = h_{t-1} @ w_hn.T + b_hn (N, H) is kept for the backward (a_h's gate n from
    column 2 hg); h_t = (1 - z) * n + z * h_{t-1} (N, H).
    """
    H = h_t.shape[1]
    one = np.ones(1, dtype=gt.dtype)[0]  # 1 in the arrays' dtype (a float literal is float64)
    for n in range(n0, n1):
        r, z, g, ah = gt[n, :H], gt[n, H:2 * H], gt[n, 2 * H:], a_h[n, 2 * hg:2 * hg + H]
        hp, hn, sn = h_prev[n], h_t[n], a_hn[n]
        for j in range(H):
            s = ah[j] + b_hn[j]
            sn[j] = s
            c = tanh(g[j] + b_in[j] + r[j] * s)
            g[j] = c
            hn[j] = (one - z[j]) * c + z[j] * hp[j]  # h_t = (1 - z) * n + z * h_{t-1}


def _forward_rows(gates, wp, w_hh_t, bias_rz, b_in, b_hn, use_tiles, hs, a_hn, a_h, n0, n1):
    """The time loop for batch rows n0 <= n < n1: fill hs[1:], gates and a_hn for those
    rows; hs[0] holds h0 and ``gates`` x_t @ w_ih.T on entry.

    wp: w_hh.T (H, 3H) packed (tiles); w_hh_t the same contiguous (BLAS); bias_rz (2H,)
    = b_ih + b_hh of r and z, b_in, b_hn (H,) (zeros without bias); a_h (N, >= 3H) scratch.
    """
    T = gates.shape[0]
    hg = a_h.shape[1] // 3  # where gate g's columns start in a_h: g * hg
    for t in range(T):
        if use_tiles:
            gemm_panels(hs[t], wp, a_h, n0, n1, 0, wp.shape[0])
        else:
            np.dot(hs[t, n0:n1], w_hh_t, a_h[n0:n1])  # one BLAS call
        _sigmoid_gate(gates[t], a_h, bias_rz, 0, hg, n0, n1)  # r
        _sigmoid_gate(gates[t], a_h, bias_rz, 1, hg, n0, n1)  # z
        _candidate_and_state(gates[t], a_h, b_in, b_hn, hs[t], hs[t + 1], a_hn[t], hg, n0, n1)


def _backward_rows(dh, hs, gates, a_hn, wp, w_hh, use_tiles, da_x, da_h, carry, direct, blocks,
                   progress, n0, n1):
    """BPTT for batch rows n0 <= n < n1: fills ``da_x`` and ``da_h`` (T, N, 3H: dL/d(x part)
    and dL/d(h part) of the pre-activations, which differ in block n) for those rows, and
    leaves dL/dh0 in ``carry[n0:n1, :H]``.

    ``dh`` (T, N, H) is the gradient from above only; the recurrence is added here.
    ``carry`` (N, >= H) must be zeros on entry; ``direct`` (N, H) is scratch. wp: w_hh
    (3H, H) packed (tiles). After each time block the loop publishes how many blocks it
    has finished into ``progress``.
    """
    T, N, H = dh.shape
    one = np.ones(1, dtype=dh.dtype)[0]
    nb = blocks.shape[0]
    b = nb - 1
    for t in range(T - 1, -1, -1):
        gt, dxt, dht, hprev, ahn = gates[t], da_x[t], da_h[t], hs[t], a_hn[t]
        for n in range(n0, n1):
            r, z, c = gt[n, :H], gt[n, H:2 * H], gt[n, 2 * H:]
            dar, daz, dan = dxt[n, :H], dxt[n, H:2 * H], dxt[n, 2 * H:]
            hp, ah, dhn, cn, dd = hprev[n], ahn[n], dh[t, n], carry[n, :H], direct[n]
            for j in range(H):
                d = dhn[j] + cn[j]  # dL/dh_t: from above and from step t+1
                dan[j] = tanh_grad(d * (one - z[j]), c[j])  # through n's tanh
                daz[j] = sigmoid_grad(d * (hp[j] - c[j]), z[j])
                dar[j] = sigmoid_grad(dan[j] * ah[j], r[j])
                dd[j] = d * z[j]
            # A second loop, not the same one: with seven outputs in one loop LLVM stops
            # vectorising it (S3 float32 backward: 10.0 against 6.2 us per step, measured).
            hr, hz, hn = dht[n, :H], dht[n, H:2 * H], dht[n, 2 * H:]
            for j in range(H):
                hr[j] = dar[j]
                hz[j] = daz[j]
                hn[j] = dan[j] * r[j]  # dL/d(h_{t-1} @ w_hn.T + b_hn)
        # carry = dh_t * z + da_h @ w_hh: dL/dh_{t-1}, the direct path and the gates
        if use_tiles:
            gemm_panels(dht, wp, carry, n0, n1, 0, wp.shape[0])
        else:
            np.dot(dht[n0:n1], w_hh, carry[n0:n1])
        for n in range(n0, n1):
            cn, dd = carry[n, :H], direct[n]
            for j in range(H):
                cn[j] += dd[j]
        if t == blocks[b, 0]:
            publish(progress, nb - b)
            b -= 1


_sigmoid_gate = njit(**config.NUMBA_JIT_OPTIONS)(_sigmoid_gate)  # called by the bodies below
_candidate_and_state = njit(**config.NUMBA_JIT_OPTIONS)(_candidate_and_state)
def _forward_serial(x, w_ih, w_hh, bias_rz, b_in, b_hn, hs, gates, a_hn, blocks, use_tiles):
    """The whole forward in one compiled call, for a schedule that runs it all on this
    thread: the input projection, the packing, the loop (see numba_rnn's twin)."""
    N = hs.shape[1]
    dtype = hs.dtype
    map_blocks(x, w_ih.T, gates, blocks, 0, blocks.shape[0])
    if use_tiles:
        wp = packed(w_hh.T, 3)
        a_h = np.empty((N, wp.shape[0] * wp.shape[2]), dtype=dtype)
        e2 = np.empty((0, 0), dtype=dtype)
        _forward_rows(gates, wp, e2, bias_rz, b_in, b_hn, True, hs, a_hn, a_h, 0, N)
    else:
        a_h = np.empty((N, w_hh.shape[0]), dtype=dtype)
        e3 = np.empty((0, 0, 2), dtype=dtype)
        w_hh_t = np.ascontiguousarray(w_hh.T)
        _forward_rows(gates, e3, w_hh_t, bias_rz, b_in, b_hn, False, hs, a_hn, a_h, 0, N)


_forward_rows = njit(**config.NUMBA_JIT_OPTIONS)(_forward_rows)  # called by _forward_serial too
_forward_serial_jit = njit(**config.NUMBA_JIT_OPTIONS)(_forward_serial)
_backward_rows_jit = njit(**config.NUMBA_JIT_OPTIONS)(_backward_rows)


# -- the contract -------------------------------------------------------------------------
_OWNER = "numba gru kernel"


def gru_forward(x, h0, w_ih, w_hh, b_ih=None, b_hh=None, use_loops=None):
    """Run the cell over a whole sequence, time-major (compiled; see the module docstring).

    Parameters
    ----------
    x : (T, N, D) inputs, float32 or float64.
    h0 : (N, H) initial hidden state.
    w_ih : (3H, D);  w_hh : (3H, H);  b_ih, b_hh : (3H,), both or neither.
    use_loops : the per-step product h @ w_hh.T as register tiles (True, the default
        when ``None``) or as one BLAS call (False).

    Returns
    -------
    h : (T, N, H) hidden state after every step (a view into the cache's buffer: do not
        write into it before the backward).
    cache : GRUKernelCache for :func:`gru_backward`.
    """
    # Compiled code does not check indexes: every shape is checked here (numba_checks.py).
    a = check_layer(_OWNER, 3, x, h0, w_ih, w_hh, b_ih, b_hh)
    x, h0, w_ih, w_hh, H = a.x, a.h0, a.w_ih, a.w_hh, a.H
    dtype = x.dtype
    T, N, D = x.shape
    if b_ih is None:
        b_ih_, b_hh_ = np.zeros(3 * H, dtype=dtype), np.zeros(3 * H, dtype=dtype)
    else:
        b_ih_, b_hh_ = a.b_ih, a.b_hh
    bias_rz = b_ih_[:2 * H] + b_hh_[:2 * H]
    b_in, b_hn = np.ascontiguousarray(b_ih_[2 * H:]), np.ascontiguousarray(b_hh_[2 * H:])
    use_tiles = True if use_loops is None else bool(use_loops)
    sched = layer.schedule(T, N, 2.0 * T * N * 3 * H * H, 2.0 * T * N * 3 * H * D, use_tiles)
    hs = np.empty((T + 1, N, H), dtype=dtype)
    hs[0] = h0
    gates = np.empty((T, N, 3 * H), dtype=dtype)
    a_hn = np.empty((T, N, H), dtype=dtype)
    if layer.serial(sched):  # everything on this thread: one compiled call
        with parallel.blas_limit():
            _forward_serial_jit(x, w_ih, w_hh, bias_rz, b_in, b_hn, hs, gates, a_hn, sched.blocks, use_tiles)
        return hs[1:], GRUKernelCache(x, hs, gates, a_hn, w_ih, w_hh, b_ih is not None, use_tiles)
    with parallel.blas_limit():  # BLAS on at most NUMRNN_THREADS (one while tasks run)
        layer.project_input(x, w_ih.T, gates, sched)
        wp, w_hh_t, width = operands(w_hh.T, 3, use_tiles)  # made per call: weights may change
        a_h = scratch("gru_a_h", (N, width), dtype)
        if use_tiles:
            check_gemm(hs[0], wp, a_h)
        layer.run_loop(sched, lambda n0, n1: _forward_rows(gates, wp, w_hh_t, bias_rz, b_in, b_hn,
                                                           use_tiles, hs, a_hn, a_h, n0, n1))
    cache = GRUKernelCache(x, hs, gates, a_hn, w_ih, w_hh, b_ih is not None, use_tiles)
    return hs[1:], cache


def gru_backward(dh, cache: GRUKernelCache):
    """Backpropagation through time over the whole sequence (compiled).

    Parameters
    ----------
    dh : (T, N, H) dL/dh_t from above only (the caller has added dL/dh_n into dh[-1]).
    cache : GRUKernelCache from :func:`gru_forward`.

    Returns
    -------
    dx : (T, N, D);  dh0 : (N, H);  dw_ih : (3H, D);  dw_hh : (3H, H);
    db_ih, db_hh : (3H,), or None without bias.
    """
    x, hs, use_tiles = cache.x, cache.hs, cache.use_loops
    dh = check_grad(_OWNER, "dh", dh, hs[1:], "(T, N, H)")
    T, N, D = x.shape
    H = hs.shape[2]
    sched = layer.schedule(T, N, 2.0 * T * N * 3 * H * H, 2.0 * T * N * 3 * H * (2 * D + H), use_tiles)
    dx = np.empty_like(x)
    dw_ih = np.empty_like(cache.w_ih)
    dw_hh = np.empty_like(cache.w_hh)
    db_ih64 = np.zeros(3 * H, dtype=np.float64)
    db_hh64 = np.zeros(3 * H, dtype=np.float64)
    wp, w_hh_c, width = operands(cache.w_hh, 1, use_tiles)
    carry = np.zeros((N, width), dtype=x.dtype)
    direct = scratch("gru_direct", (N, H), x.dtype)  # dh_t * z: the path that skips the gates
    da_x = scratch("gru_da_x", (T, N, 3 * H), x.dtype)  # reused by the next call: workspace.py
    da_h = scratch("gru_da_h", (T, N, 3 * H), x.dtype)
    if use_tiles:
        check_gemm(da_h[0], wp, carry)

    def loop(n0, n1, progress):
        _backward_rows_jit(dh, hs, cache.gates, cache.a_hn, wp, w_hh_c, use_tiles, da_x, da_h, carry,
                           direct, sched.blocks, progress, n0, n1)

    grads = layer.Gradients(reductions=[(da_x, x, dw_ih), (da_h, hs, dw_hh)],
                            sums=[(da_x, db_ih64), (da_h, db_hh64)] if cache.has_bias else [],
                            map=(da_x, cache.w_ih, dx))
    with parallel.blas_limit():  # BLAS on at most NUMRNN_THREADS (one while tasks run)
        layer.run_backward(sched, loop, grads)
    dh0 = np.ascontiguousarray(carry[:, :H])
    if not cache.has_bias:
        return dx, dh0, dw_ih, dw_hh, None, None
    return dx, dh0, dw_ih, dw_hh, db_ih64.astype(x.dtype), db_hh64.astype(x.dtype)

"""The GRU compiled with Numba: the reference's contract, the work reorganised.

Same names, signatures and results as ``numrnn/functional/gru.py`` (read that first:
it is the literal equations, gate order r, z, n, PyTorch's reset-after candidate) and
the same plan as the Elman kernel in ``numba_rnn.py``; only where the work happens
changes.

Forward, one call per layer and direction::

    gates = x @ w_ih.T                         one GEMM over all T*N rows      (T*N, 3H)
    for t in range(T):                         the only sequential part, compiled
        a_h = h_{t-1} @ w_hh.T                 hand-written loop (N = 1) or one BLAS call
        r, z = sigmoid(gates[t] + a_h + b_ih + b_hh)   first 2H columns, in place: one pass
        n    = tanh(gates[t] + b_in + r * (a_h + b_hn))   last H columns, and in the same
        h_t  = (1 - z) * n + z * h_{t-1}                  pass h_t: two passes per step

Every buffer is made before the loop: ``hs`` (T+1, N, H) holds h0 and then every h_t
(the returned h is the view ``hs[1:]``, and ``hs[:-1]`` is every h_{t-1} as one matrix),
``gates`` (T, N, 3H) holds x @ w_ih.T and is overwritten by r, z, n, and ``a_hn``
(T, N, H) keeps the hidden half of n before the reset gate.

Backward::

    for t in reversed(range(T)):               the only sequential part, compiled
        dh_t = dh[t] + dh_carry
        dan  = dh_t * (1 - z) * (1 - n**2);   dz = dh_t * (h_{t-1} - n)
        da_x[t] = [dan * a_hn * r(1-r), dz * z(1-z), dan]
        da_h[t] = [dan * a_hn * r(1-r), dz * z(1-z), dan * r]
        db_ih += sum of da_x[t];  db_hh += sum of da_h[t]     over N, in float64
        dh_carry = dh_t * z + da_h[t] @ w_hh   loop or one BLAS call
    dx    = da_x @ w_ih                        large GEMMs over all T*N rows
    dw_ih = da_x.T @ x;   dw_hh = da_h.T @ hs[:-1]

As in ``numba_lstm.py``, each activation has its own small function and the loops
index row slices from 0, so that LLVM vectorises them; every BLAS call is ``np.dot``
inside the compiled code (SciPy's OpenBLAS, one thread pool: ``numba_threads.py``).

The bodies are plain functions compiled once at import with the options of
``numrnn/config.py``; ``NUMBA_DISABLE_JIT=1`` runs them as Python. Weights are never
cached between calls: the transposed copy the forward reads is made in each call.
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


class GRUKernelCache(NamedTuple):
    """What :func:`gru_backward` needs from :func:`gru_forward`."""

    x: np.ndarray  # (T, N, D) the layer's input
    hs: np.ndarray  # (T+1, N, H) h0, then h_t after every step
    gates: np.ndarray  # (T, N, 3H) r, z, n after their activations
    a_hn: np.ndarray  # (T, N, H) h_{t-1} @ w_hn.T + b_hn, the hidden half of n before r
    w_ih: np.ndarray  # (3H, D)
    w_hh: np.ndarray  # (3H, H)
    has_bias: bool
    use_loops: bool  # hand-written recurrent product instead of BLAS


# -- kernel bodies (plain Python; compiled below) ----------------------------------------
# A step makes two passes over its rows: r and z, then n and h_t, each pass also adding
# the biases. One activation per small function and row slices indexed from 0, for the
# reasons in numba_math's docstring; the gates' sigmoid is numba_math's gate_sigmoid,
# 1/2 + 1/2 tanh(v/2) (the cost of a tanh, within two ulps of 1/2).
def _reset_update_gates(gt, a_h, bias_rz):
    """r and z in place: ``gt[n, k] = sigmoid(gt[n, k] + a_h[n, k] + bias_rz[k])`` for k < 2H.

    gt (N, 3H) holds x_t @ w_ih.T, a_h (N, 3H) h_{t-1} @ w_hh.T, bias_rz (2H,) = b_ih + b_hh
    of the r and z blocks.
    """
    for n in range(gt.shape[0]):
        g, a = gt[n, :bias_rz.size], a_h[n, :bias_rz.size]
        for k in range(g.size):
            g[k] = gate_sigmoid(g[k] + a[k] + bias_rz[k])


def _candidate_and_state(gt, a_h, b_in, b_hn, h_prev, h_t, a_hn):
    """n = tanh(x part + b_in + r * a_hn) in place in ``gt[:, 2H:]``, and h_t.

    a_hn = h_{t-1} @ w_hn.T + b_hn (N, H) is kept for the backward;
    h_t = (1 - z) * n + z * h_{t-1} (N, H).
    """
    H = h_t.shape[1]
    one = np.ones(1, dtype=gt.dtype)[0]  # 1 in the arrays' dtype (a float literal is float64)
    for n in range(gt.shape[0]):
        r, z, g, ah = gt[n, :H], gt[n, H:2 * H], gt[n, 2 * H:], a_h[n, 2 * H:]
        hp, hn, sn = h_prev[n], h_t[n], a_hn[n]
        for j in range(H):
            s = ah[j] + b_hn[j]
            sn[j] = s
            c = tanh(g[j] + b_in[j] + r[j] * s)
            g[j] = c
            hn[j] = (one - z[j]) * c + z[j] * hp[j]  # h_t = (1 - z) * n + z * h_{t-1}


def _forward(x, w_ih, w_hh_t, b_ih, b_hh, use_loops, hs, gates, a_hn):
    """Fill hs[1:], gates and a_hn; hs[0] holds h0 on entry.

    x (T, N, D), w_ih (3H, D), w_hh_t (H, 3H) = w_hh.T contiguous, b_ih, b_hh (3H,)
    (zeros without bias), hs (T+1, N, H), gates (T, N, 3H), a_hn (T, N, H).
    """
    T, N, D = x.shape
    H = hs.shape[2]
    np.dot(x.reshape(T * N, D), w_ih.T, gates.reshape(T * N, 3 * H))  # input projection, one GEMM
    a_h = np.empty((N, 3 * H), dtype=x.dtype)  # h_{t-1} @ w_hh.T, reused every step
    zero_g = np.zeros(3 * H, dtype=x.dtype)
    bias_rz = b_ih[:2 * H] + b_hh[:2 * H]
    b_in, b_hn = b_ih[2 * H:], b_hh[2 * H:]
    for t in range(T):
        if use_loops:
            _small_matmul(hs[t], w_hh_t, zero_g, a_h)
        else:
            np.dot(hs[t], w_hh_t, a_h)  # one BLAS call
        _reset_update_gates(gates[t], a_h, bias_rz)
        _candidate_and_state(gates[t], a_h, b_in, b_hn, hs[t], hs[t + 1], a_hn[t])


def _backward(dh, x, hs, gates, a_hn, w_ih, w_hh, use_loops, da_x, da_h, dx, dw_ih, dw_hh,
              db_ih64, db_hh64, dh0):
    """BPTT: fills dx (T, N, D), dw_ih (3H, D), dw_hh (3H, H), db_ih64 and db_hh64 (3H,)
    float64, and dh0 (N, H).

    ``da_x`` and ``da_h`` (T, N, 3H) are scratch: dL/d(x part) and dL/d(h part) of the
    pre-activations, which differ in block n.

    ``dh`` (T, N, H) is the gradient from above only; the recurrence is added here.
    ``dh0`` must be zeros on entry: it carries dL/dh_t from step t+1 back to step t.
    """
    T, N, H = dh.shape
    D = x.shape[2]
    direct = np.empty((N, H), dtype=dh.dtype)  # dh_t * z: the path that skips the gates
    zero_h = np.zeros(H, dtype=dh.dtype)
    one = np.ones(1, dtype=dh.dtype)[0]
    carry = dh0  # (N, H)
    for t in range(T - 1, -1, -1):
        gt, dxt, dht, hprev, ahn = gates[t], da_x[t], da_h[t], hs[t], a_hn[t]
        for n in range(N):
            r, z, c = gt[n, :H], gt[n, H:2 * H], gt[n, 2 * H:]
            dar, daz, dan = dxt[n, :H], dxt[n, H:2 * H], dxt[n, 2 * H:]
            hp, ah, dhn, cn, dd = hprev[n], ahn[n], dh[t, n], carry[n], direct[n]
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
        for n in range(N):  # the bias gradients, summed while the rows are at hand (float64)
            ax, ah = dxt[n], dht[n]
            for k in range(3 * H):
                db_ih64[k] += ax[k]
                db_hh64[k] += ah[k]
        # carry = dh_t * z + da_h @ w_hh: dL/dh_{t-1}, the direct path and the gates
        if use_loops:
            _small_matmul(dht, w_hh, zero_h, carry)
        else:
            np.dot(dht, w_hh, carry)
        for n in range(N):
            cn, dd = carry[n], direct[n]
            for j in range(H):
                cn[j] += dd[j]
    # Everything else is not sequential: large GEMMs over all T*N rows.
    dx2 = da_x.reshape(T * N, 3 * H)
    dh2 = da_h.reshape(T * N, 3 * H)
    np.dot(dx2, w_ih, dx.reshape(T * N, D))  # dx = da_x @ w_ih
    np.dot(dx2.T, x.reshape(T * N, D), dw_ih)  # dw_ih = da_x.T @ x
    np.dot(dh2.T, hs[:T].reshape(T * N, H), dw_hh)  # dw_hh = da_h.T @ h_prev


_reset_update_gates = njit(**config.NUMBA_JIT_OPTIONS)(_reset_update_gates)  # called by the bodies below
_candidate_and_state = njit(**config.NUMBA_JIT_OPTIONS)(_candidate_and_state)
_forward_jit = njit(**config.NUMBA_JIT_OPTIONS)(_forward)
_backward_jit = njit(**config.NUMBA_JIT_OPTIONS)(_backward)


# -- the contract -------------------------------------------------------------------------
_OWNER = "numba gru kernel"


def gru_forward(x, h0, w_ih, w_hh, b_ih=None, b_hh=None, use_loops=None):
    """Run the cell over a whole sequence, time-major (compiled; see the module docstring).

    Parameters
    ----------
    x : (T, N, D) inputs, float32 or float64.
    h0 : (N, H) initial hidden state.
    w_ih : (3H, D);  w_hh : (3H, H);  b_ih, b_hh : (3H,), both or neither.
    use_loops : force the hand-written (True) or BLAS (False) recurrent product;
        ``None`` chooses with :func:`numrnn.kernels.numba_rnn.use_loops_for`.

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
    if use_loops is None:
        use_loops = use_loops_for(N, H)
    hs = np.empty((T + 1, N, H), dtype=dtype)
    hs[0] = h0
    gates = np.empty((T, N, 3 * H), dtype=dtype)
    a_hn = np.empty((T, N, H), dtype=dtype)
    w_hh_t = np.ascontiguousarray(w_hh.T)  # (H, 3H), made per call: weights may change
    _forward_jit(x, w_ih, w_hh_t, b_ih_, b_hh_, bool(use_loops), hs, gates, a_hn)
    cache = GRUKernelCache(x, hs, gates, a_hn, w_ih, w_hh, b_ih is not None, bool(use_loops))
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
    x, hs = cache.x, cache.hs
    dh = check_grad(_OWNER, "dh", dh, hs[1:], "(T, N, H)")
    T, N, D = x.shape
    H = hs.shape[2]
    dx = np.empty_like(x)
    dw_ih = np.empty_like(cache.w_ih)
    dw_hh = np.empty_like(cache.w_hh)
    db_ih64 = np.zeros(3 * H, dtype=np.float64)
    db_hh64 = np.zeros(3 * H, dtype=np.float64)
    dh0 = np.zeros((N, H), dtype=x.dtype)
    da_x = scratch("gru_da_x", (T, N, 3 * H), x.dtype)  # reused by the next call: workspace.py
    da_h = scratch("gru_da_h", (T, N, 3 * H), x.dtype)
    _backward_jit(dh, x, hs, cache.gates, cache.a_hn, cache.w_ih, cache.w_hh, cache.use_loops,
                  da_x, da_h, dx, dw_ih, dw_hh, db_ih64, db_hh64, dh0)
    if not cache.has_bias:
        return dx, dh0, dw_ih, dw_hh, None, None
    return dx, dh0, dw_ih, dw_hh, db_ih64.astype(x.dtype), db_hh64.astype(x.dtype)

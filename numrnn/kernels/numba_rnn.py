"""The Elman RNN compiled with Numba: the reference's contract, the work reorganised.

Same names, signatures and results as ``numrnn/functional/rnn.py`` (read that first:
it is the literal equations). What changes is only where the work happens
(docs/performance.md has the measurements behind each choice):

Forward, one call per layer and direction::

    a[1:] = x @ w_ih.T                      one GEMM over all T*N rows      (T*N, H)
    for t in range(T):                      the only sequential part, compiled
        a_t += b + h_{t-1} @ w_hh.T         hand-written loop (N = 1) or one BLAS call
        h_t  = f(a_t)                       vectorised tanh/relu (numba_math.py), in place

The states live in one buffer ``hs`` (T+1, N, H) with ``hs[0] = h0``: the returned ``h``
is the view ``hs[1:]`` and ``hs[:-1]`` is every h_{t-1}, which the backward needs
as one matrix. Nothing is allocated inside the step loop.

Backward::

    for t in reversed(range(T)):            the only sequential part, compiled
        da_t   = (dh_t + dh_carry) * f'(h_t)
        dh_carry = da_t @ w_hh              loop (N = 1) or one BLAS call
    dx    = da @ w_ih                       three GEMMs over all T*N rows
    dw_ih = da.T @ x
    dw_hh = da.T @ hs[:-1]
    db    = sum of da over T*N              float64, summed inside the step loop

Every BLAS call inside the compiled code (``np.dot``) goes to SciPy's OpenBLAS, the
one Numba links to, so one forward or backward uses one thread pool only
(``numba_threads.py`` explains why that matters on 2 cores).

The kernel bodies are plain Python functions; their compiled copies are made once, at
import, with the options of ``numrnn/config.py`` (``_forward_jit = njit(**opts)(_forward)``).
With ``NUMBA_DISABLE_JIT=1`` the same bodies run as Python, which is how they are
traced and covered. Weights are never cached between calls: the transposed copy of
``w_hh`` the forward loop reads is made inside each call.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from numrnn import config
from numrnn.functional.activations import check_nonlinearity
from numrnn.kernels.numba_checks import check_grad, check_layer
from numrnn.kernels.numba_math import relu, relu_grad, tanh, tanh_grad
from numrnn.kernels.workspace import scratch


class RNNKernelCache(NamedTuple):
    """What :func:`rnn_backward` needs from :func:`rnn_forward`."""

    x: np.ndarray  # (T, N, D) the layer's input
    hs: np.ndarray  # (T+1, N, H) h0, then h_t after every step (the forward's output is hs[1:])
    w_ih: np.ndarray  # (H, D)
    w_hh: np.ndarray  # (H, H)
    has_bias: bool
    nonlinearity: str
    use_loops: bool  # hand-written recurrent product instead of BLAS


def use_loops_for(N: int, H: int) -> bool:
    """Whether the per-step product h @ w_hh.T is a hand-written loop rather than BLAS.

    Small products lose more to a BLAS call's fixed cost than they gain from its
    kernel; ``config.NUMBA_LOOP_MAX_N`` and ``config.NUMBA_LOOP_MAX_H`` are the
    crossover measured in docs/performance.md.
    """
    return N <= config.NUMBA_LOOP_MAX_N and H <= config.NUMBA_LOOP_MAX_H


# -- kernel bodies (plain Python; compiled below) ----------------------------------------
def _small_matmul(a, b, c0, out):
    """``out[n, :] = c0 + a[n, :] @ b`` for small matrices, without BLAS.

    a (N, K), b (K, M) row-major, c0 (M,), out (N, M). The innermost loop runs along
    the contiguous rows of ``b`` and ``out`` (LLVM vectorises it without reordering
    any sum); four rows of ``b`` are folded in per pass so ``out`` is loaded and
    stored a quarter as often.

    Compiled code does not check indexes, so the shapes are checked here: a mismatch
    would otherwise read or write past the end of ``b``, ``c0`` or ``out``.
    """
    N, K = a.shape
    M = b.shape[1]
    if b.shape[0] != K or c0.shape[0] != M or out.shape[0] != N or out.shape[1] != M:
        raise ValueError("_small_matmul: need a (N, K), b (K, M), c0 (M,), out (N, M)")
    K4 = K - K % 4
    for n in range(N):
        o = out[n]
        for i in range(M):
            o[i] = c0[i]
        for k in range(0, K4, 4):
            a0, a1, a2, a3 = a[n, k], a[n, k + 1], a[n, k + 2], a[n, k + 3]
            b0, b1, b2, b3 = b[k], b[k + 1], b[k + 2], b[k + 3]
            for i in range(M):
                o[i] += a0 * b0[i] + a1 * b1[i] + a2 * b2[i] + a3 * b3[i]
        for k in range(K4, K):
            ak, bk = a[n, k], b[k]
            for i in range(M):
                o[i] += ak * bk[i]


def _forward(x, w_ih, w_hh_t, bias, hs, is_relu, use_loops):
    """Fill ``hs[1:]`` with every h_t; ``hs[0]`` holds h0 on entry.

    x (T, N, D), w_ih (H, D), w_hh_t (H, H) = w_hh.T contiguous, bias (H,) = b_ih + b_hh
    (zeros without bias), hs (T+1, N, H).
    """
    T, N, D = x.shape
    H = hs.shape[2]
    a = hs[1:]  # (T, N, H): pre-activations, then overwritten by h_t
    np.dot(x.reshape(T * N, D), w_ih.T, a.reshape(T * N, H))  # the input projection, one GEMM
    rec = np.empty((N, H), dtype=hs.dtype)  # h_{t-1} @ w_hh.T, reused every step
    for t in range(T):
        h_prev = hs[t]  # (N, H)
        if use_loops:
            _small_matmul(h_prev, w_hh_t, bias, rec)
        else:
            np.dot(h_prev, w_hh_t, rec)  # one BLAS call
            for n in range(N):
                for i in range(H):
                    rec[n, i] += bias[i]
        at = a[t]
        if is_relu:
            for n in range(N):
                for i in range(H):
                    at[n, i] = relu(at[n, i] + rec[n, i])
        else:
            for n in range(N):
                for i in range(H):
                    at[n, i] = tanh(at[n, i] + rec[n, i])


def _backward(dh, x, hs, w_ih, w_hh, is_relu, use_loops, da, dx, dw_ih, dw_hh, db64, dh0):
    """BPTT: fills dx (T, N, D), dw_ih (H, D), dw_hh (H, H), db64 (H,) float64, dh0 (N, H).

    ``da`` (T, N, H) is scratch for dL/da_t of every step.

    db64 (zeros on entry) is the bias gradient, summed in float64 over all T*N rows.

    ``dh`` (T, N, H) is the gradient from above only; the recurrence is added here.
    ``dh0`` must be zeros on entry: it carries dL/dh_t from step t+1 back to step t.
    """
    T, N, H = dh.shape
    D = x.shape[2]
    zero_h = np.zeros(H, dtype=dh.dtype)
    carry = dh0  # (N, H)
    for t in range(T - 1, -1, -1):
        dat, dht, ht = da[t], dh[t], hs[t + 1]
        # da_t, and db summed over the same rows while they are at hand (float64)
        if is_relu:
            for n in range(N):
                for i in range(H):
                    v = relu_grad(dht[n, i] + carry[n, i], ht[n, i])
                    dat[n, i] = v
                    db64[i] += v
        else:
            for n in range(N):
                for i in range(H):
                    v = tanh_grad(dht[n, i] + carry[n, i], ht[n, i])
                    dat[n, i] = v
                    db64[i] += v
        # carry = da_t @ w_hh: dL/dh_{t-1} through the recurrence
        if use_loops:
            _small_matmul(dat, w_hh, zero_h, carry)
        else:
            np.dot(dat, w_hh, carry)
    # Everything else is not sequential: three GEMMs over all T*N rows.
    da2 = da.reshape(T * N, H)
    np.dot(da2, w_ih, dx.reshape(T * N, D))  # dx = da @ w_ih
    np.dot(da2.T, x.reshape(T * N, D), dw_ih)  # dw_ih = da.T @ x
    np.dot(da2.T, hs[:T].reshape(T * N, H), dw_hh)  # dw_hh = da.T @ h_prev


_small_matmul = njit(**config.NUMBA_JIT_OPTIONS)(_small_matmul)  # called by the bodies below
_forward_jit = njit(**config.NUMBA_JIT_OPTIONS)(_forward)
_backward_jit = njit(**config.NUMBA_JIT_OPTIONS)(_backward)


# -- the contract -------------------------------------------------------------------------
_OWNER = "numba rnn kernel"


def rnn_forward(x, h0, w_ih, w_hh, b_ih=None, b_hh=None, nonlinearity="tanh", use_loops=None):
    """Run the cell over a whole sequence, time-major (compiled; see the module docstring).

    Parameters
    ----------
    x : (T, N, D) inputs, float32 or float64.
    h0 : (N, H) initial hidden state.
    w_ih : (H, D);  w_hh : (H, H);  b_ih, b_hh : (H,), both or neither.
    nonlinearity : ``"tanh"`` or ``"relu"``.
    use_loops : force the hand-written (True) or BLAS (False) recurrent product;
        ``None`` chooses with :func:`use_loops_for`.

    Returns
    -------
    h : (T, N, H) hidden state after every step (a view into the cache's buffer: do not
        write into it before the backward).
    cache : RNNKernelCache for :func:`rnn_backward`.
    """
    check_nonlinearity(nonlinearity)
    # Compiled code does not check indexes: every shape is checked here (numba_checks.py).
    a = check_layer(_OWNER, 1, x, h0, w_ih, w_hh, b_ih, b_hh)
    x, h0, w_ih, w_hh, H = a.x, a.h0, a.w_ih, a.w_hh, a.H
    dtype = x.dtype
    T, N, D = x.shape
    bias = np.zeros(H, dtype=dtype) if b_ih is None else a.b_ih + a.b_hh
    if use_loops is None:
        use_loops = use_loops_for(N, H)
    hs = np.empty((T + 1, N, H), dtype=dtype)
    hs[0] = h0
    w_hh_t = np.ascontiguousarray(w_hh.T)  # made per call: weights may change between calls
    _forward_jit(x, w_ih, w_hh_t, bias, hs, nonlinearity == "relu", bool(use_loops))
    cache = RNNKernelCache(x, hs, w_ih, w_hh, b_ih is not None, nonlinearity, bool(use_loops))
    return hs[1:], cache


def rnn_backward(dh, cache: RNNKernelCache):
    """Backpropagation through time over the whole sequence (compiled).

    Parameters
    ----------
    dh : (T, N, H) dL/dh_t from above only (the caller has added dL/dh_n into dh[-1]).
    cache : RNNKernelCache from :func:`rnn_forward`.

    Returns
    -------
    dx : (T, N, D);  dh0 : (N, H);  dw_ih : (H, D);  dw_hh : (H, H);
    db_ih, db_hh : (H,), or None without bias.
    """
    x, hs = cache.x, cache.hs
    dh = check_grad(_OWNER, "dh", dh, hs[1:], "(T, N, H)")
    T, N, D = x.shape
    H = hs.shape[2]
    dx = np.empty_like(x)
    dw_ih = np.empty_like(cache.w_ih)
    dw_hh = np.empty_like(cache.w_hh)
    db64 = np.zeros(H, dtype=np.float64)
    dh0 = np.zeros((N, H), dtype=x.dtype)
    da = scratch("rnn_da", (T, N, H), x.dtype)  # reused by the next call: workspace.py
    _backward_jit(dh, x, hs, cache.w_ih, cache.w_hh, cache.nonlinearity == "relu", cache.use_loops,
                  da, dx, dw_ih, dw_hh, db64, dh0)
    if not cache.has_bias:
        return dx, dh0, dw_ih, dw_hh, None, None
    db = db64.astype(x.dtype)
    return dx, dh0, dw_ih, dw_hh, db, db.copy()

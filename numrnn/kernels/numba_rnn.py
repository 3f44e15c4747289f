"""The Elman RNN compiled with Numba: the reference's contract, the work reorganised.

Same names, signatures and results as ``numrnn/functional/rnn.py`` (read that first:
it is the literal equations). What changes is only where the work happens
(docs/performance.md has the measurements behind each choice):

Forward, one call per layer and direction::

    a[1:] = x @ w_ih.T                      GEMMs over all T*N rows, one per time block
    for t in range(T):                      the only sequential part, compiled
        rec  = h_{t-1} @ w_hh.T             register tiles (numba_gemm.py) or one BLAS call
        h_t  = f(a_t + rec + b)             vectorised tanh/relu (numba_math.py), in place

The states live in one buffer ``hs`` (T+1, N, H) with ``hs[0] = h0``: the returned ``h``
is the view ``hs[1:]`` and ``hs[:-1]`` is every h_{t-1}, which the backward needs
as one matrix. Nothing is allocated inside the step loop.

Backward::

    for t in reversed(range(T)):            the only sequential part, compiled
        da_t     = (dh_t + dh_carry) * f'(h_t)
        dh_carry = da_t @ w_hh              register tiles or one BLAS call
    dx    = da @ w_ih                       GEMMs over all T*N rows, per time block
    dw_ih = da.T @ x
    dw_hh = da.T @ hs[:-1]
    db    = sum of da over T*N              float64

Rows of the batch never interact, so with two or more threads the time loop runs on
each thread for its own rows, and the GEMMs outside it are spread over the threads
(``numba_layer.py`` says how, and why the results do not depend on the thread count).
Every BLAS call inside the compiled code (``np.dot``) goes to SciPy's OpenBLAS, the
one Numba links to (``numba_threads.py`` explains why that matters on 2 cores).

The kernel bodies are plain Python functions; their compiled copies are made once, at
import, with the options of ``numrnn/config.py`` (``_forward_jit = njit(**opts)(_forward)``).
With ``NUMBA_DISABLE_JIT=1`` the same bodies run as Python, which is how they are
traced and covered. Weights are never cached between calls: the packed copies of
``w_hh`` the loops read are made inside each call.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from numrnn import config, parallel
from numrnn.functional.activations import check_nonlinearity
from numrnn.kernels import numba_layer as layer
from numrnn.kernels.numba_checks import check_grad, check_layer
from numrnn.kernels.numba_gemm import check_gemm, gemm_panels, operands, packed
from numrnn.kernels.numba_layer import map_blocks
from numrnn.kernels.numba_math import relu, relu_grad, tanh, tanh_grad
from numrnn.kernels.numba_sync import publish
from numrnn.kernels.workspace import scratch


class RNNKernelCache(NamedTuple):
    """What :func:`rnn_backward` needs from :func:`rnn_forward`."""

    x: np.ndarray  # (T, N, D) the layer's input
    hs: np.ndarray  # (T+1, N, H) h0, then h_t after every step (the forward's output is hs[1:])
    w_ih: np.ndarray  # (H, D)
    w_hh: np.ndarray  # (H, H)
    has_bias: bool
    nonlinearity: str
    use_loops: bool  # register-tiled recurrent product (numba_gemm.py) instead of BLAS


# -- kernel bodies (plain Python; compiled below) ----------------------------------------
def _forward_rows(hs, wp, w_hh_t, bias, rec, is_relu, use_tiles, n0, n1):
    """The time loop for batch rows n0 <= n < n1: fill ``hs[1:, n0:n1]``.

    hs (T+1, N, H) holds h0 in hs[0] and x_t @ w_ih.T in hs[t+1] on entry; wp the packed
    w_hh.T (tiles) or w_hh_t = w_hh.T contiguous (BLAS); bias (H,) = b_ih + b_hh (zeros
    without bias); rec (N, >= H) scratch for h_{t-1} @ w_hh.T.
    """
    T = hs.shape[0] - 1
    H = hs.shape[2]
    for t in range(T):
        if use_tiles:
            gemm_panels(hs[t], wp, rec, n0, n1, 0, wp.shape[0])
        else:
            np.dot(hs[t, n0:n1], w_hh_t, rec[n0:n1])  # one BLAS call
        at = hs[t + 1]
        if is_relu:
            for n in range(n0, n1):
                a, r = at[n], rec[n, :H]
                for i in range(H):
                    a[i] = relu(a[i] + r[i] + bias[i])
        else:
            for n in range(n0, n1):
                a, r = at[n], rec[n, :H]
                for i in range(H):
                    a[i] = tanh(a[i] + r[i] + bias[i])


def _backward_rows(dh, hs, wp, w_hh, da, carry, is_relu, use_tiles, blocks, progress, n0, n1):
    """BPTT for batch rows n0 <= n < n1: fills ``da[:, n0:n1]`` (dL/da_t, T, N, H) and
    leaves dL/dh0 in ``carry[n0:n1, :H]`` (zeros on entry).

    ``dh`` (T, N, H) is the gradient from above only; the recurrence is added here.
    wp is the packed w_hh (tiles); carry (N, >= H). After finishing each time block the
    loop publishes how many blocks it has finished into ``progress``.
    """
    T, N, H = dh.shape
    nb = blocks.shape[0]
    b = nb - 1
    for t in range(T - 1, -1, -1):
        dat, dht, ht = da[t], dh[t], hs[t + 1]
        if is_relu:
            for n in range(n0, n1):
                d, g, c, h = dat[n], dht[n], carry[n, :H], ht[n]
                for i in range(H):
                    d[i] = relu_grad(g[i] + c[i], h[i])
        else:
            for n in range(n0, n1):
                d, g, c, h = dat[n], dht[n], carry[n, :H], ht[n]
                for i in range(H):
                    d[i] = tanh_grad(g[i] + c[i], h[i])
        # carry = da_t @ w_hh: dL/dh_{t-1} through the recurrence
        if use_tiles:
            gemm_panels(dat, wp, carry, n0, n1, 0, wp.shape[0])
        else:
            np.dot(dat[n0:n1], w_hh, carry[n0:n1])
        if t == blocks[b, 0]:
            publish(progress, nb - b)
            b -= 1


def _forward_serial(x, w_ih, w_hh, bias, hs, blocks, is_relu, use_tiles):
    """The whole forward in one compiled call, for a schedule that runs it all on this
    thread (the Python around a call costs microseconds, at T = 1000 and N = 1 a tenth
    of the forward): the input projection into ``hs[1:]``, the packing, the loop."""
    N, H = hs.shape[1], hs.shape[2]
    map_blocks(x, w_ih.T, hs[1:], blocks, 0, blocks.shape[0])
    if use_tiles:
        wp = packed(w_hh.T, 1)
        rec = np.empty((N, wp.shape[0] * wp.shape[2]), dtype=hs.dtype)
        _forward_rows(hs, wp, np.empty((0, 0), dtype=hs.dtype), bias, rec, is_relu, True, 0, N)
    else:
        rec = np.empty((N, H), dtype=hs.dtype)
        _forward_rows(hs, np.empty((0, H, 2), dtype=hs.dtype), np.ascontiguousarray(w_hh.T), bias, rec,
                      is_relu, False, 0, N)


_forward_rows = njit(**config.NUMBA_JIT_OPTIONS)(_forward_rows)  # called by _forward_serial too
_forward_serial_jit = njit(**config.NUMBA_JIT_OPTIONS)(_forward_serial)
_backward_rows_jit = njit(**config.NUMBA_JIT_OPTIONS)(_backward_rows)


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
    use_loops : the per-step product h @ w_hh.T as register tiles (True, the default
        when ``None``) or as one BLAS call (False).

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
    use_tiles = True if use_loops is None else bool(use_loops)
    sched = layer.schedule(T, N, 2.0 * T * N * H * H, 2.0 * T * N * H * D, use_tiles)
    hs = np.empty((T + 1, N, H), dtype=dtype)
    hs[0] = h0
    is_relu = nonlinearity == "relu"
    if layer.serial(sched):  # everything on this thread: one compiled call
        with parallel.blas_limit():
            _forward_serial_jit(x, w_ih, w_hh, bias, hs, sched.blocks, is_relu, use_tiles)
        return hs[1:], RNNKernelCache(x, hs, w_ih, w_hh, b_ih is not None, nonlinearity, use_tiles)
    with parallel.blas_limit():  # BLAS on at most NUMRNN_THREADS (one while tasks run)
        layer.project_input(x, w_ih.T, hs[1:], sched)
        wp, w_hh_t, width = operands(w_hh.T, 1, use_tiles)  # made per call: weights may change
        rec = scratch("rnn_rec", (N, width), dtype)
        if use_tiles:
            check_gemm(hs[0], wp, rec)
        layer.run_loop(sched, lambda n0, n1: _forward_rows(hs, wp, w_hh_t, bias, rec, is_relu,
                                                           use_tiles, n0, n1))
    cache = RNNKernelCache(x, hs, w_ih, w_hh, b_ih is not None, nonlinearity, use_tiles)
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
    x, hs, use_tiles = cache.x, cache.hs, cache.use_loops
    dh = check_grad(_OWNER, "dh", dh, hs[1:], "(T, N, H)")
    T, N, D = x.shape
    H = hs.shape[2]
    sched = layer.schedule(T, N, 2.0 * T * N * H * H, 2.0 * T * N * H * (2 * D + H), use_tiles)
    dx = np.empty_like(x)
    dw_ih = np.empty_like(cache.w_ih)
    dw_hh = np.empty_like(cache.w_hh)
    db64 = np.zeros(H, dtype=np.float64)
    da = scratch("rnn_da", (T, N, H), x.dtype)  # reused by the next call: workspace.py
    wp, w_hh, width = operands(cache.w_hh, 1, use_tiles)
    carry = np.zeros((N, width), dtype=x.dtype)
    if use_tiles:
        check_gemm(da[0], wp, carry)
    is_relu = cache.nonlinearity == "relu"

    def loop(n0, n1, progress):
        _backward_rows_jit(dh, hs, wp, w_hh, da, carry, is_relu, use_tiles, sched.blocks,
                           progress, n0, n1)

    grads = layer.Gradients(reductions=[(da, x, dw_ih), (da, hs, dw_hh)],
                            sums=[(da, db64)] if cache.has_bias else [], map=(da, cache.w_ih, dx))
    with parallel.blas_limit():  # BLAS on at most NUMRNN_THREADS (one while tasks run)
        layer.run_backward(sched, loop, grads)
    dh0 = np.ascontiguousarray(carry[:, :H])
    if not cache.has_bias:
        return dx, dh0, dw_ih, dw_hh, None, None
    db = db64.astype(x.dtype)
    return dx, dh0, dw_ih, dw_hh, db, db.copy()

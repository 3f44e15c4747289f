"""CUDA kernels of the Elman RNN, written with Numba so that CI can run them without a GPU.

The glue that calls them (cuBLAS products, CUDA graphs, the choice between the two
stages) is in ``kernels/cupy_rnn.py``; the equations are those of
``functional/rnn.py``. On a GPU the kernels take CuPy arrays (through the CUDA array
interface); under ``NUMBA_ENABLE_CUDASIM=1`` Numba's simulator runs the very same
Python bodies on the CPU, one thread at a time, on NumPy arrays, which is how
``tests/kernels/test_cuda_rnn.py`` checks them against the reference (and
``numba.cuda.compile_ptx`` checks that they compile for a real GPU).

Both stages take the input projection ``xw = x @ w_ih.T`` for all T steps from one
cuBLAS GEMM before the time loop: only ``h_{t-1} @ w_hh.T`` is sequential.

Stage 1, one cuBLAS GEMM and one fused elementwise kernel per step:

    step_forward    h_t  = f(xw_t + hw_t + b_ih + b_hh),   hw_t = h_{t-1} @ w_hh.T (cuBLAS)
    step_backward   da_t = (dh_t + dh_next) * f'(h_t)      then dh_next = da_t @ w_hh (cuBLAS)

Stage 2, one persistent kernel for the whole sequence (Diamos et al., "Persistent
RNNs: Stashing Recurrent Weights On-Chip", ICML 2016). Each block copies W_hh into
shared memory once, then carries its own few batch rows through all T steps. Batch
rows do not interact, so blocks never wait for each other: the only barriers are
``syncthreads`` inside a block, two per step. The price is that W_hh must fit in one
block's shared memory, so this is the path for small hidden sizes (see
:func:`persistent_launch`).

    persistent_forward   the T-step loop of h_t, W_hh and h_{t-1} read from shared memory
    persistent_backward  the T-step loop of da_t and dh_{t-1}, W_hh from shared memory

Every kernel is made once per dtype by :func:`kernels_for` (the dtype of the shared
arrays and of the constants must be known when Numba compiles), reads its inputs,
writes only its outputs, and keeps nothing between calls.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import numpy as np
from numba import cuda, from_dtype

from numrnn import config
from numrnn.errors import UsageTypeError


class RNNKernels(NamedTuple):
    """The compiled kernels of one dtype, and their plain Python bodies (for compile_ptx)."""

    step_forward: object
    step_backward: object
    persistent_forward: object
    persistent_backward: object
    bodies: dict


def _make_bodies(dtype) -> dict:
    """The kernel bodies for ``dtype``, as plain Python functions (not yet compiled).

    ``DT``, ``ZERO`` and ``ONE`` are closure constants, so float32 kernels do all their
    arithmetic in float32 (a bare ``0.0`` would promote to float64, slow on most GPUs).
    ``relu`` is 1 for ReLU and 0 for tanh.
    """
    DT = from_dtype(np.dtype(dtype))
    ZERO, ONE = DT(0), DT(1)

    def step_forward(xw_t, hw, b_ih, b_hh, h_t, relu):
        """h_t[n, j] = f(xw_t[n, j] + hw[n, j] + b_ih[j] + b_hh[j]), one thread per (n, j)."""
        j, n = cuda.grid(2)  # x runs along H: neighbouring threads touch neighbouring words
        if n < h_t.shape[0] and j < h_t.shape[1]:
            a = xw_t[n, j] + hw[n, j] + b_ih[j] + b_hh[j]
            if relu:
                h_t[n, j] = a if not (a < ZERO) else ZERO  # max(a, 0), NaN kept as NumPy does
            else:
                h_t[n, j] = math.tanh(a)

    def step_backward(dh_t, dh_next, h_t, da_t, relu):
        """da_t[n, j] = (dh_t + dh_next)[n, j] * f'(h_t[n, j]), f' from the saved output."""
        j, n = cuda.grid(2)
        if n < da_t.shape[0] and j < da_t.shape[1]:
            g = dh_t[n, j] + dh_next[n, j]
            y = h_t[n, j]
            if relu:
                da_t[n, j] = g * (ONE if y > ZERO else ZERO)
            else:
                da_t[n, j] = g * (ONE - y * y)

    def persistent_forward(xw, h0, w_hh, b_ih, b_hh, h, relu):
        """All T steps; block b runs batch rows b*R ... b*R+R-1, thread (j, r) owns h[:, row, j].

        Shared memory: w_hh transposed (H*H: wt[k*H + j] = w_hh[j, k], so the threads
        of a warp, consecutive in j, read consecutive words) followed by the block's
        rows of h_{t-1} (R*H).
        """
        sh = cuda.shared.array(0, dtype=DT)
        T, N, H = h.shape
        j = cuda.threadIdx.x  # hidden unit
        r = cuda.threadIdx.y  # row within the block
        R = cuda.blockDim.y
        n = cuda.blockIdx.x * R + r  # batch row
        HH = H * H
        # W_hh into shared memory, once, by all threads of the block together.
        tid = r * cuda.blockDim.x + j
        for i in range(tid, HH, cuda.blockDim.x * R):
            row = i // H
            col = i - row * H
            sh[col * H + row] = w_hh[row, col]
        active = j < H and n < N
        if active:
            sh[HH + r * H + j] = h0[n, j]
        cuda.syncthreads()
        h_new = ZERO
        for t in range(T):
            if active:
                s = ZERO  # (h_{t-1} @ w_hh.T)[n, j]
                for k in range(H):
                    s += sh[HH + r * H + k] * sh[k * H + j]
                a = xw[t, n, j] + s + b_ih[j] + b_hh[j]
                if relu:
                    h_new = a if not (a < ZERO) else ZERO
                else:
                    h_new = math.tanh(a)
            cuda.syncthreads()  # every thread has read h_{t-1}
            if active:
                sh[HH + r * H + j] = h_new
                h[t, n, j] = h_new
            cuda.syncthreads()  # h_t is in shared memory before step t+1 reads it

    def persistent_backward(dh, h, w_hh, da, dh0, relu):
        """BPTT over all T steps: da (T, N, H) and dh0 (N, H) out.

        Thread (j, r) keeps dh_next[row, j] (dL/dh_t from step t+1) in a register.
        Shared memory: w_hh as it is (H*H: w[k*H + j] = w_hh[k, j], consecutive in j)
        followed by the block's rows of da_t (R*H).
        """
        sh = cuda.shared.array(0, dtype=DT)
        T, N, H = h.shape
        j = cuda.threadIdx.x
        r = cuda.threadIdx.y
        R = cuda.blockDim.y
        n = cuda.blockIdx.x * R + r
        HH = H * H
        tid = r * cuda.blockDim.x + j
        for i in range(tid, HH, cuda.blockDim.x * R):
            row = i // H
            col = i - row * H
            sh[i] = w_hh[row, col]
        cuda.syncthreads()
        active = j < H and n < N
        dh_next = ZERO
        for tt in range(T):
            t = T - 1 - tt
            if active:
                g = dh[t, n, j] + dh_next
                y = h[t, n, j]
                if relu:
                    d = g * (ONE if y > ZERO else ZERO)
                else:
                    d = g * (ONE - y * y)
                da[t, n, j] = d
                sh[HH + r * H + j] = d
            cuda.syncthreads()  # the row of da_t is complete
            if active:
                s = ZERO  # (da_t @ w_hh)[n, j] = sum_k da_t[n, k] * w_hh[k, j]
                for k in range(H):
                    s += sh[HH + r * H + k] * sh[k * H + j]
                dh_next = s
            cuda.syncthreads()  # every thread has read da_t before step t-1 overwrites it
        if active:
            dh0[n, j] = dh_next

    return {
        "step_forward": step_forward,
        "step_backward": step_backward,
        "persistent_forward": persistent_forward,
        "persistent_backward": persistent_backward,
    }


@functools.cache
def _kernels_for(dtype_name: str) -> RNNKernels:
    bodies = _make_bodies(np.dtype(dtype_name))
    jitted = {name: cuda.jit(body) for name, body in bodies.items()}  # compiled on first launch
    return RNNKernels(bodies=bodies, **jitted)


def kernels_for(dtype) -> RNNKernels:
    """The kernels for float32 or float64 (made once per dtype, compiled on first launch)."""
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise UsageTypeError(f"the CUDA kernels run float32 or float64; got {dtype.name}")
    return _kernels_for(dtype.name)


def signatures(dtype) -> dict:
    """Numba signatures of every kernel for C-contiguous arrays of ``dtype``.

    Used to compile the kernels to PTX without a GPU (``numba.cuda.compile_ptx``).
    """
    from numba import int64

    DT = from_dtype(np.dtype(dtype))
    v, m, c = DT[::1], DT[:, ::1], DT[:, :, ::1]
    return {
        "step_forward": (m, m, v, v, m, int64),
        "step_backward": (m, m, m, m, int64),
        "persistent_forward": (c, m, m, v, v, c, int64),
        "persistent_backward": (c, c, m, c, m, int64),
    }


# -- launch configurations ------------------------------------------------------------------
def elementwise_launch(N: int, H: int) -> tuple:
    """(grid, block) of the fused elementwise kernels over an (N, H) step."""
    bx = 32
    by = max(1, config.CUDA_ELEMENTWISE_THREADS // bx)
    return (math.ceil(H / bx), math.ceil(N / by)), (bx, by)


def persistent_launch(N: int, H: int, itemsize: int, smem_bytes: int | None = None):
    """(grid, block, shared bytes) of the persistent kernels, or None when W_hh does not fit.

    A block is H x R threads (hidden unit x batch row, at most 1024) and holds W_hh
    (H*H) and R rows of state (R*H) in shared memory.
    """
    limit = config.PERSISTENT_SMEM_BYTES if smem_bytes is None else smem_bytes
    if H > 1024:
        return None
    R = min(config.PERSISTENT_ROWS_PER_BLOCK, N, 1024 // H)
    while R >= 1 and (H * H + R * H) * itemsize > limit:
        R -= 1
    if R < 1:
        return None
    return (math.ceil(N / R),), (H, R), (H * H + R * H) * itemsize


# -- launches ---------------------------------------------------------------------------------
def launch_step_forward(k: RNNKernels, stream, xw_t, hw, b_ih, b_hh, h_t, relu: int) -> None:
    """``h_t = f(xw_t + hw + b_ih + b_hh)`` on ``stream`` (arrays are (N, H), biases (H,))."""
    grid, block = elementwise_launch(*h_t.shape)
    k.step_forward[grid, block, stream](xw_t, hw, b_ih, b_hh, h_t, relu)


def launch_step_backward(k: RNNKernels, stream, dh_t, dh_next, h_t, da_t, relu: int) -> None:
    """``da_t = (dh_t + dh_next) * f'(h_t)`` on ``stream`` (all (N, H))."""
    grid, block = elementwise_launch(*da_t.shape)
    k.step_backward[grid, block, stream](dh_t, dh_next, h_t, da_t, relu)


def launch_persistent_forward(k: RNNKernels, stream, xw, h0, w_hh, b_ih, b_hh, h, relu: int) -> None:
    """All T steps of the forward in one launch; ``h`` (T, N, H) is written."""
    T, N, H = h.shape
    grid, block, smem = persistent_launch(N, H, h.dtype.itemsize)
    k.persistent_forward[grid, block, stream, smem](xw, h0, w_hh, b_ih, b_hh, h, relu)


def launch_persistent_backward(k: RNNKernels, stream, dh, h, w_hh, da, dh0, relu: int) -> None:
    """All T steps of BPTT in one launch; ``da`` (T, N, H) and ``dh0`` (N, H) are written."""
    T, N, H = h.shape
    grid, block, smem = persistent_launch(N, H, h.dtype.itemsize)
    k.persistent_backward[grid, block, stream, smem](dh, h, w_hh, da, dh0, relu)


def device_view(a):
    """A Numba device array over a CuPy array's memory (no copy, no synchronisation).

    ``sync=False``: the kernels are launched on the stream the CuPy work runs on, so no
    wait is needed, and a stream that is being captured into a CUDA graph must not be
    synchronised. Anything without ``__cuda_array_interface__`` (NumPy arrays, under the
    simulator) is returned as it is.
    """
    if hasattr(a, "__cuda_array_interface__") and not simulated():
        return cuda.as_cuda_array(a, sync=False)
    return a


def simulated() -> bool:
    """Whether Numba runs CUDA kernels in its CPU simulator (``NUMBA_ENABLE_CUDASIM=1``)."""
    from numba import config as numba_config

    return bool(numba_config.ENABLE_CUDASIM)


def available() -> bool:
    """Whether these kernels can run: a CUDA GPU Numba can use, or the simulator."""
    try:
        return bool(cuda.is_available())
    except Exception:  # a broken driver install raises instead of answering
        return False

"""CUDA kernels of the Elman RNN, written with Numba so that CI can run them without a GPU.

The glue that calls them (cuBLAS products, CUDA graphs, streams, the choice between the
stages) is in ``kernels/cupy_rnn.py``; the equations are those of
``functional/rnn.py``. On a GPU the kernels take CuPy arrays (through the CUDA array
interface); under ``NUMBA_ENABLE_CUDASIM=1`` Numba's simulator runs the very same
Python bodies on the CPU, one thread at a time, on NumPy arrays, which is how
``tests/kernels/test_cuda_rnn.py`` checks them against the reference (and
``numba.cuda.compile_ptx`` checks that they compile for a real GPU).

Every stage takes the input projection ``xw = x @ w_ih.T`` for all T steps from one
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

Stage 3, the multi-block persistent kernel of the same paper, for hidden sizes whose
W_hh does not fit in one block: W_hh is split across the grid, block b keeping the
rows (forward) or columns (backward) of its U hidden units in shared memory for the
whole sequence. A step needs all of h_{t-1} (or da_{t+1}), which every block wrote, so
the grid synchronises once per step (a cooperative launch, ``cuda.cg.this_grid()``).

    multiblock_forward   h_t[:, units of b]  = f(xw_t + h_{t-1} @ w_hh[units of b].T + b)
    multiblock_backward  da_t[:, units of b] = (dh_t + da_{t+1} @ w_hh[:, units of b]) * f'(h_t)

Numba's simulator runs the blocks of a grid one after another and cannot synchronise
them; there the kernels run one step per launch (:func:`launch_ranges`), the launch
boundary doing the grid barrier's job, which is why their time loop takes a range.

Every kernel is made once per dtype by :func:`kernels_for` (the dtype of the shared
arrays and of the constants must be known when Numba compiles; their types, and those
of :func:`signatures`, come from the CUDA target's own namespace through
``cuda_toolchain.scalar_type``), reads its inputs, writes only its outputs, and keeps
nothing between calls.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import numpy as np
from numba import cuda

from numrnn import config
from numrnn.errors import UsageTypeError, UsageValueError
from numrnn.kernels import cuda_toolchain
from numrnn.kernels.cuda_toolchain import array_type, scalar_type


class RNNKernels(NamedTuple):
    """The compiled kernels of one dtype, and their plain Python bodies (for compile_ptx)."""

    step_forward: object
    step_backward: object
    persistent_forward: object
    persistent_backward: object
    multiblock_forward: object
    multiblock_backward: object
    bodies: dict


def _make_bodies(dtype) -> dict:
    """The kernel bodies for ``dtype``, as plain Python functions (not yet compiled).

    ``DT``, ``ZERO`` and ``ONE`` are closure constants, so float32 kernels do all their
    arithmetic in float32 (a bare ``0.0`` would promote to float64, slow on most GPUs).
    ``relu`` is 1 for ReLU and 0 for tanh.
    """
    DT = scalar_type(dtype)
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

    def multiblock_forward(xw, h0, w_hh, b_ih, b_hh, h, relu, U, t0, t1):
        """Steps t0 .. t1-1 of the forward; block b owns the hidden units j = b*U .. b*U+U-1.

        Shared memory: the block's U rows of W_hh, w[u*HP + k] = w_hh[b*U + u, k], loaded
        once; the row pitch HP = H + 1 puts the U rows in different banks. Thread i of
        the block computes h_t[n, j] for the pairs (n, u) = divmod(i, U), (i + threads), ...
        Reads of h_{t-1} (from every block) follow the grid barrier of the step before.
        """
        w = cuda.shared.array(0, dtype=DT)
        T, N, H = h.shape
        HP = H + 1
        j0 = cuda.blockIdx.x * U
        tid = cuda.threadIdx.x
        nt = cuda.blockDim.x
        for i in range(tid, U * H, nt):  # the block's rows of W_hh, once for the whole sequence
            u = i // H
            k = i - u * H
            if j0 + u < H:
                w[u * HP + k] = w_hh[j0 + u, k]
        cuda.syncthreads()
        grid = cuda.cg.this_grid()
        for t in range(t0, t1):
            prev = h0 if t == 0 else h[t - 1]  # (N, H), all of it: every block wrote a part
            for i in range(tid, N * U, nt):
                n = i // U
                u = i - n * U
                j = j0 + u
                if j < H:
                    s = ZERO  # (h_{t-1} @ w_hh.T)[n, j]
                    for k in range(H):
                        s += prev[n, k] * w[u * HP + k]
                    a = xw[t, n, j] + s + b_ih[j] + b_hh[j]
                    if relu:
                        h[t, n, j] = a if not (a < ZERO) else ZERO
                    else:
                        h[t, n, j] = math.tanh(a)
            if t < t1 - 1:
                grid.sync()  # h_t complete in every block before step t+1 reads it

    def multiblock_backward(dh, h, w_hh, da, dh0, relu, U, t0, t1):
        """Pseudo-steps t = t1-1 down to t0 of BPTT (t0 >= -1); block b owns units b*U ...

        Pseudo-step t first forms dL/dh_t's part from step t+1, the carry
        (da_{t+1} @ w_hh)[n, j] = sum over every unit k of da_{t+1}[n, k] * w_hh[k, j]
        (zero at t = T-1), then writes da_t = (dh_t + carry) * f'(h_t) for its units, or
        dh0 = carry at t = -1. Shared memory: the block's U columns of W_hh stored as
        rows, w[u*HP + k] = w_hh[k, b*U + u].
        """
        w = cuda.shared.array(0, dtype=DT)
        T, N, H = h.shape
        HP = H + 1
        j0 = cuda.blockIdx.x * U
        tid = cuda.threadIdx.x
        nt = cuda.blockDim.x
        for i in range(tid, U * H, nt):  # consecutive threads read consecutive columns
            k = i // U
            u = i - k * U
            if j0 + u < H:
                w[u * HP + k] = w_hh[k, j0 + u]
        cuda.syncthreads()
        grid = cuda.cg.this_grid()
        for tt in range(t1 - t0):
            t = t1 - 1 - tt
            for i in range(tid, N * U, nt):
                n = i // U
                u = i - n * U
                j = j0 + u
                if j < H:
                    carry = ZERO  # dL/dh_t through step t+1
                    if t + 1 < T:
                        for k in range(H):
                            carry += da[t + 1, n, k] * w[u * HP + k]
                    if t >= 0:
                        g = dh[t, n, j] + carry
                        y = h[t, n, j]
                        if relu:
                            da[t, n, j] = g * (ONE if y > ZERO else ZERO)
                        else:
                            da[t, n, j] = g * (ONE - y * y)
                    else:
                        dh0[n, j] = carry
            if tt < t1 - t0 - 1:
                grid.sync()  # da_t complete in every block before pseudo-step t-1 reads it

    return {
        "step_forward": step_forward,
        "step_backward": step_backward,
        "persistent_forward": persistent_forward,
        "persistent_backward": persistent_backward,
        "multiblock_forward": multiblock_forward,
        "multiblock_backward": multiblock_backward,
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
    v, m, c = (array_type(dtype, ndim) for ndim in (1, 2, 3))
    i = scalar_type(np.int64)
    return {
        "step_forward": (m, m, v, v, m, i),
        "step_backward": (m, m, m, m, i),
        "persistent_forward": (c, m, m, v, v, c, i),
        "persistent_backward": (c, c, m, c, m, i),
        "multiblock_forward": (c, m, m, v, v, c, i, i, i, i),
        "multiblock_backward": (c, c, m, c, m, i, i, i, i),
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


class MultiblockPlan(NamedTuple):
    """Launch configuration of the multi-block persistent kernels."""

    blocks: int  # ceil(H / units): the grid, all of it resident at once
    threads: int  # per block
    units: int  # U, hidden units per block
    smem: int  # bytes of shared memory per block: U rows of W_hh at pitch H + 1


def _multiblock_share(H: int, itemsize: int, max_blocks: int | None) -> tuple:
    """``(max_blocks, U, smem)``: the cap on the grid (``config.MULTIBLOCK_MAX_BLOCKS`` for
    None), U = ceil(H / max_blocks) hidden units per block, and the bytes of shared
    memory their U rows of W_hh take at pitch H + 1."""
    max_blocks = config.MULTIBLOCK_MAX_BLOCKS if max_blocks is None else max_blocks
    U = math.ceil(H / max(1, max_blocks))
    return max_blocks, U, U * (H + 1) * itemsize


def multiblock_launch(N: int, H: int, itemsize: int, max_blocks: int | None = None,
                      smem_bytes: int | None = None) -> MultiblockPlan | None:
    """The plan of the multi-block kernels, or None when one row of W_hh does not fit a block.

    As many blocks as ``max_blocks`` (``config.MULTIBLOCK_MAX_BLOCKS``) allows, each
    owning U = ceil(H / max_blocks) hidden units: S4 (H = 128) and S6 (H = 512) in
    float32 get 128 blocks of 1 and 4 units, 0.5 and 8 KiB of W_hh each.
    """
    limit = config.PERSISTENT_SMEM_BYTES if smem_bytes is None else smem_bytes
    _, U, smem = _multiblock_share(H, itemsize, max_blocks)
    if smem > limit:
        return None
    threads = min(config.MULTIBLOCK_THREADS, 32 * math.ceil(N * U / 32))
    return MultiblockPlan(math.ceil(H / U), threads, U, smem)


def multiblock_refusal(H: int, itemsize: int, max_blocks: int | None = None) -> str:
    """Why :func:`multiblock_launch` found no plan, in words."""
    max_blocks, U, smem = _multiblock_share(H, itemsize, max_blocks)
    return (f"the multi-block kernel keeps {U} rows of W_hh ({U} x {H + 1} words, "
            f"{smem} bytes) per block in shared memory, over the "
            f"{config.PERSISTENT_SMEM_BYTES} bytes a block has (at most {max_blocks} blocks)")


def max_cooperative_blocks(kernel, signature, threads: int, smem: int) -> int:
    """How many blocks of ``kernel`` this GPU keeps resident at once (a cooperative grid's
    limit); the simulator has no limit here, see :func:`launch_ranges`."""
    if cuda_toolchain.simulated():
        return 2**31 - 1
    return kernel.compile(signature).max_cooperative_grid_blocks(threads, smem)


def _multiblock_plan(kernel, name: str, N: int, H: int, dtype, max_blocks: int | None) -> MultiblockPlan:
    """The plan for this GPU: fewer, wider blocks while the grid would not be resident."""
    plan = multiblock_launch(N, H, np.dtype(dtype).itemsize, max_blocks)
    if plan is None:
        raise UsageValueError(multiblock_refusal(H, np.dtype(dtype).itemsize, max_blocks)
                              + "; use NUMRNN_CUPY_PATH=steps")
    signature = signatures(dtype)[name]
    while True:
        limit = max_cooperative_blocks(kernel, signature, plan.threads, plan.smem)
        if plan.blocks <= limit:
            return plan
        smaller = multiblock_launch(N, H, np.dtype(dtype).itemsize, max_blocks=limit)
        if limit < 1 or smaller is None or smaller.blocks >= plan.blocks:
            raise RuntimeError(
                f"the multi-block kernel's grid ({plan.blocks} blocks of {plan.threads} threads, "
                f"{plan.smem} bytes of shared memory) cannot be resident on this GPU at once "
                f"(at most {limit}); use NUMRNN_CUPY_PATH=steps")
        plan = smaller


def launch_ranges(start: int, stop: int, blocks: int) -> list:
    """The step ranges of the multi-block kernels' launches: all steps in one launch, whose
    grid barrier separates them; under the simulator, which runs a grid's blocks one
    after another and cannot synchronise them, one step per launch (the launch boundary
    is then the barrier)."""
    if cuda_toolchain.simulated() and blocks > 1:
        return [(t, t + 1) for t in range(start, stop)]
    return [(start, stop)]


def launch_multiblock_forward(k: RNNKernels, stream, xw, h0, w_hh, b_ih, b_hh, h, relu: int,
                              max_blocks: int | None = None) -> None:
    """All T steps of the forward on a cooperative grid; ``h`` (T, N, H) is written.

    ``max_blocks`` caps the grid (tests run one block, the grid barrier included).
    """
    T, N, H = h.shape
    plan = _multiblock_plan(k.multiblock_forward, "multiblock_forward", N, H, h.dtype, max_blocks)
    for t0, t1 in launch_ranges(0, T, plan.blocks):
        k.multiblock_forward[plan.blocks, plan.threads, stream, plan.smem](
            xw, h0, w_hh, b_ih, b_hh, h, relu, plan.units, t0, t1)


def launch_multiblock_backward(k: RNNKernels, stream, dh, h, w_hh, da, dh0, relu: int,
                               max_blocks: int | None = None) -> None:
    """BPTT on a cooperative grid: pseudo-steps T-1 down to -1; ``da`` and ``dh0`` are written."""
    T, N, H = h.shape
    plan = _multiblock_plan(k.multiblock_backward, "multiblock_backward", N, H, h.dtype, max_blocks)
    for t0, t1 in reversed(launch_ranges(-1, T, plan.blocks)):
        k.multiblock_backward[plan.blocks, plan.threads, stream, plan.smem](
            dh, h, w_hh, da, dh0, relu, plan.units, t0, t1)


def device_view(a):
    """A Numba device array over a CuPy array's memory (no copy, no synchronisation).

    ``sync=False``: the kernels are launched on the stream the CuPy work runs on, so no
    wait is needed, and a stream that is being captured into a CUDA graph must not be
    synchronised. Anything without ``__cuda_array_interface__`` (NumPy arrays, under the
    simulator) is returned as it is.
    """
    if hasattr(a, "__cuda_array_interface__") and not cuda_toolchain.simulated():
        return cuda.as_cuda_array(a, sync=False)
    return a


def available() -> bool:
    """Whether these kernels can run: Numba's CUDA target, NVVM and a GPU, or the simulator
    (``cuda_toolchain.status()`` says what is missing)."""
    return cuda_toolchain.status().ok

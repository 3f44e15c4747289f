"""Every knob of numrnn in one place: compile options, environment variables, defaults.

Kernel files import their options from here instead of sprinkling ``fastmath=True``
or ``cache=True`` across decorators (the stumpy convention), so a reader sees in one
screen what the compiled paths assume.

Environment variables
---------------------
NUMRNN_BACKEND
    Default backend when a module is built with ``backend="auto"``: one of
    ``numpy``, ``numba``, ``cupy``. Unset means "choose automatically".
NUMRNN_NUMBA_CACHE
    ``0`` turns off Numba's on-disk cache (default on: the first compile of an RNN
    loop costs seconds, a cached load a few milliseconds).
NUMRNN_THREADS
    Threads numrnn's CPU kernels may use (``numrnn/parallel.py``): the time loop split by
    batch rows, the GEMMs outside it by time blocks, BLAS held to one thread meanwhile.
    Default: the cores this process may run on. ``1`` runs everything in the calling
    thread. Results do not depend on it (docs/performance.md).
NUMBA_DISABLE_JIT
    Numba's own switch: ``1`` runs every kernel body as plain Python, which is how
    the kernels are traced, debugged and covered.
NUMRNN_CUPY_PATH, NUMRNN_CUDA_GRAPHS
    The GPU path of the cupy backend and whether stage 1 uses CUDA graphs (below).
NUMBA_ENABLE_CUDASIM
    Numba's CUDA simulator: ``1`` runs the CUDA kernels of ``kernels/cuda_rnn.py`` on
    the CPU, thread by thread; CI tests them that way (``make test-gpu-sim``).
NUMRNN_MAX_ALLOC_BYTES
    The allocation guard's bound (:data:`MAX_ALLOC_BYTES`), in bytes or with a
    binary suffix: ``512M``, ``32G``, ``1T``.
"""

from __future__ import annotations

import functools
import os

from numrnn.errors import UsageValueError

#: Names accepted by ``backend=`` and ``NUMRNN_BACKEND``.
BACKENDS = ("auto", "numpy", "numba", "cupy")

#: Options shared by every ``numba.njit`` in ``numrnn/kernels``.
#: ``fastmath`` stays off: parity with PyTorch to rounding matters more than the
#: few percent that reassociation buys, and the vectorised activations in
#: ``kernels/numba_math.py`` are written so LLVM vectorises them without it.
NUMBA_JIT_OPTIONS = {
    "nogil": True,
    "cache": os.environ.get("NUMRNN_NUMBA_CACHE", "1") != "0",
    "fastmath": False,
    "error_model": "numpy",
}

#: The per-step products h @ w_hh.T (and da @ w_hh backward) of the Numba kernels run as
#: register tiles (``kernels/numba_gemm.py``), not BLAS, unless a call asks for BLAS
#: (``use_loops=False``): measured on the 2-core machine, the tiles run 1.3x to 2.5x
#: faster than OpenBLAS's ``np.dot`` from N = 2 to 64 and H = 64 to 512, and about as
#: fast at N = 1 (docs/performance.md). The tile's inner loop runs over at most this many
#: k at a time, so that the panel it reads (k x 16 float32 or k x 8 float64) stays in
#: the 32 KiB L1 cache; a longer K continues the same chain of multiply-adds.
NUMBA_TILE_K_BLOCK = 256

#: Rows (time steps x batch) of one *time block*: the GEMMs outside the time loop (the
#: input projection; dx, dw_ih, dw_hh, db) run one block at a time, so that the weight
#: gradients of the blocks the backward loop has finished can run on another thread while
#: it goes on. The blocks depend on T and N only, never on the thread count, so neither
#: do the sums.
NUMBA_BLOCK_ROWS = 512

#: The time loop is split between threads by batch rows (rows never interact), each
#: thread taking at least this many rows, and only when a call's loop does at least
#: NUMBA_SPLIT_MIN_FLOPS of multiply-adds x 2. The GEMMs outside the loop (BLAS on one
#: thread each) are cut into time blocks and spread over the threads from
#: NUMBA_GEMM_SPLIT_MIN_FLOPS on; below it they stay whole, one BLAS call each. Below
#: these sizes, handing work to another thread (tens of microseconds to wake it) costs
#: more than it saves.
NUMBA_SPLIT_MIN_ROWS = 8
NUMBA_SPLIT_MIN_FLOPS = 5e7
NUMBA_GEMM_SPLIT_MIN_FLOPS = 3e7

#: When the loop is not split, the weight gradients of finished time blocks run on a
#: second thread beside the backward loop if they are at least this much work.
NUMBA_OVERLAP_MIN_FLOPS = 5e7

#: Most scratch (bytes, all buffers together) one thread keeps for reuse by the compiled
#: backward passes (``numrnn/kernels/workspace.py``): reusing it avoids the page faults
#: of fresh memory, about 1.7 us per 4 KiB page on the development machine. A buffer that
#: would go over this total evicts the thread's others; a larger one is allocated fresh
#: and not kept. ``numrnn.kernels.workspace.clear()`` releases the calling thread's.
WORKSPACE_MAX_BYTES = 64 * 2**20

#: The allocation guard (``numrnn/memory.py``): the most bytes one model may need for
#: its parameters and their gradients, and one checkpoint for its arrays, before
#: anything is allocated; beyond it (or beyond the machine's physical memory) the
#: constructor or ``nr.load`` raises ``SizeError`` naming the size, instead of
#: filling memory until the OS kills the process. ``None`` means
#: ``NUMRNN_MAX_ALLOC_BYTES`` when it is set, else :data:`DEFAULT_MAX_ALLOC_BYTES`;
#: set an int here (``numrnn.config.MAX_ALLOC_BYTES = 64 * 2**30``) to change it in code.
MAX_ALLOC_BYTES: int | None = None

#: 16 GiB: two billion float32 parameters with their gradients, far beyond what a
#: NumPy RNN trains in reasonable time, and far below what a typo (``RNN(3, 10**9)``)
#: asks for.
DEFAULT_MAX_ALLOC_BYTES = 16 * 2**30

#: Default pass mark of :func:`numrnn.check_gradients`: the largest relative error
#: allowed (float64, central differences with ``eps = 1e-5``, where truncation and
#: rounding errors balance; docs/gradcheck.md shows where both numbers come from).
#: A correct backward measures below about 2e-6 (the RNN below 3e-7); every broken one
#: planted in the tests measures 0.3 or more.
GRADCHECK_TOL = 1e-5

#: Tensors with at most this many elements are checked element by element; larger
#: ones by a random sample of elements plus random-direction checks.
GRADCHECK_FULL_MAX = 4096

# -- the CuPy backend (numrnn/kernels/cupy_rnn.py, cuda_rnn.py; docs/performance.md) ------

#: Which GPU path runs an RNN layer: ``"auto"`` (persistent kernel when W_hh fits in
#: shared memory, else stage 1; the reference, with one warning, when Numba's CUDA
#: target, NVVM or the GPU is missing), ``"persistent"``, ``"multiblock"`` (stage 3:
#: W_hh split across a cooperative grid), ``"steps"`` (stage 1: cuBLAS GEMM + fused
#: elementwise kernel per step) or ``"reference"`` (numrnn.functional on CuPy arrays).
#: Set by ``NUMRNN_CUPY_PATH``; a forced path that cannot run is an error. ``auto``
#: never picks ``multiblock``: no GPU measurement has shown it ahead yet.
CUPY_PATHS = ("auto", "persistent", "multiblock", "steps", "reference")

#: ``NUMRNN_CUDA_GRAPHS=0`` replays stage 1's time loop eagerly instead of capturing it
#: once as a CUDA graph (for profiling: every kernel then shows up on its own).
CUDA_GRAPHS = os.environ.get("NUMRNN_CUDA_GRAPHS", "1") != "0"

#: How many captured time loops (one per shape, dtype and device) stage 1 keeps.
#: A captured loop owns its buffers, never values: every call copies the current
#: weights and inputs in before the replay.
CUDA_GRAPH_CACHE_SIZE = 16

#: Shared memory one block of the persistent kernel may use: W_hh plus the block's
#: rows of h. 48 KiB is what every CUDA GPU grants without an opt-in.
PERSISTENT_SMEM_BYTES = 48 * 1024

#: Batch rows one block of the persistent kernel carries through the sequence: fewer
#: rows per block means more blocks on more SMs for the same batch.
PERSISTENT_ROWS_PER_BLOCK = 4

#: Largest grid of the multi-block persistent kernel (stage 3). Its blocks must all be
#: resident at once (a cooperative launch), so the launch asks the GPU and shrinks the
#: grid below this when needed; an H200 keeps 132 SMs' worth.
MULTIBLOCK_MAX_BLOCKS = 128

#: Threads per block of the multi-block kernel (fewer when the block has fewer outputs).
MULTIBLOCK_THREADS = 256

#: Threads per block of the fused elementwise kernels (a 2-D block of 32 x this/32).
CUDA_ELEMENTWISE_THREADS = 256


def threads() -> int:
    """Threads numrnn may use: ``NUMRNN_THREADS``, else the cores this process may run on."""
    value = os.environ.get("NUMRNN_THREADS", "").strip()
    if value:
        try:
            n = int(value)
        except ValueError:
            n = 0
        if n < 1:
            raise UsageValueError(f"NUMRNN_THREADS must be a positive integer; got {value!r}")
        return n
    return _cores()


@functools.lru_cache(maxsize=1)
def _cores() -> int:
    """The cores this process may run on (asked once: it is a system call)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def cupy_path() -> str:
    """The GPU path named by ``NUMRNN_CUPY_PATH``, or ``"auto"`` when it is unset."""
    name = os.environ.get("NUMRNN_CUPY_PATH", "auto").strip().lower() or "auto"
    if name not in CUPY_PATHS:
        raise UsageValueError(f"NUMRNN_CUPY_PATH must be one of {', '.join(CUPY_PATHS)}; got {name!r}")
    return name


def default_backend() -> str:
    """The backend named by ``NUMRNN_BACKEND``, or ``"auto"`` when it is unset."""
    name = os.environ.get("NUMRNN_BACKEND", "auto").strip().lower() or "auto"
    if name not in BACKENDS:
        raise UsageValueError(
            f"NUMRNN_BACKEND must be one of {', '.join(BACKENDS)}; got {name!r}"
        )
    return name


_SIZE_SUFFIXES = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


def max_alloc_bytes() -> int:
    """The allocation guard's bound: :data:`MAX_ALLOC_BYTES`, else ``NUMRNN_MAX_ALLOC_BYTES``,
    else :data:`DEFAULT_MAX_ALLOC_BYTES`."""
    if MAX_ALLOC_BYTES is not None:
        value = MAX_ALLOC_BYTES
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise UsageValueError(f"numrnn.config.MAX_ALLOC_BYTES must be a positive int (bytes) or None; "
                                  f"got {value!r}")
        return value
    text = os.environ.get("NUMRNN_MAX_ALLOC_BYTES", "").strip().upper().removesuffix("B").removesuffix("I")
    if not text:
        return DEFAULT_MAX_ALLOC_BYTES
    number, suffix = (text[:-1], text[-1]) if text[-1] in _SIZE_SUFFIXES else (text, "")
    if not number.isdigit() or int(number) < 1:
        raise UsageValueError("NUMRNN_MAX_ALLOC_BYTES must be a positive number of bytes, optionally with "
                              f"a suffix K, M, G or T (binary); got {os.environ['NUMRNN_MAX_ALLOC_BYTES']!r}")
    return int(number) * _SIZE_SUFFIXES[suffix]

"""The Elman RNN on an NVIDIA GPU: the reference contract, run by cuBLAS and CUDA kernels.

``rnn_forward`` and ``rnn_backward`` have the names, signatures and results of
``functional/rnn.py`` and are what ``backend="cupy"`` calls for an RNN layer. They
choose one of four paths (:func:`choose_path`; ``NUMRNN_CUPY_PATH`` forces one):

``"persistent"`` (stage 2, small H)
    one CUDA kernel runs all T steps, W_hh held in one block's shared memory
    (``cuda_rnn.persistent_forward``/``persistent_backward``).
``"multiblock"`` (stage 3, any H whose W_hh row fits a block; only when forced)
    one cooperative CUDA kernel runs all T steps, W_hh split across the blocks of the
    grid, one grid barrier per step (``cuda_rnn.multiblock_forward``/``_backward``).
``"steps"`` (stage 1)
    per step one cuBLAS GEMM (``h_{t-1} @ w_hh.T``) and one fused elementwise kernel
    (bias add and activation; backward: activation derivative), the T-step loop
    captured once as a CUDA graph and replayed (:class:`CapturedLoop`).
``"reference"``
    the textbook ``functional/rnn.py`` on CuPy arrays: what runs when Numba's CUDA
    target, its compiler (NVVM) or a GPU it can use is missing; ``auto`` then says
    why in one warning (:class:`GpuKernelsWarning`).

Every kernel is launched on the CuPy stream the call runs on (:func:`kernel_stream`),
never on Numba's idea of a default stream.

Both kernel paths reorganise the reference's work the same way, and say so here rather
than in every line: the input projection ``x_t @ w_ih.T`` of all T steps is one GEMM
before the time loop, and after BPTT the gradients ``dx``, ``dw_ih``, ``dw_hh`` and
``db`` are one GEMM (or sum) each over all T steps, from the saved ``da_t``:

    dx    = da @ w_ih                 (T*N, H) @ (H, I)
    dw_ih = da.T @ x                  (H, T*N) @ (T*N, I)
    dw_hh = da.T @ [h0, h_1 .. h_{T-1}]
    db    = sum over t and n of da

The array module ``xp`` is whatever the inputs are: CuPy on a GPU, or NumPy standing
in for it, so that CI runs this glue and the kernels (under Numba's CUDA simulator)
without a GPU. Nothing is cached between calls except the captured loops of stage 1,
which own their buffers and never values: every call copies the current weights and
inputs into them before the replay.
"""

from __future__ import annotations

import threading
import warnings
from collections import OrderedDict
from typing import NamedTuple

from numrnn import config
from numrnn.backend import get_array_module
from numrnn.errors import UsageValueError
from numrnn.functional import rnn as reference
from numrnn.functional.activations import check_nonlinearity


class CupyRNNCache(NamedTuple):
    """What :func:`rnn_backward` needs from :func:`rnn_forward`."""

    path: str  # the path taken: "persistent", "multiblock", "steps" or "reference"
    x: object  # (T, N, I)
    h0: object  # (N, H)
    h: object  # (T, N, H) every step's state, f' is computed from it
    w_ih: object  # (H, I)
    w_hh: object  # (H, H)
    has_bias: bool
    nonlinearity: str
    reference: object  # the reference path's RNNCache, else None


class GpuKernelsWarning(RuntimeWarning):
    """The CUDA kernels cannot run here, so ``backend="cupy"`` runs the reference on CuPy."""


def _cuda():
    """``numrnn.kernels.cuda_rnn``, imported on first use (it imports Numba's CUDA target)."""
    from numrnn.kernels import cuda_rnn

    return cuda_rnn


def _toolchain():
    """What ``cuda_toolchain.status()`` found (cached: checked once per process)."""
    from numrnn.kernels import cuda_toolchain

    return cuda_toolchain.status()


def kernels_available() -> bool:
    """Whether the CUDA kernels can run: Numba's CUDA target imports, NVVM compiles for a
    GPU that answers (or Numba's simulator runs them)."""
    return _toolchain().ok


def unavailable_reason() -> str:
    """Why the kernels cannot run ('' when they can)."""
    return _toolchain().reason


_WARNED: set = set()


def _warn_reference(reason: str) -> None:
    """One warning per process (per reason) that ``auto`` runs the reference, and why."""
    if reason not in _WARNED:
        _WARNED.add(reason)
        warnings.warn(f"numrnn's cupy backend runs the reference RNN on CuPy, without its CUDA "
                      f"kernels: {reason}", GpuKernelsWarning, stacklevel=2)


def choose_path(N: int, H: int, dtype, requested: str | None = None) -> str:
    """Which path runs a layer with batch ``N``, hidden size ``H`` and ``dtype``.

    ``requested`` defaults to ``NUMRNN_CUPY_PATH`` (``"auto"``). Automatic choice: the
    persistent kernel when W_hh and a few rows of state fit in one block's shared
    memory, else stage 1; the reference, with one :class:`GpuKernelsWarning` saying
    why, when the kernels cannot run. ``auto`` never picks ``multiblock``: until a GPU
    measurement shows it ahead of stage 1, it runs only when asked for by name. A path
    asked for by name that cannot run is an error, never a silent substitute.
    """
    requested = config.cupy_path() if requested is None else requested
    if requested not in config.CUPY_PATHS:
        raise UsageValueError(f"path must be one of {', '.join(config.CUPY_PATHS)}; got {requested!r}")
    if requested == "reference":
        return "reference"
    if not kernels_available():
        reason = unavailable_reason()
        if requested == "auto":
            _warn_reference(reason)
            return "reference"
        raise RuntimeError(
            f"the {requested!r} GPU path needs Numba's CUDA target, NVVM and a GPU they can use "
            f"(pip install 'numrnn[gpu]'): {reason}; use NUMRNN_CUPY_PATH=reference or auto"
        )
    itemsize = _itemsize(dtype)
    if requested == "multiblock":
        _require_cudadevrt()
        if _cuda().multiblock_launch(N, H, itemsize) is None:
            refusal = _cuda().multiblock_refusal(H, itemsize)
            raise UsageValueError(f"{refusal}; use NUMRNN_CUPY_PATH=steps or auto")
        return "multiblock"
    fits = _cuda().persistent_launch(N, H, itemsize) is not None
    if requested == "persistent" and not fits:
        raise UsageValueError(
            f"the persistent kernel needs W_hh ({H}x{H}, {H * H * itemsize} bytes) and a row "
            f"of state in {config.PERSISTENT_SMEM_BYTES} bytes of shared memory; "
            "use NUMRNN_CUPY_PATH=multiblock, steps or auto"
        )
    if requested == "auto":
        return "persistent" if fits else "steps"
    return requested


def _require_cudadevrt() -> None:
    """The multi-block kernel's grid barrier is linked from CUDA's libcudadevrt.a."""
    from numrnn.kernels import cuda_toolchain

    if not cuda_toolchain.simulated() and not cuda_toolchain.cudadevrt_path():
        raise RuntimeError(
            "the 'multiblock' GPU path links CUDA's libcudadevrt.a (its grid barrier), which "
            "Numba does not find: install 'numba-cuda[cu13]' or a CUDA toolkit, or set CUDA_HOME; "
            "use NUMRNN_CUPY_PATH=steps or auto")


def _itemsize(dtype) -> int:
    import numpy as np

    return np.dtype(dtype).itemsize


def _relu_flag(nonlinearity: str) -> int:
    return int(check_nonlinearity(nonlinearity) == "relu")


def _on_gpu(xp) -> bool:
    """True for real CuPy (which has streams and graphs), False for NumPy standing in."""
    return getattr(xp, "cuda", None) is not None and hasattr(xp.cuda, "Stream")


#: CUDA's special stream handles, as CuPy reports them in ``Stream.ptr``.
_LEGACY_DEFAULT_STREAM = (0, 1)  # 0: the null stream (CuPy's default), 1: cudaStreamLegacy
_PER_THREAD_DEFAULT_STREAM = 2  # cudaStreamPerThread (CuPy's Stream.ptds)


def kernel_stream(xp):
    """The Numba stream for CuPy's current stream, so the kernels run in order with CuPy's work.

    Never Numba's ``default_stream()``, which is the per-thread stream when
    ``NUMBA_CUDA_PER_THREAD_DEFAULT_STREAM=1``: CuPy's null stream (``ptr`` 0) is the
    legacy default stream, named so; any other stream is wrapped as it is. With NumPy
    standing in for CuPy (tests, the simulator): 0.
    """
    if not _on_gpu(xp):
        return 0
    from numba import cuda

    ptr = xp.cuda.get_current_stream().ptr
    if ptr in _LEGACY_DEFAULT_STREAM:
        return cuda.legacy_default_stream()
    if ptr == _PER_THREAD_DEFAULT_STREAM:
        return cuda.per_thread_default_stream()
    return cuda.external_stream(ptr)


def _biases(xp, b_ih, b_hh, H: int, dtype):
    """The two bias vectors, or zeros (adding 0.0 is exact, so one kernel serves both)."""
    if b_ih is None:
        zeros = xp.zeros(H, dtype=dtype)
        return zeros, zeros
    return xp.ascontiguousarray(b_ih), xp.ascontiguousarray(b_hh)


# -- forward -----------------------------------------------------------------------------------
def rnn_forward(x, h0, w_ih, w_hh, b_ih=None, b_hh=None, nonlinearity="tanh"):
    """Run the cell over a sequence on the GPU; as :func:`numrnn.functional.rnn.rnn_forward`.

    Parameters
    ----------
    x : (T, N, I) inputs.   h0 : (N, H).   w_ih : (H, I).   w_hh : (H, H).
    b_ih, b_hh : (H,) or None.   nonlinearity : ``"tanh"`` or ``"relu"``.

    Returns
    -------
    h : (T, N, H) hidden state after every step.
    cache : CupyRNNCache for :func:`rnn_backward`.
    """
    T, N, I = x.shape
    H = h0.shape[1]
    path = choose_path(N, H, x.dtype)
    return forward_on_path(path, x, h0, w_ih, w_hh, b_ih, b_hh, nonlinearity)


def forward_on_path(path, x, h0, w_ih, w_hh, b_ih=None, b_hh=None, nonlinearity="tanh", capture=None):
    """:func:`rnn_forward` on a given path; ``capture`` replaces CUDA-graph capture (tests).

    ``capture(record) -> graph`` is called once per captured loop with the function that
    enqueues the T steps; ``graph.launch(stream=...)`` replays it. ``None`` means CuPy's
    stream capture on a GPU (when ``NUMRNN_CUDA_GRAPHS`` is on) and eager steps otherwise.
    """
    has_bias = b_ih is not None
    if path == "reference":
        h, ref = reference.rnn_forward(x, h0, w_ih, w_hh, b_ih, b_hh, nonlinearity)
        return h, CupyRNNCache(path, x, h0, h, w_ih, w_hh, has_bias, nonlinearity, ref)
    xp = get_array_module(x)
    cu = _cuda()
    relu = _relu_flag(nonlinearity)
    T, N, I = x.shape
    H = h0.shape[1]
    k = cu.kernels_for(x.dtype)
    h0c, w_hhc = xp.ascontiguousarray(h0), xp.ascontiguousarray(w_hh)
    b_ih_, b_hh_ = _biases(xp, b_ih, b_hh, H, x.dtype)
    xw = (x.reshape(T * N, I) @ w_ih.T).reshape(T, N, H)  # all steps' input projection: one GEMM
    if path in ("persistent", "multiblock"):
        h = xp.empty((T, N, H), dtype=x.dtype)
        dv = cu.device_view
        launch = cu.launch_persistent_forward if path == "persistent" else cu.launch_multiblock_forward
        launch(k, kernel_stream(xp), dv(xw), dv(h0c), dv(w_hhc), dv(b_ih_), dv(b_hh_), dv(h), relu)
    elif path == "steps":
        h = _steps_forward(xp, k, xw, h0c, w_hhc, b_ih_, b_hh_, relu, capture)
    else:
        raise UsageValueError(f"unknown GPU path {path!r}")
    return h, CupyRNNCache(path, x, h0, h, w_ih, w_hh, has_bias, nonlinearity, None)


def _forward_steps(xp, k, stream, xw, h0, w_hhT, b_ih, b_hh, h, hw, relu):
    """Stage 1's forward time loop: the work one CUDA graph captures.

    xw (T, N, H), h0 (N, H), w_hhT (H, H) = w_hh.T contiguous, biases (H,); writes h
    (T, N, H) and uses hw (N, H) as scratch.
    """
    cu = _cuda()
    dv = cu.device_view
    xw_d, h_d, hw_d, b_ih_d, b_hh_d = dv(xw), dv(h), dv(hw), dv(b_ih), dv(b_hh)
    h_prev = h0
    for t in range(xw.shape[0]):
        xp.matmul(h_prev, w_hhT, out=hw)  # (N, H) = h_{t-1} @ w_hh.T, cuBLAS
        cu.launch_step_forward(k, stream, xw_d[t], hw_d, b_ih_d, b_hh_d, h_d[t], relu)  # h_t = f(...)
        h_prev = h[t]


def _steps_forward(xp, k, xw, h0, w_hh, b_ih, b_hh, relu, capture):
    T, N, H = xw.shape
    capture = _default_capture(xp) if capture is None else capture
    if capture is None:  # eager: the same loop, launched step by step
        h = xp.empty((T, N, H), dtype=xw.dtype)
        hw = xp.empty((N, H), dtype=xw.dtype)
        w_hhT = xp.ascontiguousarray(w_hh.T)
        _forward_steps(xp, k, kernel_stream(xp), xw, h0, w_hhT, b_ih, b_hh, h, hw, relu)
        return h

    def build():
        buf = {name: xp.zeros(shape, dtype=xw.dtype) for name, shape in (
            ("xw", (T, N, H)), ("h0", (N, H)), ("w_hhT", (H, H)), ("b_ih", (H,)), ("b_hh", (H,)),
            ("h", (T, N, H)), ("hw", (N, H)))}
        return CapturedLoop(xp, buf, lambda stream: _forward_steps(
            xp, k, stream, buf["xw"], buf["h0"], buf["w_hhT"], buf["b_ih"], buf["b_hh"],
            buf["h"], buf["hw"], relu), capture)

    loop = _captured_loop(xp, ("forward", T, N, H, xw.dtype.str, relu), build)
    loop.replay(xw=xw, h0=h0, w_hhT=w_hh.T, b_ih=b_ih, b_hh=b_hh)
    return loop.buffers["h"].copy()  # the loop's buffer is overwritten by the next call


# -- backward ----------------------------------------------------------------------------------
def rnn_backward(dh, cache: CupyRNNCache):
    """Backpropagation through time on the GPU; as :func:`numrnn.functional.rnn.rnn_backward`.

    Parameters
    ----------
    dh : (T, N, H) upstream dL/dh_t from above (the recurrence is added here).
    cache : CupyRNNCache from :func:`rnn_forward`.

    Returns
    -------
    dx : (T, N, I);  dh0 : (N, H);  dw_ih : (H, I);  dw_hh : (H, H);
    db_ih, db_hh : (H,), or None without bias.
    """
    return backward_on_path(dh, cache)


def backward_on_path(dh, cache: CupyRNNCache, capture=None):
    """:func:`rnn_backward`, with ``capture`` as in :func:`forward_on_path`."""
    if cache.path == "reference":
        return reference.rnn_backward(dh, cache.reference)
    xp = get_array_module(dh)
    cu = _cuda()
    relu = _relu_flag(cache.nonlinearity)
    k = cu.kernels_for(dh.dtype)
    T, N, H = dh.shape
    dh = xp.ascontiguousarray(dh)
    w_hh = xp.ascontiguousarray(cache.w_hh)
    if cache.path in ("persistent", "multiblock"):
        da = xp.empty((T, N, H), dtype=dh.dtype)
        dh0 = xp.empty((N, H), dtype=dh.dtype)
        dv = cu.device_view
        launch = (cu.launch_persistent_backward if cache.path == "persistent"
                  else cu.launch_multiblock_backward)
        launch(k, kernel_stream(xp), dv(dh), dv(cache.h), dv(w_hh), dv(da), dv(dh0), relu)
    else:
        da, dh0 = _steps_backward(xp, k, dh, cache.h, w_hh, relu, capture)
    dx, dw_ih, dw_hh, db_ih, db_hh = _gradients_from_da(xp, da, cache)
    return dx, dh0, dw_ih, dw_hh, db_ih, db_hh


def _backward_steps(xp, k, stream, dh, h, w_hh, da, dh_next, relu):
    """Stage 1's BPTT time loop: the work one CUDA graph captures.

    dh, h (T, N, H), w_hh (H, H); writes da (T, N, H) and leaves dL/dh0 in dh_next (N, H).
    """
    cu = _cuda()
    dv = cu.device_view
    dh_d, h_d, da_d, dh_next_d = dv(dh), dv(h), dv(da), dv(dh_next)
    dh_next.fill(0)  # nothing flows back into the last step from later ones
    for t in reversed(range(dh.shape[0])):
        cu.launch_step_backward(k, stream, dh_d[t], dh_next_d, h_d[t], da_d[t], relu)  # da_t
        xp.matmul(da[t], w_hh, out=dh_next)  # (N, H) = da_t @ w_hh, cuBLAS: dL/dh_{t-1} from step t


def _steps_backward(xp, k, dh, h, w_hh, relu, capture):
    T, N, H = dh.shape
    capture = _default_capture(xp) if capture is None else capture
    if capture is None:
        da = xp.empty((T, N, H), dtype=dh.dtype)
        dh_next = xp.empty((N, H), dtype=dh.dtype)
        _backward_steps(xp, k, kernel_stream(xp), dh, h, w_hh, da, dh_next, relu)
        return da, dh_next

    def build():
        buf = {name: xp.zeros(shape, dtype=dh.dtype) for name, shape in (
            ("dh", (T, N, H)), ("h", (T, N, H)), ("w_hh", (H, H)), ("da", (T, N, H)),
            ("dh_next", (N, H)))}
        return CapturedLoop(xp, buf, lambda stream: _backward_steps(
            xp, k, stream, buf["dh"], buf["h"], buf["w_hh"], buf["da"], buf["dh_next"], relu), capture)

    loop = _captured_loop(xp, ("backward", T, N, H, dh.dtype.str, relu), build)
    loop.replay(dh=dh, h=h, w_hh=w_hh)
    # da is read by the gradient GEMMs right after, in stream order, before any later replay
    return loop.buffers["da"], loop.buffers["dh_next"].copy()


def _gradients_from_da(xp, da, cache: CupyRNNCache) -> tuple:
    """dx, dw_ih, dw_hh, db_ih, db_hh from every step's da_t: one GEMM (or sum) each."""
    T, N, H = da.shape
    I = cache.x.shape[2]
    da2 = da.reshape(T * N, H)
    dx = (da2 @ cache.w_ih).reshape(T, N, I)  # (T, N, I)
    dw_ih = da2.T @ cache.x.reshape(T * N, I)  # (H, I)
    h_prev = xp.concatenate([cache.h0[None], cache.h[:-1]], axis=0).reshape(T * N, H)  # h_{t-1}
    dw_hh = da2.T @ h_prev  # (H, H)
    db = da2.sum(axis=0) if cache.has_bias else None  # (H,)
    return dx, dw_ih, dw_hh, db, (db.copy() if db is not None else None)


# -- CUDA graphs ----------------------------------------------------------------------------------
class CapturedLoop:
    """A time loop captured once as a CUDA graph, over buffers it owns.

    A CUDA graph records kernel launches with their arguments, pointers included, so
    it must always read and write the same memory: the loop owns one buffer per input
    and output. :meth:`replay` copies the caller's current arrays (weights included:
    nothing is remembered between calls) into the input buffers and launches the graph
    on the caller's stream, where the copies, the replay and whatever reads the output
    buffers next run in order. The outputs stay in :attr:`buffers` until the next replay.

    With CuPy (``cupy.cuda.Stream.begin_capture``/``end_capture``, CUDA 10+) the
    capture runs the loop once eagerly on a private stream first (Numba loads its
    kernels and cuBLAS allocates its workspace then, both illegal during a capture),
    then captures it; the T kernel launches and T GEMMs cost one graph launch after
    that, instead of 2T launches from Python.
    """

    def __init__(self, xp, buffers: dict, record, capture):
        self.xp = xp
        self.buffers = buffers
        self.graph = capture(record)

    def replay(self, **inputs) -> None:
        for name, value in inputs.items():
            self.buffers[name][...] = value
        stream = self.xp.cuda.get_current_stream() if _on_gpu(self.xp) else None
        self.graph.launch(stream=stream)


def _cupy_capture(xp):
    """``capture(record) -> cupy.cuda.Graph`` with CuPy's stream capture."""

    def capture(record):
        from numba import cuda

        xp.cuda.get_current_stream().synchronize()  # the zero-filled buffers are ready
        stream = xp.cuda.Stream(non_blocking=True)
        nb_stream = cuda.external_stream(stream.ptr)
        with stream:
            record(nb_stream)  # warm-up, not captured
            stream.synchronize()
            stream.begin_capture()
            try:
                record(nb_stream)
            finally:
                graph = stream.end_capture()
        return graph

    return capture


def _default_capture(xp):
    """CuPy's graph capture on a GPU with graphs enabled, else None (eager steps)."""
    if config.CUDA_GRAPHS and _on_gpu(xp):
        return _cupy_capture(xp)
    return None


_LOOPS: OrderedDict = OrderedDict()


def _captured_loop(xp, key: tuple, build) -> CapturedLoop:
    """The captured loop for ``key`` (this device, this thread), built on first use;
    LRU-bounded. Per thread: two threads replaying one loop would overwrite each other's
    input buffers between the copies and the launch."""
    device = xp.cuda.Device().id if _on_gpu(xp) else -1
    key = (xp.__name__, device, threading.get_ident()) + key
    loop = _LOOPS.get(key)
    if loop is None:
        loop = _LOOPS[key] = build()
        while len(_LOOPS) > config.CUDA_GRAPH_CACHE_SIZE:
            _LOOPS.popitem(last=False)
    else:
        _LOOPS.move_to_end(key)
    return loop


def clear_captured_loops() -> None:
    """Forget every captured loop (frees their buffers and graphs)."""
    _LOOPS.clear()

"""numrnn's own threads: one pool, one knob, and BLAS kept out of their way.

The compiled kernels release the GIL, so plain Python threads can run them side by
side: the time loop of one layer split by batch rows, the weight-gradient GEMMs of the
time blocks the backward loop has finished, later the two directions of a layer. This
file owns those threads, so that there is one pool in the process, sized by one knob:

    NUMRNN_THREADS        (numrnn.config.threads()) the most threads numrnn runs at once;
                          default: the cores this process may run on.

:func:`run` runs a list of tasks (callables without arguments), the first in the calling
thread and the others on the pool's workers, and returns when all of them have: nothing
numrnn starts keeps running after the call that started it returns (the workers then
wait, blocked, for the next call).

Two rules keep the cores from being oversubscribed (docs/performance.md, fact 3):

* **BLAS runs on one thread while numrnn's tasks run side by side.** NumPy's and SciPy's
  OpenBLAS each keep a pool of their own; two of numrnn's threads each calling a BLAS
  that starts two threads would put four busy threads on two cores. :func:`run` limits
  every BLAS library in the process to one thread (threadpoolctl) for as long as its
  tasks run, and restores the previous limits when the last of them returns. (This is
  process-wide: a BLAS call from another thread of the program meanwhile also gets one
  thread.) Outside tasks, a kernel holds BLAS to :func:`threads` (:func:`blas_limit`).
* **A task does not start tasks of its own.** A call to :func:`run` from inside a task
  runs its tasks one after the other in that thread: when the two directions of a layer
  run side by side, each direction's kernel runs its loop unsplit.

The results of numrnn's kernels do not depend on the number of threads: work is split
where the arithmetic is independent (batch rows; whole GEMMs), never inside a sum.
"""

from __future__ import annotations

import contextlib
import queue
import threading

import numpy as np

from numrnn import config
from numrnn._checks import check_positive_int

__all__ = ["threads", "run", "run_directions", "inside_task", "limited_threads", "blas_limit"]

_local = threading.local()
_override: list = []  # stack of thread counts set by limited_threads()


def threads() -> int:
    """The most threads numrnn runs at once: :func:`limited_threads`, else ``NUMRNN_THREADS``,
    else the cores this process may use (``numrnn.config.threads``)."""
    return _override[-1] if _override else config.threads()


@contextlib.contextmanager
def limited_threads(n: int):
    """Run numrnn with at most ``n`` threads inside a ``with`` (tests and benchmarks)."""
    _override.append(check_positive_int(n, "n", "parallel.limited_threads"))
    try:
        yield
    finally:
        _override.pop()


def inside_task() -> bool:
    """Whether the calling thread is running one of :func:`run`'s tasks."""
    return getattr(_local, "depth", 0) > 0


# -- the workers ---------------------------------------------------------------------------
def _call_each(tasks) -> tuple:
    """Call every task in this thread, whatever the others do: ``(results, errors)``, one
    entry per task in each (a task's result is None where it raised, its error None where
    it did not)."""
    results, errors = [None] * len(tasks), [None] * len(tasks)
    for i, fn in enumerate(tasks):
        try:
            results[i] = fn()
        except BaseException as exc:  # handed to the caller of run(), which re-raises it
            errors[i] = exc
    return results, errors


class _Job:
    """A group of tasks that one thread runs, marked as inside a task meanwhile."""

    __slots__ = ("tasks", "results", "errors", "done")

    def __init__(self, tasks):
        self.tasks, self.results, self.errors, self.done = tasks, None, None, threading.Event()

    def __call__(self):
        _local.depth = getattr(_local, "depth", 0) + 1
        try:
            self.results, self.errors = _call_each(self.tasks)
        finally:
            _local.depth -= 1
            self.done.set()


_jobs: queue.SimpleQueue = queue.SimpleQueue()
_workers: list = []
_workers_lock = threading.Lock()


def _work() -> None:
    while True:
        job = _jobs.get()  # blocks: an idle worker uses no CPU
        job()


def _ensure_workers(n: int) -> None:
    with _workers_lock:
        while len(_workers) < n:
            t = threading.Thread(target=_work, name=f"numrnn-worker-{len(_workers)}", daemon=True)
            t.start()
            _workers.append(t)


# -- BLAS held to a number of threads ----------------------------------------------------------
_blas_lock = threading.Lock()
# the limits in force, one (n, only) per blas_limit() running in any thread, in no order
# that matters: each library gets the least n of the entries that select it
_blas_limits: list = []
_blas_saved: list = []  # [_Blas, its count before the first limit, the count set]
_blas_libs: list | None = None


class _Blas:
    """One BLAS library's thread count, read and set.

    OpenBLAS through its own C functions, found the way threadpoolctl finds them (the
    names carry a prefix and suffix in SciPy's builds): threadpoolctl's own setter obeys
    only the first Python thread that set a limit, and ignores the others silently,
    while numrnn may be called from any thread. Other libraries through threadpoolctl.
    """

    def __init__(self, controller):
        self.controller = controller
        self.path = controller.filepath.replace("\\", "/")
        self.get, self.set = controller.get_num_threads, controller.set_num_threads
        if controller.internal_api == "openblas":
            import ctypes

            try:
                lib = ctypes.CDLL(controller.filepath)
            except OSError:  # pragma: no cover - the library is loaded, so this should not fail
                return
            for prefix in ("", "scipy_"):
                for suffix in ("", "64_", "_64"):
                    get = getattr(lib, f"{prefix}openblas_get_num_threads{suffix}", None)
                    put = getattr(lib, f"{prefix}openblas_set_num_threads{suffix}", None)
                    if get is not None and put is not None:
                        get.restype, get.argtypes = ctypes.c_int, []
                        put.restype, put.argtypes = None, [ctypes.c_int]
                        self.get, self.set = get, put
                        return


def _blas_libraries() -> list:
    """Every BLAS library loaded (NumPy's, SciPy's...), as :class:`_Blas`."""
    global _blas_libs
    if _blas_libs is None:
        try:
            import scipy.linalg  # noqa: F401  - SciPy's OpenBLAS, the one Numba's np.dot calls
            from threadpoolctl import ThreadpoolController
        except ImportError:  # pragma: no cover - depends on the install
            _blas_libs = []
        else:
            _blas_libs = [_Blas(c) for c in ThreadpoolController().select(user_api="blas").lib_controllers]
    return _blas_libs


def _apply_blas_limit() -> None:
    """Set every library to min(its own count, the least limit in force that selects it)
    (lock held); only the ones whose count changes are called."""
    for entry in _blas_saved:
        lib, own, now = entry
        want = min([own] + [n for n, only in _blas_limits if only is None or only in lib.path])
        if want != now:
            lib.set(want)
            entry[2] = want


def _blas_limit_enter(limit: tuple) -> None:
    with _blas_lock:
        if not _blas_limits:
            _blas_saved.clear()
            for lib in _blas_libraries():
                own = lib.get()
                if own is not None:
                    _blas_saved.append([lib, own, own])  # the library, its own count, the count set
        _blas_limits.append(limit)
        _apply_blas_limit()


def _blas_limit_exit(limit: tuple) -> None:
    with _blas_lock:
        # this call's own entry: another thread's limit, entered later, may still be in force
        _blas_limits.remove(limit)
        _apply_blas_limit()
        if not _blas_limits:
            _blas_saved.clear()


@contextlib.contextmanager
def blas_limit(n: int | None = None, *, only: str | None = None):
    """Every BLAS library held to at most ``n`` threads inside a ``with`` (default
    :func:`threads`); limits in force at once, in this thread or others: the least is in
    force. Nothing is changed where BLAS already uses no more (the outermost limit asks
    each library for its count: a microsecond or two).

    ``only``: a piece of a library's file path (``"/numpy.libs/"``): that library alone
    is held (``numrnn.kernels.numba_threads.limit_blas`` pins NumPy's or SciPy's pool so).

    The kernels run inside ``blas_limit()``: with ``NUMRNN_THREADS=1`` BLAS runs on one
    thread too. :func:`run` holds BLAS to one thread while its tasks run side by side.
    """
    limit = (threads() if n is None else check_positive_int(n, "n", "parallel.blas_limit"), only)
    _blas_limit_enter(limit)
    try:
        yield
    finally:
        _blas_limit_exit(limit)


# -- running tasks ---------------------------------------------------------------------------
def run(tasks) -> list:
    """Run ``tasks`` (callables without arguments) side by side; return their results in order.

    The first runs in the calling thread, the others on numrnn's workers; BLAS is held to
    one thread meanwhile. More tasks than :func:`threads` are grouped so that at most
    that many threads run. Inside another task, or with :func:`threads` at 1, they run
    one after the other in the calling thread. Every task runs, whether or not another
    raised; then the exception of the first task (in the list's order) that raised is
    raised here.
    """
    tasks = list(tasks)
    n = threads()
    if inside_task() or len(tasks) <= 1 or n < 2:
        return _outcome(*_call_each(tasks))
    jobs = [_Job(tasks[i::n]) for i in range(min(n, len(tasks)))]
    _ensure_workers(len(jobs) - 1)
    limit = (1, None)
    _blas_limit_enter(limit)
    try:
        for job in jobs[1:]:
            _jobs.put(job)
        jobs[0]()
        for job in jobs[1:]:
            job.done.wait()
    finally:
        _blas_limit_exit(limit)
    results, errors = [None] * len(tasks), [None] * len(tasks)
    for i, job in enumerate(jobs):
        results[i::len(jobs)], errors[i::len(jobs)] = job.results, job.errors
    return _outcome(results, errors)


def _outcome(results: list, errors: list) -> list:
    """``results``, unless a task raised: then the first task's exception."""
    for exc in errors:
        if exc is not None:
            raise exc
    return results


def run_directions(fn, n: int, xp) -> list:
    """``[fn(d) for d in range(n)]``, the n directions of a layer side by side when the
    arrays are NumPy's (on a GPU, one after the other: CuPy's stream is the order).

    Also one after the other under Numba's CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``,
    how the tests run the GPU kernels on NumPy arrays): it takes a kernel launched from
    any thread but the main one for a call from inside a simulated kernel.
    """
    from numrnn.kernels import cuda_toolchain  # imports nothing from Numba

    if n > 1 and xp is np and not cuda_toolchain.simulated():
        return run([lambda d=d: fn(d) for d in range(n)])
    return [fn(d) for d in range(n)]

"""A stand-in for CuPy's streams, stream capture and memory pool, for tests without a GPU.

CUDA's rules, as this stand-in enforces them:

* work enqueued on a stream that is capturing is **recorded, not run**; the graph that
  ``end_capture()`` returns runs the records, in order, on the memory they named
  (a graph keeps pointers, never values), each time it is launched;
* while a stream captures, synchronising anything, allocating from the memory pool,
  or enqueueing work on a different stream is an error (:class:`CaptureError`);
* a Numba kernel runs on the stream it was launched with: launches are logged with
  their stream, so a test can check that each went to CuPy's current stream.

Arrays are :class:`PoolArray` (NumPy underneath; ``type(a).__module__ == "cupy"``, so
numrnn takes them for CuPy arrays). Every array that brings memory of its own, made
by a module function, a method or an operator, counts as an allocation from the pool.
Numba's kernels themselves run in its simulator (``NUMBA_ENABLE_CUDASIM=1``).
"""

from __future__ import annotations

import types

import numpy as np


class CaptureError(AssertionError):
    """Something CUDA forbids while a stream is being captured."""


class PoolArray(np.ndarray):
    """A NumPy array standing in for a CuPy array; new memory is a pool allocation."""

    fake = None  # the FakeCupy whose pool this array's memory came from

    def __array_finalize__(self, obj):
        fake = PoolArray.fake
        if fake is not None:
            fake.pool_saw(self)

    def get(self):
        return np.array(self, copy=True)

    def fill(self, value):  # a memset: enqueued on the current stream like any kernel
        PoolArray.fake.enqueue("fill", lambda: np.ndarray.fill(self, value))


PoolArray.__module__ = "cupy"


class FakeGraph:
    """What ``end_capture`` returns: the recorded work, replayed on every launch."""

    def __init__(self, fake, records):
        self.fake = fake
        self.records = records
        self.launches = 0

    def launch(self, stream=None):
        stream = self.fake.current if stream is None else stream
        self.fake.check_not_capturing(f"graph launch on stream {stream.ptr:#x}")
        self.launches += 1
        for _, run in self.records:
            run()


class FakeStream:
    """``cupy.cuda.Stream``: a pointer, a context manager, capture."""

    def __init__(self, fake, ptr: int):
        self.fake, self.ptr = fake, ptr
        self.capturing = False
        self.records: list = []

    def __enter__(self):
        self.fake.streams.append(self)
        return self

    def __exit__(self, *exc):
        self.fake.streams.pop()

    def synchronize(self):
        self.fake.check_not_capturing(f"synchronize stream {self.ptr:#x}")

    def begin_capture(self, mode=None):
        self.fake.check_not_capturing("a second capture")
        self.capturing, self.records = True, []
        self.fake.captures += 1

    def end_capture(self):
        self.capturing = False
        return FakeGraph(self.fake, self.records)

    def is_capturing(self):
        return self.capturing


class FakeCupy(types.ModuleType):
    """A CuPy module: NumPy's functions returning PoolArray, ``cuda`` streams and a pool.

    ``current_ptr`` is the pointer of the stream that is current outside any ``with``.
    """

    def __init__(self, current_ptr: int = 0):
        super().__init__("cupy")
        self.ndarray = PoolArray
        self.allocations = 0
        self.captures = 0
        self.launches: list = []  # (kernel name, stream ptr, recorded instead of run)
        self._roots: dict = {}
        self._next_ptr = 0x1000
        self.streams = [FakeStream(self, current_ptr)]
        fake = self

        class Stream(FakeStream):
            def __init__(self, non_blocking=False, ptds=False):
                fake._next_ptr += 0x100
                super().__init__(fake, fake._next_ptr)

        class Device:
            id = 0

            def synchronize(self):
                fake.check_not_capturing("synchronize the device")

        self.cuda = types.SimpleNamespace(
            Stream=Stream, Device=Device, Graph=FakeGraph,
            get_current_stream=lambda: fake.current,
            runtime=types.SimpleNamespace(deviceSynchronize=Device().synchronize))

    # -- streams --------------------------------------------------------------------------------
    @property
    def current(self) -> FakeStream:
        return self.streams[-1]

    def capturing_stream(self):
        return next((s for s in self._streams() if s.capturing), None)

    def _streams(self):
        return list(dict.fromkeys(self.streams))

    def check_not_capturing(self, what: str) -> None:
        s = self.capturing_stream()
        if s is not None:
            raise CaptureError(f"{what} while stream {s.ptr:#x} is capturing")

    def enqueue(self, name: str, run, stream=None) -> None:
        """Run ``run`` now, or record it when its stream captures; other streams may not
        take work during a capture (CUDA would serialise them with it, or fail)."""
        stream = self.current if stream is None else stream
        if stream.capturing:
            stream.records.append((name, run))
            return
        self.check_not_capturing(f"{name} on stream {stream.ptr:#x}")
        run()

    def stream_with_ptr(self, ptr: int) -> FakeStream:
        for s in self._streams():
            if s.ptr == ptr:
                return s
        raise CaptureError(f"a kernel was launched on stream {ptr:#x}, which is no CuPy stream in use")

    # -- the pool ---------------------------------------------------------------------------------
    def pool_saw(self, a: np.ndarray) -> None:
        """Count ``a``'s memory once: an allocation unless it is a view of known memory."""
        root = a
        while isinstance(root.base, np.ndarray):
            root = root.base
        if id(root) in self._roots:
            return
        self._roots[id(root)] = root  # kept alive, so ids are never reused
        self.allocations += 1
        self.check_not_capturing(f"allocating {a.shape} {a.dtype} from the memory pool")

    # -- NumPy's functions, CuPy's way ------------------------------------------------------------
    def __getattr__(self, name):
        fn = getattr(np, name)
        if not callable(fn) or isinstance(fn, type):
            return fn

        def op(*args, **kwargs):
            out = kwargs.get("out")
            if out is not None:  # into memory that exists: a kernel on the current stream
                self.enqueue(name, lambda: fn(*args, **kwargs))
                return out
            self.check_not_capturing(f"{name}(...) allocating its result")
            result = fn(*args, **kwargs)
            return result.view(PoolArray) if isinstance(result, np.ndarray) else result

        return op

    def asarray(self, a, dtype=None):
        return np.array(a, dtype=dtype).view(PoolArray)


def install(monkeypatch, current_ptr: int = 0) -> FakeCupy:
    """Make numrnn take :class:`FakeCupy` for CuPy, and route Numba's kernel launches of
    ``numrnn.kernels.cuda_rnn`` through its streams (run, or recorded when capturing)."""
    from numba import cuda

    from numrnn import backend
    from numrnn.kernels import cuda_rnn

    fake = FakeCupy(current_ptr)
    monkeypatch.setattr(PoolArray, "fake", fake)
    monkeypatch.setattr(backend, "_cupy", fake)
    monkeypatch.setattr(backend, "_cupy_error", None)

    class NumbaStream:  # what numba.cuda.external_stream & co. return: it knows the ptr
        def __init__(self, ptr):
            self.ptr = ptr

    monkeypatch.setattr(cuda, "external_stream", lambda ptr: NumbaStream(ptr))
    monkeypatch.setattr(cuda, "legacy_default_stream", lambda: NumbaStream(0))
    monkeypatch.setattr(cuda, "per_thread_default_stream", lambda: NumbaStream(2))
    monkeypatch.setattr(cuda, "default_stream", lambda: NumbaStream(-1))  # CuPy has no such stream

    for name in [n for n in dir(cuda_rnn) if n.startswith("launch_") and n != "launch_ranges"]:
        original = getattr(cuda_rnn, name)

        def launch(k, stream, *args, _original=original, _name=name, **kwargs):
            if not isinstance(stream, NumbaStream):
                raise CaptureError(f"{_name} launched on {stream!r}, not on a CuPy stream")
            target = fake.stream_with_ptr(stream.ptr)
            fake.launches.append((_name, stream.ptr, target.capturing))
            fake.enqueue(_name, lambda: _original(k, 0, *args, **kwargs), stream=target)

        monkeypatch.setattr(cuda_rnn, name, launch)
    return fake

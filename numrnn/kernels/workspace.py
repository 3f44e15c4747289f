"""Scratch buffers that the compiled backward passes reuse from one call to the next.

The fact this answers (measured on the 2-core development machine, docs/performance.md):
a fresh ``np.empty`` of a few megabytes is memory the C library has just handed back to
the operating system, and its first write costs one page fault per 4 KiB page, about
1.7 microseconds each in this virtual machine. The LSTM backward at S3 (T=200, N=16,
H=64, float32) writes dL/d(pre-activations) into a 3.3 MB array: 800 faults, more time
than the step loop that fills it. PyTorch avoids the same cost with a caching allocator.

Only scratch is reused: arrays that are dead when the kernel returns (the backward's
``da``). What a kernel returns, or keeps in its cache for a later call, is always fresh,
so results never alias each other. Buffers are kept per thread (the kernels release the
GIL, so two threads may run backward passes at once), and all the buffers one thread
keeps add up to at most ``config.WORKSPACE_MAX_BYTES``: a buffer that would go over
that total makes the thread drop its other buffers first, and a request larger than
the total on its own gets a fresh array that is not kept. :func:`clear` releases the
calling thread's buffers (say, after training, before a long inference phase), and
``clear(all_threads=True)`` those of every thread, numrnn's workers included
(``numrnn/parallel.py``: they live as long as the process); a thread's buffers are also
released when the thread ends.
"""

from __future__ import annotations

import math
import threading
import weakref

import numpy as np

from numrnn import config

__all__ = ["scratch", "clear", "held_bytes"]


class _Holder:
    """One thread's buffers, ``(name, dtype) -> 1-D array``. Only the thread's own
    ``threading.local`` holds it: when the thread ends, Python drops that, and the
    buffers go with it."""

    __slots__ = ("buffers", "__weakref__")

    def __init__(self):
        self.buffers = {}


_local = threading.local()
_every_thread: weakref.WeakSet = weakref.WeakSet()  # every live thread's holder, for clear(all_threads=True)
_every_lock = threading.Lock()


def _buffers() -> dict:
    """The calling thread's buffers: (name, dtype) -> 1-D array."""
    holder = getattr(_local, "holder", None)
    if holder is None:
        holder = _local.holder = _Holder()
        with _every_lock:
            _every_thread.add(holder)
    return holder.buffers


def scratch(name: str, shape: tuple, dtype) -> np.ndarray:
    """A C-contiguous array of ``shape`` and ``dtype`` with undefined contents.

    The same ``name`` in the same thread gets the same memory back on the next call
    (grown when a larger one is asked for): the caller must be done with it before it
    asks again under that name. Dropping another name's buffer to stay under the total
    never touches an array already handed out: the caller's reference keeps it alive.
    """
    dtype = np.dtype(dtype)
    size = math.prod(shape)  # math.prod: np.prod costs microseconds on a short tuple
    nbytes = size * dtype.itemsize
    if nbytes > config.WORKSPACE_MAX_BYTES:
        return np.empty(shape, dtype=dtype)
    buffers = _buffers()
    key = (name, dtype)
    buf = buffers.get(key)
    if buf is None or buf.size < size:
        others = held_bytes() - (0 if buf is None else buf.nbytes)
        if others + nbytes > config.WORKSPACE_MAX_BYTES:
            buffers.clear()  # over the per-thread total: keep only the new buffer
        buf = buffers[key] = np.empty(size, dtype=dtype)
    return buf[:size].reshape(shape)


def clear(all_threads: bool = False) -> None:
    """Release every scratch buffer the calling thread keeps, or with ``all_threads`` every
    thread's (call it when no kernel is running); the next call allocates afresh."""
    if not all_threads:
        _buffers().clear()
        return
    with _every_lock:
        holders = list(_every_thread)
    for holder in holders:
        holder.buffers.clear()


def held_bytes() -> int:
    """Bytes of scratch the calling thread keeps, at most ``config.WORKSPACE_MAX_BYTES``."""
    return sum(b.nbytes for b in _buffers().values())

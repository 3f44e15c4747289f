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
GIL, so two threads may run backward passes at once) and only up to
``config.WORKSPACE_MAX_BYTES`` each; a larger request gets a fresh array.
"""

from __future__ import annotations

import threading

import numpy as np

from numrnn import config

_local = threading.local()


def scratch(name: str, shape: tuple, dtype) -> np.ndarray:
    """A C-contiguous array of ``shape`` and ``dtype`` with undefined contents.

    The same ``name`` in the same thread gets the same memory back on the next call
    (grown when a larger one is asked for): the caller must be done with it before it
    asks again under that name.
    """
    dtype = np.dtype(dtype)
    size = int(np.prod(shape))
    if size * dtype.itemsize > config.WORKSPACE_MAX_BYTES:
        return np.empty(shape, dtype=dtype)
    buffers = getattr(_local, "buffers", None)
    if buffers is None:
        buffers = _local.buffers = {}
    key = (name, dtype)
    buf = buffers.get(key)
    if buf is None or buf.size < size:
        buf = buffers[key] = np.empty(size, dtype=dtype)
    return buf[:size].reshape(shape)

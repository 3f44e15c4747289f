"""The allocation guard: refuse, before allocating, what memory cannot hold.

``nr.RNN(3, 10**9)`` asks for a (10**9, 10**9) ``weight_hh``. Allocated one weight
at a time, that fills memory until the operating system kills the process, with no
error to catch. PyTorch refuses at once. numrnn does too: a constructor adds up the
bytes it is about to allocate and calls :func:`check_allocation` first::

    need = parameter_bytes([(H, I), (H, H), (H,), (H,)], dtype)   # params + grads
    check_allocation(need, "RNN(3, 1000000000)")                 # SizeError, or go on

:func:`check_allocation` raises :class:`numrnn.errors.SizeError` (a ``ValueError``
and a ``MemoryError``) that names the size when it exceeds either

* ``numrnn.config.max_alloc_bytes()``: a documented bound, 16 GiB unless
  ``numrnn.config.MAX_ALLOC_BYTES`` or ``NUMRNN_MAX_ALLOC_BYTES`` say otherwise; or
* the machine's physical memory, when the operating system reports it.

:func:`allocation_budget` adds a tighter, temporary bound for one thread.
``nr.load`` uses it: a model rebuilt from a file's config may not need more memory
than the arrays the file actually stores, so a 1 KB file whose config says
``hidden_size=10**9`` is refused before its model is built.
"""

from __future__ import annotations

import contextlib
import math
import os
import threading
from dataclasses import dataclass

import numpy as np

from numrnn import config
from numrnn.errors import SizeError


def format_bytes(nbytes: int) -> str:
    """``"1.5 GiB (1610612736 bytes)"``: binary units, then the exact count."""
    nbytes = int(nbytes)
    if nbytes < 1024:
        return f"{nbytes} bytes"
    if nbytes.bit_length() > 1000:  # a crafted size: too large for a float
        return f"about 2**{nbytes.bit_length() - 1} bytes"
    units = ("KiB", "MiB", "GiB", "TiB", "PiB", "EiB")
    power = min(len(units), (nbytes.bit_length() - 1) // 10)  # 1024**power <= nbytes
    return f"{nbytes / 1024**power:.3g} {units[power - 1]} ({nbytes} bytes)"


def parameter_bytes(shapes, dtype) -> int:
    """Bytes of parameters of these shapes *and* of their gradients (a module keeps one
    array of each per name), in ``dtype``. Python integers: no overflow at any size."""
    itemsize = np.dtype(dtype).itemsize
    return 2 * itemsize * sum(math.prod(int(n) for n in shape) for shape in shapes)


def machine_memory() -> int | None:
    """The machine's physical memory in bytes, or ``None`` where the OS does not say."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):  # not POSIX, or the name is unknown
        return None


@dataclass
class _Budget:
    limit: int  # bytes this budget allows
    what: str  # what sets it, for the message
    used: int = 0  # bytes already checked inside it


_local = threading.local()  # .budgets: the calling thread's stack of _Budget


def _budgets() -> list:
    if not hasattr(_local, "budgets"):
        _local.budgets = []
    return _local.budgets


def check_allocation(nbytes: int, what: str) -> int:
    """Raise :class:`SizeError` if allocating ``nbytes`` for ``what`` is out of bounds.

    Parameters
    ----------
    nbytes : the bytes about to be allocated (all arrays together).
    what : what they are for, as the message should name it (``"RNN(3, 1000000000)"``).

    Returns
    -------
    ``nbytes``, which counts against every :func:`allocation_budget` open in this thread.
    """
    nbytes = int(nbytes)
    limit = config.max_alloc_bytes()
    if nbytes > limit:
        raise SizeError(f"{what} needs {format_bytes(nbytes)}, more than the {format_bytes(limit)} "
                        "numrnn allows itself (set numrnn.config.MAX_ALLOC_BYTES or "
                        "NUMRNN_MAX_ALLOC_BYTES to allow more)")
    machine = machine_memory()
    if machine is not None and nbytes > machine:
        raise SizeError(f"{what} needs {format_bytes(nbytes)}, more than this machine's memory "
                        f"({format_bytes(machine)})")
    for budget in _budgets():
        if budget.used + nbytes > budget.limit:
            raise SizeError(f"{what} needs {format_bytes(nbytes)}, more than {budget.what} "
                            f"({format_bytes(budget.limit)}, of which {format_bytes(budget.used)} "
                            "already taken)")
    for budget in _budgets():
        budget.used += nbytes
    return nbytes


@contextlib.contextmanager
def allocation_budget(nbytes: int, what: str):
    """Within this block, :func:`check_allocation` in this thread also refuses to go over
    ``nbytes`` in total (the checks add up). ``what`` ends the message's "more than ..."
    (``"the stored parameters can fill"``)."""
    budget = _Budget(int(nbytes), what)
    stack = _budgets()
    stack.append(budget)
    try:
        yield budget
    finally:
        stack.remove(budget)


__all__ = ["allocation_budget", "check_allocation", "format_bytes", "machine_memory", "parameter_bytes"]

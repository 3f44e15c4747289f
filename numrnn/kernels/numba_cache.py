"""Numba's on-disk cache for the kernels, invalidated by a change to *any* kernel source.

Numba decides whether a cached compiled function is still valid from the source file
that defines it, and from nothing else. The kernels here inline helpers from other
files (the activations of ``numba_math.py``, the tiles of ``numba_gemm.py``,
the options of ``config.py``), so after an edit to one of those, Numba would keep
serving the old machine code from ``__pycache__`` and the edit would silently not take
effect: a trap for anyone who reads the kernels and changes them to learn.

:func:`register` puts, in front of each of Numba's cache locators, a twin that serves
only the functions defined in ``numrnn/kernels`` and adds to their source stamp a hash
of every ``.py`` file of this folder and of ``numrnn/config.py``. Any edit to any of
them invalidates every kernel's cache; functions outside numrnn are left to Numba's
own locators. It uses Numba's cache-locator classes (``numba.core.caching``), which
have kept this interface for years; should they change, registration is skipped and
caching still works, only without the cross-file stamp (``make clean`` then clears it).
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

KERNELS_DIR = Path(__file__).resolve().parent
_CONFIG = KERNELS_DIR.parent / "config.py"


@functools.cache
def sources_stamp() -> str:
    """SHA-256 of every kernel source file and of ``config.py``, in a stable order."""
    digest = hashlib.sha256()
    for path in [*sorted(KERNELS_DIR.glob("*.py")), _CONFIG]:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


class _KernelStamp:
    """Mixin for a Numba cache locator: numrnn's kernels only, stamped with every source."""

    @classmethod
    def from_function(cls, py_func, py_file):
        if Path(py_file).resolve().parent != KERNELS_DIR:
            return None  # not a numrnn kernel: Numba's own locators take it
        return super().from_function(py_func, py_file)

    def get_source_stamp(self):
        return (super().get_source_stamp(), sources_stamp())


_registered = False


def register() -> None:
    """Put the stamped locators first in Numba's list (once per process)."""
    global _registered
    if _registered:
        return
    try:
        from numba.core.caching import CacheImpl

        bases = [b for b in CacheImpl._locator_classes if not issubclass(b, _KernelStamp)]
        twins = [type(f"NumrnnKernel{b.__name__}", (_KernelStamp, b), {}) for b in bases]
    except (ImportError, AttributeError, TypeError):  # a Numba without this interface
        return
    CacheImpl._locator_classes[:0] = twins
    _registered = True

"""Which array module and which kernels run a computation.

Two questions are answered here and nowhere else:

* ``get_array_module(*arrays)``: NumPy or CuPy, from the arrays themselves (Chainer's
  ``xp`` idiom), so the textbook code in ``numrnn.functional`` runs unchanged on both.
* ``resolve_backend(requested, x)`` and ``get_ops(backend, cell)``: which
  implementation of a cell's sequence functions to call. The choice is made in this
  order: the ``backend=`` argument, then ``NUMRNN_BACKEND``, then automatic (Numba
  when it is installed and the arrays are NumPy, CuPy when they are CuPy arrays,
  else the NumPy reference). Each cell lists its implementations itself
  (``CellSpec.implementations``); every one exposes the same function names and
  signatures as the reference module in ``numrnn.functional`` (``rnn_forward``/
  ``rnn_backward``, ...).

A backend asked for by name that cannot run is a clear error; ``auto`` never fails over
to a backend that is missing, it quietly takes the reference.

Importing this module imports neither Numba nor CuPy.
"""

from __future__ import annotations

import importlib.util
from types import ModuleType

import numpy as np

from numrnn import config
from numrnn.errors import UsageTypeError, UsageValueError

_cupy = None
_cupy_error: Exception | None = None


def cupy_or_none() -> ModuleType | None:
    """Import CuPy on first use; ``None`` when it is not installed or has no GPU.

    The import error is kept, so that :func:`require_cupy` can say why.
    """
    global _cupy, _cupy_error
    if _cupy is None and _cupy_error is None:
        try:
            import cupy

            cupy.cuda.runtime.getDeviceCount()  # raises when there is no GPU/driver
            _cupy = cupy
        except Exception as exc:  # ImportError, CUDARuntimeError, ...
            _cupy_error = exc
    return _cupy


def require_cupy() -> ModuleType:
    """CuPy, or a RuntimeError naming what is missing."""
    cp = cupy_or_none()
    if cp is None:
        raise RuntimeError(
            "backend 'cupy' needs CuPy and an NVIDIA GPU: install the extra "
            "(pip install 'numrnn[gpu]') on a machine with a CUDA driver; "
            f"importing CuPy failed with: {_cupy_error!r}"
        )
    return cp


def is_cupy_array(a) -> bool:
    """True for a ``cupy.ndarray``, without importing CuPy."""
    return type(a).__module__.split(".")[0] == "cupy"


def get_array_module(*arrays) -> ModuleType:
    """``cupy`` if any argument is a CuPy array, else ``numpy``."""
    for a in arrays:
        if is_cupy_array(a):
            return require_cupy()
    return np


def numba_available() -> bool:
    """Whether Numba can be imported (checked without importing it)."""
    return importlib.util.find_spec("numba") is not None


def check_backend_name(name: str) -> str:
    """Lower-cased ``name``, or a ValueError listing the accepted names."""
    if not isinstance(name, str) or name.lower() not in config.BACKENDS:
        raise UsageValueError(
            f"backend must be one of {', '.join(map(repr, config.BACKENDS))}; got {name!r}"
        )
    return name.lower()


def resolve_backend(requested: str, x=None) -> str:
    """The concrete backend (``numpy``, ``numba`` or ``cupy``) for input ``x``.

    Parameters
    ----------
    requested : str
        The module's ``backend=`` argument; ``"auto"`` defers to ``NUMRNN_BACKEND``.
    x : array or None
        The input, whose array module constrains the choice.
    """
    name = check_backend_name(requested)
    if name == "auto":
        name = config.default_backend()
    on_gpu = x is not None and is_cupy_array(x)
    if name == "auto":
        if on_gpu:
            return "cupy"
        return "numba" if numba_available() else "numpy"
    if name == "numba" and not numba_available():
        raise RuntimeError(
            "backend 'numba' needs Numba: install the extra (pip install 'numrnn[jit]') "
            "or use backend='numpy'"
        )
    if name == "cupy":
        require_cupy()
    elif on_gpu:
        raise UsageTypeError(
            f"backend {name!r} runs on NumPy arrays, but the input is a CuPy array; "
            "use backend='cupy' or pass numpy arrays (cupy.asnumpy(x))"
        )
    return name


def get_ops(backend: str, cell):
    """The implementation of ``cell``'s sequence functions that ``backend`` runs.

    ``backend`` is a concrete name from :func:`resolve_backend`; ``cell`` a
    :class:`~numrnn.cells.CellSpec` or the name of a registered one. The cell's own
    table of implementations answers (``numrnn/cells/rnn.py``: explicit imports, made on
    first use): its entry for ``backend``, else its reference (``"numpy"``), which runs
    on NumPy and CuPy arrays alike. ``None`` for a cell that has only step functions:
    the layer then runs the generic loop of ``numrnn/cells/generic.py``.
    """
    from numrnn.cells import get_cell  # the cells import numrnn.functional, which imports this module

    table = get_cell(cell).implementations
    load = table.get(backend) or table.get("numpy")
    return None if load is None else load()

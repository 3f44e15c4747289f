"""Where arrays live: host memory (NumPy) or an NVIDIA GPU (CuPy), and moving between them.

A numrnn module computes on one *device*, named by its array module:

    "numpy"   host memory; the numpy and numba backends compute here
    "cupy"    GPU memory; the cupy backend computes here

Parameters may live on either (``module.to("cupy")`` moves them), and so may the
arrays a caller passes. The rule at the module boundary is simple: the computation
runs where the backend runs, inputs are moved there, and what a call returns comes back
as the kind of array the caller passed to that call. Moving to the GPU needs CuPy and
a GPU; asking for it without them is the error of :func:`numrnn.backend.require_cupy`.

Importing this module imports neither Numba nor CuPy.
"""

from __future__ import annotations

from types import ModuleType

import numpy as np

from numrnn.backend import is_cupy_array, require_cupy, resolve_backend
from numrnn.errors import UsageTypeError, UsageValueError

DEVICES = ("numpy", "cupy")


def check_device(device) -> str:
    """``device`` lower-cased if it is ``"numpy"`` or ``"cupy"``, else a ValueError."""
    name = device.lower() if isinstance(device, str) else device
    aliases = {"cpu": "numpy", "host": "numpy", "gpu": "cupy", "cuda": "cupy"}
    name = aliases.get(name, name)
    if name not in DEVICES:
        raise UsageValueError(
            f"device must be 'numpy' (host memory) or 'cupy' (NVIDIA GPU); got {device!r}"
        )
    return name


def device_of(a) -> str:
    """``"cupy"`` for a CuPy array, else ``"numpy"``."""
    return "cupy" if is_cupy_array(a) else "numpy"


def array_module(device: str) -> ModuleType:
    """NumPy for ``"numpy"``; CuPy for ``"cupy"`` (a RuntimeError when it cannot run)."""
    return require_cupy() if check_device(device) == "cupy" else np


def to_device(a, device: str):
    """``a`` on ``device``: the same array when it is already there, else a copy.

    ``None`` stays ``None``, so optional arguments (biases) can be passed through.
    """
    if a is None:
        return None
    device = check_device(device)
    if device_of(a) == device:
        return a
    if device == "numpy":
        return a.get()  # cupy.ndarray -> numpy.ndarray
    return require_cupy().asarray(a)


def to_device_of(a, like):
    """``a`` on the device of the array ``like``."""
    return to_device(a, device_of(like))


def module_backend(requested: str, x, params) -> str:
    """The backend a module's forward runs on, given its input and its parameters.

    :func:`numrnn.backend.resolve_backend` decides from the input alone; here a module
    whose parameters were moved to the GPU (``module.to("cupy")``) also counts as
    GPU-resident, so ``backend="auto"`` runs it with CuPy even for a NumPy input.
    """
    if not is_cupy_array(x):
        on_gpu = next((p for p in params if is_cupy_array(p)), None)
        if on_gpu is not None:
            try:
                return resolve_backend(requested, on_gpu)
            except TypeError:
                raise UsageTypeError(
                    f"backend {requested!r} runs on NumPy arrays, but the module's parameters "
                    "are on the GPU (CuPy arrays, after module.to('cupy')); use backend='cupy' "
                    "or move the module back with module.to('numpy')"
                ) from None
    return resolve_backend(requested, x)


def backend_device(backend: str) -> str:
    """The device a concrete backend computes on."""
    return "cupy" if backend == "cupy" else "numpy"

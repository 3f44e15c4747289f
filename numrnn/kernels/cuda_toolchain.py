"""Can the CUDA kernels of ``kernels/cuda_rnn.py`` run here, and if not, why not.

Launching a Numba CUDA kernel needs three things, and a machine can have CuPy and a
GPU and still lack either of the first two:

1. **Numba's CUDA target imports.** Since Numba 0.61 the maintained target is the
   separate package ``numba-cuda`` (``from numba import cuda`` then loads it); Numba's
   built-in one is frozen. Either way the import can fail (``numba-cuda`` without
   ``cuda-bindings`` raises ImportError), and that is a reason, not a crash.
2. **A compiler.** Numba turns a kernel into PTX with NVVM (``libnvvm``, part of the
   CUDA toolkit or of the ``nvidia-nvvm`` wheel that ``numba-cuda[cu13]`` installs);
   numba-cuda also asks NVRTC which architectures exist. Both are found by
   ``cuda-pathfinder`` (``CUDA_HOME``, the wheels, the system's library path). A GPU
   driver alone has neither, and without them the first launch fails.
3. **A device that answers**: a CUDA GPU with a driver, or Numba's CPU simulator
   (``NUMBA_ENABLE_CUDASIM=1``), which compiles nothing and so needs no compiler.

:func:`status` checks all three once per process (the compile check builds one
three-line kernel for the current GPU, the surest test that NVVM, NVRTC and libdevice
work together) and names every missing piece. ``cupy_rnn.choose_path`` runs the
reference on CuPy, with one warning quoting :attr:`Toolchain.reason`, when it is not ok.

Importing this module imports nothing from Numba.
"""

from __future__ import annotations

import functools
import os
import sys
from typing import NamedTuple


class Toolchain(NamedTuple):
    """What :func:`status` found."""

    ok: bool  # the kernels can be launched (or simulated)
    target: str  # "numba-cuda 0.30.4", "Numba's built-in CUDA target", or "" when none imports
    simulator: bool  # NUMBA_ENABLE_CUDASIM=1: kernels run on the CPU, no compiler needed
    problems: tuple  # each missing piece, in words, with what to install

    @property
    def reason(self) -> str:
        """The problems as one sentence ("" when ok)."""
        return "; ".join(self.problems)


def simulated() -> bool:
    """Whether Numba runs CUDA kernels in its CPU simulator (``NUMBA_ENABLE_CUDASIM=1``).

    Numba's own reading once Numba is loaded; before, the variable it will read (asking
    loads no Numba: ``parallel.run_directions`` asks on every bidirectional NumPy layer).
    """
    numba_config = sys.modules.get("numba.core.config")
    if numba_config is None:
        return os.environ.get("NUMBA_ENABLE_CUDASIM", "0") == "1"
    return bool(numba_config.ENABLE_CUDASIM)


def import_cuda_target():
    """``numba.cuda``, or the exception importing it raised (never raises itself)."""
    try:
        from numba import cuda
    except Exception as exc:  # ImportError, or a broken install raising something else
        return exc
    return cuda


def target_name(cuda) -> str:
    """Which CUDA target ``cuda`` is: numba-cuda (with its version) or Numba's built-in one."""
    if getattr(cuda, "implementation", "") == "NVIDIA":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return f"numba-cuda {version('numba-cuda')}"
        except PackageNotFoundError:
            return "numba-cuda"
    return "Numba's built-in CUDA target"


def device_answers(cuda) -> bool:
    """Whether a CUDA GPU and its driver answer (``numba.cuda.is_available()``)."""
    try:
        return bool(cuda.is_available())
    except Exception:  # a broken driver install raises instead of answering
        return False


def nvvm_found() -> bool:
    """Whether Numba finds NVVM (``libnvvm``), without compiling anything."""
    try:
        from numba.cuda.cudadrv import nvvm

        return bool(nvvm.is_available())
    except Exception:
        return False


def cudadevrt_path() -> str:
    """Where Numba finds ``libcudadevrt.a``, which a kernel with a grid barrier is linked
    against ('' when not found: the multi-block kernel cannot be loaded then)."""
    import os.path

    try:
        from numba.cuda.cudadrv import libs

        path = libs.get_cudalib("cudadevrt", static=True)
    except Exception:
        return ""
    return path if path and os.path.isfile(path) else ""


def _probe_body(a):
    a[0] = a[0] + 1  # the smallest kernel that still goes through NVVM and libdevice's setup


def compile_error(cuda) -> str:
    """'' when a tiny kernel compiles for the current GPU, else the compiler's complaint."""
    try:
        cuda.compile_ptx_for_current_device(_probe_body, (array_type("float32", 1),))
    except Exception as exc:  # NvvmSupportError, DynamicLibNotFoundError (NVRTC), ...
        return f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
    return ""


# -- types ---------------------------------------------------------------------------------------
def scalar_type(dtype):
    """The CUDA target's type for a NumPy dtype name or dtype (``float32``, ``float64``, ``int64``).

    Taken from numba-cuda's own namespace (``numba.cuda.types``) when it has one, so
    the kernels' signatures, shared arrays and constants use the types of the target
    that compiles them; from ``numba.types`` with Numba's built-in target.
    """
    import numpy as np

    try:
        from numba.cuda import types
    except ImportError:
        from numba import types
    return getattr(types, np.dtype(dtype).name)


def array_type(dtype, ndim: int):
    """The type of a C-contiguous ``ndim``-dimensional array of ``dtype``: ``float32[:, ::1]``."""
    scalar = scalar_type(dtype)
    if ndim == 1:
        return scalar[::1]
    return scalar[(slice(None),) * (ndim - 1) + (slice(None, None, 1),)]


@functools.cache
def status() -> Toolchain:
    """Check the CUDA target, the compiler and the device, once per process."""
    cuda = import_cuda_target()
    if isinstance(cuda, Exception):
        return Toolchain(False, "", simulated(), (
            f"Numba's CUDA target does not import ({type(cuda).__name__}: {cuda}); "
            "install numba-cuda (pip install 'numrnn[gpu]')",))
    target = target_name(cuda)
    if simulated():
        return Toolchain(True, target, True, ())
    problems = []
    device = device_answers(cuda)
    if not device:
        problems.append("no CUDA GPU answers Numba (numba.cuda.is_available() is False: "
                        "no GPU, or no driver)")
    if not nvvm_found():
        problems.append("Numba finds no NVVM, CUDA's compiler library (libnvvm): install "
                        "'numba-cuda[cu13]' (or [cu12]) or a CUDA toolkit, or set CUDA_HOME")
    elif device:
        error = compile_error(cuda)
        if error:
            problems.append(f"Numba cannot compile a kernel for this GPU ({error}); "
                            "install 'numba-cuda[cu13]' (NVVM and NVRTC) or set CUDA_HOME")
    return Toolchain(not problems, target, False, tuple(problems))


def clear() -> None:
    """Forget the cached :func:`status` (tests fake missing pieces and ask again)."""
    status.cache_clear()

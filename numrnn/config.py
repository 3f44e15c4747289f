"""Every knob of numrnn in one place: compile options, environment variables, defaults.

Kernel files import their options from here instead of sprinkling ``fastmath=True``
or ``cache=True`` across decorators (the stumpy convention), so a reader sees in one
screen what the compiled paths assume.

Environment variables
---------------------
NUMRNN_BACKEND
    Default backend when a module is built with ``backend="auto"``: one of
    ``numpy``, ``numba``, ``cupy``. Unset means "choose automatically".
NUMRNN_NUMBA_CACHE
    ``0`` turns off Numba's on-disk cache (default on: the first compile of an RNN
    loop costs seconds, a cached load a few milliseconds).
NUMBA_DISABLE_JIT
    Numba's own switch: ``1`` runs every kernel body as plain Python, which is how
    the kernels are traced, debugged and covered.
"""

from __future__ import annotations

import os

#: Names accepted by ``backend=`` and ``NUMRNN_BACKEND``.
BACKENDS = ("auto", "numpy", "numba", "cupy")

#: Options shared by every ``numba.njit`` in ``numrnn/kernels``.
#: ``fastmath`` stays off: parity with PyTorch to rounding matters more than the
#: few percent that reassociation buys, and the vectorised activations in
#: ``kernels/numba_math.py`` are written so LLVM vectorises them without it.
NUMBA_JIT_OPTIONS = {
    "nogil": True,
    "cache": os.environ.get("NUMRNN_NUMBA_CACHE", "1") != "0",
    "fastmath": False,
    "error_model": "numpy",
}

#: Default pass mark of :func:`numrnn.check_gradients`: the largest relative error
#: allowed (float64, central differences with ``eps = 1e-5``, where truncation and
#: rounding errors balance; docs/gradcheck.md shows where both numbers come from).
#: A correct backward measures 1e-7 or less; a wrong one 1e-3 to 1.
GRADCHECK_TOL = 1e-5

#: Tensors with at most this many elements are checked element by element; larger
#: ones by a random sample of elements plus random-direction checks.
GRADCHECK_FULL_MAX = 4096


def default_backend() -> str:
    """The backend named by ``NUMRNN_BACKEND``, or ``"auto"`` when it is unset."""
    name = os.environ.get("NUMRNN_BACKEND", "auto").strip().lower() or "auto"
    if name not in BACKENDS:
        raise ValueError(
            f"NUMRNN_BACKEND must be one of {', '.join(BACKENDS)}; got {name!r}"
        )
    return name

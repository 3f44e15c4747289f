"""Which BLAS thread pools a process has, and how to keep them from fighting.

The fact this answers (measured on the 2-core machine, docs/performance.md): a pip
install of NumPy and SciPy carries *two* OpenBLAS libraries, each with its own pool
of threads (``numpy.libs/libscipy_openblas64_*.so`` and
``scipy.libs/libscipy_openblas*.so``). ``np.dot`` inside Numba-compiled code calls
SciPy's (through ``scipy.linalg.cython_blas``); ``@`` in NumPy calls NumPy's. After a
BLAS call an OpenBLAS worker keeps spinning for a while, waiting for more work, so
when the two libraries alternate (a compiled RNN layer, then a NumPy ``Linear`` head,
then the RNN's backward...) four busy threads share two cores.

The kernels answer it by construction: every BLAS call of a Numba kernel's forward
or backward goes to SciPy's library, so one layer uses one pool. For a whole program
that mixes NumPy matmuls with the kernels, :func:`limit_blas` pins one pool (or
both); the benchmarks record :func:`blas_pools` with their figures.

Kernel writers (``numba_lstm.py``, ``numba_gru.py``): do the GEMMs with ``np.dot``
*inside* the compiled function (``np.dot(a, b, out)`` writes into a preallocated,
C-contiguous ``out``), never with NumPy's ``@`` around it, and the rule above holds.

``threadpoolctl`` (the ``jit`` extra) lists the pools, imported only when these functions
run; :func:`limit_blas` sets their counts the one way numrnn does (``numrnn/parallel.py``,
:func:`numrnn.parallel.blas_limit`), so that its limits and the kernels' own compose.
"""

from __future__ import annotations

import contextlib

from numrnn import parallel

#: Where each pool's library lies: the piece of its path that names the package.
_MARKERS = {"numpy": "/numpy.libs/", "numba": "/scipy.libs/"}


def _controller():
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise RuntimeError(
            "inspecting or limiting BLAS thread pools needs threadpoolctl: "
            "pip install threadpoolctl (it is in numrnn's 'jit' extra)"
        ) from exc
    import numpy  # noqa: F401  - load both BLAS libraries so that both pools are listed
    import scipy.linalg  # noqa: F401

    return ThreadpoolController()


def _owner(filepath: str) -> str:
    """Which package ships a thread-pool library, from its path."""
    path = filepath.replace("\\", "/")
    for owner, marker in (("numpy", "/numpy.libs/"), ("scipy (numba's np.dot)", "/scipy.libs/"),
                          ("torch", "/torch/")):
        if marker in path:
            return owner
    return "other"


def blas_pools() -> list:
    """One dict per thread-pool library loaded in this process.

    Keys: ``owner`` (numpy, scipy (numba's np.dot), torch, other), ``user_api``
    (blas or openmp), ``internal_api`` (openblas, mkl, openmp...), ``version``,
    ``architecture`` (the OpenBLAS kernel in use, e.g. Haswell or SkylakeX),
    ``num_threads`` and ``filepath``.
    """
    out = []
    for lib in _controller().info():
        out.append({
            "owner": _owner(lib.get("filepath", "")),
            "user_api": lib.get("user_api"),
            "internal_api": lib.get("internal_api"),
            "version": lib.get("version"),
            "architecture": lib.get("architecture"),
            "num_threads": lib.get("num_threads"),
            "filepath": lib.get("filepath"),
        })
    return out


def describe_pools() -> str:
    """The pools as short lines, for benchmark reports."""
    return "\n".join(
        f"{p['owner']}: {p['internal_api']} {p['version'] or ''} "
        f"{p['architecture'] or ''} threads={p['num_threads']}".replace("  ", " ")
        for p in blas_pools()
    )


@contextlib.contextmanager
def limit_blas(numpy: int | None = None, numba: int | None = None):
    """Limit the threads of NumPy's and/or SciPy's (Numba's) OpenBLAS inside a ``with``.

    Parameters
    ----------
    numpy : threads for the BLAS that NumPy's ``@`` calls; ``None`` leaves it.
    numba : threads for the BLAS that ``np.dot`` in Numba code calls (SciPy's);
        ``None`` leaves it.

    On 2 cores, ``limit_blas(numpy=1)`` around a training loop that mixes NumPy
    matmuls with the Numba kernels stops the two pools from competing. A pool already on
    fewer threads keeps its count; limits in force at once (these, the kernels') take the
    least.
    """
    _controller()  # the clear error without threadpoolctl
    with contextlib.ExitStack() as limits:
        for threads, pool in ((numpy, "numpy"), (numba, "numba")):
            if threads is not None:
                limits.enter_context(parallel.blas_limit(threads, only=_MARKERS[pool]))
        yield

"""Fast paths: the same function names and signatures as ``numrnn.functional``.

``numba_{cell}.py`` compile the time loop for the CPU; ``cuda_*.py`` and
``cupy_{cell}.py`` run it on NVIDIA GPUs. :func:`numrnn.backend.get_ops` picks the
module; every kernel is tested against the reference in ``numrnn.functional``.
"""

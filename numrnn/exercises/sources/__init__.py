"""Marked sources of the exercises that do not live in ``numrnn.functional``.

Each file here is library code *and* an exercise: ``numrnn.gradcheck`` imports its
``numerical_gradient`` from ``gradcheck.py``, and ``python -m numrnn exercises make``
writes a student copy of each file with the ``### BEGIN SOLUTION`` /
``### END SOLUTION`` regions replaced by ``raise NotImplementedError()``. Like the
student files they become, they import only NumPy and ``numrnn.errors``.
"""

"""The central-difference gradient, the one tool every gradient check rests on.

    df/dx ~ (f(x + eps) - f(x - eps)) / (2 eps)          (error O(eps**2))

This is the library's :func:`numrnn.numerical_gradient` (``numrnn/gradcheck.py``
imports it from here) and the source of the student's ``gradcheck.py`` exercise: the
``### BEGIN SOLUTION`` / ``### END SOLUTION`` lines mark what the student writes
(docs/exercises.md, docs/gradcheck.md).
"""

from __future__ import annotations

import numpy as np

from numrnn.errors import UsageTypeError


def numerical_gradient(f, x: np.ndarray, df, eps: float = 1e-5) -> np.ndarray:
    """Central-difference gradient of ``sum(f(x) * df)`` with respect to ``x``.

    The exercise helper of CS231n (``eval_numerical_gradient_array``): ``f`` maps
    the array ``x`` (perturbed in place, one element at a time, and restored) to an
    array shaped like ``df``.

    Parameters
    ----------
    f : callable, ``x -> array``.
    x : array of any shape; use float64.
    df : upstream gradient, shaped like ``f(x)``.
    eps : step of the central difference; in float64, 1e-5 balances the O(eps**2)
        truncation error against the rounding error of f, which grows like 1/eps.

    Returns
    -------
    grad : array shaped like ``x``; ``x`` holds its original values again.
    """
    x = np.asarray(x)
    if x.dtype != np.float64:
        raise UsageTypeError(f"numerical_gradient needs a float64 x (for precision); got {x.dtype}")
    ### BEGIN SOLUTION
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + eps
        plus = np.sum(np.asarray(f(x)) * df)
        x[i] = old - eps
        minus = np.sum(np.asarray(f(x)) * df)
        x[i] = old  # restore: the next entry's differences need the original x
        grad[i] = (plus - minus) / (2 * eps)
    return grad
    ### END SOLUTION

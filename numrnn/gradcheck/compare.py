"""One tensor's gradient against central differences: CS231n's relative error, element
by element (or at a sample of elements and random directions for a large tensor).

    df/dp ~ (f(p + eps) - f(p - eps)) / (2 eps)          (error O(eps**2))

    rel_error(a, n) = |a - n| / max(floor, |a| + |n|),   floor = max(1e-8, 1e-4 * max|a|)
"""

from __future__ import annotations

import numpy as np

from numrnn.gradcheck.report import TensorCheck

#: The denominator of the relative error is at least this fraction of the tensor's
#: largest gradient entry (and at least 1e-8, CS231n's floor).
SCALE_FLOOR = 1e-4


def rel_error(a, n, floor: float = 1e-8) -> np.ndarray:
    """Elementwise relative error ``|a - n| / max(floor, |a| + |n|)``.

    This is CS231n's formula (floor 1e-8) entry by entry; CS231n's ``rel_error``
    returns the maximum of it, ``np.max(rel_error(a, n))``.
    """
    a, n = np.asarray(a, dtype=np.float64), np.asarray(n, dtype=np.float64)
    return np.abs(a - n) / np.maximum(floor, np.abs(a) + np.abs(n))


def flatten(obj) -> list:
    if obj is None:
        return []
    if isinstance(obj, (tuple, list)):
        return [a for o in obj for a in flatten(o)]
    return [obj]


def unflatten(obj, flat: list):
    """Rebuild ``obj``'s structure from the arrays in ``flat`` (consumed in order)."""
    if obj is None:
        return None
    if isinstance(obj, (tuple, list)):
        return tuple(unflatten(o, flat) for o in obj)
    return flat.pop(0)


def as_float64(obj):
    if obj is None:
        return None
    if isinstance(obj, (tuple, list)):
        return tuple(as_float64(o) for o in obj)
    return np.array(obj, dtype=np.float64, copy=True)


def not_compared(name, shape, mode, why) -> TensorCheck:
    """A failing row for a gradient that cannot be compared (wrong shape, missing)."""
    return TensorCheck(name, tuple(shape), mode, 0, np.inf, why, False)


def compare_tensor(name, array, analytic, f, eps, tol, rng, full_max, samples, directions, exempt=None,
             time_axis=None):
    """Compare ``analytic`` with central differences of ``f`` perturbing ``array`` in place.

    ``exempt`` (a bool mask shaped like ``array``, or None) marks entries whose gradient
    is zero by the layer's definition (an embedding's padding row): they are skipped.
    ``time_axis`` (or None) is the axis of ``array`` that counts time steps: the check
    then also keeps the worst error at each step.
    """
    if analytic is None:
        return not_compared(name, array.shape, "missing", "backward returned None")
    analytic = np.asarray(analytic, dtype=np.float64)
    if analytic.shape != array.shape:
        return not_compared(name, array.shape, "shape",
                             f"analytic gradient has shape {analytic.shape}, expected {array.shape}")
    flat = array.reshape(-1)  # a view: perturbing it perturbs the tensor
    assert np.shares_memory(flat, array) or array.size == 0
    # Entries 10^4 times smaller than the tensor's largest (a vanished gradient at
    # an early step) are below what central differences resolve: compare them on the
    # tensor's scale instead of their own.
    floor = max(1e-8, SCALE_FLOOR * float(np.abs(analytic).max(initial=0.0)))
    full = array.size <= full_max
    allowed = np.flatnonzero(~exempt.reshape(-1)) if exempt is not None else np.arange(array.size)
    idx = allowed if full else rng.choice(allowed, size=min(samples, allowed.size), replace=False)
    errs, where = [], []
    for i in idx:
        old = flat[i]
        flat[i] = old + eps
        plus = f()
        flat[i] = old - eps
        minus = f()
        flat[i] = old
        num = (plus - minus) / (2 * eps)
        errs.append(float(rel_error(analytic.reshape(-1)[i], num, floor)))
        where.append(np.unravel_index(i, array.shape) if array.ndim else ())
    steps = None
    if time_axis is not None and array.ndim > time_axis:
        per_step = np.full(array.shape[time_axis], np.nan)
        for e, w in zip(errs, where):
            t = int(w[time_axis])
            per_step[t] = e if np.isnan(per_step[t]) else max(per_step[t], e)
        steps = tuple(float(e) for e in per_step)
    if not full:
        for k in range(directions):
            v = rng.standard_normal(array.shape)
            if exempt is not None:
                v[exempt] = 0
            v /= np.linalg.norm(v)
            old = array.copy()
            array += eps * v
            plus = f()
            array[...] = old - eps * v
            minus = f()
            array[...] = old
            num = (plus - minus) / (2 * eps)
            errs.append(float(rel_error(np.sum(analytic * v), num, floor)))
            where.append(f"direction {k}")
    k = int(np.argmax(errs)) if errs else 0
    worst = errs[k] if errs else 0.0
    w = where[k] if errs else ()
    w = tuple(int(j) for j in w) if isinstance(w, tuple) else w
    return TensorCheck(name, tuple(array.shape), "full" if full else "sampled", len(errs),
                       worst, w, bool(worst < tol), time_axis if steps is not None else None, steps)


__all__ = ["SCALE_FLOOR", "as_float64", "compare_tensor", "flatten", "not_compared", "rel_error", "unflatten"]

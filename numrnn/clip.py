"""Gradient clipping: the standard cure for exploding gradients in BPTT.

An RNN's gradient is a sum of products of Jacobians dh_t/dh_{t-1}; when their norms
exceed one the product grows with the distance, and one bad step can throw the
weights far away. Clipping rescales the gradient before the update (Pascanu et al.,
2013), with PyTorch's formulas::

    total_norm = || (||g_1||_p, ||g_2||_p, ...) ||_p          (one global norm)
    clip_coef  = max_norm / (total_norm + 1e-6)
    g_i       *= clip_coef        only when clip_coef < 1

``clip_grad_value`` clamps every element to [-clip, clip] instead.

``target`` is a module (its ``.grads``), a list of modules, a pair of dicts
``(params, grads)`` (:mod:`numrnn.targets`), or a dict of gradient arrays; the arrays
are changed in place.
"""

from __future__ import annotations

import math

from numrnn._checks import check_real
from numrnn.backend import get_array_module
from numrnn.targets import grad_arrays


def _grad_arrays(target) -> list:
    """The gradient arrays of ``target``: see :mod:`numrnn.targets`."""
    return grad_arrays(target, "clip")


def grad_norm(target, norm_type: float = 2.0) -> float:
    """The global ``norm_type``-norm of every gradient in ``target`` (``inf`` for the max)."""
    norm_type = check_real(norm_type, "norm_type", "clip", low=0, low_open=True)  # inf: the largest entry
    norms = []
    for g in _grad_arrays(target):
        if g.size == 0:
            continue
        xp = get_array_module(g)
        a = xp.abs(g.astype("float64", copy=False))
        if math.isinf(norm_type):
            norms.append(float(a.max()))
        else:
            norms.append(float((a**norm_type).sum() ** (1.0 / norm_type)))
    if not norms:
        return 0.0
    if math.isinf(norm_type):
        return max(norms)
    return math.fsum(n**norm_type for n in norms) ** (1.0 / norm_type)


def clip_grad_norm(target, max_norm: float, norm_type: float = 2.0) -> float:
    """Scale every gradient in place so that their global norm is at most ``max_norm``.

    Parameters
    ----------
    target : a module, a list of modules, a pair ``(params, grads)`` or a dict of gradient arrays.
    max_norm : the largest allowed global norm.
    norm_type : p of the p-norm (2 by default, ``float("inf")`` for the largest entry).

    Returns
    -------
    The global norm *before* clipping (``nan``/``inf`` when a gradient is not finite;
    the gradients are then left as they are, so a guard can see them).
    """
    max_norm = check_real(max_norm, "max_norm", "clip_grad_norm", low=0, low_open=True)
    total = grad_norm(target, norm_type)
    if not math.isfinite(total):
        return total
    clip_coef = max_norm / (total + 1e-6)
    if clip_coef < 1:
        for g in _grad_arrays(target):
            g *= clip_coef
    return total


def clip_grad_value(target, clip: float) -> None:
    """Clamp every gradient element to ``[-clip, clip]``, in place."""
    clip = check_real(clip, "clip", "clip_grad_value", low=0, low_open=True)
    for g in _grad_arrays(target):
        get_array_module(g).clip(g, -clip, clip, out=g)


__all__ = ["clip_grad_norm", "clip_grad_value", "grad_norm"]

"""What an optimizer or a clipping function works on: its ``target``.

A target is one of

* a module (its ``params`` and ``grads`` dicts),
* a list (or tuple) of modules, e.g. ``[rnn, head]``,
* a pair of dicts ``(params, grads)`` with the same keys,

and :func:`params_and_grads` turns any of them into ``[(key, param, grad), ...]``.
Keys are ``"i.name"`` for the i-th module (``"0.weight_ih_l0"`` for a single module)
and the dict keys for a pair, so an optimizer's saved state finds its parameters
again. The clipping functions also take a bare dict of gradient arrays.
"""

from __future__ import annotations

import numpy as np

from numrnn.backend import is_cupy_array
from numrnn.errors import UsageTypeError, UsageValueError

TARGET_KINDS = "a module, a list of modules or a pair of dicts (params, grads)"


def _check_float_arrays(arrays: dict, what: str, owner: str) -> None:
    """Every value a float array (NumPy or CuPy): they are changed in place."""
    for k, a in arrays.items():
        if not (isinstance(a, np.ndarray) or is_cupy_array(a)):
            raise UsageTypeError(f"{owner}: {what} must map names to arrays (changed in place); {k!r} is a "
                                 f"{type(a).__name__}")
        if a.dtype.kind != "f":
            raise UsageTypeError(f"{owner}: {what} must hold float arrays; {k!r} has dtype {a.dtype}")


def _is_pair(target) -> bool:
    return isinstance(target, tuple) and len(target) == 2 and all(isinstance(d, dict) for d in target)


def params_and_grads(target, owner: str) -> list:
    """``[(key, param array, grad array)]`` of ``target``; TypeError/ValueError naming ``owner``."""
    if _is_pair(target):
        params, grads = target
        only_p, only_g = sorted(set(params) - set(grads)), sorted(set(grads) - set(params))
        if only_p or only_g:
            raise UsageValueError(f"{owner}: params and grads must have the same keys; only in params "
                                  f"{only_p}, only in grads {only_g}")
        _check_float_arrays(params, "params", owner)
        _check_float_arrays(grads, "grads", owner)
        return [(k, params[k], grads[k]) for k in params]
    if isinstance(target, dict):
        raise UsageTypeError(f"{owner} target must be {TARGET_KINDS}; got a single dict (pass "
                             f"(params, grads))")
    modules = target if isinstance(target, (list, tuple)) else [target]
    out = []
    for i, m in enumerate(modules):
        if not (hasattr(m, "params") and hasattr(m, "grads")):
            raise UsageTypeError(f"{owner} target must be {TARGET_KINDS}; got {type(m).__name__}")
        grads = m.grads
        out += [(f"{i}.{k}", p, grads[k]) for k, p in m.params.items()]
    return out


def grad_arrays(target, owner: str) -> list:
    """The gradient arrays of ``target``, which may also be a dict name -> gradient array."""
    if isinstance(target, dict):
        _check_float_arrays(target, "a dict of gradients", owner)
        return list(target.values())
    return [g for _, _, g in params_and_grads(target, owner)]


__all__ = ["TARGET_KINDS", "grad_arrays", "params_and_grads"]

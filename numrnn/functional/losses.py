"""Losses that return their own gradient: ``loss, dpred = loss_fn(pred, target)``.

Every loss reduces to the mean over the elements it counts, as PyTorch's default
``reduction="mean"`` does, and its gradient is dLoss/dpred for that mean.

Softmax cross-entropy over C classes, for logits z (..., C) and integer targets y:

    log p = z - logsumexp(z)          (computed after subtracting max z: no overflow)
    loss  = -(1/M) * sum over counted positions of log p[y]
    dz    = (softmax(z) - onehot(y)) / M   at counted positions, 0 elsewhere

where M is the number of counted positions (``ignore_index`` and ``mask`` remove some).
:func:`cross_entropy` checks its arguments and then runs the textbook pair
:func:`softmax_cross_entropy_forward` / :func:`softmax_cross_entropy_backward`, which
follow the convention of every other function in ``numrnn.functional``
(``forward(...) -> (loss, cache)``, ``backward(dloss, cache) -> dlogits``). Their
``### BEGIN SOLUTION`` / ``### END SOLUTION`` lines, and those of :func:`log_softmax`,
mark the exercise (docs/exercises.md).
"""

from __future__ import annotations

from typing import NamedTuple

from numrnn.backend import get_array_module
from numrnn.errors import UsageTypeError, UsageValueError


def _float_input(a, name: str, owner: str):
    """``a`` as an array (lists accepted) that must hold floats: a loss differentiates it."""
    xp = get_array_module(a)
    try:
        a = xp.asarray(a)
    except (TypeError, ValueError) as exc:  # ragged lists and the like
        raise UsageTypeError(f"{owner}: {name} must be an array of floats; got {type(a).__name__}") from exc
    if a.dtype.kind != "f":
        raise UsageTypeError(f"{owner}: {name} must hold floats (float32 or float64); got dtype {a.dtype}")
    return a


def log_softmax(z, axis: int = -1):
    """``z - logsumexp(z)`` along ``axis``, stable for large logits.

    ``logsumexp(z) = max z + log(sum(exp(z - max z)))``: after the shift the largest
    exponent is exp(0) = 1, so a logit of 1000 cannot overflow.
    """
    ### BEGIN SOLUTION
    xp = get_array_module(z)
    shifted = z - z.max(axis=axis, keepdims=True)
    return shifted - xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))
    ### END SOLUTION


def softmax(z, axis: int = -1):
    """``exp(z) / sum(exp(z))`` along ``axis``, stable for large logits."""
    xp = get_array_module(z)
    e = xp.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


class CrossEntropyCache(NamedTuple):
    """What the backward of the softmax cross-entropy needs from its forward."""

    logp: object  # (..., C) log-probabilities, log softmax(logits)
    targets: object  # (...) class ids
    weight: object  # (...) 1/M at counted positions, 0 elsewhere (logits' dtype)


def softmax_cross_entropy_forward(logits, targets, mask=None):
    """Mean softmax cross-entropy over the counted positions: the textbook forward.

    Parameters
    ----------
    logits : (..., C) float scores z, e.g. (N, C), or (T, N, C) over time.
    targets : (...) integer class ids y in [0, C), shaped like ``logits[..., 0]``.
    mask : (...) bool (or 0/1), False where a position is not counted; None counts
        every position. At least one position must be counted.

    Returns
    -------
    loss : float, -(1/M) * sum over counted positions of log softmax(z)[y].
    cache : CrossEntropyCache for :func:`softmax_cross_entropy_backward`.
    """
    ### BEGIN SOLUTION
    xp = get_array_module(logits)
    counted = xp.ones(targets.shape, dtype=bool) if mask is None else (mask != 0)  # (...)
    M = int(counted.sum())
    logp = log_softmax(logits)  # (..., C)
    picked = xp.take_along_axis(logp, targets[..., None], axis=-1)[..., 0]  # (...): log p[y]
    loss = -float((picked * counted).sum()) / M
    weight = (counted / M).astype(logits.dtype)  # (...)
    return loss, CrossEntropyCache(logp, targets, weight)
    ### END SOLUTION


def softmax_cross_entropy_backward(dloss, cache: CrossEntropyCache):
    """dL/dlogits from dL/dloss (a scalar, 1.0 when the loss is L itself).

    Returns
    -------
    dlogits : (..., C) ``dloss * (softmax(z) - onehot(y)) / M`` at counted positions,
    0 elsewhere.
    """
    ### BEGIN SOLUTION
    xp = get_array_module(cache.logp)
    C = cache.logp.shape[-1]
    p = xp.exp(cache.logp)  # (..., C): softmax(z)
    onehot = (xp.arange(C) == cache.targets[..., None]).astype(p.dtype)  # (..., C)
    return (p - onehot) * (dloss * cache.weight)[..., None]
    ### END SOLUTION


def cross_entropy(logits, targets, ignore_index: int = -100, mask=None):
    """Mean softmax cross-entropy and its gradient.

    Parameters
    ----------
    logits : (..., C) float scores, e.g. (T, N, C) over time or (N, C).
    targets : (...) integer class ids in [0, C), shaped like ``logits[..., 0]``.
    ignore_index : positions whose target equals it are not counted (PyTorch's rule).
    mask : optional (...) array of 0/1 (or bool): positions with 0 are not counted.

    Returns
    -------
    loss : float, mean over counted positions.
    dlogits : (..., C) gradient of ``loss`` with respect to ``logits``.
    """
    logits = _float_input(logits, "logits", "cross_entropy")
    xp = get_array_module(logits)
    try:
        targets = xp.asarray(targets)
    except (TypeError, ValueError) as exc:  # a ragged list: NumPy's "inhomogeneous shape"
        raise UsageTypeError(f"cross_entropy: targets must be an array of integer class ids; got a "
                             f"{type(targets).__name__} that is not one ({exc})") from exc
    if logits.ndim < 1 or targets.shape != logits.shape[:-1]:
        raise UsageValueError(
            f"cross_entropy: targets must have shape {tuple(logits.shape[:-1])} "
            f"(logits without the class axis); got {tuple(targets.shape)}"
        )
    if targets.dtype.kind not in "iu":
        raise UsageTypeError(f"cross_entropy: targets must be integer class ids; got dtype {targets.dtype}")
    C = logits.shape[-1]
    counted = targets != ignore_index
    if mask is not None:
        mask = xp.asarray(mask)
        if mask.shape != targets.shape:
            raise UsageValueError(
                f"cross_entropy: mask must have shape {tuple(targets.shape)}; got {tuple(mask.shape)}"
            )
        counted = counted & (mask != 0)
    safe = xp.where(counted, targets, 0)
    if bool(((safe < 0) | (safe >= C)).any()):
        raise UsageValueError(f"cross_entropy: targets must be in [0, {C}) or ignore_index; got {targets}")
    if not bool(counted.any()):
        return 0.0, xp.zeros_like(logits)
    loss, cache = softmax_cross_entropy_forward(logits, safe, counted)
    return loss, softmax_cross_entropy_backward(1.0, cache)


def mse_loss(pred, target):
    """Mean squared error ``mean((pred - target)**2)`` and its gradient (shapes equal).

    ``pred`` must hold floats; ``target`` may be any numeric array-like and is cast to
    ``pred``'s dtype (it is not differentiated), so ``dpred`` has ``pred``'s dtype.
    """
    pred = _float_input(pred, "pred", "mse_loss")
    xp = get_array_module(pred)
    try:
        target = xp.asarray(target)
    except (TypeError, ValueError) as exc:
        raise UsageTypeError(f"mse_loss: target must be a numeric array; got "
                             f"{type(target).__name__}") from exc
    if target.dtype.kind not in "biuf":
        raise UsageTypeError(f"mse_loss: target must be numeric; got dtype {target.dtype}")
    if pred.shape != target.shape:
        raise UsageValueError(
            f"mse_loss: target must have the shape of pred {tuple(pred.shape)}; got {tuple(target.shape)}"
        )
    if pred.size == 0:
        raise UsageValueError(f"mse_loss: pred is empty (shape {tuple(pred.shape)}): the mean of no values "
                              "is undefined")
    diff = pred - target.astype(pred.dtype, copy=False)
    loss = float((diff * diff).mean())
    return loss, (2.0 / diff.size) * diff


__all__ = [
    "CrossEntropyCache",
    "cross_entropy",
    "log_softmax",
    "mse_loss",
    "softmax",
    "softmax_cross_entropy_backward",
    "softmax_cross_entropy_forward",
]

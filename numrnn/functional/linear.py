"""The affine layer ``y = x @ w.T + b`` (PyTorch's ``nn.Linear`` layout), by hand.

Shapes: x (..., F) with any leading axes (N, or T and N), w (O, F), b (O,),
y (..., O), where F and O are the layer's ``in_features`` and ``out_features``.
The leading axes are flattened to M rows for the products:

    y  = x @ w.T + b            (M, O)
    dx = dy @ w                 (M, F)
    dw = dy.T @ x               (O, F)
    db = sum over rows of dy    (O,)

The backward is the last line of every recurrent step backward with other names
(docs/bptt.md, (4), (6) and (8)). Its ``### BEGIN SOLUTION`` / ``### END SOLUTION``
lines mark the exercise (docs/exercises.md).
"""

from __future__ import annotations

from typing import NamedTuple


class LinearCache(NamedTuple):
    x: object  # (M, F) input, rows flattened
    w: object  # (O, F)
    lead: tuple  # the leading shape of x, to restore dx
    has_bias: bool


def linear_forward(x, w, b=None):
    """``x`` (..., F) -> ``y`` (..., O) and the cache for :func:`linear_backward`."""
    lead = x.shape[:-1]
    x2 = x.reshape(-1, x.shape[-1])  # (M, F)
    y = x2 @ w.T  # (M, O)
    if b is not None:
        y = y + b
    return y.reshape(*lead, w.shape[0]), LinearCache(x2, w, lead, b is not None)


def linear_backward(dy, cache: LinearCache):
    """``dy`` (..., O) -> ``dx`` (..., F), ``dw`` (O, F), ``db`` (O,) or None."""
    ### BEGIN SOLUTION
    dy2 = dy.reshape(-1, dy.shape[-1])  # (M, O)
    dx = (dy2 @ cache.w).reshape(*cache.lead, cache.w.shape[1])  # (..., F)
    dw = dy2.T @ cache.x  # (O, F)
    db = dy2.sum(axis=0) if cache.has_bias else None  # (O,)
    return dx, dw, db
    ### END SOLUTION

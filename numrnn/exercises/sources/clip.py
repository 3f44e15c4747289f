"""Clipping by the global norm, the standard guard against exploding gradients.

    total_norm = sqrt(sum over every gradient g of sum(g**2))    (one norm for all)
    clip_coef  = max_norm / (total_norm + 1e-6)
    g         *= clip_coef        for every g, only when clip_coef < 1

This is the exercise's version of :func:`numrnn.clip_grad_norm` (``numrnn/clip.py``,
which also takes modules and other p-norms): it works on a list of gradient arrays
and the 2-norm only. ``tests/exercises/test_sources.py`` holds the two to the same
numbers. The ``### BEGIN SOLUTION`` / ``### END SOLUTION`` lines mark what the
student writes (docs/exercises.md, docs/training.md).
"""

from __future__ import annotations

import numpy as np


def clip_grad_norm(grads, max_norm: float) -> float:
    """Scale every array in ``grads`` in place so that their global 2-norm is at most
    ``max_norm``, as ``torch.nn.utils.clip_grad_norm_`` does.

    Parameters
    ----------
    grads : list of float arrays (any shapes), changed in place.
    max_norm : the largest allowed global norm, > 0.

    Returns
    -------
    The global norm *before* clipping, as a float.
    """
    ### BEGIN SOLUTION
    total = float(np.sqrt(sum(float(np.sum(g * g)) for g in grads)))
    clip_coef = max_norm / (total + 1e-6)
    if clip_coef < 1:
        for g in grads:
            g *= clip_coef  # in place: the caller's arrays change
    return total
    ### END SOLUTION

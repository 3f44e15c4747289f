"""Truncated backpropagation through time and stateful training over long sequences.

Full BPTT over a sequence of length T stores T steps and sends every gradient back
to step 1. Truncated BPTT (Williams and Peng, 1990; min-char-rnn's ``seq_length``)
cuts the sequence into chunks of k steps::

    h = h0
    for each chunk [t, t+k):
        out, h_next = rnn(x[t:t+k], h)     # the forward carries the state across the cut
        backward within the chunk only     # no gradient flows into the previous chunk
        h = h_next                         # "detach": in NumPy the array is just passed on

The forward pass is the same as over the whole sequence; only the gradient changes:
the terms dL_s/dW that pass through a cut (a step s in one chunk depending on the
weights at a step in an earlier one) are dropped. :func:`truncated_vs_full` measures
how much that costs as k varies.

Sequences are time-major: ``x`` is (T, N, ...) and ``y`` (T, N, ...) with the
prediction at every step. ``model`` is a recurrent module (RNN, LSTM, GRU; its
``out`` is the prediction) or a ``Sequential`` with one recurrent module.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from numrnn.clip import clip_grad_norm
from numrnn.errors import UsageTypeError, UsageValueError
from numrnn.functional.losses import mse_loss
from numrnn.nn.recurrent import RecurrentBase
from numrnn.nn.sequential import Sequential
from numrnn.train import check_finite_arrays, check_finite_loss


def _check_model(model) -> None:
    recurrent = [model] if isinstance(model, RecurrentBase) else (
        [m for m in model.modules if isinstance(m, RecurrentBase)] if isinstance(model, Sequential) else None)
    if recurrent is None:
        raise UsageTypeError("tbptt: model must be an RNN/LSTM/GRU or a Sequential holding one; "
                             f"got {type(model).__name__}")
    if any(m.batch_first for m in recurrent):
        raise UsageValueError("tbptt: sequences are cut along the time axis; use batch_first=False")


def stateful_forward(model, x, state=None) -> tuple:
    """``(prediction, final state)`` of ``model`` on ``x`` starting from ``state``."""
    if isinstance(model, RecurrentBase):
        return model(x, state)
    pred = model(x, hx=state)
    return pred, model.state


def chunk_slices(T: int, k: int) -> list:
    """``[slice(0, k), slice(k, 2k), ...]`` covering range(T); the last may be shorter."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise UsageValueError(f"tbptt: the truncation length k must be an integer >= 1; got {k!r}")
    return [slice(t, min(t + int(k), T)) for t in range(0, T, int(k))]


def truncated_gradients(model, x, y, k: int, loss_fn=mse_loss, state=None) -> tuple:
    """The truncated-BPTT gradient of the loss over the whole sequence.

    Each chunk's mean loss is weighted by (chunk length) / T, so the weighted sum is
    the mean loss over all T steps (for a loss that is a mean over steps, as
    ``mse_loss`` and an unmasked ``cross_entropy`` are) and k = T gives the full
    BPTT gradient exactly.

    Returns
    -------
    loss : float, the loss over the whole sequence.
    grads : dict name -> copy of the accumulated gradient.
    state : the final state (the same for every k: the forward does not change).
    """
    _check_model(model)
    T = len(x)
    if len(y) != T:
        raise UsageValueError(f"tbptt: x and y must have the same number of steps; got {T} and {len(y)}")
    model.zero_grad()
    total = 0.0
    for sl in chunk_slices(T, k):
        pred, state = stateful_forward(model, x[sl], state)
        loss, dpred = loss_fn(pred, y[sl])
        w = (sl.stop - sl.start) / T
        model.backward(dpred * w if w != 1 else dpred)  # dh_n = 0: nothing crosses the cut
        total += w * loss
    grads = {name: g.copy() for name, g in model.grads.items()}
    return total, grads, state


class TruncationResult(NamedTuple):
    """One row of :func:`truncated_vs_full`."""

    k: int
    rel_error: float  # ||g_k - g_full|| / ||g_full|| over all parameters together
    cosine: float  # cos of the angle between g_k and g_full
    per_param: dict  # name -> relative error of that parameter's gradient


def _flat(grads: dict) -> np.ndarray:
    return np.concatenate([np.asarray(g, dtype=np.float64).ravel() for g in grads.values()])


def truncated_vs_full(model, x, y, ks, loss_fn=mse_loss, state=None) -> list:
    """Compare the truncated-BPTT gradient with the full one, for each k in ``ks``.

    The model runs in eval mode (no dropout) so that every k sees the same function;
    its mode and gradients are restored afterwards. Returns one
    :class:`TruncationResult` per k.
    """
    was_training = model.training
    saved = {name: g.copy() for name, g in model.grads.items()}
    model.eval()
    try:
        _, full, _ = truncated_gradients(model, x, y, len(x), loss_fn, state)
        gf = _flat(full)
        nf = float(np.linalg.norm(gf))
        rows = []
        for k in ks:
            _, g, _ = truncated_gradients(model, x, y, k, loss_fn, state)
            gk = _flat(g)
            nk = float(np.linalg.norm(gk))
            rel = float(np.linalg.norm(gk - gf)) / max(nf, 1e-30)
            cos = float(gk @ gf) / max(nk * nf, 1e-30)
            per = {n: float(np.linalg.norm(np.asarray(g[n], np.float64) - full[n]))
                   / max(float(np.linalg.norm(full[n])), 1e-30) for n in full}
            rows.append(TruncationResult(int(k), rel, cos, per))
    finally:
        model.train(was_training)
        for name, g in model.grads.items():
            g[...] = saved[name]
    return rows


def train_tbptt(model, optimizer, x, y, k: int, loss_fn=mse_loss, state=None,
                clip_norm: float | None = None, step: int = 0) -> tuple:
    """One stateful pass over a long sequence: an update after every chunk of k steps.

    The state at the end of a chunk is the initial state of the next one (as in
    min-char-rnn); pass the returned state back in to continue over the next pass
    or the next piece of text.

    Parameters
    ----------
    model, optimizer, loss_fn : as for :class:`numrnn.Trainer`.
    x, y : (T, N, ...) inputs and targets, time-major.
    k : the truncation length (steps per chunk and update).
    state : the initial state (``None``: zeros).
    clip_norm : clip the gradient norm of each update.
    step : updates done before this call (to number the steps in error messages).

    Returns
    -------
    mean loss over the chunks, the final state, and the number of updates done in total.
    """
    _check_model(model)
    losses = []
    for sl in chunk_slices(len(x), k):
        step += 1
        model.train()
        optimizer.zero_grad()
        pred, state = stateful_forward(model, x[sl], state)
        loss, dpred = loss_fn(pred, y[sl])
        check_finite_loss(step, loss)
        model.backward(dpred)  # dh_n = 0: nothing crosses the cut
        check_finite_arrays(step, model.grads, "grad")
        if clip_norm is not None:
            clip_grad_norm(model, clip_norm)
        optimizer.step()
        losses.append(loss)
    return (float(np.mean(losses)) if losses else math.nan), state, step


__all__ = ["TruncationResult", "chunk_slices", "stateful_forward", "train_tbptt", "truncated_gradients",
           "truncated_vs_full"]

"""Truncated backpropagation through time and stateful training over long sequences.

Full BPTT over a sequence of length T stores T steps and sends every gradient back
to step 1. Truncated BPTT (Williams and Peng, 1990; min-char-rnn's ``seq_length``)
cuts the sequence into chunks of k1 steps and makes one update per chunk::

    h = h0
    for each chunk [t, t+k1):
        out, h_next = rnn(x[t:t+k1], h)    # the forward carries the state across the cut
        backward within the chunk only     # no gradient flows into the previous chunk
        h = h_next                         # "detach": in NumPy the array is just passed on

The forward pass is the same as over the whole sequence; only the gradient changes:
the terms dL_s/dW that pass through a cut (a step s in one chunk depending on the
weights at a step in an earlier one) are dropped.

**What the plain scheme (k1 = k2) loses.** The loss at a chunk's *first* step gets no
gradient through time at all: its window starts at that step, so the recurrent
weights are credited only for the product at that step, never for the states that
led to it. The loss at the chunk's j-th step sees j - 1 steps of history, and the
last sees k1 - 1: every loss sees between 0 and k1 - 1 steps, 0 for one step in k1.

**The overlapping scheme, k1 < k2** (Williams and Peng's BPTT(h; h') with h = k2,
h' = k1). Still one update per k1 new steps, but each chunk's losses are
backpropagated through the chunk *and the k2 - k1 steps before it*::

    window [t - (k2 - k1), t + k1):   forward from the state at t - (k2 - k1)
                                      loss on the last k1 steps only, zero on the rest
                                      backward through the whole window

so every loss sees at least k2 - k1 steps of history. A last chunk cut short by the
end of the sequence keeps the same reach (its window starts k2 - k1 steps before it),
so with k1 = k2 the windows are exactly the chunks. A NumPy module keeps the cache
of one forward, so the overlap is computed again (k2 steps of forward per k1 new
ones, plus up to k1 - 1 steps to reach a window start that is not a chunk boundary:
none when k2 - k1 is a multiple of k1).

:func:`truncated_gradients` gives either scheme's gradient of the whole sequence's
loss at fixed weights; :func:`truncated_vs_full` (the explorer) measures how far it is
from full BPTT as k1 and k2 vary; :func:`train_tbptt` trains with it.

Sequences are time-major: ``x`` is (T, N, ...) and ``y`` (T, N, ...) with the
prediction at every step. ``model`` is a recurrent module (RNN, LSTM, GRU; its
``out`` is the prediction) or a ``Sequential`` with one recurrent module.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from numrnn._checks import check_positive_int
from numrnn.backend import get_array_module
from numrnn.errors import UsageTypeError, UsageValueError
from numrnn.functional.losses import mse_loss
from numrnn.nn.recurrent import Recurrent
from numrnn.nn.sequential import Sequential
from numrnn.train import Trainer


def _check_model(model) -> None:
    recurrent = [model] if isinstance(model, Recurrent) else (
        [m for m in model.modules if isinstance(m, Recurrent)] if isinstance(model, Sequential) else None)
    if recurrent is None:
        raise UsageTypeError("tbptt: model must be an RNN/LSTM/GRU or a Sequential holding one; "
                             f"got {type(model).__name__}")
    if any(m.batch_first for m in recurrent):
        raise UsageValueError("tbptt: sequences are cut along the time axis; use batch_first=False")


def _check_sequences(x, y) -> int:
    """T, the number of steps of ``x`` and ``y`` (time-major), which must agree and be >= 1."""
    try:
        T, Ty = len(x), len(y)
    except TypeError as exc:
        raise UsageTypeError(f"tbptt: x and y must be time-major sequences (T, N, ...); got "
                             f"{type(x).__name__} and {type(y).__name__}") from exc
    if T != Ty:
        raise UsageValueError(f"tbptt: x and y must have the same number of steps; got {T} and {Ty}")
    if T == 0:
        raise UsageValueError("tbptt: the sequence has no steps (T = 0): there is nothing to train on")
    return T


def _check_k(k, name: str) -> int:
    return check_positive_int(k, f"the truncation length {name}", "tbptt")


def stateful_forward(model, x, state=None) -> tuple:
    """``(prediction, final state)`` of ``model`` on ``x`` starting from ``state``."""
    if isinstance(model, Recurrent):
        return model(x, state)
    pred = model(x, hx=state)
    return pred, model.state


def chunk_slices(T: int, k: int) -> list:
    """``[slice(0, k), slice(k, 2k), ...]`` covering range(T); the last may be shorter."""
    k = _check_k(k, "k")
    return [slice(t, min(t + k, T)) for t in range(0, T, k)]


class Window(NamedTuple):
    """One update of truncated BPTT: backpropagate over ``[start, stop)``, the loss
    counted on ``[loss_start, stop)`` (the k1 new steps) only."""

    start: int
    loss_start: int
    stop: int


def windows(T: int, k1: int, k2: int | None = None) -> list:
    """The :class:`Window` of every update: chunks of ``k1`` new steps, each
    backpropagated through itself and the ``k2 - k1`` steps before it (``k2 = k1``,
    the default, is the plain scheme: the windows are the chunks)."""
    k1 = _check_k(k1, "k1")
    k2 = k1 if k2 is None else _check_k(k2, "k2")
    if k2 < k1:
        raise UsageValueError(f"tbptt: k2 (the steps backpropagated through) must be >= k1 (the steps "
                              f"per update); got k1={k1}, k2={k2}")
    return [Window(max(0, sl.start - (k2 - k1)), sl.start, sl.stop) for sl in chunk_slices(T, k1)]


def _loss_on_last(loss_fn, n_skip: int):
    """``loss_fn`` applied to the prediction without its first ``n_skip`` steps (the
    overlap of a window), with a zero gradient for those steps."""
    if n_skip == 0:
        return loss_fn

    def windowed(pred, y):
        loss, dtail = loss_fn(pred[n_skip:], y)
        dpred = get_array_module(dtail).zeros(pred.shape, dtype=dtail.dtype)
        dpred[n_skip:] = dtail
        return loss, dpred

    return windowed


class _States:
    """The states at the window boundaries met so far, and the way to any other step:
    the forward from the latest known one before it."""

    def __init__(self, model, x, state):
        self.model, self.x, self.known = model, x, {0: state}

    def at(self, t: int):
        if t not in self.known:
            b = max(p for p in self.known if p < t)
            _, self.known[t] = stateful_forward(self.model, self.x[b:t], self.known[b])
        return self.known[t]

    def set(self, t: int, state, keep_from: int) -> None:
        """Record the state at step t and forget those not needed to reach ``keep_from``
        (the next window's start) or a later step."""
        self.known[t] = state
        keep_from = max((p for p in self.known if p <= keep_from), default=0)
        self.known = {p: s for p, s in self.known.items() if p >= keep_from}


class _WindowForward:
    """``forward()`` of one window for :meth:`numrnn.Trainer.update`; keeps the final state."""

    def __init__(self, model, x, state):
        self.model, self.x, self.state, self.final = model, x, state, None

    def __call__(self):
        pred, self.final = stateful_forward(self.model, self.x, self.state)
        return pred


def truncated_gradients(model, x, y, k: int, loss_fn=mse_loss, state=None, k2: int | None = None) -> tuple:
    """The truncated-BPTT gradient of the loss over the whole sequence, at fixed weights.

    ``k`` is k1, the new steps per chunk; ``k2`` (default k1) the steps each chunk is
    backpropagated through (module docstring). Each chunk's mean loss over its k1 new
    steps is weighted by (those steps) / T, so the weighted sum is the mean loss over
    all T steps (for a loss that is a mean over steps, as ``mse_loss`` and an unmasked
    ``cross_entropy`` are). ``k = T`` gives the full BPTT gradient bit for bit; so does
    any k with ``k2 >= T + k - 1`` (every window then starts at step 0), to rounding:
    the chunks' sums are added in another order.

    Returns
    -------
    loss : float, the loss over the whole sequence.
    grads : dict name -> copy of the accumulated gradient.
    state : the final state (the same for every k: the forward does not change).
    """
    _check_model(model)
    T = _check_sequences(x, y)
    plan = windows(T, k, k2)
    model.zero_grad()
    states = _States(model, x, state)
    total = 0.0
    for i, w in enumerate(plan):
        pred, final = stateful_forward(model, x[w.start:w.stop], states.at(w.start))
        loss, dpred = _loss_on_last(loss_fn, w.loss_start - w.start)(pred, y[w.loss_start:w.stop])
        weight = (w.stop - w.loss_start) / T
        model.backward(dpred * weight if weight != 1 else dpred)  # dh_n = 0: nothing crosses the cut
        total += weight * loss
        states.set(w.stop, final, keep_from=plan[i + 1].start if i + 1 < len(plan) else T)
    grads = {name: g.copy() for name, g in model.grads.items()}
    return total, grads, states.known[T]


class TruncationResult(NamedTuple):
    """One row of :func:`truncated_vs_full`."""

    k: int  # k1: new steps per chunk (one update each)
    rel_error: float  # ||g_k - g_full|| / ||g_full|| over all parameters together
    cosine: float  # cos of the angle between g_k and g_full
    per_param: dict  # name -> relative error of that parameter's gradient
    k2: int = 0  # steps each chunk is backpropagated through (k2 = k: the plain scheme)


def _flat(grads: dict) -> np.ndarray:
    return np.concatenate([np.asarray(g, dtype=np.float64).ravel() for g in grads.values()])


def _pair(k) -> tuple:
    if isinstance(k, (tuple, list)):
        if len(k) != 2:
            raise UsageValueError(f"tbptt: an entry of ks must be k or a pair (k1, k2); got {k!r}")
        return _check_k(k[0], "k1"), _check_k(k[1], "k2")
    k = _check_k(k, "k")
    return k, k


def truncated_vs_full(model, x, y, ks, loss_fn=mse_loss, state=None) -> list:
    """The explorer: compare the truncated-BPTT gradient with the full one.

    ``ks`` lists the schemes to try: an int k is the plain scheme (k1 = k2 = k), a
    pair ``(k1, k2)`` the overlapping one. The model runs in eval mode (no dropout) so
    that every scheme sees the same function; its mode and gradients are restored
    afterwards. Returns one :class:`TruncationResult` per entry.
    """
    schemes = [_pair(k) for k in ks]
    was_training = model.training
    saved = {name: g.copy() for name, g in model.grads.items()}
    model.eval()
    try:
        _, full, _ = truncated_gradients(model, x, y, len(x), loss_fn, state)
        gf = _flat(full)
        nf = float(np.linalg.norm(gf))
        rows = []
        for k1, k2 in schemes:
            _, g, _ = truncated_gradients(model, x, y, k1, loss_fn, state, k2=k2)
            gk = _flat(g)
            nk = float(np.linalg.norm(gk))
            rel = float(np.linalg.norm(gk - gf)) / max(nf, 1e-30)
            cos = float(gk @ gf) / max(nk * nf, 1e-30)
            per = {n: float(np.linalg.norm(np.asarray(g[n], np.float64) - full[n]))
                   / max(float(np.linalg.norm(full[n])), 1e-30) for n in full}
            rows.append(TruncationResult(k1, rel, cos, per, k2))
    finally:
        model.train(was_training)
        for name, g in model.grads.items():
            g[...] = saved[name]
    return rows


def train_tbptt(model, optimizer, x, y, k: int, loss_fn=mse_loss, state=None,
                clip_norm: float | None = None, step: int = 0, k2: int | None = None) -> tuple:
    """One stateful pass over a long sequence: an update after every chunk of k steps.

    The state at the end of a chunk is the initial state of the next one (as in
    min-char-rnn); pass the returned state back in to continue over the next pass
    or the next piece of text. Each update is :meth:`numrnn.Trainer.update`, the step
    ``fit`` takes, with its NaN/inf guards on the loss, the gradients and the
    parameters after the update.

    Parameters
    ----------
    model, optimizer, loss_fn : as for :class:`numrnn.Trainer`.
    x, y : (T, N, ...) inputs and targets, time-major, T >= 1.
    k : k1, the truncation length (new steps per chunk and update).
    state : the initial state (``None``: zeros).
    clip_norm : clip the gradient norm of each update.
    step : updates done before this call (to number the steps in error messages).
    k2 : the steps each update backpropagates through (default k: the plain scheme,
        whose chunks' first steps get no gradient through time); ``k2 > k`` overlaps
        the windows (module docstring).

    Returns
    -------
    mean loss over the chunks, the final state, and the number of updates done in total.
    """
    _check_model(model)
    T = _check_sequences(x, y)
    plan = windows(T, k, k2)
    trainer = Trainer(model, optimizer, loss_fn, clip_norm=clip_norm)
    trainer.step = step
    model.train()
    states = _States(model, x, state)
    losses = []
    for i, w in enumerate(plan):
        forward = _WindowForward(model, x[w.start:w.stop], states.at(w.start))
        windowed_loss = _loss_on_last(loss_fn, w.loss_start - w.start)
        loss, _ = trainer.update(forward, y[w.loss_start:w.stop], windowed_loss)
        losses.append(loss)
        states.set(w.stop, forward.final, keep_from=plan[i + 1].start if i + 1 < len(plan) else T)
    return float(np.mean(losses)), states.known[T], trainer.step


__all__ = ["TruncationResult", "Window", "chunk_slices", "stateful_forward", "train_tbptt",
           "truncated_gradients", "truncated_vs_full", "windows"]

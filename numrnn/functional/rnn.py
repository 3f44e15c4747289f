"""The Elman RNN, forward and backpropagation through time, by hand.

This file is the reference every other implementation of the RNN cell is tested
against (the Numba and CuPy kernels in ``numrnn/kernels`` keep these names and
signatures). It is written to be read next to ``docs/bptt.md``.

Shapes (one letter set throughout numrnn):
    T  time steps          N  batch size
    I  input features      H  hidden units

Indexing: the maths counts steps t = 1..T from the initial state h_0 (the code's
``h0``, PyTorch's ``h_0``); arrays count from 0, so step t lives at index t-1:
``x[t-1]`` is x_t, ``h[t-1]`` is h_t and ``h[-1]`` is h_T (PyTorch's ``h_n``).

One step, as ``torch.nn.RNN`` computes it (weights stored in PyTorch's layout,
``w_ih`` is (H, I) and ``w_hh`` is (H, H)):

    a_t = x_t @ w_ih.T + b_ih + h_{t-1} @ w_hh.T + b_hh          (N, H)
    h_t = f(a_t),  f = tanh or relu                              (N, H)

Backward through one step, given dh_t = dL/dh_t (everything that flows into h_t):

    da_t      = dh_t * f'(a_t)          (from the saved h_t, activations.py)
    dx_t      = da_t @ w_ih             dh_{t-1} = da_t @ w_hh
    dw_ih    += da_t.T @ x_t            dw_hh    += da_t.T @ h_{t-1}
    db_ih    += sum_n da_t              db_hh    += sum_n da_t

Names of gradients: in a step backward ``dh`` is the *total* dL/dh_t; in the sequence
backward ``dh_carry`` is the part of it carried back from step t+1 (the recurrence),
added to the upstream ``dh[t-1]`` before the step.

The ``### BEGIN SOLUTION`` / ``### END SOLUTION`` comment lines are nbgrader's markers:
``python -m numrnn exercises make DIR`` writes a student copy of this file with each
marked region replaced by ``raise NotImplementedError()`` (docs/exercises.md).

The functions run on NumPy or CuPy arrays alike: they only use operators and
methods both array modules share.
"""

from __future__ import annotations

from typing import NamedTuple

from numrnn.backend import get_array_module
from numrnn.functional.activations import activation_backward, activation_forward


class RNNStepCache(NamedTuple):
    """What one step's backward needs from its forward."""

    x: object  # (N, I) input at this step
    h_prev: object  # (N, H) state before the step
    h_next: object  # (N, H) state after the step: f(a), f' is computed from it
    w_ih: object  # (H, I)
    w_hh: object  # (H, H)
    has_bias: bool
    nonlinearity: str


class RNNCache(NamedTuple):
    """What a sequence's backward needs: one step cache per time step (h0 kept for inspection)."""

    steps: list  # T RNNStepCache; steps[t-1] belongs to step t
    h0: object  # (N, H)


def rnn_step_forward(x, h_prev, w_ih, w_hh, b_ih=None, b_hh=None, nonlinearity="tanh"):
    """One step of the Elman cell.

    Parameters
    ----------
    x : (N, I) input at step t.
    h_prev : (N, H) hidden state h_{t-1}.
    w_ih : (H, I);  w_hh : (H, H);  b_ih, b_hh : (H,) or None (``bias=False``).
    nonlinearity : ``"tanh"`` or ``"relu"``.

    Returns
    -------
    h_next : (N, H) hidden state h_t.
    cache : RNNStepCache for :func:`rnn_step_backward`.
    """
    ### BEGIN SOLUTION
    a = x @ w_ih.T + h_prev @ w_hh.T  # (N, H)
    if b_ih is not None:
        a = a + b_ih + b_hh
    h_next = activation_forward(a, nonlinearity)  # (N, H)
    cache = RNNStepCache(x, h_prev, h_next, w_ih, w_hh, b_ih is not None, nonlinearity)
    return h_next, cache
    ### END SOLUTION


def rnn_step_backward(dh, cache: RNNStepCache):
    """Backward through one step.

    Parameters
    ----------
    dh : (N, H) dL/dh_t, everything that flows into h_t (from the output at t and
        from step t+1).
    cache : the step's RNNStepCache.

    Returns
    -------
    dx : (N, I);  dh_prev : (N, H);  dw_ih : (H, I);  dw_hh : (H, H);
    db_ih, db_hh : (H,), or None when the step had no bias.
    """
    ### BEGIN SOLUTION
    da = activation_backward(dh, cache.h_next, cache.nonlinearity)  # (N, H)
    dx = da @ cache.w_ih  # (N, I)
    dh_prev = da @ cache.w_hh  # (N, H)
    dw_ih = da.T @ cache.x  # (H, I)
    dw_hh = da.T @ cache.h_prev  # (H, H)
    db_ih = da.sum(axis=0) if cache.has_bias else None  # (H,): b_ih and b_hh enter a_t alike,
    db_hh = None if db_ih is None else db_ih.copy()  # so their gradients are equal (two arrays)
    return dx, dh_prev, dw_ih, dw_hh, db_ih, db_hh
    ### END SOLUTION


def rnn_forward(x, h0, w_ih, w_hh, b_ih=None, b_hh=None, nonlinearity="tanh"):
    """Run the cell over a whole sequence, time-major.

    Parameters
    ----------
    x : (T, N, I) inputs; ``x[t-1]`` is x_t.
    h0 : (N, H) initial hidden state h_0.
    w_ih, w_hh, b_ih, b_hh, nonlinearity : as in :func:`rnn_step_forward`.

    Returns
    -------
    h : (T, N, H) hidden state after every step: ``h[t-1]`` is h_t, the final state
        h_T is ``h[-1]``.
    cache : RNNCache for :func:`rnn_backward`.
    """
    ### BEGIN SOLUTION
    xp = get_array_module(x)
    T, N, I = x.shape
    H = h0.shape[1]
    h = xp.empty((T, N, H), dtype=x.dtype)
    steps = []
    h_prev = h0
    for t in range(T):  # index t holds step t+1: h_prev is h_t on entry, h_{t+1} after
        h_prev, step = rnn_step_forward(x[t], h_prev, w_ih, w_hh, b_ih, b_hh, nonlinearity)
        h[t] = h_prev
        steps.append(step)
    return h, RNNCache(steps, h0)
    ### END SOLUTION


def rnn_backward(dh, cache: RNNCache):
    """Backpropagation through time over the whole sequence.

    Parameters
    ----------
    dh : (T, N, H) upstream gradient: ``dh[t-1]`` is dL/dh_t from outside the cell
        (the output at step t) only, *not* yet what flows back from step t+1 (the
        caller adds dL/dh_T, PyTorch's dL/dh_n, into ``dh[-1]``).
    cache : RNNCache from :func:`rnn_forward`.

    Returns
    -------
    dx : (T, N, I);  dh0 : (N, H);  dw_ih : (H, I);  dw_hh : (H, H);
    db_ih, db_hh : (H,), or None without bias.
    """
    ### BEGIN SOLUTION
    xp = get_array_module(dh)
    T, N, H = dh.shape
    first = cache.steps[0]
    I = first.x.shape[1]
    dx = xp.empty((T, N, I), dtype=dh.dtype)
    dw_ih = xp.zeros_like(first.w_ih)
    dw_hh = xp.zeros_like(first.w_hh)
    db = xp.zeros(H, dtype=dh.dtype) if first.has_bias else None
    dh_carry = xp.zeros((N, H), dtype=dh.dtype)  # dL/dh_T from later steps: none
    for t in reversed(range(T)):  # index t holds step t+1; dh_carry arrives from step t+2
        dx[t], dh_carry, dw_ih_t, dw_hh_t, db_t, _ = rnn_step_backward(
            dh[t] + dh_carry, cache.steps[t]  # the total dL/dh_{t+1}
        )
        dw_ih += dw_ih_t
        dw_hh += dw_hh_t
        if db is not None:
            db += db_t
    dh0 = dh_carry  # what step 1 sends back: dL/dh_0
    return dx, dh0, dw_ih, dw_hh, db, (db.copy() if db is not None else None)
    ### END SOLUTION

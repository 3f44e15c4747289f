"""The GRU, forward and backpropagation through time, by hand.

This file is the reference every other implementation of the GRU cell is tested
against (the Numba and CuPy kernels in ``numrnn/kernels`` keep these names and
signatures). ``docs/lstm_gru.md`` derives every line of the backward pass.

Shapes (one letter set throughout numrnn):
    T  time steps          N  batch size
    I  input features      H  hidden units
    G  gates: 3 (r, z, n), so the weights have G*H = 3H rows

Indexing: the maths counts steps t = 1..T from the initial state h_0 (``h0``); arrays
count from 0, so step t lives at index t-1: ``h[t-1]`` is h_t, ``h[-1]`` is h_T.

One step, as ``torch.nn.GRU`` computes it (PyTorch's layout and gate order r, z, n:
``w_ih`` is (3H, I), ``w_hh`` is (3H, H), row block k of each belongs to gate k).
The input and hidden halves of the pre-activations are kept apart, because the reset
gate multiplies the hidden half of the candidate *after* its bias (Keras calls this
``reset_after=True``; aten/src/ATen/native/RNN.cpp, ``GRUCell``):

    a_x = x_t @ w_ih.T + b_ih                                      (N, 3H)
    a_h = h_{t-1} @ w_hh.T + b_hh                                  (N, 3H)
    r_t = sigmoid(a_x[:, 0H:1H] + a_h[:, 0H:1H])   reset gate      (N, H)
    z_t = sigmoid(a_x[:, 1H:2H] + a_h[:, 1H:2H])   update gate     (N, H)
    n_t = tanh(a_x[:, 2H:3H] + r_t * a_h[:, 2H:3H])  candidate     (N, H)
    h_t = (1 - z_t) * n_t + z_t * h_{t-1}                          (N, H)

Backward through one step, given dh_t = dL/dh_t (from outside and from step t+1):

    dn  = dh_t * (1 - z_t)            dz = dh_t * (h_{t-1} - n_t)
    dan = dn * (1 - n_t**2)           gradient of n's pre-activation
    dr  = dan * a_h[:, 2H:3H]         dahn = dan * r_t
    da_x = [dr * r(1-r), dz * z(1-z), dan ]                        (N, 3H)
    da_h = [dr * r(1-r), dz * z(1-z), dahn]                        (N, 3H)
    dx_t = da_x @ w_ih                dh_{t-1} = dh_t * z_t + da_h @ w_hh
    dw_ih += da_x.T @ x_t             dw_hh += da_h.T @ h_{t-1}
    db_ih += sum_n da_x               db_hh += sum_n da_h        (they differ in block n)

Names of gradients: in a step backward ``dh`` is the total dL/dh_t; in the sequence
backward ``dh_carry`` is the part carried back from step t+1, added to the upstream
``dh[t-1]`` before the step.

The ``### BEGIN SOLUTION`` / ``### END SOLUTION`` comment lines are nbgrader's markers:
``python -m numrnn exercises make DIR`` writes a student copy of this file with the
marked region replaced by ``raise NotImplementedError()`` (docs/exercises.md).

The functions run on NumPy or CuPy arrays alike.
"""

from __future__ import annotations

from typing import NamedTuple

from numrnn.backend import get_array_module
from numrnn.functional.activations import sigmoid, sigmoid_backward, tanh_backward


class GRUStepCache(NamedTuple):
    """What one step's backward needs from its forward."""

    x: object  # (N, I) input at this step
    h_prev: object  # (N, H) h_{t-1}
    r: object  # (N, H) reset gate
    z: object  # (N, H) update gate
    n: object  # (N, H) candidate state
    a_hn: object  # (N, H) h_{t-1} @ w_hn.T + b_hn, the hidden half of n before r
    w_ih: object  # (3H, I)
    w_hh: object  # (3H, H)
    has_bias: bool


class GRUCache(NamedTuple):
    """What a sequence's backward needs: one step cache per time step, and the state."""

    steps: list  # T GRUStepCache; steps[t-1] belongs to step t
    h0: object  # (N, H)


def gru_step_forward(x, h_prev, w_ih, w_hh, b_ih=None, b_hh=None):
    """One step of the GRU cell.

    Parameters
    ----------
    x : (N, I) input at step t.
    h_prev : (N, H) hidden state h_{t-1}.
    w_ih : (3H, I);  w_hh : (3H, H);  b_ih, b_hh : (3H,) or None (``bias=False``).

    Returns
    -------
    h_next : (N, H);  cache : GRUStepCache for :func:`gru_step_backward`.
    """
    xp = get_array_module(x)
    H = h_prev.shape[1]
    a_x = x @ w_ih.T  # (N, 3H)
    a_h = h_prev @ w_hh.T  # (N, 3H)
    if b_ih is not None:
        a_x = a_x + b_ih
        a_h = a_h + b_hh
    r = sigmoid(a_x[:, 0 * H:1 * H] + a_h[:, 0 * H:1 * H])  # (N, H)
    z = sigmoid(a_x[:, 1 * H:2 * H] + a_h[:, 1 * H:2 * H])  # (N, H)
    a_hn = a_h[:, 2 * H:3 * H]  # (N, H)
    n = xp.tanh(a_x[:, 2 * H:3 * H] + r * a_hn)  # (N, H)
    h_next = (1 - z) * n + z * h_prev  # (N, H)
    cache = GRUStepCache(x, h_prev, r, z, n, a_hn, w_ih, w_hh, b_ih is not None)
    return h_next, cache


def gru_step_backward(dh, cache: GRUStepCache):
    """Backward through one step.

    Parameters
    ----------
    dh : (N, H) dL/dh_t, everything that flows into h_t (the output at t, step t+1).
    cache : the step's GRUStepCache.

    Returns
    -------
    dx : (N, I);  dh_prev : (N, H);  dw_ih : (3H, I);  dw_hh : (3H, H);
    db_ih, db_hh : (3H,), or None without bias.
    """
    ### BEGIN SOLUTION
    xp = get_array_module(dh)
    s = cache
    dn = dh * (1 - s.z)  # (N, H)
    dz = dh * (s.h_prev - s.n)  # (N, H)
    dan = tanh_backward(dn, s.n)  # (N, H): dL/d(pre-activation of n)
    dr = dan * s.a_hn  # (N, H)
    dahn = dan * s.r  # (N, H): dL/d(h_{t-1} @ w_hn.T + b_hn)
    dar = sigmoid_backward(dr, s.r)  # (N, H)
    daz = sigmoid_backward(dz, s.z)  # (N, H)
    da_x = xp.concatenate([dar, daz, dan], axis=1)  # (N, 3H), gates r, z, n
    da_h = xp.concatenate([dar, daz, dahn], axis=1)  # (N, 3H)
    dx = da_x @ s.w_ih  # (N, I)
    dh_prev = dh * s.z + da_h @ s.w_hh  # (N, H): the direct path and the gates
    dw_ih = da_x.T @ s.x  # (3H, I)
    dw_hh = da_h.T @ s.h_prev  # (3H, H)
    db_ih = da_x.sum(axis=0) if s.has_bias else None  # (3H,)
    db_hh = da_h.sum(axis=0) if s.has_bias else None  # (3H,)
    return dx, dh_prev, dw_ih, dw_hh, db_ih, db_hh
    ### END SOLUTION


def gru_forward(x, h0, w_ih, w_hh, b_ih=None, b_hh=None):
    """Run the cell over a whole sequence, time-major.

    Parameters
    ----------
    x : (T, N, I) inputs; ``x[t-1]`` is x_t.
    h0 : (N, H) initial hidden state h_0.
    w_ih, w_hh, b_ih, b_hh : as in :func:`gru_step_forward`.

    Returns
    -------
    h : (T, N, H) hidden state after every step: ``h[t-1]`` is h_t, the final state
        h_T is ``h[-1]``.
    cache : GRUCache for :func:`gru_backward`.
    """
    xp = get_array_module(x)
    T, N, I = x.shape
    H = h0.shape[1]
    h = xp.empty((T, N, H), dtype=x.dtype)
    steps = []
    h_prev = h0
    for t in range(T):  # index t holds step t+1
        h_prev, step = gru_step_forward(x[t], h_prev, w_ih, w_hh, b_ih, b_hh)
        h[t] = h_prev
        steps.append(step)
    return h, GRUCache(steps, h0)


def gru_backward(dh, cache: GRUCache):
    """Backpropagation through time over the whole sequence.

    Parameters
    ----------
    dh : (T, N, H) upstream gradient: ``dh[t-1]`` is dL/dh_t from outside only (the
        caller adds dL/dh_T, PyTorch's dL/dh_n, into ``dh[-1]``; what flows back from
        step t+1 is added here).
    cache : GRUCache from :func:`gru_forward`.

    Returns
    -------
    dx : (T, N, I);  dh0 : (N, H);  dw_ih : (3H, I);  dw_hh : (3H, H);
    db_ih, db_hh : (3H,), or None without bias.
    """
    xp = get_array_module(dh)
    T, N, H = dh.shape
    first = cache.steps[0]
    I = first.x.shape[1]
    dx = xp.empty((T, N, I), dtype=dh.dtype)
    dw_ih = xp.zeros_like(first.w_ih)
    dw_hh = xp.zeros_like(first.w_hh)
    db_ih = xp.zeros(3 * H, dtype=dh.dtype) if first.has_bias else None
    db_hh = xp.zeros(3 * H, dtype=dh.dtype) if first.has_bias else None
    dh_carry = xp.zeros((N, H), dtype=dh.dtype)  # dL/dh_T from later steps: none
    for t in reversed(range(T)):  # index t holds step t+1; dh_carry arrives from step t+2
        dx[t], dh_carry, dw_ih_t, dw_hh_t, db_ih_t, db_hh_t = gru_step_backward(
            dh[t] + dh_carry, cache.steps[t]
        )
        dw_ih += dw_ih_t
        dw_hh += dw_hh_t
        if db_ih is not None:
            db_ih += db_ih_t
            db_hh += db_hh_t
    dh0 = dh_carry  # what step 1 sends back: dL/dh_0
    return dx, dh0, dw_ih, dw_hh, db_ih, db_hh

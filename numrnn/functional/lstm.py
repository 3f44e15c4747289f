"""The LSTM, forward and backpropagation through time, by hand.

This file is the reference every other implementation of the LSTM cell is tested
against (the Numba and CuPy kernels in ``numrnn/kernels`` keep these names and
signatures). ``docs/lstm_gru.md`` derives every line of the backward pass.

Shapes (one letter set throughout numrnn):
    T  time steps          N  batch size
    I  input features      H  hidden units (size of the cell state c)
    P  size of h: H, or ``proj_size`` when the output is projected
    G  gates: 4 (i, f, g, o), so the weights have G*H = 4H rows

Indexing: the maths counts steps t = 1..T from the initial states h_0, c_0 (``h0``,
``c0``); arrays count from 0, so step t lives at index t-1: ``h[t-1]`` is h_t,
``c[-1]`` is c_T (PyTorch's ``c_n``).

One step, as ``torch.nn.LSTM`` computes it (PyTorch's layout and gate order i, f, g, o:
``w_ih`` is (4H, I), ``w_hh`` is (4H, P), row block k of each belongs to gate k):

    a_t = x_t @ w_ih.T + b_ih + h_{t-1} @ w_hh.T + b_hh             (N, 4H)
    i_t = sigmoid(a_t[:, 0H:1H])       input gate                   (N, H)
    f_t = sigmoid(a_t[:, 1H:2H])       forget gate                  (N, H)
    g_t = tanh(a_t[:, 2H:3H])          candidate cell               (N, H)
    o_t = sigmoid(a_t[:, 3H:4H])       output gate                  (N, H)
    c_t = f_t * c_{t-1} + i_t * g_t                                 (N, H)
    m_t = o_t * tanh(c_t)                                           (N, H)
    h_t = m_t                  without projection                   (N, H)
    h_t = m_t @ w_hr.T         with ``proj_size`` (w_hr is (P, H))  (N, P)

Backward through one step, given dh_t = dL/dh_t (everything that flows into h_t: from
outside and from step t+1) and dc_t = dL/dc_t from outside this step's own output
(from step t+1 and from any use of c_t); ``dc_total`` is the sum of both paths into c_t:

    dm       = dh_t @ w_hr     (or dh_t)        dw_hr += dh_t.T @ m_t
    do       = dm * tanh(c_t)
    dc_total = dc_t + dm * o_t * (1 - tanh(c_t)**2)   c_t reaches the loss by two paths
    di       = dc_total * g_t    df = dc_total * c_{t-1}    dg = dc_total * i_t
    dc_{t-1} = dc_total * f_t                     the cell's "gradient highway"
    da       = [di * i(1-i), df * f(1-f), dg * (1-g**2), do * o(1-o)]   (N, 4H)
    dx_t     = da @ w_ih        dh_{t-1} = da @ w_hh
    dw_ih   += da.T @ x_t       dw_hh   += da.T @ h_{t-1}     db_ih = db_hh += sum_n da

Names of gradients: in a step backward ``dh`` and ``dc`` are what flows into h_t and
c_t; in the sequence backward ``dh_carry`` and ``dc_carry`` are the parts carried back
from step t+1, added to the upstream ``dh[t-1]`` and ``dc[t-1]`` before the step.

The ``### BEGIN SOLUTION`` / ``### END SOLUTION`` comment lines are nbgrader's markers:
``python -m numrnn exercises make DIR`` writes a student copy of this file with the
marked region replaced by ``raise NotImplementedError()`` (docs/exercises.md).

The functions run on NumPy or CuPy arrays alike.
"""

from __future__ import annotations

from typing import NamedTuple

from numrnn.backend import get_array_module
from numrnn.functional.activations import sigmoid, sigmoid_backward, tanh_backward


class LSTMStepCache(NamedTuple):
    """What one step's backward needs from its forward."""

    x: object  # (N, I) input at this step
    h_prev: object  # (N, P) h_{t-1}
    c_prev: object  # (N, H) c_{t-1}
    i: object  # (N, H) input gate
    f: object  # (N, H) forget gate
    g: object  # (N, H) candidate cell
    o: object  # (N, H) output gate
    tanh_c: object  # (N, H) tanh(c_t)
    m: object  # (N, H) o * tanh(c_t), h_t before the projection
    w_ih: object  # (4H, I)
    w_hh: object  # (4H, P)
    w_hr: object  # (P, H), or None without projection
    has_bias: bool


class LSTMCache(NamedTuple):
    """What a sequence's backward needs: one step cache per time step, and the states."""

    steps: list  # T LSTMStepCache; steps[t-1] belongs to step t
    h0: object  # (N, P)
    c0: object  # (N, H)


def lstm_step_forward(x, h_prev, c_prev, w_ih, w_hh, b_ih=None, b_hh=None, w_hr=None):
    """One step of the LSTM cell.

    Parameters
    ----------
    x : (N, I) input at step t.
    h_prev : (N, P) hidden state h_{t-1};  c_prev : (N, H) cell state c_{t-1}.
    w_ih : (4H, I);  w_hh : (4H, P);  b_ih, b_hh : (4H,) or None (``bias=False``).
    w_hr : (P, H) projection, or None (then P = H).

    Returns
    -------
    h_next : (N, P);  c_next : (N, H);  cache : LSTMStepCache for :func:`lstm_step_backward`.
    """
    xp = get_array_module(x)
    H = c_prev.shape[1]
    a = x @ w_ih.T + h_prev @ w_hh.T  # (N, 4H)
    if b_ih is not None:
        a = a + b_ih + b_hh
    i = sigmoid(a[:, 0 * H:1 * H])  # (N, H)
    f = sigmoid(a[:, 1 * H:2 * H])  # (N, H)
    g = xp.tanh(a[:, 2 * H:3 * H])  # (N, H)
    o = sigmoid(a[:, 3 * H:4 * H])  # (N, H)
    c_next = f * c_prev + i * g  # (N, H)
    tanh_c = xp.tanh(c_next)  # (N, H)
    m = o * tanh_c  # (N, H)
    h_next = m if w_hr is None else m @ w_hr.T  # (N, P)
    cache = LSTMStepCache(x, h_prev, c_prev, i, f, g, o, tanh_c, m, w_ih, w_hh, w_hr,
                          b_ih is not None)
    return h_next, c_next, cache


def lstm_step_backward(dh, dc, cache: LSTMStepCache):
    """Backward through one step.

    Parameters
    ----------
    dh : (N, P) dL/dh_t, everything that flows into h_t (the output at t, step t+1).
    dc : (N, H) dL/dc_t from outside h_t: from step t+1 and from any use of c_t.
    cache : the step's LSTMStepCache.

    Returns
    -------
    dx : (N, I);  dh_prev : (N, P);  dc_prev : (N, H);
    dw_ih : (4H, I);  dw_hh : (4H, P);  db_ih, db_hh : (4H,) or None without bias;
    dw_hr : (P, H), or None without projection.
    """
    ### BEGIN SOLUTION
    xp = get_array_module(dh)
    s = cache
    if s.w_hr is None:
        dm, dw_hr = dh, None  # (N, H)
    else:
        dm = dh @ s.w_hr  # (N, H)
        dw_hr = dh.T @ s.m  # (P, H)
    do = dm * s.tanh_c  # (N, H)
    dc_total = dc + tanh_backward(dm * s.o, s.tanh_c)  # (N, H): both paths into c_t
    di = dc_total * s.g
    df = dc_total * s.c_prev
    dg = dc_total * s.i
    dc_prev = dc_total * s.f  # (N, H)
    da = xp.concatenate(  # (N, 4H), gates in the order i, f, g, o
        [sigmoid_backward(di, s.i), sigmoid_backward(df, s.f), tanh_backward(dg, s.g),
         sigmoid_backward(do, s.o)],
        axis=1,
    )
    dx = da @ s.w_ih  # (N, I)
    dh_prev = da @ s.w_hh  # (N, P)
    dw_ih = da.T @ s.x  # (4H, I)
    dw_hh = da.T @ s.h_prev  # (4H, P)
    db_ih = da.sum(axis=0) if s.has_bias else None  # (4H,): b_ih and b_hh enter a alike,
    db_hh = None if db_ih is None else db_ih.copy()  # so their gradients are equal (two arrays)
    return dx, dh_prev, dc_prev, dw_ih, dw_hh, db_ih, db_hh, dw_hr
    ### END SOLUTION


def lstm_forward(x, h0, c0, w_ih, w_hh, b_ih=None, b_hh=None, w_hr=None):
    """Run the cell over a whole sequence, time-major.

    Parameters
    ----------
    x : (T, N, I) inputs; ``x[t-1]`` is x_t.
    h0 : (N, P) initial hidden state h_0;  c0 : (N, H) initial cell state c_0.
    w_ih, w_hh, b_ih, b_hh, w_hr : as in :func:`lstm_step_forward`.

    Returns
    -------
    h : (T, N, P) hidden state after every step;  c : (T, N, H) cell state after
    every step (``h[t-1]`` is h_t; the final states h_T, c_T are ``h[-1]``, ``c[-1]``);
    cache : LSTMCache.
    """
    xp = get_array_module(x)
    T, N, I = x.shape
    P, H = h0.shape[1], c0.shape[1]
    h = xp.empty((T, N, P), dtype=x.dtype)
    c = xp.empty((T, N, H), dtype=x.dtype)
    steps = []
    h_prev, c_prev = h0, c0
    for t in range(T):  # index t holds step t+1
        h_prev, c_prev, step = lstm_step_forward(x[t], h_prev, c_prev, w_ih, w_hh, b_ih, b_hh, w_hr)
        h[t] = h_prev
        c[t] = c_prev
        steps.append(step)
    return h, c, LSTMCache(steps, h0, c0)


def lstm_backward(dh, dc, cache: LSTMCache):
    """Backpropagation through time over the whole sequence.

    Parameters
    ----------
    dh : (T, N, P) upstream gradient: ``dh[t-1]`` is dL/dh_t from outside only (the
        caller adds dL/dh_T, PyTorch's dL/dh_n, into ``dh[-1]``; what flows back from
        step t+1 is added here).
    dc : (T, N, H) upstream dL/dc_t for every step, from outside only (usually zero
        except dL/dc_T in ``dc[-1]``).
    cache : LSTMCache from :func:`lstm_forward`.

    Returns
    -------
    dx : (T, N, I);  dh0 : (N, P);  dc0 : (N, H);  dw_ih : (4H, I);  dw_hh : (4H, P);
    db_ih, db_hh : (4H,), or None without bias;  dw_hr : (P, H), or None without projection.
    """
    xp = get_array_module(dh)
    T, N, P = dh.shape
    H = dc.shape[2]
    first = cache.steps[0]
    I = first.x.shape[1]
    dx = xp.empty((T, N, I), dtype=dh.dtype)
    dw_ih = xp.zeros_like(first.w_ih)
    dw_hh = xp.zeros_like(first.w_hh)
    dw_hr = None if first.w_hr is None else xp.zeros_like(first.w_hr)
    db = xp.zeros(4 * H, dtype=dh.dtype) if first.has_bias else None
    dh_carry = xp.zeros((N, P), dtype=dh.dtype)  # dL/dh_T from later steps: none
    dc_carry = xp.zeros((N, H), dtype=dh.dtype)  # dL/dc_T from later steps: none
    for t in reversed(range(T)):  # index t holds step t+1; the carries arrive from step t+2
        dx[t], dh_carry, dc_carry, dw_ih_t, dw_hh_t, db_t, _, dw_hr_t = lstm_step_backward(
            dh[t] + dh_carry, dc[t] + dc_carry, cache.steps[t]
        )
        dw_ih += dw_ih_t
        dw_hh += dw_hh_t
        if db is not None:
            db += db_t
        if dw_hr is not None:
            dw_hr += dw_hr_t
    dh0, dc0 = dh_carry, dc_carry  # what step 1 sends back: dL/dh_0, dL/dc_0
    return dx, dh0, dc0, dw_ih, dw_hh, db, (db.copy() if db is not None else None), dw_hr

"""Making BPTT visible: how the gradient dL/dh_t changes as it flows back in time.

Backpropagation through an Elman cell multiplies the carried gradient at every step
by ``diag(f'(a_t)) @ W_hh`` (see docs/bptt.md); unless W_hh and f' keep that product
near norm 1, ||dL/dh_t|| shrinks (or grows) geometrically as t moves away from the
loss. :func:`hidden_grad_norms` runs that backward loop with the textbook step
functions and records the norm at every step.
"""

from __future__ import annotations

import numpy as np

from numrnn.functional.rnn import rnn_forward, rnn_step_backward


def hidden_grad_norms(rnn, x, dh_last, h0=None) -> np.ndarray:
    """||dL/dh_t|| for every step t when the loss reads only the last state.

    Parameters
    ----------
    rnn : a one-layer, one-direction ``numrnn.RNN``.
    x : (T, N, I) time-major input.
    dh_last : (N, H) dL/dh_{T-1}, the gradient arriving at the last state.
    h0 : (N, H) initial state, zeros when ``None``.

    Returns
    -------
    norms : (T,) array, ``norms[t]`` = Frobenius norm of dL/dh_t.
    """
    if rnn.num_layers != 1 or rnn.bidirectional:
        raise ValueError("hidden_grad_norms needs a one-layer, one-direction RNN; got " + repr(rnn))
    p = rnn.params
    T, N, _ = x.shape
    if h0 is None:
        h0 = np.zeros((N, rnn.hidden_size), dtype=rnn.dtype)
    weights = (p["weight_ih_l0"], p["weight_hh_l0"], p.get("bias_ih_l0"), p.get("bias_hh_l0"))
    _, cache = rnn_forward(x, h0, *weights, nonlinearity=rnn.nonlinearity)
    norms = np.empty(T)
    dh_next = dh_last  # dL/dh_t, starting at t = T-1
    for t in reversed(range(T)):
        norms[t] = np.linalg.norm(dh_next)
        _, dh_next, *_ = rnn_step_backward(dh_next, cache.steps[t])
    return norms

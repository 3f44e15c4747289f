"""The textbook: hand-written forward and backward passes, one file per cell.

Each cell has a pair of step functions and a pair of sequence functions::

    h_next, cache = rnn_step_forward(x, h_prev, ...)
    dx, dh_prev, *dparams = rnn_step_backward(dh, cache)   # dh (N, H): all of dL/dh_t
    h, cache = rnn_forward(x, h0, ...)            # x (T, N, I), h (T, N, H)
    dx, dh0, *dparams = rnn_backward(dh, cache)   # dh (T, N, H): upstream only

They run on NumPy and CuPy arrays alike, and they are the reference that every fast
kernel in ``numrnn.kernels`` is tested against. Their ``### BEGIN SOLUTION`` /
``### END SOLUTION`` comment lines mark what a student writes in the exercises
(``python -m numrnn exercises``, docs/exercises.md).
"""

from numrnn.functional.activations import activation_backward, activation_forward, sigmoid
from numrnn.functional.gru import gru_backward, gru_forward, gru_step_backward, gru_step_forward
from numrnn.functional.lstm import lstm_backward, lstm_forward, lstm_step_backward, lstm_step_forward
from numrnn.functional.rnn import rnn_backward, rnn_forward, rnn_step_backward, rnn_step_forward

__all__ = [
    "activation_backward",
    "activation_forward",
    "gru_backward",
    "gru_forward",
    "gru_step_backward",
    "gru_step_forward",
    "lstm_backward",
    "lstm_forward",
    "lstm_step_backward",
    "lstm_step_forward",
    "rnn_backward",
    "rnn_forward",
    "rnn_step_backward",
    "rnn_step_forward",
    "sigmoid",
]

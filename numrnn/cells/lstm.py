"""The LSTM cell described for the layer machinery (``numrnn/cells/spec.py``).

The arithmetic is ``numrnn/functional/lstm.py`` (gate order i, f, g, o) and, per
backend, the kernels with the same function names; this file only says how a layer
calls them: the states are ``(h, c)`` and the cell takes a projection (``proj_size``,
an extra weight ``w_hr`` (P, H) after the biases).
"""

from __future__ import annotations

from numrnn.cells.registry import register_cell
from numrnn.cells.spec import CellSpec, KerasLayout, SequenceOps
from numrnn.functional import lstm as reference


# -- the step contract over the textbook's step functions ---------------------------------
def step_forward(x, states, w_ih, w_hh, b_ih=None, b_hh=None, w_hr=None):
    """(N, I), ((N, P), (N, H)) -> ((h_next, c_next), LSTMStepCache)."""
    h_next, c_next, cache = reference.lstm_step_forward(x, states[0], states[1], w_ih, w_hh, b_ih, b_hh, w_hr)
    return (h_next, c_next), cache


def step_backward(dstates, cache):
    """((dh, dc),) -> (dx, (dh_prev, dc_prev), dw_ih, dw_hh, db_ih, db_hh[, dw_hr])."""
    dx, dh_prev, dc_prev, *dweights, dw_hr = reference.lstm_step_backward(dstates[0], dstates[1], cache)
    extra = () if dw_hr is None else (dw_hr,)  # None without a projection
    return (dx, (dh_prev, dc_prev), *dweights, *extra)


# -- the sequence contract over the reference or a kernel module -----------------------------
def sequence(impl) -> SequenceOps:
    """``impl.lstm_forward``/``lstm_backward`` (the reference's names and signatures) with
    the states as tuples."""

    def forward(x, states0, w_ih, w_hh, b_ih=None, b_hh=None, w_hr=None):
        h, c, cache = impl.lstm_forward(x, states0[0], states0[1], w_ih, w_hh, b_ih, b_hh, w_hr)
        return (h, c), cache

    def backward(dseqs, cache):
        dx, dh0, dc0, *dweights, dw_hr = impl.lstm_backward(dseqs[0], dseqs[1], cache)
        extra = () if dw_hr is None else (dw_hr,)  # None without a projection
        return (dx, (dh0, dc0), *dweights, *extra)

    return SequenceOps(forward, backward, impl.__name__)


def _numba():
    from numrnn.kernels import numba_lstm

    return numba_lstm


def _activations(step) -> dict:
    """The three sigmoid gates, the candidate g and tanh(c_t) of one step."""
    return {"i": (step.i, "sigmoid"), "f": (step.f, "sigmoid"), "o": (step.o, "sigmoid"),
            "g": (step.g, "tanh"), "tanh(c)": (step.tanh_c, "tanh")}


LSTM_CELL = register_cell(CellSpec(
    name="lstm",
    gates=4,
    states=("h", "c"),
    step_forward=step_forward,
    step_backward=step_backward,
    gate_names=("i", "f", "g", "o"),
    projection=True,
    sequence=sequence,
    implementations={"numpy": lambda: reference, "numba": _numba},
    activations=_activations,
    keras=KerasLayout("LSTM", order=(0, 1, 2, 3), two_biases=False),  # Keras's c is PyTorch's g
))

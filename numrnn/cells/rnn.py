"""The Elman cell described for the layer machinery (``numrnn/cells/spec.py``).

The arithmetic is ``numrnn/functional/rnn.py`` (the textbook) and, per backend, the
kernels with the same function names; this file only says how a layer calls them:
the state tuple is ``(h,)``, the one option is ``nonlinearity``.
"""

from __future__ import annotations

from numrnn.cells.registry import register_cell
from numrnn.cells.spec import CellSpec, KerasLayout, SequenceOps
from numrnn.functional import rnn as reference
from numrnn.functional.activations import check_nonlinearity


# -- the step contract over the textbook's step functions ---------------------------------
def step_forward(x, states, w_ih, w_hh, b_ih=None, b_hh=None, nonlinearity="tanh"):
    """(N, I), ((N, H),) -> ((h_next,), RNNStepCache)."""
    h_next, cache = reference.rnn_step_forward(x, states[0], w_ih, w_hh, b_ih, b_hh, nonlinearity)
    return (h_next,), cache


def step_backward(dstates, cache):
    """((dh,),) -> (dx, (dh_prev,), dw_ih, dw_hh, db_ih, db_hh)."""
    dx, dh_prev, *dweights = reference.rnn_step_backward(dstates[0], cache)
    return (dx, (dh_prev,), *dweights)


# -- the sequence contract over the reference or a kernel module -----------------------------
def sequence(impl) -> SequenceOps:
    """``impl.rnn_forward``/``rnn_backward`` (the reference's names and signatures) with
    the states as tuples."""

    def forward(x, states0, w_ih, w_hh, b_ih=None, b_hh=None, nonlinearity="tanh"):
        h, cache = impl.rnn_forward(x, states0[0], w_ih, w_hh, b_ih, b_hh, nonlinearity=nonlinearity)
        return (h,), cache

    def backward(dseqs, cache):
        dx, dh0, *dweights = impl.rnn_backward(dseqs[0], cache)
        return (dx, (dh0,), *dweights)

    return SequenceOps(forward, backward, impl.__name__)


def _numba():
    from numrnn.kernels import numba_rnn

    return numba_rnn


def _cupy():
    from numrnn.kernels import cupy_rnn

    return cupy_rnn


def _check_options(options: dict) -> dict:
    return {"nonlinearity": check_nonlinearity(options["nonlinearity"])}


def _activations(step) -> dict:
    """What saturates in an Elman step: h itself (tanh), or the ReLU units that are off."""
    if step.nonlinearity == "relu":
        return {"h (relu off)": (step.h_next, "relu")}
    return {"h (tanh)": (step.h_next, "tanh")}


RNN_CELL = register_cell(CellSpec(
    name="rnn",
    gates=1,
    states=("h",),
    step_forward=step_forward,
    step_backward=step_backward,
    gate_names=("h",),
    options={"nonlinearity": "tanh"},
    check_options=_check_options,
    sequence=sequence,
    implementations={"numpy": lambda: reference, "numba": _numba, "cupy": _cupy},
    activations=_activations,
    keras=KerasLayout("SimpleRNN", order=(0,), two_biases=False),
))

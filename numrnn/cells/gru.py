"""The GRU cell described for the layer machinery (``numrnn/cells/spec.py``).

The arithmetic is ``numrnn/functional/gru.py`` (gate order r, z, n; the reset gate
multiplies the hidden half of the candidate after its bias) and, per backend, the
kernels with the same function names; this file only says how a layer calls them.
"""

from __future__ import annotations

from numrnn.cells.registry import register_cell
from numrnn.cells.spec import CellSpec, KerasLayout, SequenceOps
from numrnn.functional import gru as reference


# -- the step contract over the textbook's step functions ---------------------------------
def step_forward(x, states, w_ih, w_hh, b_ih=None, b_hh=None):
    """(N, I), ((N, H),) -> ((h_next,), GRUStepCache)."""
    h_next, cache = reference.gru_step_forward(x, states[0], w_ih, w_hh, b_ih, b_hh)
    return (h_next,), cache


def step_backward(dstates, cache):
    """((dh,),) -> (dx, (dh_prev,), dw_ih, dw_hh, db_ih, db_hh)."""
    dx, dh_prev, *dweights = reference.gru_step_backward(dstates[0], cache)
    return (dx, (dh_prev,), *dweights)


# -- the sequence contract over the reference or a kernel module -----------------------------
def sequence(impl) -> SequenceOps:
    """``impl.gru_forward``/``gru_backward`` (the reference's names and signatures) with
    the states as tuples."""

    def forward(x, states0, w_ih, w_hh, b_ih=None, b_hh=None):
        h, cache = impl.gru_forward(x, states0[0], w_ih, w_hh, b_ih, b_hh)
        return (h,), cache

    def backward(dseqs, cache):
        dx, dh0, *dweights = impl.gru_backward(dseqs[0], cache)
        return (dx, (dh0,), *dweights)

    return SequenceOps(forward, backward, impl.__name__)


def _numba():
    from numrnn.kernels import numba_gru

    return numba_gru


def _activations(step) -> dict:
    """The reset and update gates (sigmoid) and the candidate n (tanh) of one step."""
    return {"r": (step.r, "sigmoid"), "z": (step.z, "sigmoid"), "n": (step.n, "tanh")}


GRU_CELL = register_cell(CellSpec(
    name="gru",
    gates=3,
    states=("h",),
    step_forward=step_forward,
    step_backward=step_backward,
    gate_names=("r", "z", "n"),
    sequence=sequence,
    implementations={"numpy": lambda: reference, "numba": _numba},
    activations=_activations,
    # Keras's gate blocks are z, r, h: its block k is PyTorch's block order[k]; it keeps
    # both biases (reset_after=True, its default), since b_hn sits inside r * (...)
    keras=KerasLayout("GRU", order=(1, 0, 2), two_biases=True),
))

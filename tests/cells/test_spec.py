"""CellSpec refuses a malformed description at once, with what was expected."""

import numpy as np
import pytest

import numrnn as nr
from numrnn.cells import RNN_CELL, get_cell, registered_cells
from numrnn.cells.rnn import step_backward, step_forward


def spec(**kw):
    base = dict(name="c", gates=1, states=("h",), step_forward=step_forward, step_backward=step_backward)
    return nr.CellSpec(**{**base, **kw})


@pytest.mark.parametrize("kw, error, match", [
    (dict(name=""), ValueError, "name must be a non-empty identifier"),
    (dict(name=3), ValueError, "name must be"),
    (dict(gates=0), ValueError, "gates must be an integer >= 1"),
    (dict(gates=True), ValueError, "gates must be an integer >= 1"),
    (dict(states=()), ValueError, "states must be a non-empty tuple"),
    (dict(states="h"), ValueError, "states must be a non-empty tuple"),
    (dict(states=("h", "h")), ValueError, "distinct names"),
    (dict(step_forward=None), TypeError, "step_forward must be a function"),
    (dict(step_backward="g"), TypeError, "step_backward must be a function"),
    (dict(gates=2, gate_names=("a",)), ValueError, "gate_names must name all 2 gates"),
    (dict(options=[1]), TypeError, "options must be a dict"),
    (dict(implementations={"numba": 1}), TypeError, "implementations must map"),
    (dict(implementations={"numba": lambda: None}), ValueError, "need a sequence function"),
    (dict(activations=1), TypeError, "activations must be a function or None"),
])
def test_bad_specs(kw, error, match):
    with pytest.raises(error, match=match):
        spec(**kw)


def test_a_spec_is_immutable_and_shared_by_copies():
    import copy

    s = spec()
    with pytest.raises(AttributeError):
        s.gates = 2
    assert copy.deepcopy(s) is s and copy.copy(s) is s
    layer = nr.Recurrent(s, 2, 3)
    assert copy.deepcopy(layer).cell is s


def test_options_are_checked():
    with pytest.raises(ValueError, match="nonlinearity must be 'tanh' or 'relu'"):
        nr.Recurrent(RNN_CELL, 2, 3, options={"nonlinearity": "sigmoid"})
    with pytest.raises(ValueError, match="cell 'rnn' has no option 'alpha'"):
        nr.Recurrent(RNN_CELL, 2, 3, options={"alpha": 1})
    with pytest.raises(ValueError, match="cell 'gru' takes no projection"):
        nr.Recurrent("gru", 2, 3, proj_size=1)
    assert nr.Recurrent(RNN_CELL, 2, 3, options={"nonlinearity": "relu"}).options == {"nonlinearity": "relu"}


def test_the_built_in_cells_are_registered():
    assert {"rnn", "lstm", "gru"} <= set(registered_cells())
    assert get_cell("rnn") is RNN_CELL and nr.RNN(2, 3).cell is RNN_CELL
    with pytest.raises(TypeError, match="a cell is a numrnn.CellSpec or the name"):
        get_cell(3)
    with pytest.raises(TypeError, match="register_cell expects a numrnn.CellSpec"):
        nr.register_cell("rnn")
    with pytest.raises(TypeError, match="cell must be a numrnn.CellSpec"):
        nr.Recurrent(np.zeros(3), 2, 3)


def test_repr_names_every_changed_option_once():
    """A Recurrent or Cell over a cell with several options shows them as the one
    ``options=`` dict the constructor takes; the built-in classes show their own arguments."""
    s = spec(name="two_options", options={"nonlinearity": "tanh", "scale": 1.0})
    changed = {"nonlinearity": "relu", "scale": 2.0}
    assert repr(nr.Recurrent(s, 2, 3, options=changed)) == \
        "Recurrent(two_options, 2, 3, options={'nonlinearity': 'relu', 'scale': 2.0})"
    assert repr(nr.Cell(s, 2, 3, options=changed)) == \
        "Cell(two_options, 2, 3, options={'nonlinearity': 'relu', 'scale': 2.0})"
    assert repr(nr.Recurrent(s, 2, 3, options={"scale": 2.0})) == \
        "Recurrent(two_options, 2, 3, options={'scale': 2.0})"
    assert repr(nr.Recurrent(s, 2, 3)) == "Recurrent(two_options, 2, 3)"
    assert repr(nr.RNNCell(2, 3, nonlinearity="relu")) == "RNNCell(2, 3, nonlinearity='relu')"
    assert repr(nr.RNN(2, 3, nonlinearity="relu")) == "RNN(2, 3, nonlinearity='relu')"

"""The generic BPTT loop over a cell's steps equals each built-in cell's own sequence functions."""

import dataclasses

import numpy as np
import pytest

import numrnn as nr
from numrnn.cells import GRU_CELL, LSTM_CELL, RNN_CELL
from numrnn.cells.generic import generic_ops


def steps_only(spec):
    """The same cell with its sequence functions and kernels taken away."""
    return dataclasses.replace(spec, name=spec.name + "_steps", sequence=None, implementations={})


@pytest.mark.parametrize("spec, kw", [
    (RNN_CELL, {}), (RNN_CELL, {"options": {"nonlinearity": "relu"}}),
    (LSTM_CELL, {}), (LSTM_CELL, {"proj_size": 2}), (GRU_CELL, {}),
])
@pytest.mark.parametrize("bias", [True, False])
def test_generic_loop_equals_the_sequence_functions(spec, kw, bias, rng):
    kw = dict(num_layers=2, bidirectional=True, bias=bias, dtype=np.float64, backend="numpy", seed=0, **kw)
    built_in = nr.Recurrent(spec, 3, 4, **kw)
    generic = nr.Recurrent(steps_only(spec), 3, 4, **kw)
    assert generic.state_dict().keys() == built_in.state_dict().keys()
    generic.load_state_dict(built_in.state_dict())
    x, lengths = rng.standard_normal((5, 3, 3)), np.array([5, 2, 4])
    out_b, hn_b = built_in(x, lengths=lengths)
    out_g, hn_g = generic(x, lengths=lengths)
    assert generic.last_kernels == "numrnn.cells.generic"
    assert built_in.last_kernels == "numrnn.functional." + spec.name
    np.testing.assert_allclose(out_g, out_b, rtol=1e-13, atol=1e-15)
    dout = rng.standard_normal(out_b.shape)
    dx_b, dh_b = built_in.backward(dout)
    dx_g, dh_g = generic.backward(dout)
    np.testing.assert_allclose(dx_g, dx_b, rtol=1e-12, atol=1e-14)
    for a, b in zip(*(s if isinstance(s, tuple) else (s,) for s in (dh_g, dh_b))):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    for k in built_in.grads:
        np.testing.assert_allclose(generic.grads[k], built_in.grads[k], rtol=1e-12, atol=1e-14, err_msg=k)


def test_generic_ops_names_itself():
    assert generic_ops(RNN_CELL).name == "numrnn.cells.generic"


def test_check_gradients_names_the_states_after_the_cell(rng):
    spec = dataclasses.replace(steps_only(LSTM_CELL), name="lstm_hm", states=("h", "m"))
    layer = nr.Recurrent(spec, 3, 4, dtype=np.float64, seed=0)
    report = nr.check_gradients(layer, rng.standard_normal((3, 2, 3)))
    assert report.ok, str(report)
    assert {"h0", "m0"} <= set(report.errors) and "c0" not in report.errors

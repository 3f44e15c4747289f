"""Checkpoints of layers over a user's cell: the file names the cell, ``nr.load(path)``
rebuilds it when it is registered (or given in ``classes=``) and otherwise says so, and
``nr.load(path, model)`` fills a model built by hand (issue 9, item 3; issue 13)."""

import numpy as np
import pytest

import numrnn as nr
from numrnn import checkpoint
from numrnn.cells import unregister_cell
from numrnn.errors import CheckpointError
from tests.cells.test_user_cell_mgu import mgu_step_backward, mgu_step_forward
from tests.test_checkpoint_untrusted import _contents, _write


def _spec(name="mgu_ck"):
    return nr.CellSpec(name=name, gates=2, states=("h",), step_forward=mgu_step_forward,
                       step_backward=mgu_step_backward)


@pytest.fixture
def mgu():
    spec = _spec()
    yield spec
    unregister_cell(spec.name)


def _layer(spec, **kw):
    return nr.Recurrent(spec, 3, 4, num_layers=2, bidirectional=True, dtype=np.float64, seed=0, **kw)


def _same_outputs(a, b):
    x = np.random.default_rng(1).standard_normal((5, 2, 3))
    a.eval(), b.eval()
    ya, yb = a(x), b(x)
    for u, v in zip(ya if isinstance(ya, tuple) else (ya,), yb if isinstance(yb, tuple) else (yb,)):
        np.testing.assert_array_equal(u, v)


def test_a_registered_users_cell_is_rebuilt(tmp_path, mgu):
    m = _layer(mgu)
    path = nr.save(m, tmp_path / "mgu.npz")
    assert _contents(path)[0]["config"]["args"]["cell"] == {"__cell__": "mgu_ck"}
    nr.register_cell(mgu)
    back = nr.load(path)
    assert type(back) is nr.Recurrent and back.cell is mgu and repr(back) == repr(m)
    _same_outputs(m, back)


def test_an_unregistered_cell_is_named_and_the_ways_out_work(tmp_path, mgu):
    m = nr.Sequential(_layer(mgu), nr.Linear(8, 2, dtype=np.float64, seed=1))
    path = nr.save(m, tmp_path / "mgu.npz")
    with pytest.raises(CheckpointError, match=r"model\[0\]\.cell: the model runs the cell 'mgu_ck', which is "
                                              r"not registered: call nr.register_cell\(spec\)"):
        nr.load(path)
    back = nr.load(path, classes=[mgu])  # given, not registered
    _same_outputs(m, back)
    by_hand = nr.Sequential(_layer(_spec()), nr.Linear(8, 2, dtype=np.float64))  # no lookup at all
    nr.load(path, by_hand)
    _same_outputs(m, by_hand)


@pytest.mark.parametrize("gates, message", [
    (1, "parameters do not fit the model.*weight_ih_l0"),  # a smaller model: the shapes differ
    (3, "needs .* more than the 368 parameter values stored in the file can fill"),  # a larger one
])
def test_another_cell_under_the_same_name_does_not_load_silently(tmp_path, mgu, gates, message):
    path = nr.save(_layer(mgu), tmp_path / "mgu.npz")
    other = nr.CellSpec(name="mgu_ck", gates=gates, states=("h",), step_forward=mgu_step_forward,
                        step_backward=mgu_step_backward)
    with pytest.raises(CheckpointError, match=message):
        nr.load(path, classes=[other])


def test_builtin_cells_options_and_one_step_cells_round_trip(tmp_path, mgu):
    nr.register_cell(mgu)
    for m in (nr.Recurrent("lstm", 3, 4, proj_size=2, dtype=np.float64, seed=0),
              nr.Recurrent("rnn", 3, 4, options={"nonlinearity": "relu"}, dtype=np.float64, seed=0),
              nr.RNN(3, 4, nonlinearity="relu", seed=0), nr.Cell(mgu, 3, 4, seed=0),
              nr.GRUCell(3, 4, seed=0)):
        back = nr.load(nr.save(m, tmp_path / "m.npz"))
        assert type(back) is type(m) and repr(back) == repr(m) and back.cell is m.cell
        for k, v in m.params.items():
            np.testing.assert_array_equal(back.params[k], v)


@pytest.mark.parametrize("cell", [{"__cell__": "os.system"}, {"__cell__": 3}, {"__cell__": "no_such_cell"},
                                  {"__cell__": "rnn", "__module__": {}}])
def test_crafted_cell_entries_are_checkpoint_errors(tmp_path, cell):
    path = nr.save(nr.Recurrent("rnn", 3, 4), tmp_path / "m.npz")
    meta, arrays = _contents(path)
    meta["config"]["args"]["cell"] = cell
    with pytest.raises(CheckpointError, match="m2.npz"):
        nr.load(_write(tmp_path / "m2.npz", meta, arrays))


def test_classes_may_hold_specs_but_not_other_things(mgu):
    assert checkpoint._known([mgu, nr.Linear]).cells == {"mgu_ck": mgu}
    with pytest.raises(TypeError, match="classes must"):
        checkpoint._known(mgu)

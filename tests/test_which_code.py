"""numrnn.which_code: the teaching commands and examples say which code ran."""

import numpy as np
import pytest

import numrnn as nr
from numrnn.__main__ import main
from numrnn.backend import numba_available
from numrnn.which_code import which_code

REFERENCE = "numrnn/functional/{cell}.py, the NumPy reference (the textbook)"


@pytest.mark.parametrize("cls, cell", [(nr.RNN, "rnn"), (nr.LSTM, "lstm"), (nr.GRU, "gru")])
def test_reference_backend_names_the_textbook_file(cls, cell):
    layer = cls(3, 4, backend="numpy", dtype=np.float64)
    assert which_code(layer) == f"{cls.__name__} has not run a forward yet"
    layer(np.zeros((2, 1, 3)))
    assert which_code(layer) == f"{cls.__name__} ran " + REFERENCE.format(cell=cell)


@pytest.mark.skipif(not numba_available(), reason="needs Numba")
def test_kernel_backend_names_the_kernel_and_the_way_back():
    line = which_code(nr.RNN(3, 4, backend="numba"), probe=np.zeros((2, 1, 3), np.float32))
    assert line.startswith("RNN ran numrnn/kernels/numba_rnn.py, the Numba kernel")
    assert "backend='numpy' runs the textbook" in line


def test_walks_a_sequential_and_skips_layers_without_kernels():
    model = nr.Sequential(nr.Embedding(5, 3), nr.GRU(3, 4, backend="numpy"), nr.LSTM(4, 2, backend="numpy"),
                          nr.Linear(2, 2))
    model(np.array([[1], [2]]))
    assert which_code(model).splitlines() == ["GRU ran " + REFERENCE.format(cell="gru"),
                                              "LSTM ran " + REFERENCE.format(cell="lstm")]
    assert which_code(nr.Linear(2, 2)) == "Linear has no recurrent layer"


def test_demo_says_which_code_ran_in_every_part(capsys):
    assert main(["demo", "--backend", "numpy"]) == 0
    out = capsys.readouterr().out
    assert out.count("RNN ran " + REFERENCE.format(cell="rnn")) == 2  # the check and the training
    assert "reference step functions of numrnn/functional/rnn.py" in out  # the gradient norms
    # steps are counted 1..T: the loss reads h_20, and the last line of the table is t = 1
    assert "when the loss reads only h_20" in out and "\nt =  1  ||dL/dh_t||" in out


def test_gradcheck_says_which_code_was_checked(capsys):
    assert main(["gradcheck", "--cell", "lstm", "--backend", "numpy", "--seq-len", "3"]) == 0
    out = capsys.readouterr().out
    assert "which code was checked: Recurrent(lstm) ran " + REFERENCE.format(cell="lstm") in out


def test_hello_example_says_which_code_ran(tmp_path, capsys):
    args = ["train", "hello", "--backend", "numpy", "--steps", "2", "--out", str(tmp_path), "--no-progress"]
    main(args)
    assert capsys.readouterr().out.count("which code ran: RNN ran " + REFERENCE.format(cell="rnn")) == 2


def test_a_users_cell_runs_the_generic_loop():
    from numrnn.cells import CellSpec
    from numrnn.cells.rnn import step_backward, step_forward

    spec = CellSpec(name="elman_again", gates=1, states=("h",), step_forward=step_forward,
                    step_backward=step_backward)
    layer = nr.Recurrent(spec, 3, 4, dtype=np.float64)
    line = which_code(layer, probe=np.zeros((2, 1, 3)))
    assert line == ("Recurrent(elman_again) ran numrnn/cells/generic.py, "
                    "the generic BPTT loop over the cell's own step functions")


def test_a_kernel_that_names_its_path():
    layer = nr.RNN(3, 4, backend="numpy")
    layer.last_backend, layer.last_kernels = "cupy", "numrnn.kernels.cupy_rnn (reference)"
    assert which_code(layer) == ("RNN ran numrnn/kernels/cupy_rnn.py, the CuPy/CUDA kernel, path: reference; "
                                 "backend='numpy' runs the textbook in numrnn/functional/ instead")

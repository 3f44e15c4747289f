"""``exercises train``: the student's RNN, plugged into a layer, learns "hello" -> "ohlol".

The student's ``rnn.py`` becomes a cell description (:class:`numrnn.CellSpec`, the
same class that describes numrnn's own cells in ``numrnn/cells/rnn.py``): their
``rnn_step_forward``/``rnn_step_backward`` are the cell's steps, and their
``rnn_forward``/``rnn_backward`` the sequence functions the layer calls. So every
forward and every BPTT of the training runs the student's four functions, on the
NumPy path. The rest is numrnn's: the model of the hello example (one-hot input ->
``Recurrent(student cell, V, H)`` -> ``Linear(H, V)``), softmax cross-entropy and Adam.
A correct solution predicts "ohlol" well within the default 200 steps (the reference
first does at step 10).

Learning is the reward, not the proof: five characters are learned even by some wrong
backwards (a dropped carried gradient, a transposed dW_hh: the tests show it), which is
why the grader, not this command, decides whether a function is right.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numrnn as nr
from numrnn.cells.rnn import sequence
from numrnn.data import HELLO_VOCAB, decode, hello_ohlol
from numrnn.errors import UsageValueError
from numrnn.exercises.grader import load_file
from numrnn.train import check_finite_loss

TARGET = "ohlol"


def student_cell(module) -> nr.CellSpec:
    """The Elman cell over the student's functions (``module`` is their rnn.py)."""

    def step_forward(x, states, w_ih, w_hh, b_ih=None, b_hh=None, nonlinearity="tanh"):
        """(N, I), ((N, H),) -> ((h_next,), the student's step cache)."""
        h_next, cache = module.rnn_step_forward(x, states[0], w_ih, w_hh, b_ih, b_hh, nonlinearity)
        return (h_next,), cache

    def step_backward(dstates, cache):
        """((dh,),) -> (dx, (dh_prev,), dw_ih, dw_hh, db_ih, db_hh)."""
        dx, dh_prev, *dweights = module.rnn_step_backward(dstates[0], cache)
        return (dx, (dh_prev,), *dweights)

    def student_sequence(impl):
        """numrnn's own sequence wrapper (cells/rnn.py) over the student's module."""
        ops = sequence(impl)
        return ops._replace(name=f"rnn_forward/rnn_backward of {impl.__file__}")

    return nr.CellSpec(name="student_rnn", gates=1, states=("h",), step_forward=step_forward,
                       step_backward=step_backward, gate_names=("h",), options={"nonlinearity": "tanh"},
                       sequence=student_sequence, implementations={"numpy": lambda: module})


@dataclass
class Training:
    """What :func:`train` did: the loss per step, the prediction, when "ohlol" first appeared."""

    prediction: str = ""
    losses: list = field(default_factory=list)
    first: int | None = None  # the first step whose prediction was "ohlol"
    ran: str = ""  # the sequence functions the layer called (``Recurrent.last_kernels``)

    @property
    def ok(self) -> bool:
        return self.prediction == TARGET


def load_rnn(folder) -> object:
    """The student's rnn.py from ``folder``, as a module."""
    folder = Path(folder)
    path = folder / "rnn.py"
    if not path.is_file():
        raise UsageValueError(f"exercises train: {path} does not exist; write the exercises with "
                              f"`python -m numrnn exercises make {folder}`")
    return load_file(path, folder.resolve())


def train(module, steps: int = 200, lr: float = 0.05, hidden_size: int = 8, seed: int = 0,
          report=None) -> Training:
    """Train the hello model with the student's RNN functions (``module``: their rnn.py).

    ``report(step, loss, prediction)``, if given, is called after every step.
    """
    x, y = hello_ohlol()  # (T, 1, V) one-hot "hello", (T, 1) ids of "ohlol"
    V = len(HELLO_VOCAB)
    rnn = nr.Recurrent(student_cell(module), V, hidden_size, backend="numpy", seed=seed + 1)
    model = nr.Sequential(rnn, nr.Linear(hidden_size, V, seed=seed + 2))
    opt = nr.Adam(model, lr=lr)
    result = Training()
    for step in range(1, steps + 1):
        opt.zero_grad()
        logits = model(x)  # (T, 1, V)
        loss, dlogits = nr.cross_entropy(logits, y)
        check_finite_loss(step, loss)
        model.backward(dlogits)
        opt.step()
        result.losses.append(loss)
        result.prediction = decode(logits.argmax(axis=-1)[:, 0], HELLO_VOCAB)
        if result.first is None and result.prediction == TARGET:
            result.first = step
        if report is not None:
            report(step, loss, result.prediction)
    result.prediction = decode(model(x).argmax(axis=-1)[:, 0], HELLO_VOCAB)  # after the last update
    result.ran = rnn.last_kernels
    return result

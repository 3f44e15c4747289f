"""Random junk for every public entry point: the only acceptable outcomes are a result or a
documented exception (issue 13, "every public function refuses a wrong kind of argument
with a TypeError or ValueError that says what was expected").

A documented exception is one of numrnn's own misuse errors (:mod:`numrnn.errors`),
plus, where the entry point documents it: ``RuntimeError`` for a backward called out of
order, ``FileNotFoundError`` for a checkpoint path that does not exist, and
``NonFiniteError`` for training that meets a NaN. Anything else (an AttributeError,
ZeroDivisionError, IndexError or NumPy's own errors from deep inside) fails the test.

Sizes in the junk stay small for the recurrent constructors until their allocation guard
lands (``tests/test_memory.py`` holds that promise): an unguarded ``RNN(3, 10**30)`` would
fill the machine's memory rather than fail.
"""

import inspect
import os
import tempfile

import numpy as np
import pytest

pytest.importorskip("hypothesis")
from hypothesis import example, given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

import numrnn as nr  # noqa: E402
from numrnn import config  # noqa: E402
from numrnn.errors import UsageError  # noqa: E402

DOCUMENTED = (UsageError,)

_DTYPES = [np.float32, np.float64, np.int64, np.bool_, np.complex64, np.dtype("<U2")]


def _arrays():
    shapes = hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=3)
    return hnp.arrays(st.sampled_from(_DTYPES), shapes, elements=None)


def junk():
    """Values of every kind a caller might pass by mistake."""
    ints = st.integers(-3, 8) | st.sampled_from([10**30, 2**63, -(2**40)])
    scalars = st.none() | st.booleans() | ints | st.floats(allow_nan=True, allow_infinity=True) | \
        st.text(max_size=4) | st.binary(max_size=4) | st.sampled_from([np.float32, np.int8, object(), len])
    nested = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.tuples(inner, inner) |
                          st.dictionaries(st.text(max_size=3), inner, max_size=2), max_leaves=6)
    return nested | _arrays() | st.builds(lambda: nr.Linear(2, 2, seed=0))


def _call(fn, *args, extra=(), **kwargs):
    """Call ``fn``; return its result, or None when it raised a documented exception (or
    when the arguments do not fit its signature: Python's own TypeError, not numrnn's)."""
    try:
        inspect.signature(fn).bind(*args, **kwargs)
    except TypeError:
        return None
    try:
        return fn(*args, **kwargs)
    except DOCUMENTED + tuple(extra):
        return None


@pytest.fixture(autouse=True)
def _small_allocation_bound(monkeypatch):
    monkeypatch.setattr(config, "MAX_ALLOC_BYTES", 2**26)  # 64 MiB: junk sizes fail fast and cheaply


# -- constructors -------------------------------------------------------------------------------------
GUARDED = {"Linear": nr.Linear, "Embedding": nr.Embedding, "Dropout": nr.Dropout, "LastStep": nr.LastStep,
           "Sequential": nr.Sequential}
RECURRENT = {"RNN": nr.RNN, "LSTM": nr.LSTM, "GRU": nr.GRU, "RNNCell": nr.RNNCell, "LSTMCell": nr.LSTMCell,
             "GRUCell": nr.GRUCell}
GENERIC = {"Recurrent": nr.Recurrent, "Cell": nr.Cell}


@pytest.mark.parametrize("name", list(GUARDED))
@given(args=st.lists(junk(), max_size=4))
def test_constructors_of_guarded_modules(name, args):
    _call(GUARDED[name], *args)


@pytest.mark.parametrize("name", list(RECURRENT))
@given(args=st.lists(junk(), max_size=4))
@example(args=[3, 4, 1, np.array([])])  # an array as a flag was NumPy's ValueError
@example(args=[3, 10**9])  # was a process the OS killed, not a SizeError
@example(args=[3, 4, np.array([])])
def test_constructors_of_recurrent_modules(name, args):
    _call(RECURRENT[name], *args)


@pytest.mark.parametrize("name", list(GENERIC))
@given(args=st.lists(junk(), max_size=5), cell=st.sampled_from(["rnn", "lstm", "gru"]))
@example(args=[3, 4, 1, np.array([])], cell="rnn")
@example(args=[3, 4, np.array([])], cell="rnn")
def test_constructors_of_layers_over_a_cell(name, args, cell):
    _call(GENERIC[name], cell, *args)


@pytest.mark.parametrize("cls", [nr.SGD, nr.Adam, nr.Adagrad, nr.RMSprop])
@given(target=junk(), lr=junk())
def test_optimizers(cls, target, lr):
    _call(cls, target, lr)


@given(model=junk(), optimizer=junk(), loss_fn=junk(), clip=junk())
def test_trainer(model, optimizer, loss_fn, clip):
    _call(nr.Trainer, model, optimizer, loss_fn, clip_norm=clip)


# -- forward and backward of a working module ------------------------------------------------------------
MODULES = {
    "RNN": lambda: nr.RNN(3, 4, seed=0), "LSTM": lambda: nr.LSTM(3, 4, seed=0),
    "GRU": lambda: nr.GRU(3, 4, seed=0), "RNNCell": lambda: nr.RNNCell(3, 4, seed=0),
    "Linear": lambda: nr.Linear(3, 4, seed=0), "Embedding": lambda: nr.Embedding(5, 3, seed=0),
    "Dropout": lambda: nr.Dropout(0.5, seed=0), "LastStep": lambda: nr.LastStep(),
    "Sequential": lambda: nr.Sequential(nr.RNN(3, 4, seed=0), nr.LastStep()),
}


@pytest.mark.parametrize("name", list(MODULES))
@given(x=junk(), more=st.lists(junk(), max_size=2))
def test_forward(name, x, more):
    _call(MODULES[name]().forward, x, *more)


@pytest.mark.parametrize("name", list(MODULES))
@given(d=junk())
def test_backward(name, d):
    m = MODULES[name]()
    x = np.arange(5) % 5 if name == "Embedding" else np.ones((2, 1, 3) if name != "RNNCell" else (1, 3),
                                                              np.float32)
    m(x)
    _call(m.backward, d)


@pytest.mark.parametrize("name", list(MODULES))
@given(state=junk())
def test_load_state_dict(name, state):
    _call(MODULES[name]().load_state_dict, state)


# -- functions -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fn", [nr.mse_loss, nr.cross_entropy])
@given(pred=junk(), target=junk())
@example(pred=np.zeros((2, 3), np.float32), target=[[0], [1, 2]])
def test_losses(fn, pred, target):
    _call(fn, pred, target)


@pytest.mark.parametrize("fn", [nr.clip_grad_norm, nr.clip_grad_value, nr.grad_norm])
@given(target=junk(), value=junk())
def test_clipping(fn, target, value):
    _call(fn, target, value)


@given(model=junk(), extra=st.dictionaries(st.text("abc", min_size=1, max_size=3), junk(), max_size=2))
def test_save(model, extra):
    with tempfile.TemporaryDirectory() as d:
        _call(nr.save, model, os.path.join(d, "m.npz"), **extra)


@given(path=junk(), model=junk(), classes=junk())
def test_load(path, model, classes):
    if isinstance(path, bytes):
        path = b"/nonexistent/" + path.replace(b"\0", b"")
    elif isinstance(path, str):
        path = "/nonexistent/" + path.replace("\0", "")
    _call(nr.load_checkpoint, path, model, classes, extra=(FileNotFoundError,))


@given(model=junk(), x=junk(), y=junk(), k=junk(), k2=junk())
def test_truncated_bptt(model, x, y, k, k2):
    _call(nr.truncated_gradients, model, x, y, k, k2=k2)


@given(x=junk(), y=junk(), k=junk())
def test_truncated_bptt_on_a_real_model(x, y, k):
    m = nr.Sequential(nr.RNN(1, 2, seed=0), nr.Linear(2, 1, seed=1))
    _call(nr.train_tbptt, m, nr.SGD(m), x, y, k, extra=(nr.NonFiniteError,))


@given(model=junk(), batches=junk(), epochs=junk())
def test_fit(model, batches, epochs):
    _call(nr.fit, model, nr.SGD(nr.Linear(1, 1)), batches, epochs=epochs, extra=(nr.NonFiniteError,))


@given(batches=junk(), epochs=junk())
def test_fit_of_a_real_model(batches, epochs):
    m = nr.Sequential(nr.RNN(1, 2, seed=0), nr.LastStep(), nr.Linear(2, 1, seed=1))
    _call(nr.fit, m, nr.SGD(m), batches, epochs=epochs, extra=(nr.NonFiniteError,))


@given(model=junk(), x=junk())
@example(model=np.zeros(3), x=np.zeros(3))
def test_check_gradients(model, x):
    _call(nr.check_gradients, model, x)


@given(model=junk(), shape=junk())
@example(model=nr.Linear(2, 2), shape=(False, False))
def test_summary(model, shape):
    _call(nr.summary, model, shape, print_fn=lambda *a: None)

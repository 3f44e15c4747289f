"""The two directions of a layer run side by side on numrnn's threads (nn/stack.py with
numrnn/parallel.py), and the results are bitwise those of one thread."""

import threading

import numpy as np
import pytest

import numrnn as nr
from numrnn import parallel
from tests.cells.test_user_cell_mgu import MGU

BACKENDS = ["numpy"] + (["numba"] if nr.backend.numba_available() else [])
MODELS = [lambda **kw: nr.RNN(3, 6, **kw), lambda **kw: nr.LSTM(3, 6, proj_size=2, **kw),
          lambda **kw: nr.GRU(3, 6, **kw), lambda **kw: nr.Recurrent(MGU, 3, 6, **kw)]


def _step(m, x, lengths):
    out, hn = m(x, lengths=lengths)
    m.zero_grad()
    dx, dh0 = m.backward(np.ones_like(out))
    return [out, dx] + list(hn if isinstance(hn, tuple) else (hn,)) + [m.grads[k] for k in sorted(m.grads)]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("make", MODELS)
def test_bidirectional_same_bits_on_one_thread_and_two(rng, backend, make):
    m = make(num_layers=2, bidirectional=True, dropout=0.2, dtype=np.float64, backend=backend, seed=2)
    x = rng.standard_normal((9, 4, 3))
    lengths = np.array([9, 3, 6, 9])
    with parallel.limited_threads(1):
        m.rng = np.random.default_rng(0)
        one = _step(m, x, lengths)
    with parallel.limited_threads(2):
        m.rng = np.random.default_rng(0)
        two = _step(m, x, lengths)
    for a, b in zip(one, two, strict=True):
        np.testing.assert_array_equal(a, b)


def test_the_directions_run_on_two_threads(monkeypatch, rng):
    m = nr.GRU(3, 4, bidirectional=True, backend="numpy", seed=0)
    seen = set()
    real = type(m)._run_layer

    def spy(self, *args):
        seen.add(threading.get_ident())
        return real(self, *args)

    monkeypatch.setattr(type(m), "_run_layer", spy)
    with parallel.limited_threads(2):
        m(rng.standard_normal((5, 2, 3)).astype(np.float32))
    assert len(seen) == 2
    seen.clear()
    with parallel.limited_threads(1):
        m(rng.standard_normal((5, 2, 3)).astype(np.float32))
    assert seen == {threading.get_ident()}

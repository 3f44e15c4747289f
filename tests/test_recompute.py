"""Recomputation (numrnn/recompute.py): the same outputs and gradients as full storage,
for every cell and backend, a user's cell included, combined with layers, directions,
lengths, dropout and batch_first; and the memory it saves, measured."""

import math

import numpy as np
import pytest

import numrnn as nr
from numrnn import training_memory as memory
from numrnn.recompute import check_recompute, segment_length
from tests.cells.test_user_cell_mgu import MGU

BACKENDS = ["numpy"] + (["numba"] if nr.backend.numba_available() else [])


def _pair(make, recompute, **kw):
    """The same model twice (same seed, so the same weights and dropout masks), the second
    with ``recompute``."""
    return make(seed=11, **kw), make(seed=11, recompute=recompute, **kw)


def _step(m, x, lengths, rng_seed=5):
    out, hn = m(x, lengths=lengths)
    rng = np.random.default_rng(rng_seed)
    dout = rng.standard_normal(out.shape).astype(out.dtype)
    states = hn if isinstance(hn, tuple) else (hn,)
    dhn = tuple(rng.standard_normal(s.shape).astype(s.dtype) for s in states)
    dx, dh0 = m.backward(dout, dhn if isinstance(hn, tuple) else dhn[0])
    return out, hn, dx, dh0


def _rel(a, b):
    return np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300)


def _assert_same(a_res, b_res, a, b, tol=1e-12):
    flat = []
    for u, v in zip(a_res, b_res):
        flat += list(zip(u, v)) if isinstance(u, tuple) else [(u, v)]
    for u, v in flat:
        assert u.shape == v.shape and _rel(v, u) <= tol
    assert set(a.grads) == set(b.grads)
    for name in a.grads:
        assert _rel(b.grads[name], a.grads[name]) <= tol, name


CELLS = [
    ("rnn", lambda **kw: nr.RNN(3, 5, dtype=np.float64, **kw)),
    ("rnn relu", lambda **kw: nr.RNN(3, 5, nonlinearity="relu", dtype=np.float64, **kw)),
    ("lstm", lambda **kw: nr.LSTM(3, 5, dtype=np.float64, **kw)),
    ("lstm proj", lambda **kw: nr.LSTM(3, 5, proj_size=2, dtype=np.float64, **kw)),
    ("gru", lambda **kw: nr.GRU(3, 5, dtype=np.float64, **kw)),
    ("mgu (user cell)", lambda **kw: nr.Recurrent(MGU, 3, 5, dtype=np.float64, **kw)),
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name, make", CELLS)
@pytest.mark.parametrize("recompute", ["sqrt", 1, 4, 100])
def test_same_gradients_as_full_storage(rng, backend, name, make, recompute):
    kw = dict(num_layers=2, bidirectional=True, dropout=0.3, backend=backend)
    a, b = _pair(make, recompute, **kw)
    x = rng.standard_normal((11, 3, 3))
    lengths = np.array([11, 4, 7])
    _assert_same(_step(a, x, lengths), _step(b, x, lengths), a, b)
    assert b.recompute == recompute and f"recompute={recompute!r}" in repr(b)


@pytest.mark.parametrize("backend", BACKENDS)
def test_batch_first_unbatched_and_float32(rng, backend):
    a, b = _pair(lambda **kw: nr.LSTM(3, 4, batch_first=True, **kw), "sqrt", backend=backend)
    x = rng.standard_normal((2, 9, 3)).astype(np.float32)
    _assert_same(_step(a, x, None), _step(b, x, None), a, b, tol=2e-6)
    a, b = _pair(lambda **kw: nr.GRU(3, 4, dtype=np.float64, **kw), 2, backend=backend)
    x = rng.standard_normal((7, 3))
    out_a, _ = a(x)
    out_b, _ = b(x)
    assert _rel(out_b, out_a) <= 1e-12


def test_gradient_check_with_recompute(rng):
    m = nr.LSTM(3, 4, num_layers=2, bidirectional=True, dtype=np.float64, recompute=2, seed=0)
    report = nr.check_gradients(m, rng.standard_normal((5, 2, 3)), lengths=np.array([5, 3]))
    assert report.ok, str(report)


def test_checkpoint_keeps_the_setting(tmp_path):
    m = nr.GRU(3, 4, recompute="sqrt", seed=0)
    nr.save(m, tmp_path / "m.npz")
    assert nr.load(tmp_path / "m.npz").recompute == "sqrt"


def test_checkpoint_loads_into_a_model_with_another_setting(tmp_path, rng):
    """recompute changes memory and time, not the weights: a file saved without it loads
    into a model with it (and back), and the loaded model keeps its own setting."""
    x = rng.standard_normal((12, 2, 3))
    saved = nr.GRU(3, 4, seed=0, dtype=np.float64)
    nr.save(saved, tmp_path / "m.npz")
    for setting in ("sqrt", 4):
        m = nr.GRU(3, 4, recompute=setting, seed=1, dtype=np.float64)
        nr.load(tmp_path / "m.npz", model=m)
        assert m.recompute == setting
        np.testing.assert_array_equal(m(x)[0], saved(x)[0])


def test_segments():
    assert segment_length("sqrt", 100) == 10 and segment_length("sqrt", 101) == 11
    assert segment_length("sqrt", 1) == 1 and segment_length(7, 3) == 7
    assert check_recompute(None) is None and check_recompute(3) == 3


def test_sqrt_segments_are_the_ceiling_of_the_square_root():
    """segment_length("sqrt", T) = 1 + isqrt(T - 1): ceil(sqrt(T)) for T >= 1, as the form it
    replaced (max(1, isqrt(T - 1) + 1) if T > 1 else 1) gave for every T, 0 and below included."""
    for T in range(-3, 20_000):
        old = max(1, math.isqrt(T - 1) + 1) if T > 1 else 1
        assert segment_length("sqrt", T) == old
        if T >= 1:
            k = segment_length("sqrt", T)
            assert (k - 1) ** 2 < T <= k * k
    assert check_recompute(np.int64(4)) == 4 and type(check_recompute(np.int64(4))) is int


@pytest.mark.parametrize("bad, error", [(0, ValueError), (-2, ValueError), (True, TypeError),
                                        ("log", TypeError), (2.5, TypeError)])
def test_bad_settings_are_refused(bad, error):
    with pytest.raises(error, match="recompute"):
        nr.RNN(3, 4, recompute=bad)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("make", [nr.RNN, nr.LSTM, nr.GRU])
def test_memory_kept_for_the_backward(backend, make):
    """The activations kept from the forward to the backward (beyond the input), measured
    with tracemalloc: full storage keeps every step, recompute="sqrt" about 2 sqrt(T) steps'
    worth. At T = 2500 that is at least 20x less."""
    m = make(8, 32, backend=backend, seed=0)
    x = np.zeros((2500, 4, 8), np.float32)
    full = memory.training_memory(m, x, recompute=None)
    rec = memory.training_memory(m, x, recompute="sqrt")
    step_bytes = 4 * 32 * 4  # one (N, H) float32 state
    assert full.kept - full.input_bytes >= 2500 * step_bytes  # at least every h_t
    assert rec.input_bytes == full.input_bytes == x.nbytes
    assert (full.kept - full.input_bytes) >= 20 * (rec.kept - rec.input_bytes)
    assert rec.peak < full.peak


def test_summary_reports_the_training_memory():
    m = nr.LSTM(4, 8, recompute=5, seed=0)
    text = nr.summary(m, (50, 2, 4), training=True, print_fn=None)
    assert "activations kept for the backward" in text and "with recompute=5" in text
    with pytest.raises(ValueError, match="pass input"):
        nr.summary(m, training=True, print_fn=None)

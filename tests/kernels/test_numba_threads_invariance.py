"""The Numba kernels give the same bits on one thread and on two.

With two threads a kernel either splits its time loop by batch rows (and spreads the
GEMMs outside the loop over the threads) or, with too few rows, runs the weight
gradients of finished time blocks beside the loop (numrnn/kernels/numba_layer.py). The
knobs are lowered here so that these small cases take each path, with several time
blocks; every result must be bitwise equal to the one-thread run, and equal to the
NumPy reference within the usual tolerance.
"""

import contextlib

import numpy as np
import pytest

numba = pytest.importorskip("numba")

from numrnn import config, parallel  # noqa: E402
from numrnn.functional import gru as ref_gru  # noqa: E402
from numrnn.functional import lstm as ref_lstm  # noqa: E402
from numrnn.functional import rnn as ref_rnn  # noqa: E402
from numrnn.kernels import numba_gru, numba_lstm, numba_rnn  # noqa: E402
from tests.kernels.kernel_checks import JIT_OFF, TOL, uniform  # noqa: E402
from tests.torch_oracle import max_rel  # noqa: E402

#: (T, N, D, H): rows split in 2 (with rows left over after the 4-row tiles); too few rows
#: to split (the GEMMs then run beside the loop); H not a multiple of a panel.
SHAPES = [(9, 13, 5, 7), (11, 3, 4, 20)] if JIT_OFF else [(9, 13, 5, 7), (11, 3, 4, 20), (6, 24, 9, 33)]


@pytest.fixture(autouse=True)
def small_knobs(monkeypatch):
    monkeypatch.setattr(config, "NUMBA_SPLIT_MIN_FLOPS", 0)
    monkeypatch.setattr(config, "NUMBA_GEMM_SPLIT_MIN_FLOPS", 0)
    monkeypatch.setattr(config, "NUMBA_OVERLAP_MIN_FLOPS", 0)
    monkeypatch.setattr(config, "NUMBA_SPLIT_MIN_ROWS", 4)
    monkeypatch.setattr(config, "NUMBA_BLOCK_ROWS", 8)  # several time blocks


def _case(rng, cell, T, N, D, H, dtype, proj=0):
    G = {"rnn": 1, "lstm": 4, "gru": 3}[cell]
    P = proj or H
    u = uniform(rng, H, dtype)
    x = rng.standard_normal((T, N, D)).astype(dtype)
    states = [rng.standard_normal((N, P)).astype(dtype)]
    if cell == "lstm":
        states.append(rng.standard_normal((N, H)).astype(dtype))
    weights = [u(G * H, D), u(G * H, P), u(G * H), u(G * H)]
    if proj:
        weights.append(u(P, H))
    ups = [rng.standard_normal((T, N, P)).astype(dtype)]
    if cell == "lstm":
        ups.append(rng.standard_normal((T, N, H)).astype(dtype))
    return x, states, weights, ups


def _run(kernels, cell, case, **kw):
    x, states, weights, ups = case
    *outs, cache = getattr(kernels, f"{cell}_forward")(x, *states, *weights, **kw)
    outs = [o.copy() for o in outs]
    grads = getattr(kernels, f"{cell}_backward")(*ups, cache)
    return outs + [g for g in grads if g is not None]


def _blas_threads(n):
    """BLAS limited to ``n`` threads inside a ``with`` (nothing without threadpoolctl)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - depends on the install
        return contextlib.nullcontext()
    return threadpool_limits(n, user_api="blas")


CELLS = [("rnn", 0), ("lstm", 0), ("lstm", 3), ("gru", 0)]
REFS = {"rnn": ref_rnn, "lstm": ref_lstm, "gru": ref_gru}
KERNELS = {"rnn": numba_rnn, "lstm": numba_lstm, "gru": numba_gru}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("cell, proj", CELLS)
@pytest.mark.parametrize("use_loops", [None, False])
def test_one_thread_and_two_give_the_same_bits(rng, dtype, shape, cell, proj, use_loops):
    case = _case(rng, cell, *shape, dtype, proj)
    with parallel.limited_threads(1), _blas_threads(2):  # BLAS on 2 threads here, on 1 below
        one = _run(KERNELS[cell], cell, case, use_loops=use_loops)
    with parallel.limited_threads(2):
        two = _run(KERNELS[cell], cell, case, use_loops=use_loops)
        again = _run(KERNELS[cell], cell, case, use_loops=use_loops)
    for a, b, c in zip(one, two, again, strict=True):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)
    want = _run(REFS[cell], cell, case)
    for a, w in zip(two, want, strict=True):
        assert a.shape == w.shape and max_rel(a, w) <= TOL[dtype]

"""The promises of the recurrent driver (issue 13 items 3, 7, 8, 9), as properties.

(Written as strict xfails before the driver's changes landed; they passed the day it did.)

* padding (item 3): whatever the padding past ``lengths`` holds (NaN, inf, garbage), the
  valid outputs and every gradient are those of zero padding, and outputs and input
  gradients past each length are exact zeros;
* threads (item 7): a module's backward uses the cache of the forward run in the same
  thread, even when another thread ran a forward in between (or it raises RuntimeError);
* backend agreement (item 8): a float64 array placed in a float32 module's parameters
  gives the same outcome on the NumPy and the Numba backend;
* second backward (item 9): a second ``backward`` after one forward raises RuntimeError.
"""

import importlib.util
import threading

import numpy as np
import pytest

pytest.importorskip("hypothesis")
from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import numrnn as nr  # noqa: E402
from tests.properties.cases import Case, cases, run  # noqa: E402

BACKENDS = ["numpy"] + (["numba"] if importlib.util.find_spec("numba") else [])


# -- padding ----------------------------------------------------------------------------------------
@st.composite
def padded_cases(draw):
    case = draw(cases(lengths=False))
    T = max(case.T, 2)
    lengths = draw(st.lists(st.integers(1, T), min_size=case.N, max_size=case.N))
    lengths[draw(st.integers(0, case.N - 1))] = draw(st.integers(1, T - 1))  # at least one padded step
    case = Case(**{**case.__dict__, "T": T, "unbatched": False, "lengths": tuple(lengths)})
    return case, draw(st.sampled_from([np.nan, np.inf, -np.inf, 1e30, -3e4]))


@pytest.mark.parametrize("backend", BACKENDS)
@given(padded_cases())
def test_padding_never_leaks(backend, drawn):
    case, fill = drawn
    x, states, dout, dstates = case.arrays()
    t_axis = 1 if case.batch_first else 0
    steps = np.arange(case.T).reshape((1, -1) if case.batch_first else (-1, 1))
    past = (steps >= np.asarray(case.lengths)[None if case.batch_first else slice(None)]
            .reshape((-1, 1) if case.batch_first else (1, -1)))  # (N, T) or (T, N): True past the length
    assert past.shape == x.shape[:2] and t_axis in (0, 1)
    x0, xf, d = x.copy(), x.copy(), dout.copy()
    x0[past], xf[past], d[past] = 0, fill, 0
    want = run(case.module(backend), case, x0, states, d, dstates, lengths=case.lengths)
    got = run(case.module(backend), case, xf, states, d, dstates, lengths=case.lengths)
    for k, w in want.items():
        np.testing.assert_array_equal(got[k], w, err_msg=f"{k} with padding {fill}")
    assert not got["out"][past].any() and not got["dx"][past].any()


# -- threads ------------------------------------------------------------------------------------------
def _modules():
    return {
        "RNN": lambda b: nr.RNN(3, 4, backend=b, seed=0),
        "LSTM": lambda b: nr.LSTM(3, 4, backend=b, seed=0),
        "GRU": lambda b: nr.GRU(3, 4, backend=b, seed=0),
        "Linear": lambda b: nr.Linear(3, 4, seed=0),
        "Sequential": lambda b: nr.Sequential(nr.RNN(3, 4, backend=b, seed=0), nr.Linear(4, 2, seed=1)),
    }


#: (kind, backend) pairs; Linear has no backend
KINDS = [(k, b) for k in _modules() for b in BACKENDS if k != "Linear" or b == "numpy"]


def _forward_backward(m, x, dy_seed=0):
    y = m(x)
    out = y[0] if isinstance(y, tuple) else y
    dy = np.random.default_rng(dy_seed).standard_normal(out.shape).astype(out.dtype)
    dx = m.backward(dy)
    return dx[0] if isinstance(dx, tuple) else dx


@pytest.mark.parametrize("kind, backend", KINDS)
def test_a_forward_in_another_thread_does_not_change_this_threads_backward(kind, backend):
    """Thread A runs a forward; thread B runs a forward on other data; thread A's backward
    must still be that of A's forward (or raise RuntimeError), never a silent mix."""
    make = _modules()[kind]
    r = np.random.default_rng(0)
    xa, xb = r.standard_normal((2, 5, 2, 3)).astype(np.float32)
    reference = make(backend)
    want = _forward_backward(reference, xa)
    m = make(backend)
    a_forwarded, b_forwarded, result = threading.Event(), threading.Event(), {}

    def thread_a():
        y = m(xa)
        a_forwarded.set()
        b_forwarded.wait()
        out = y[0] if isinstance(y, tuple) else y
        dy = np.random.default_rng(0).standard_normal(out.shape).astype(out.dtype)
        try:
            dx = m.backward(dy)
            result["dx"] = dx[0] if isinstance(dx, tuple) else dx
        except RuntimeError as exc:
            result["error"] = exc

    def thread_b():
        a_forwarded.wait()
        m(xb)
        b_forwarded.set()

    threads = [threading.Thread(target=thread_a), threading.Thread(target=thread_b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if "error" not in result:
        np.testing.assert_array_equal(result["dx"], want)
        for k, g in reference.grads.items():
            np.testing.assert_array_equal(m.grads[k], g, err_msg=k)


# -- the same outcome on every backend -----------------------------------------------------------------
def _outcome(fn):
    try:
        return "ok", fn()
    except Exception as exc:  # noqa: BLE001 (the kind of outcome is what is compared)
        return type(exc).__name__, None


@pytest.mark.skipif(len(BACKENDS) < 2, reason="needs numba")
@pytest.mark.parametrize("cls", [nr.RNN, nr.LSTM, nr.GRU])
def test_float64_parameters_in_a_float32_module_behave_alike_on_every_backend(cls):
    x = np.random.default_rng(0).standard_normal((4, 2, 3)).astype(np.float32)
    outcomes = []
    for backend in BACKENDS:
        m = cls(3, 4, backend=backend, seed=0)
        m.params["weight_hh_l0"] = m.params["weight_hh_l0"].astype(np.float64)
        outcomes.append(_outcome(lambda m=m: m(x)[0]))
    kinds = [k for k, _ in outcomes]
    assert len(set(kinds)) == 1, f"outcomes differ by backend: {dict(zip(BACKENDS, kinds))}"
    if kinds[0] == "ok":
        np.testing.assert_allclose(outcomes[0][1], outcomes[1][1], rtol=1e-5)


# -- second backward ------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind, backend", KINDS)
def test_a_second_backward_after_one_forward_raises(kind, backend):
    m = _modules()[kind](backend)
    x = np.random.default_rng(0).standard_normal((5, 2, 3)).astype(np.float32)
    _forward_backward(m, x)
    y = m(x)
    out = y[0] if isinstance(y, tuple) else y
    m.backward(np.ones_like(out))
    with pytest.raises(RuntimeError, match="backward"):
        m.backward(np.ones_like(out))

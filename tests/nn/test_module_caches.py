"""The forward's cache: one per thread, used up by one backward (issue 13, items 7 and 9)."""

import threading

import numpy as np
import pytest

import numrnn as nr


def _model():
    return nr.RNN(3, 5, num_layers=2, dtype=np.float64, backend="numpy", seed=0)


def test_second_backward_raises_and_keep_cache_allows_it(rng):
    rnn = _model()
    x = rng.standard_normal((4, 2, 3))
    out, _ = rnn(x)
    rnn.backward(np.ones_like(out))
    once = {k: v.copy() for k, v in rnn.grads.items()}
    with pytest.raises(RuntimeError, match="second time after one forward.*keep_cache=True"):
        rnn.backward(np.ones_like(out))
    for k, v in rnn.grads.items():  # nothing was added by the refused call
        np.testing.assert_array_equal(v, once[k])
    out, _ = rnn(x, keep_cache=True)
    rnn.zero_grad()
    rnn.backward(np.ones_like(out))
    rnn.backward(np.ones_like(out))
    for k, v in rnn.grads.items():
        np.testing.assert_allclose(v, 2 * once[k])


def test_a_refused_backward_leaves_the_cache(rng):
    rnn = _model()
    out, _ = rnn(rng.standard_normal((4, 2, 3)))
    with pytest.raises(ValueError, match="dout must have shape"):
        rnn.backward(np.ones((1, 1, 1)))
    rnn.backward(np.ones_like(out))  # still there


def test_every_module_kind_follows_the_rule(rng):
    cell = nr.LSTMCell(3, 4, dtype=np.float64, seed=0)
    h, c = cell(rng.standard_normal((2, 3)))
    cell.backward((np.ones_like(h), None))
    with pytest.raises(RuntimeError, match="second time"):
        cell.backward((np.ones_like(h), None))


def test_interleaved_threads_each_backward_their_own_forward(rng):
    """Thread A's forward, then thread B's forward, then A's backward: A gets A's gradient."""
    rnn = _model()
    xa, xb = rng.standard_normal((4, 2, 3)), rng.standard_normal((4, 2, 3))
    out, _ = rnn(xa)
    expected_a = rnn.backward(np.ones_like(out))[0]
    a_forward, b_forward = threading.Event(), threading.Event()
    got = {}

    def thread_a():
        out, _ = rnn(xa)
        a_forward.set()
        b_forward.wait()
        got["a"] = rnn.backward(np.ones_like(out))[0]

    def thread_b():
        a_forward.wait()
        out, _ = rnn(xb)
        b_forward.set()
        got["b"] = rnn.backward(np.ones_like(out))[0]

    threads = [threading.Thread(target=f) for f in (thread_a, thread_b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    np.testing.assert_array_equal(got["a"], expected_a)


def test_two_threads_on_one_module_get_their_own_gradients(rng):
    """Each thread's backward uses its own forward's cache: dx is always right."""
    rnn = _model()
    inputs = [rng.standard_normal((4, 2, 3)) for _ in range(8)]
    expected = []
    for x in inputs:
        out, _ = rnn(x)
        expected.append(rnn.backward(np.cos(out))[0])
    rnn.zero_grad()
    errors, barrier = [], threading.Barrier(4)

    def work(k):
        barrier.wait()
        for rep in range(25):
            i = (k + rep) % len(inputs)
            out, _ = rnn(inputs[i])
            dx, _ = rnn.backward(np.cos(out))
            if not np.array_equal(dx, expected[i]):
                errors.append((k, rep))

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    # the gradients of all 100 backward passes were added, none lost
    serial = _model()
    for k in range(4):
        for rep in range(25):
            out, _ = serial(inputs[(k + rep) % len(inputs)])
            serial.backward(np.cos(out))
    for k in serial.grads:
        np.testing.assert_allclose(rnn.grads[k], serial.grads[k], rtol=1e-12, atol=1e-12)


def test_a_float64_parameter_in_a_float32_module_is_refused_on_every_backend(rng):
    for backend in ("numpy", "numba"):
        rnn = nr.RNN(3, 4, backend=backend, seed=0)
        rnn.params["weight_hh_l0"] = rnn.params["weight_hh_l0"].astype(np.float64)
        with pytest.raises(TypeError, match="weight_hh_l0 has dtype float64, but the module is float32"):
            rnn(np.zeros((2, 1, 3), np.float32))

"""The CuPy backend's glue (numrnn/kernels/cupy_rnn.py) and its module boundary, without a GPU.

* The path choice and the clear errors when CuPy, a GPU or Numba's CUDA target is missing.
* The array-kind round trip of ``backend="cupy"`` and ``module.to``, with a stand-in for
  CuPy: NumPy arrays of a subclass that calls itself ``cupy`` (so numrnn's
  ``is_cupy_array`` sees a GPU array) and a module object that wraps NumPy's functions.
  Without Numba's CUDA target the backend then runs the reference path, which is what a
  GPU machine with CuPy but no Numba runs too.
* Under the simulator (``-m cudasim``, ``make test-gpu-sim``): the CUDA-graph protocol of
  stage 1, with NumPy standing in for CuPy and a stand-in capture whose graph replays the
  recorded steps, so that reading a weight from anywhere but the loop's own buffers
  would give a stale answer.
"""

from __future__ import annotations

import os
import types

import numpy as np
import pytest

import numrnn as nr
from numrnn import backend, config
from numrnn.functional import rnn as reference
from numrnn.kernels import cupy_rnn

SIM = os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"
main_process = pytest.mark.skipif(SIM, reason="runs in the main test process")


# -- a stand-in for CuPy ---------------------------------------------------------------------------
class FakeGpuArray(np.ndarray):
    """A NumPy array that numrnn takes for a CuPy array (``type(a).__module__ == "cupy"``)."""

    def get(self):
        """Like ``cupy.ndarray.get()``: a NumPy copy in host memory."""
        return np.array(self, copy=True)


FakeGpuArray.__module__ = "cupy"


def _on_fake_gpu(value):
    if isinstance(value, np.ndarray) and not isinstance(value, FakeGpuArray):
        return value.view(FakeGpuArray)
    if isinstance(value, tuple):
        return tuple(_on_fake_gpu(v) for v in value)
    return value


def make_fake_cupy():
    """A module object with NumPy's functions, returning FakeGpuArray (no ``cuda``)."""
    fake = types.ModuleType("cupy")
    fake.ndarray = FakeGpuArray

    def __getattr__(name):
        obj = getattr(np, name)
        if callable(obj) and not isinstance(obj, type):
            return lambda *a, **k: _on_fake_gpu(obj(*a, **k))
        return obj

    fake.__getattr__ = __getattr__
    return fake


@pytest.fixture
def fake_cupy(monkeypatch):
    """numrnn.backend believes CuPy is installed and has a GPU."""
    fake = make_fake_cupy()
    monkeypatch.setattr(backend, "_cupy", fake)
    monkeypatch.setattr(backend, "_cupy_error", None)
    return fake


@pytest.fixture
def no_cupy(monkeypatch):
    """numrnn.backend believes importing CuPy failed."""
    monkeypatch.setattr(backend, "_cupy", None)
    monkeypatch.setattr(backend, "_cupy_error", ModuleNotFoundError("No module named 'cupy'"))
    monkeypatch.delenv("NUMRNN_BACKEND", raising=False)


def rel(a, b) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-30))


def twins(cls=nr.RNN, **kwargs):
    """A numpy-backend module and a cupy-backend one with the same weights (float64)."""
    kwargs = dict(dict(input_size=3, hidden_size=4, dtype=np.float64, seed=0), **kwargs)
    return cls(backend="numpy", **kwargs), cls(backend="cupy", **kwargs)


# -- errors when something is missing ----------------------------------------------------------------
@main_process
def test_backend_cupy_without_cupy_says_what_is_missing(no_cupy, rng):
    m = nr.RNN(3, 4, backend="cupy")
    with pytest.raises(RuntimeError, match=r"CuPy and an NVIDIA GPU.*numrnn\[gpu\].*No module named 'cupy'"):
        m(rng.standard_normal((2, 1, 3)).astype(np.float32))


@main_process
def test_to_cupy_without_cupy_is_an_error_and_moves_nothing(no_cupy):
    m = nr.RNN(3, 4)
    before = m.state_dict()
    with pytest.raises(RuntimeError, match="CuPy and an NVIDIA GPU"):
        m.to("cupy")
    assert all(type(p) is np.ndarray for p in m.params.values())
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(v, before[k])


@main_process
def test_auto_never_picks_cupy_for_numpy_input(no_cupy, rng):
    m = nr.RNN(3, 4)
    m(rng.standard_normal((2, 1, 3)).astype(np.float32))
    assert m.last_backend in ("numpy", "numba")
    assert backend.resolve_backend("auto", np.zeros(3)) != "cupy"


@main_process
def test_to_refuses_unknown_devices():
    with pytest.raises(ValueError, match="'numpy' .* or 'cupy'"):
        nr.RNN(3, 4).to("tpu")


@main_process
def test_forcing_a_kernel_path_without_numba_cuda_is_an_error(monkeypatch):
    monkeypatch.setattr(cupy_rnn, "kernels_available", lambda: False)
    assert cupy_rnn.choose_path(4, 8, np.float32, "auto") == "reference"
    for path in ("steps", "persistent"):
        with pytest.raises(RuntimeError, match="Numba's CUDA target"):
            cupy_rnn.choose_path(4, 8, np.float32, path)


@main_process
def test_path_choice_follows_shared_memory(monkeypatch):
    monkeypatch.setattr(cupy_rnn, "kernels_available", lambda: True)
    assert cupy_rnn.choose_path(1, 32, np.float32, "auto") == "persistent"
    assert cupy_rnn.choose_path(64, 512, np.float32, "auto") == "steps"
    assert cupy_rnn.choose_path(64, 512, np.float32, "steps") == "steps"
    assert cupy_rnn.choose_path(1, 32, np.float32, "reference") == "reference"
    with pytest.raises(ValueError, match="shared memory"):
        cupy_rnn.choose_path(64, 512, np.float32, "persistent")
    with pytest.raises(ValueError, match="path must be one of"):
        cupy_rnn.choose_path(1, 32, np.float32, "fast")
    monkeypatch.setenv("NUMRNN_CUPY_PATH", "warp")
    with pytest.raises(ValueError, match="NUMRNN_CUPY_PATH"):
        cupy_rnn.choose_path(1, 32, np.float32)


# -- the round trip of array kinds, CuPy stood in for ------------------------------------------------
@main_process
@pytest.mark.parametrize("bidirectional", [False, True])
def test_numpy_in_numpy_out_on_backend_cupy(fake_cupy, rng, bidirectional):
    ref, gpu = twins(num_layers=2, bidirectional=bidirectional, batch_first=True)
    x = rng.standard_normal((2, 5, 3))
    h0 = rng.standard_normal((2 * (1 + bidirectional), 2, 4))
    out_r, hn_r = ref(x, h0)
    out, hn = gpu(x, h0)
    assert gpu.last_backend == "cupy"
    assert type(out) is np.ndarray and type(hn) is np.ndarray
    assert rel(out, out_r) < 1e-12 and rel(hn, hn_r) < 1e-12
    dout, dhn = rng.standard_normal(out.shape), rng.standard_normal(hn.shape)
    dx_r, dh0_r = ref.backward(dout, dhn)
    dx, dh0 = gpu.backward(dout, dhn)
    assert type(dx) is np.ndarray and type(dh0) is np.ndarray
    assert rel(dx, dx_r) < 1e-12 and rel(dh0, dh0_r) < 1e-12
    for k, g in gpu.grads.items():
        assert type(g) is np.ndarray, k  # the module's gradients stay where the module is
        assert rel(g, ref.grads[k]) < 1e-12, k


@main_process
def test_gpu_in_gpu_out(fake_cupy, rng):
    ref, gpu = twins()
    x = rng.standard_normal((4, 2, 3))
    out, hn = gpu(fake_cupy.asarray(x))
    assert isinstance(out, FakeGpuArray) and isinstance(hn, FakeGpuArray)
    dx, dh0 = gpu.backward(fake_cupy.asarray(np.ones(out.shape)))
    assert isinstance(dx, FakeGpuArray) and isinstance(dh0, FakeGpuArray)
    ref(x)
    dx_r, _ = ref.backward(np.ones(out.shape))
    assert rel(dx.get(), dx_r) < 1e-12


@main_process
def test_to_moves_parameters_and_gradients_and_state_dict_stays_numpy(fake_cupy, rng):
    m = nr.RNN(3, 4, num_layers=2, seed=1)  # backend "auto"
    m.to("cupy")
    assert all(isinstance(p, FakeGpuArray) for p in m.params.values())
    assert all(isinstance(g, FakeGpuArray) for g in m.grads.values())
    assert all(type(v) is np.ndarray for v in m.state_dict().values())
    out, _ = m(rng.standard_normal((3, 2, 3)).astype(np.float32))
    assert m.last_backend == "cupy" and type(out) is np.ndarray  # parameters on the GPU decide
    m.backward(np.ones_like(out))
    assert all(isinstance(g, FakeGpuArray) for g in m.grads.values())
    m.load_state_dict(m.state_dict())
    assert all(isinstance(p, FakeGpuArray) for p in m.params.values())
    m.to("numpy")
    assert all(type(p) is np.ndarray for p in m.params.values())
    assert all(type(g) is np.ndarray for g in m.grads.values())


@main_process
def test_numpy_backend_with_parameters_on_the_gpu_is_an_error(fake_cupy, rng):
    m = nr.RNN(3, 4, backend="numpy").to("cupy")
    with pytest.raises(TypeError, match=r"module.to\('numpy'\)"):
        m(rng.standard_normal((3, 2, 3)).astype(np.float32))


@main_process
@pytest.mark.parametrize("cls", [nr.LSTM, nr.GRU])
def test_cells_without_a_gpu_kernel_run_the_reference_on_the_gpu(fake_cupy, rng, cls):
    ref, gpu = twins(cls)
    x = rng.standard_normal((4, 2, 3))
    out_r, _ = ref(x)
    out, _ = gpu(fake_cupy.asarray(x))
    assert isinstance(out, FakeGpuArray) and rel(out.get(), out_r) < 1e-12
    assert gpu.last_kernels == f"numrnn.functional.{cls.__name__.lower()}"


@main_process
def test_gradient_check_passes_on_backend_cupy(fake_cupy, rng):
    m = nr.RNN(3, 4, num_layers=2, bidirectional=True, dtype=np.float64, backend="cupy", seed=3)
    report = nr.check_gradients(m, rng.standard_normal((4, 2, 3)))
    assert report.ok, str(report)


@main_process
def test_reference_path_is_the_reference(rng):
    x, h0 = rng.standard_normal((3, 2, 4)), rng.standard_normal((2, 5))
    w = dict(w_ih=rng.standard_normal((5, 4)), w_hh=rng.standard_normal((5, 5)))
    h, cache = cupy_rnn.forward_on_path("reference", x, h0, **w)
    h_ref, cache_ref = reference.rnn_forward(x, h0, **w)
    np.testing.assert_array_equal(h, h_ref)
    dh = rng.standard_normal(h.shape)
    for g, g_ref in zip(cupy_rnn.backward_on_path(dh, cache), reference.rnn_backward(dh, cache_ref)):
        assert (g is None and g_ref is None) or np.array_equal(g, g_ref)


# -- CUDA-graph protocol of stage 1, under the simulator ------------------------------------------------
class ReplayCapture:
    """Stands in for CUDA-graph capture: the 'graph' replays the recorded function."""

    def __init__(self):
        self.captures = 0
        self.launches = 0

    def __call__(self, record):
        self.captures += 1
        record(0)  # the real capture runs the loop once before capturing it, too
        outer = self

        class Graph:
            def launch(self, stream=None):
                outer.launches += 1
                record(0)

        return Graph()


@pytest.mark.skipif(not SIM, reason="needs NUMBA_ENABLE_CUDASIM=1 (make test-gpu-sim)")
@pytest.mark.cudasim
@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_captured_loop_reads_fresh_weights_and_inputs_every_call(rng, monkeypatch, nonlinearity):
    monkeypatch.setattr(config, "CUDA_ELEMENTWISE_THREADS", 32)
    cupy_rnn.clear_captured_loops()
    capture = ReplayCapture()
    T, N, D, H = 3, 2, 3, 4
    for call in range(3):
        x, h0, dh = (rng.standard_normal(s) for s in ((T, N, D), (N, H), (T, N, H)))
        w = dict(w_ih=rng.standard_normal((H, D)), w_hh=rng.standard_normal((H, H)),
                 b_ih=rng.standard_normal(H), b_hh=rng.standard_normal(H))
        h, cache = cupy_rnn.forward_on_path("steps", x, h0, nonlinearity=nonlinearity, capture=capture, **w)
        grads = cupy_rnn.backward_on_path(dh, cache, capture=capture)
        h_ref, cache_ref = reference.rnn_forward(x, h0, nonlinearity=nonlinearity, **w)
        assert rel(h, h_ref) < 1e-10, call
        for g, g_ref in zip(grads, reference.rnn_backward(dh, cache_ref)):
            assert rel(g, g_ref) < 1e-10, call
    assert capture.captures == 2  # one forward loop, one backward loop, reused
    assert capture.launches == 6


@pytest.mark.skipif(not SIM, reason="needs NUMBA_ENABLE_CUDASIM=1 (make test-gpu-sim)")
@pytest.mark.cudasim
def test_captured_loops_are_per_shape_and_bounded(rng, monkeypatch):
    monkeypatch.setattr(config, "CUDA_ELEMENTWISE_THREADS", 32)
    monkeypatch.setattr(config, "CUDA_GRAPH_CACHE_SIZE", 1)
    cupy_rnn.clear_captured_loops()
    capture = ReplayCapture()
    for T in (2, 3, 2):
        x, h0 = rng.standard_normal((T, 1, 2)), rng.standard_normal((1, 3))
        w = dict(w_ih=rng.standard_normal((3, 2)), w_hh=rng.standard_normal((3, 3)))
        h, _ = cupy_rnn.forward_on_path("steps", x, h0, capture=capture, **w)
        assert h.shape == (T, 1, 3) and rel(h, reference.rnn_forward(x, h0, **w)[0]) < 1e-10
    assert capture.captures == 3  # T=2 was evicted by T=3, so it is captured again
    assert len(cupy_rnn._LOOPS) == 1
    cupy_rnn.clear_captured_loops()


@pytest.mark.skipif(not SIM, reason="needs NUMBA_ENABLE_CUDASIM=1 (make test-gpu-sim)")
@pytest.mark.cudasim
@pytest.mark.parametrize("path", ["persistent", "steps"])
def test_module_runs_the_kernels_with_numpy_standing_in(rng, monkeypatch, path):
    """A 2-layer bidirectional RNN calling cupy_rnn (kernels simulated) directly as its ops."""
    monkeypatch.setattr(config, "CUDA_ELEMENTWISE_THREADS", 32)
    monkeypatch.setattr(config, "PERSISTENT_ROWS_PER_BLOCK", 2)
    monkeypatch.setenv("NUMRNN_CUPY_PATH", path)
    # one thread: the simulated GPU is per thread, and the numpy driver would run the two
    # directions on two (numrnn/parallel.py)
    monkeypatch.setenv("NUMRNN_THREADS", "1")
    ref, m = twins(num_layers=2, bidirectional=True, hidden_size=3)
    m.backend = "numpy"
    x = rng.standard_normal((3, 2, 3))
    out_r, hn_r = ref(x)
    dout = rng.standard_normal(out_r.shape)
    dx_r, dh0_r = ref.backward(dout)
    # the numpy backend's driver, with cupy_rnn as the cell's functions
    monkeypatch.setattr("numrnn.nn.recurrent.get_ops", lambda backend, cell: cupy_rnn)
    out, hn = m(x)
    assert rel(out, out_r) < 1e-10 and rel(hn, hn_r) < 1e-10
    dx, dh0 = m.backward(dout)
    assert rel(dx, dx_r) < 1e-10 and rel(dh0, dh0_r) < 1e-10
    for k, g in m.grads.items():
        assert rel(g, ref.grads[k]) < 1e-10, k

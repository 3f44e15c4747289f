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

import itertools
import os
import types

import numpy as np
import pytest

import numrnn as nr
from numrnn import backend, config
from numrnn.functional import rnn as reference
from numrnn.kernels import cupy_rnn
from tests.kernels import fake_cuda_streams
from tests.kernels.fake_cuda_streams import CaptureError

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
    monkeypatch.setattr(cupy_rnn, "unavailable_reason", lambda: "no CUDA GPU answers Numba")
    with pytest.warns(cupy_rnn.GpuKernelsWarning):
        assert cupy_rnn.choose_path(4, 8, np.float32, "auto") == "reference"
    for path in ("steps", "persistent", "multiblock"):
        with pytest.raises(RuntimeError, match="Numba's CUDA target, NVVM.*no CUDA GPU answers"):
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


@main_process
@pytest.mark.parametrize("N,H", [(1, 32), (32, 128), (64, 512)])  # S1, S4, S6
def test_auto_never_picks_the_multiblock_kernel_but_the_variable_forces_it(monkeypatch, N, H):
    """No GPU measurement has shown stage 3 ahead yet, so only NUMRNN_CUPY_PATH picks it."""
    from numrnn.kernels import cuda_toolchain

    monkeypatch.setattr(cupy_rnn, "kernels_available", lambda: True)
    monkeypatch.setattr(cuda_toolchain, "cudadevrt_path", lambda: "/cuda/lib64/libcudadevrt.a")
    for dtype in (np.float32, np.float64):
        assert cupy_rnn.choose_path(N, H, dtype, "auto") in ("persistent", "steps")
        monkeypatch.setenv("NUMRNN_CUPY_PATH", "multiblock")
        assert cupy_rnn.choose_path(N, H, dtype) == "multiblock"
        monkeypatch.delenv("NUMRNN_CUPY_PATH")
    with pytest.raises(ValueError, match="rows of W_hh .* shared memory"):
        cupy_rnn.choose_path(4, 1536, np.float32, "multiblock")  # S8: 12 rows of 6 KB per block


@main_process
def test_multiblock_without_cudadevrt_is_an_error(monkeypatch):
    from numrnn.kernels import cuda_toolchain

    monkeypatch.setattr(cupy_rnn, "kernels_available", lambda: True)
    monkeypatch.setattr(cuda_toolchain, "cudadevrt_path", lambda: "")
    with pytest.raises(RuntimeError, match="libcudadevrt.a"):
        cupy_rnn.choose_path(32, 128, np.float32, "multiblock")


# -- the toolchain: each missing piece, faked, makes auto fall back with one warning ----------------
@pytest.fixture
def toolchain(monkeypatch):
    """cuda_toolchain with a fresh cache, and a GPU, NVVM and a compiler that all answer:
    each test takes one piece away. Nothing here needs a GPU or the real libraries."""
    from numba import cuda
    from numba.cuda.cudadrv import nvvm

    from numrnn.kernels import cuda_toolchain

    monkeypatch.delenv("NUMRNN_CUPY_PATH", raising=False)
    monkeypatch.setattr(cuda, "is_available", lambda: True)
    monkeypatch.setattr(nvvm, "is_available", lambda: True)
    monkeypatch.setattr(cuda, "compile_ptx_for_current_device", lambda *a, **k: (".entry", None))
    monkeypatch.setattr(cupy_rnn, "_WARNED", set())
    cuda_toolchain.clear()
    yield cuda_toolchain
    cuda_toolchain.clear()


def _falls_back_once(reason_pattern: str) -> None:
    """auto takes the reference with exactly one warning matching the pattern; a path asked
    for by name raises, quoting the same reason."""
    import warnings

    with pytest.warns(cupy_rnn.GpuKernelsWarning, match=reason_pattern) as caught:
        assert cupy_rnn.choose_path(2, 8, np.float32, "auto") == "reference"
    assert len(caught) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert cupy_rnn.choose_path(2, 8, np.float32, "auto") == "reference"  # said once
    for path in ("persistent", "steps", "multiblock"):
        with pytest.raises(RuntimeError, match=reason_pattern):
            cupy_rnn.choose_path(2, 8, np.float32, path)


@main_process
def test_everything_present_means_kernels(toolchain):
    status = toolchain.status()
    assert status.ok and status.problems == () and status.target.startswith("numba-cuda")
    assert cupy_rnn.kernels_available()
    assert cupy_rnn.choose_path(2, 8, np.float32, "auto") == "persistent"


@main_process
def test_without_the_cuda_target_auto_falls_back(toolchain, monkeypatch):
    import sys

    import numba

    monkeypatch.delattr(numba, "cuda")  # `from numba import cuda` then really fails
    monkeypatch.setitem(sys.modules, "numba.cuda", None)
    status = toolchain.status()
    assert not status.ok and status.target == ""
    _falls_back_once(r"CUDA target does not import \((ModuleNotFound|Import)Error.*numba-cuda")


@main_process
def test_without_nvvm_auto_falls_back(toolchain, monkeypatch):
    from numba.cuda.cudadrv import nvvm

    monkeypatch.setattr(nvvm, "is_available", lambda: False)
    _falls_back_once(r"no NVVM.*libnvvm.*numba-cuda\[cu13\]")


@main_process
def test_when_the_compiler_fails_auto_falls_back(toolchain, monkeypatch):
    from numba import cuda

    def no_nvrtc(*args, **kwargs):
        raise OSError('Failure finding "libnvrtc.so.13"')

    monkeypatch.setattr(cuda, "compile_ptx_for_current_device", no_nvrtc)
    _falls_back_once(r"cannot compile a kernel.*libnvrtc")


@main_process
def test_without_a_device_auto_falls_back(toolchain, monkeypatch):
    from numba import cuda

    def broken_driver():
        raise RuntimeError("CUDA driver library cannot be found")

    monkeypatch.setattr(cuda, "is_available", broken_driver)
    _falls_back_once(r"no CUDA GPU answers Numba")


@main_process
def test_every_missing_piece_is_named(toolchain, monkeypatch):
    from numba import cuda
    from numba.cuda.cudadrv import nvvm

    monkeypatch.setattr(cuda, "is_available", lambda: False)
    monkeypatch.setattr(nvvm, "is_available", lambda: False)
    assert len(toolchain.status().problems) == 2


@main_process
def test_the_module_records_the_reference_path_it_took(toolchain, monkeypatch, fake_cupy, rng):
    """A GPU module whose kernels cannot run still runs, warns once and says which path ran."""
    from numba.cuda.cudadrv import nvvm

    monkeypatch.setattr(nvvm, "is_available", lambda: False)
    ref, gpu = twins(num_layers=2)
    x = rng.standard_normal((3, 2, 3))
    with pytest.warns(cupy_rnn.GpuKernelsWarning, match="NVVM"):
        out, _ = gpu(fake_cupy.asarray(x))
    assert rel(out.get(), ref(x)[0]) < 1e-12
    assert gpu.last_kernels.startswith("numrnn.kernels.cupy_rnn")
    assert {c.path for c in _layer_caches(gpu)} == {"reference"}
    assert gpu.last_kernels == "numrnn.kernels.cupy_rnn (reference)"


def _layer_caches(module) -> list:
    """Every (layer, direction) cache the module's last forward kept."""
    return [c for layer in module._cache.stack.layers for c in layer]


@main_process
def test_kernel_stream_is_cupys_current_stream(monkeypatch):
    """The kernels go to the stream CuPy's work is on, named explicitly, never Numba's default."""
    from numba import cuda

    monkeypatch.setattr(cuda, "legacy_default_stream", lambda: "legacy")
    monkeypatch.setattr(cuda, "per_thread_default_stream", lambda: "per-thread")
    monkeypatch.setattr(cuda, "external_stream", lambda ptr: ("external", ptr))
    monkeypatch.setattr(cuda, "default_stream", lambda: pytest.fail("Numba's default stream used"))
    for ptr, expected in ((0, "legacy"), (1, "legacy"), (2, "per-thread"), (0x7F00, ("external", 0x7F00))):
        xp = fake_cuda_streams.FakeCupy(ptr)
        assert cupy_rnn.kernel_stream(xp) == expected
    assert cupy_rnn.kernel_stream(np) == 0  # NumPy standing in: the simulator's stream


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
    T, N, I, H = 3, 2, 3, 4
    for call in range(3):
        x, h0, dh = (rng.standard_normal(s) for s in ((T, N, I), (N, H), (T, N, H)))
        w = dict(w_ih=rng.standard_normal((H, I)), w_hh=rng.standard_normal((H, H)),
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


# -- stage 3 through the module: the parity grid, under the simulator ---------------------------------
GRID = list(itertools.product([1, 2, 3], [False, True], [False, True], [True, False], ["tanh", "relu"]))
PARITY = {np.float64: (1e-10, 1e-9), np.float32: (1e-5, 1e-4)}  # (forward, gradients)


@pytest.mark.skipif(not SIM, reason="needs NUMBA_ENABLE_CUDASIM=1 (make test-gpu-sim)")
@pytest.mark.cudasim
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("layers,bidirectional,batch_first,bias,nonlinearity", GRID)
def test_multiblock_parity_grid(rng, monkeypatch, dtype, layers, bidirectional, batch_first, bias,
                                nonlinearity):
    """The grid of test_cupy_rnn_gpu.py on NUMRNN_CUPY_PATH=multiblock: H = 5 split over two
    blocks of 3 units (the second partly idle), 2 threads for 6 outputs, one launch per step."""
    monkeypatch.setattr(config, "MULTIBLOCK_MAX_BLOCKS", 2)
    monkeypatch.setattr(config, "MULTIBLOCK_THREADS", 2)
    monkeypatch.setenv("NUMRNN_CUPY_PATH", "multiblock")
    kw = dict(input_size=3, hidden_size=5, num_layers=layers, bidirectional=bidirectional,
              batch_first=batch_first, bias=bias, nonlinearity=nonlinearity, dtype=dtype, seed=7)
    ref, m = nr.RNN(backend="numpy", **kw), nr.RNN(backend="numpy", **kw)
    T, N, LD = 3, 2, layers * (2 if bidirectional else 1)
    x = rng.standard_normal((N, T, 3) if batch_first else (T, N, 3)).astype(dtype)
    h0 = rng.standard_normal((LD, N, 5)).astype(dtype)
    out_r, hn_r = ref(x, h0)
    dout, dhn = rng.standard_normal(out_r.shape).astype(dtype), rng.standard_normal(hn_r.shape).astype(dtype)
    dx_r, dh0_r = ref.backward(dout, dhn)
    monkeypatch.setattr("numrnn.nn.recurrent.get_ops", lambda backend, cell: cupy_rnn)
    out, hn = m(x, h0)
    assert {c.path for c in _layer_caches(m)} == {"multiblock"}
    tol_f, tol_b = PARITY[dtype]
    assert rel(out, out_r) < tol_f and rel(hn, hn_r) < tol_f
    dx, dh0 = m.backward(dout, dhn)
    assert rel(dx, dx_r) < tol_b and rel(dh0, dh0_r) < tol_b
    for k, g in m.grads.items():
        assert rel(g, ref.grads[k]) < tol_b, k


# -- streams and graph capture, with CuPy's streams and pool stood in for -----------------------------
def _layer_problem(rng, fake, T=3, N=2, I=3, H=4):
    host = dict(x=rng.standard_normal((T, N, I)), h0=rng.standard_normal((N, H)),
                dh=rng.standard_normal((T, N, H)), w_ih=rng.standard_normal((H, I)),
                w_hh=rng.standard_normal((H, H)), b_ih=rng.standard_normal(H), b_hh=rng.standard_normal(H))
    return host, {k: fake.asarray(v) for k, v in host.items()}


def _check_layer(host, h, grads, nonlinearity="tanh"):
    w = {k: host[k] for k in ("w_ih", "w_hh", "b_ih", "b_hh")}
    h_ref, cache_ref = reference.rnn_forward(host["x"], host["h0"], nonlinearity=nonlinearity, **w)
    assert rel(np.asarray(h), h_ref) < 1e-10
    for g, g_ref in zip(grads, reference.rnn_backward(host["dh"], cache_ref)):
        assert rel(np.asarray(g), g_ref) < 1e-10


@pytest.mark.skipif(not SIM, reason="needs NUMBA_ENABLE_CUDASIM=1 (make test-gpu-sim)")
@pytest.mark.cudasim
@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_graph_capture_allocates_and_synchronises_nothing(rng, monkeypatch, nonlinearity):
    """Stage 1 with CuPy's real capture code (cupy_rnn._cupy_capture): everything the loop
    enqueues while capturing is recorded on the capturing stream, nothing is allocated from
    the pool or synchronised then, and replaying the graph gives the reference's numbers."""
    monkeypatch.setattr(config, "CUDA_ELEMENTWISE_THREADS", 32)
    monkeypatch.setattr(config, "CUDA_GRAPHS", True)
    fake = fake_cuda_streams.install(monkeypatch)
    cupy_rnn.clear_captured_loops()
    for _ in range(3):
        host, dev = _layer_problem(rng, fake)
        w = {k: dev[k] for k in ("w_ih", "w_hh", "b_ih", "b_hh")}
        h, cache = cupy_rnn.forward_on_path("steps", dev["x"], dev["h0"], nonlinearity=nonlinearity, **w)
        grads = cupy_rnn.backward_on_path(dev["dh"], cache)
        _check_layer(host, h, grads, nonlinearity)
    assert fake.captures == 2  # one forward loop, one backward loop, replayed after that
    recorded = [(name, ptr) for name, ptr, captured in fake.launches if captured]
    assert len(recorded) == 2 * 3  # T step kernels forward, T backward: all on the capture stream
    assert len({ptr for _, ptr in recorded}) == 2 and 0 not in {ptr for _, ptr in recorded}
    cupy_rnn.clear_captured_loops()


@pytest.mark.skipif(not SIM, reason="needs NUMBA_ENABLE_CUDASIM=1 (make test-gpu-sim)")
@pytest.mark.cudasim
def test_the_capture_stand_in_catches_allocation_and_synchronisation(monkeypatch):
    """The stand-in above can fail: a capture that allocates, synchronises or launches on
    another stream is an error, as it is in CUDA."""
    fake = fake_cuda_streams.install(monkeypatch)
    capture = cupy_rnn._cupy_capture(fake)
    buf = fake.zeros(4)
    with pytest.raises(CaptureError, match="allocating"):
        capture(lambda stream: fake.add(buf, 1.0))  # a result without out=: a pool allocation
    with pytest.raises(CaptureError, match="allocating"):
        capture(lambda stream: buf.copy())
    with pytest.raises(CaptureError, match="synchronize"):
        capture(lambda stream: fake.cuda.get_current_stream().synchronize())
    with pytest.raises(CaptureError, match="is capturing"):
        capture(lambda stream: fake.enqueue("kernel", lambda: None, stream=fake.streams[0]))
    graph = capture(lambda stream: fake.add(buf, 1.0, out=buf))  # into its own memory: recorded
    assert np.array_equal(buf, [1, 1, 1, 1])  # the warm-up ran once, the capture did not run
    graph.launch()
    graph.launch()
    assert np.array_equal(buf, [3, 3, 3, 3])


@pytest.mark.skipif(not SIM, reason="needs NUMBA_ENABLE_CUDASIM=1 (make test-gpu-sim)")
@pytest.mark.cudasim
@pytest.mark.parametrize("path", ["steps", "persistent", "multiblock"])
@pytest.mark.parametrize("ptr", [0, 0x5000])  # CuPy's null stream, or a stream of the user's
def test_eager_launches_go_to_cupys_current_stream(rng, monkeypatch, path, ptr):
    monkeypatch.setattr(config, "CUDA_ELEMENTWISE_THREADS", 32)
    monkeypatch.setattr(config, "PERSISTENT_ROWS_PER_BLOCK", 2)
    monkeypatch.setattr(config, "MULTIBLOCK_THREADS", 4)
    monkeypatch.setattr(config, "CUDA_GRAPHS", False)  # stage 1 launched step by step
    fake = fake_cuda_streams.install(monkeypatch, current_ptr=ptr)
    host, dev = _layer_problem(rng, fake)
    w = {k: dev[k] for k in ("w_ih", "w_hh", "b_ih", "b_hh")}
    h, cache = cupy_rnn.forward_on_path(path, dev["x"], dev["h0"], **w)
    grads = cupy_rnn.backward_on_path(dev["dh"], cache)
    _check_layer(host, h, grads)
    assert fake.launches and {p for _, p, _ in fake.launches} == {ptr}
    fake.launches.clear()
    with fake.cuda.Stream(non_blocking=True) as user_stream:  # `with stream:` in the caller
        h, cache = cupy_rnn.forward_on_path(path, dev["x"], dev["h0"], **w)
        cupy_rnn.backward_on_path(dev["dh"], cache)
    assert {p for _, p, _ in fake.launches} == {user_stream.ptr}

"""The CuPy backend on a real GPU: the parity grid against the NumPy reference (``make test-gpu``).

Every configuration of layers (1-3) x bidirectional x batch_first x bias x tanh/relu,
on every GPU path (persistent kernel, multi-block kernel, stage 1 with and without
CUDA graphs, the reference on CuPy arrays), float64 within 1e-10 (forward) / 1e-9
(gradients) and float32 within 1e-5 / 1e-4 relative of the numpy backend with the same
weights; the kernels at the benchmark sizes S4 and S6; a stream of the caller's own;
the gradient check. Skipped where CuPy or a GPU is missing; a kernel path fails (it
does not skip) where Numba's CUDA target cannot run, since asking for it by name is an
error: ``benchmarks/gpu_check.sh`` reports why in its probe stage.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import numrnn as nr
from numrnn import backend, config
from numrnn.kernels import cupy_rnn

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(backend.cupy_or_none() is None, reason="needs CuPy and an NVIDIA GPU"),
]

PARITY = {np.float64: (1e-10, 1e-9), np.float32: (1e-5, 1e-4)}  # (forward, gradients)
GRID = list(itertools.product([1, 2, 3], [False, True], [False, True], [True, False], ["tanh", "relu"]))


def rel(a, b) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-30))


@pytest.fixture(params=["persistent", "multiblock", "steps-graph", "steps-eager", "reference"])
def path(request, monkeypatch):
    name = request.param
    monkeypatch.setenv("NUMRNN_CUPY_PATH", name.split("-")[0])
    monkeypatch.setattr(config, "CUDA_GRAPHS", name != "steps-eager")
    cupy_rnn.clear_captured_loops()
    return name.split("-")[0]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("layers,bidirectional,batch_first,bias,nonlinearity", GRID)
def test_parity_grid(path, dtype, layers, bidirectional, batch_first, bias, nonlinearity):
    import cupy as cp

    H = 16 if path == "persistent" else 40
    kw = dict(input_size=5, hidden_size=H, num_layers=layers, bidirectional=bidirectional,
              batch_first=batch_first, bias=bias, nonlinearity=nonlinearity, dtype=dtype, seed=7)
    ref, gpu = nr.RNN(backend="numpy", **kw), nr.RNN(backend="cupy", **kw).to("cupy")
    rng = np.random.default_rng(layers)
    T, N, LD = 7, 3, layers * (2 if bidirectional else 1)
    x = rng.standard_normal((N, T, 5) if batch_first else (T, N, 5)).astype(dtype)
    h0 = rng.standard_normal((LD, N, H)).astype(dtype)
    out_r, hn_r = ref(x, h0)
    out, hn = gpu(cp.asarray(x), cp.asarray(h0))
    assert isinstance(out, cp.ndarray) and gpu.last_backend == "cupy"
    tol_f, tol_b = PARITY[dtype]
    assert rel(out.get(), out_r) < tol_f and rel(hn.get(), hn_r) < tol_f
    dout, dhn = rng.standard_normal(out_r.shape).astype(dtype), rng.standard_normal(hn_r.shape).astype(dtype)
    dx_r, dh0_r = ref.backward(dout, dhn)
    dx, dh0 = gpu.backward(cp.asarray(dout), cp.asarray(dhn))
    assert rel(dx.get(), dx_r) < tol_b and rel(dh0.get(), dh0_r) < tol_b
    for k, g in gpu.grads.items():
        assert rel(g.get(), ref.grads[k]) < tol_b, k


def test_numpy_arrays_on_backend_cupy_come_back_as_numpy(path):
    m = nr.RNN(4, 8, backend="cupy", seed=0)
    out, hn = m(np.ones((5, 2, 4), dtype=np.float32))
    assert type(out) is np.ndarray and type(hn) is np.ndarray
    dx, dh0 = m.backward(np.ones_like(out))
    assert type(dx) is np.ndarray and all(type(g) is np.ndarray for g in m.grads.values())


def test_gradient_check_on_the_gpu(path):
    m = nr.RNN(3, 6, num_layers=2, bidirectional=True, dtype=np.float64, backend="cupy", seed=1)
    report = nr.check_gradients(m, np.random.default_rng(0).standard_normal((5, 2, 3)))
    assert report.ok, str(report)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,N,H", [("S4", 32, 128), ("S6", 64, 512)])
def test_kernels_at_the_benchmark_sizes(path, dtype, name, N, H):
    """The sizes the benchmark times (a short T): W_hh over many blocks, rows over many warps."""
    import cupy as cp

    if path == "persistent" and cupy_rnn._cuda().persistent_launch(N, H, np.dtype(dtype).itemsize) is None:
        pytest.skip(f"W_hh of {name} does not fit one block")
    if path == "multiblock" and cupy_rnn._cuda().multiblock_launch(N, H, np.dtype(dtype).itemsize) is None:
        pytest.skip(f"{name}'s rows of W_hh do not fit the blocks")
    kw = dict(input_size=64, hidden_size=H, dtype=dtype, seed=3)
    ref, gpu = nr.RNN(backend="numpy", **kw), nr.RNN(backend="cupy", **kw).to("cupy")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, N, 64)).astype(dtype)
    dout = rng.standard_normal((8, N, H)).astype(dtype)
    out_r, _ = ref(x)
    dx_r, _ = ref.backward(dout)
    out, _ = gpu(cp.asarray(x))
    dx, _ = gpu.backward(cp.asarray(dout))
    assert gpu.last_kernels == f"numrnn.kernels.cupy_rnn ({path})"  # the path asked for is the path taken
    tol_f, tol_b = PARITY[dtype]
    assert rel(out.get(), out_r) < tol_f
    assert rel(dx.get(), dx_r) < tol_b
    for k, g in gpu.grads.items():
        assert rel(g.get(), ref.grads[k]) < tol_b, k


def test_a_stream_of_the_callers_own(path):
    """Kernels, GEMMs and copies in order on the caller's non-blocking stream."""
    import cupy as cp

    kw = dict(input_size=5, hidden_size=16 if path == "persistent" else 40, dtype=np.float32, seed=5)
    ref, gpu = nr.RNN(backend="numpy", **kw), nr.RNN(backend="cupy", **kw).to("cupy")
    x = np.random.default_rng(1).standard_normal((9, 3, 5)).astype(np.float32)
    out_r, _ = ref(x)
    dx_r, _ = ref.backward(np.ones_like(out_r))
    stream = cp.cuda.Stream(non_blocking=True)
    with stream:
        for _ in range(3):  # graphs: the first call captures, the later ones replay
            out, _ = gpu(cp.asarray(x))
            dx, _ = gpu.backward(cp.ones(out.shape, dtype=cp.float32))
        out_h, dx_h = out.get(stream=stream), dx.get(stream=stream)
    stream.synchronize()
    assert rel(out_h, out_r) < 1e-5 and rel(dx_h, dx_r) < 1e-4

"""The CUDA kernels of numrnn/kernels/cuda_rnn.py against the NumPy reference, without a GPU.

Two ways to check a CUDA kernel on a machine that has none:

* under ``NUMBA_ENABLE_CUDASIM=1`` (``make test-gpu-sim``; the variable must be set
  before Numba is imported, hence a pytest process of its own) Numba's simulator runs
  every kernel body on the CPU, thread by thread, with NumPy arrays: the results are
  compared with ``numrnn.functional.rnn`` (float64 within 1e-10, float32 within 1e-4);
* without the simulator, ``numba.cuda.compile_ptx`` compiles every kernel for a real
  GPU (sm_90) when CUDA's NVVM is installed, and ``ptxas`` assembles the PTX: a typing
  error, a float64 constant in a float32 kernel or too many registers show up here,
  which the simulator (plain Python) would never notice.

Sizes are tiny: the simulator runs one Python thread per CUDA thread.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import numpy as np
import pytest

from numrnn import config
from numrnn.functional import rnn as reference
from numrnn.functional.activations import activation_backward, activation_forward

SIM = os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"
sim = pytest.mark.skipif(not SIM, reason="needs NUMBA_ENABLE_CUDASIM=1 (make test-gpu-sim)")
TOL = {np.float64: 1e-10, np.float32: 1e-4}


@pytest.fixture(autouse=True)
def _small_blocks(monkeypatch):
    """Small thread blocks: the simulator runs one Python thread per CUDA thread."""
    monkeypatch.setattr(config, "CUDA_ELEMENTWISE_THREADS", 32)
    monkeypatch.setattr(config, "PERSISTENT_ROWS_PER_BLOCK", 2)


def rel(a, b) -> float:
    """max |a - b| / max |b|: the relative error of a whole tensor."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-30))


def problem(rng, T, N, D, H, dtype, bias=True):
    """Random inputs, weights and upstream gradients of one layer."""
    def r(*shape, scale=1.0):
        return (scale * rng.standard_normal(shape)).astype(dtype)

    w = dict(w_ih=r(H, D, scale=0.5), w_hh=r(H, H, scale=0.5),
             b_ih=r(H) if bias else None, b_hh=r(H) if bias else None)
    return r(T, N, D), r(N, H), w, r(T, N, H)


# -- the simulator: each kernel against the reference ------------------------------------------
@sim
@pytest.mark.cudasim
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_step_kernels_match_the_activation_and_its_derivative(rng, dtype, nonlinearity):
    from numrnn.kernels import cuda_rnn

    k = cuda_rnn.kernels_for(dtype)
    relu = int(nonlinearity == "relu")
    N, H = 3, 37  # H > 32: two blocks along H, the second partly idle
    xw, hw, dh, dh_next = (rng.standard_normal((N, H)).astype(dtype) for _ in range(4))
    b_ih, b_hh = (rng.standard_normal(H).astype(dtype) for _ in range(2))
    h = np.full((N, H), np.nan, dtype=dtype)
    cuda_rnn.launch_step_forward(k, 0, xw, hw, b_ih, b_hh, h, relu)
    expected_h = activation_forward(xw + hw + b_ih + b_hh, nonlinearity)
    assert rel(h, expected_h) < TOL[dtype]
    da = np.full((N, H), np.nan, dtype=dtype)
    cuda_rnn.launch_step_backward(k, 0, dh, dh_next, h, da, relu)
    assert rel(da, activation_backward(dh + dh_next, h, nonlinearity)) < TOL[dtype]


@sim
@pytest.mark.cudasim
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("N", [1, 5])  # 5 rows, 2 per block: three blocks, the last half idle
def test_persistent_kernels_match_the_reference(rng, dtype, nonlinearity, N):
    from numrnn.kernels import cuda_rnn

    T, D, H = 4, 3, 6
    x, h0, w, dh = problem(rng, T, N, D, H, dtype)
    h_ref, cache = reference.rnn_forward(x, h0, nonlinearity=nonlinearity, **w)
    dx_ref, dh0_ref, *_ = reference.rnn_backward(dh, cache)

    k = cuda_rnn.kernels_for(dtype)
    relu = int(nonlinearity == "relu")
    xw = (x.reshape(T * N, D) @ w["w_ih"].T).reshape(T, N, H)
    h = np.full((T, N, H), np.nan, dtype=dtype)
    cuda_rnn.launch_persistent_forward(k, 0, xw, h0, w["w_hh"], w["b_ih"], w["b_hh"], h, relu)
    assert rel(h, h_ref) < TOL[dtype]

    da = np.full((T, N, H), np.nan, dtype=dtype)
    dh0 = np.full((N, H), np.nan, dtype=dtype)
    cuda_rnn.launch_persistent_backward(k, 0, dh, h, w["w_hh"], da, dh0, relu)
    assert rel(dh0, dh0_ref) < TOL[dtype]
    assert rel(da.reshape(T * N, H) @ w["w_ih"], dx_ref.reshape(T * N, D)) < TOL[dtype]


@sim
@pytest.mark.cudasim
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("path", ["persistent", "steps"])
@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("bias", [True, False])
def test_paths_match_the_reference_forward_and_backward(rng, dtype, path, nonlinearity, bias):
    """The whole contract, rnn_forward/rnn_backward, with NumPy standing in for CuPy."""
    from numrnn.kernels import cupy_rnn

    T, N, D, H = 3, 2, 4, 5
    x, h0, w, dh = problem(rng, T, N, D, H, dtype, bias)
    inputs = [a.copy() for a in (x, h0, dh, *[v for v in w.values() if v is not None])]
    h_ref, cache_ref = reference.rnn_forward(x, h0, nonlinearity=nonlinearity, **w)
    grads_ref = reference.rnn_backward(dh, cache_ref)

    h, cache = cupy_rnn.forward_on_path(path, x, h0, nonlinearity=nonlinearity, **w)
    grads = cupy_rnn.backward_on_path(dh, cache)
    assert cache.path == path
    assert h.dtype == dtype and rel(h, h_ref) < TOL[dtype]
    names = ("dx", "dh0", "dw_ih", "dw_hh", "db_ih", "db_hh")
    for name, g, g_ref in zip(names, grads, grads_ref):
        if g_ref is None:
            assert g is None, name
        else:
            assert g.dtype == dtype and g.shape == g_ref.shape, name
            assert rel(g, g_ref) < TOL[dtype], name
    # kernels never write into their inputs
    after = [a for a in (x, h0, dh, *[v for v in w.values() if v is not None])]
    for before, now in zip(inputs, after):
        np.testing.assert_array_equal(before, now)


@sim
@pytest.mark.cudasim
@pytest.mark.parametrize("path", ["persistent", "steps"])
def test_no_weights_are_remembered_between_calls(rng, path):
    """The gradient checker perturbs weights in place between forwards."""
    from numrnn.kernels import cupy_rnn

    x, h0, w, _ = problem(rng, 2, 2, 3, 4, np.float64)
    cupy_rnn.forward_on_path(path, x, h0, **w)
    w["w_hh"][1, 2] += 0.25  # in place, as check_gradients does
    w["b_hh"][0] -= 0.5
    h, _ = cupy_rnn.forward_on_path(path, x, h0, **w)
    h_ref, _ = reference.rnn_forward(x, h0, **w)
    assert rel(h, h_ref) < 1e-12


# -- compiling for a real GPU, without one -----------------------------------------------------------
def _nvvm_available() -> bool:
    if SIM:
        return False
    try:
        from numba.cuda.cudadrv import nvvm

        return nvvm.is_available()
    except Exception:
        return False


ptx = pytest.mark.skipif(not _nvvm_available(),
                         reason="needs CUDA's NVVM (nvcc's toolkit) and no simulator")


@ptx
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_kernel_compiles_for_sm90(dtype, tmp_path):
    from numba import cuda

    from numrnn.kernels import cuda_rnn

    k = cuda_rnn.kernels_for(dtype)
    signatures = cuda_rnn.signatures(dtype)
    assert set(signatures) == set(k.bodies)
    nvcc = shutil.which("nvcc")
    candidates = [shutil.which("ptxas"), "/usr/local/cuda/bin/ptxas",
                  nvcc and os.path.join(os.path.dirname(os.path.realpath(nvcc)), "ptxas")]
    ptxas = next((p for p in candidates if p and os.path.exists(p)), None)
    for name, body in k.bodies.items():
        code, _ = cuda.compile_ptx(body, signatures[name], cc=(9, 0))
        assert ".entry" in code, name
        if dtype == np.float32:  # no float64 arithmetic sneaks into a float32 kernel
            assert ".f64" not in code, name
        if ptxas:
            src = tmp_path / f"{name}.ptx"
            src.write_text(code)
            run = subprocess.run([ptxas, "-arch=sm_90", str(src), "-o", os.devnull],
                                 capture_output=True, text=True)
            assert run.returncode == 0, f"{name}: {run.stderr}"


# -- launch configurations (plain Python) ---------------------------------------------------------
@pytest.mark.skipif(SIM, reason="runs in the main test process")
def test_persistent_launch_fits_shared_memory():
    from numrnn.kernels import cuda_rnn

    grid, block, smem = cuda_rnn.persistent_launch(N=5, H=32, itemsize=4)
    rows = block[1]
    assert block[0] == 32 and rows * grid[0] >= 5 and (grid[0] - 1) * rows < 5
    assert smem == (32 * 32 + rows * 32) * 4 <= config.PERSISTENT_SMEM_BYTES
    assert cuda_rnn.persistent_launch(N=64, H=128, itemsize=4) is None  # 64 KiB of W_hh
    assert cuda_rnn.persistent_launch(N=64, H=64, itemsize=8) is not None  # 32 KiB
    assert cuda_rnn.persistent_launch(N=64, H=128, itemsize=4, smem_bytes=100 * 1024) is not None


@pytest.mark.skipif(SIM, reason="runs in the main test process")
def test_kernels_for_refuses_other_dtypes():
    from numrnn.kernels import cuda_rnn

    with pytest.raises(TypeError, match="float32 or float64"):
        cuda_rnn.kernels_for(np.float16)

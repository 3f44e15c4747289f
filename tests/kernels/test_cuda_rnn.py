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
import types

import numpy as np
import pytest

from numrnn import config
from numrnn.functional import rnn as reference
from numrnn.functional.activations import activation_backward, activation_forward

SIM = os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"
sim = pytest.mark.skipif(not SIM, reason="needs NUMBA_ENABLE_CUDASIM=1 (make test-gpu-sim)")
TOL = {np.float64: 1e-10, np.float32: 1e-4}
PARITY = {np.float64: (1e-10, 1e-9), np.float32: (1e-5, 1e-4)}  # (forward, gradients)


@pytest.fixture(autouse=True)
def _small_blocks(monkeypatch):
    """Small thread blocks: the simulator runs one Python thread per CUDA thread."""
    monkeypatch.setattr(config, "CUDA_ELEMENTWISE_THREADS", 32)
    monkeypatch.setattr(config, "PERSISTENT_ROWS_PER_BLOCK", 2)


def rel(a, b) -> float:
    """max |a - b| / max |b|: the relative error of a whole tensor."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-30))


def problem(rng, T, N, I, H, dtype, bias=True):
    """Random inputs, weights and upstream gradients of one layer."""
    def r(*shape, scale=1.0):
        return (scale * rng.standard_normal(shape)).astype(dtype)

    w = dict(w_ih=r(H, I, scale=0.5), w_hh=r(H, H, scale=0.5),
             b_ih=r(H) if bias else None, b_hh=r(H) if bias else None)
    return r(T, N, I), r(N, H), w, r(T, N, H)


@sim
@pytest.mark.cudasim
def test_the_simulator_is_numba_cudas():
    """CI runs the kernels on the CUDA target the GPU machines have: numba-cuda (the dev
    extra installs it), not Numba's frozen built-in target."""
    from numrnn.kernels import cuda_toolchain

    status = cuda_toolchain.status()
    assert status.ok and status.simulator
    assert status.target.startswith("numba-cuda"), f"the simulator is {status.target}; pip install numba-cuda"


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

    T, I, H = 4, 3, 6
    x, h0, w, dh = problem(rng, T, N, I, H, dtype)
    h_ref, cache = reference.rnn_forward(x, h0, nonlinearity=nonlinearity, **w)
    dx_ref, dh0_ref, *_ = reference.rnn_backward(dh, cache)

    k = cuda_rnn.kernels_for(dtype)
    relu = int(nonlinearity == "relu")
    xw = (x.reshape(T * N, I) @ w["w_ih"].T).reshape(T, N, H)
    h = np.full((T, N, H), np.nan, dtype=dtype)
    cuda_rnn.launch_persistent_forward(k, 0, xw, h0, w["w_hh"], w["b_ih"], w["b_hh"], h, relu)
    assert rel(h, h_ref) < TOL[dtype]

    da = np.full((T, N, H), np.nan, dtype=dtype)
    dh0 = np.full((N, H), np.nan, dtype=dtype)
    cuda_rnn.launch_persistent_backward(k, 0, dh, h, w["w_hh"], da, dh0, relu)
    assert rel(dh0, dh0_ref) < TOL[dtype]
    assert rel(da.reshape(T * N, H) @ w["w_ih"], dx_ref.reshape(T * N, I)) < TOL[dtype]


@sim
@pytest.mark.cudasim
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("path", ["persistent", "steps"])
@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("bias", [True, False])
def test_paths_match_the_reference_forward_and_backward(rng, dtype, path, nonlinearity, bias):
    """The whole contract, rnn_forward/rnn_backward, with NumPy standing in for CuPy."""
    from numrnn.kernels import cupy_rnn

    T, N, I, H = 3, 2, 4, 5
    x, h0, w, dh = problem(rng, T, N, I, H, dtype, bias)
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


# -- stage 3: the multi-block persistent kernel -----------------------------------------------------
@sim
@pytest.mark.cudasim
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("N", [1, 3])
@pytest.mark.parametrize("max_blocks", [1, 2, 3, 100])
def test_multiblock_kernels_match_the_reference(rng, monkeypatch, dtype, nonlinearity, N, max_blocks):
    """H = 7 split over 1 block (one launch, the grid barrier run by the simulator), 2 blocks
    of 4 units (the last one partly idle), 3 of 3, or 7 of 1 (one launch per step)."""
    from numrnn.kernels import cuda_rnn

    monkeypatch.setattr(config, "MULTIBLOCK_THREADS", 4)  # fewer threads than outputs: each loops
    T, I, H = 4, 3, 7
    x, h0, w, dh = problem(rng, T, N, I, H, dtype)
    h_ref, cache = reference.rnn_forward(x, h0, nonlinearity=nonlinearity, **w)
    dx_ref, dh0_ref, *_ = reference.rnn_backward(dh, cache)

    k = cuda_rnn.kernels_for(dtype)
    relu = int(nonlinearity == "relu")
    plan = cuda_rnn.multiblock_launch(N, H, np.dtype(dtype).itemsize, max_blocks)
    assert plan.blocks == min(max_blocks, H) or (max_blocks == 3 and plan.blocks == 3)
    assert len(cuda_rnn.launch_ranges(0, T, plan.blocks)) == (1 if plan.blocks == 1 else T)
    xw = (x.reshape(T * N, I) @ w["w_ih"].T).reshape(T, N, H)
    h = np.full((T, N, H), np.nan, dtype=dtype)
    cuda_rnn.launch_multiblock_forward(k, 0, xw, h0, w["w_hh"], w["b_ih"], w["b_hh"], h, relu,
                                       max_blocks=max_blocks)
    tol_f, tol_b = PARITY[np.dtype(dtype).type]
    assert rel(h, h_ref) < tol_f

    da = np.full((T, N, H), np.nan, dtype=dtype)
    dh0 = np.full((N, H), np.nan, dtype=dtype)
    cuda_rnn.launch_multiblock_backward(k, 0, dh, h, w["w_hh"], da, dh0, relu, max_blocks=max_blocks)
    assert rel(dh0, dh0_ref) < tol_b
    assert rel(da.reshape(T * N, H) @ w["w_ih"], dx_ref.reshape(T * N, I)) < tol_b


# -- compiling for a real GPU, without one -----------------------------------------------------------
def _compiler_missing() -> str:
    """'' when Numba's CUDA target compiles a tiny kernel for sm_90 here, else why not.

    numba-cuda needs NVVM (``libnvvm``) and NVRTC (it asks NVRTC which architectures
    exist); ``cuda-pathfinder`` finds both in the CUDA toolkit or in the pip wheels.
    """
    if SIM:
        return "the simulator compiles nothing (runs in the main test process)"
    try:
        from numba import cuda

        from numrnn.kernels.cuda_toolchain import _probe_body, array_type

        cuda.compile_ptx(_probe_body, (array_type(np.float32, 1),), cc=(9, 0))
    except Exception as exc:
        return f"Numba cannot compile for sm_90 here: {type(exc).__name__}: {str(exc).splitlines()[0]}"
    return ""


COMPILER_MISSING = _compiler_missing()
KERNELS = ["step_forward", "step_backward", "persistent_forward", "persistent_backward",
           "multiblock_forward", "multiblock_backward"]


def _cuda_tool(name: str):
    """Path of a CUDA binary (ptxas, nvlink): on PATH, in CUDA_HOME, beside nvcc, or /usr/local/cuda."""
    nvcc = shutil.which("nvcc")
    candidates = [shutil.which(name),
                  os.environ.get("CUDA_HOME") and os.path.join(os.environ["CUDA_HOME"], "bin", name),
                  nvcc and os.path.join(os.path.dirname(os.path.realpath(nvcc)), name),
                  f"/usr/local/cuda/bin/{name}"]
    return next((p for p in candidates if p and os.path.exists(p)), None)


@pytest.fixture
def grid_group_without_a_gpu(monkeypatch):
    """Let numba-cuda type ``cuda.cg.this_grid()`` with no GPU.

    numba-cuda compiles that overload as a device function for the *current* device,
    even inside ``compile_ptx``; without a driver there is none, so a stand-in device
    of compute capability 9.0 answers (with a GPU, nothing is replaced).
    """
    from numba import cuda

    from numrnn.kernels.cuda_toolchain import device_answers

    if device_answers(cuda):
        return
    try:
        import numba.cuda.dispatcher as dispatcher
    except ImportError:
        pytest.skip("this CUDA target has no numba.cuda.dispatcher to type the grid group without a GPU")
    if not hasattr(dispatcher, "get_current_device"):
        pytest.skip("this CUDA target types the grid group differently; the GPU run compiles it")
    monkeypatch.setattr(dispatcher, "get_current_device",
                        lambda: types.SimpleNamespace(compute_capability=(9, 0)))


@pytest.mark.ptx
@pytest.mark.skipif(bool(COMPILER_MISSING), reason=COMPILER_MISSING or "compiles")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", KERNELS)
def test_every_kernel_compiles_for_sm90(name, dtype, tmp_path, grid_group_without_a_gpu):
    """numba-cuda types and compiles each kernel (its signature, shared array and constant
    types included) for sm_90; ptxas assembles it; a kernel with a grid barrier links
    against libcudadevrt.a as Numba's linker will on the GPU."""
    from numba import cuda

    from numrnn.kernels import cuda_rnn, cuda_toolchain

    k = cuda_rnn.kernels_for(dtype)
    signatures = cuda_rnn.signatures(dtype)
    assert set(signatures) == set(k.bodies) == set(KERNELS)
    code, _ = cuda.compile_ptx(k.bodies[name], signatures[name], cc=(9, 0))
    assert ".entry" in code and ".target sm_90" in code
    if dtype == np.float32:  # no float64 arithmetic sneaks into a float32 kernel
        assert ".f64" not in code
    uses_grid = "cudaCGSynchronize" in code
    assert uses_grid == name.startswith("multiblock")
    ptxas = _cuda_tool("ptxas")
    if ptxas is None:
        return
    src, obj = tmp_path / f"{name}.ptx", tmp_path / f"{name}.o"
    src.write_text(code)
    run = subprocess.run([ptxas, "-arch=sm_90", "-c", str(src), "-o", str(obj)],
                         capture_output=True, text=True)
    assert run.returncode == 0, f"{name}: {run.stderr}"
    nvlink, devrt = _cuda_tool("nvlink"), cuda_toolchain.cudadevrt_path()
    if uses_grid and nvlink and devrt:
        run = subprocess.run([nvlink, "-arch=sm_90", str(obj), devrt, "-o", str(tmp_path / "k.cubin")],
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
@pytest.mark.parametrize("N,H", [(32, 128), (64, 512)])  # S4 and S6
@pytest.mark.parametrize("itemsize", [4, 8])
def test_multiblock_launch_covers_the_benchmark_sizes(N, H, itemsize):
    from numrnn.kernels import cuda_rnn

    plan = cuda_rnn.multiblock_launch(N, H, itemsize)
    assert plan is not None and plan.blocks <= config.MULTIBLOCK_MAX_BLOCKS
    assert plan.units * plan.blocks >= H > plan.units * (plan.blocks - 1)  # every unit, once
    assert plan.smem == plan.units * (H + 1) * itemsize <= config.PERSISTENT_SMEM_BYTES
    assert plan.threads % 32 == 0 and plan.threads <= config.MULTIBLOCK_THREADS
    fewer = cuda_rnn.multiblock_launch(N, H, itemsize, max_blocks=plan.blocks // 2)  # a smaller GPU
    assert fewer.blocks <= plan.blocks // 2 and fewer.units > plan.units
    assert cuda_rnn.multiblock_launch(1, 20000, 8) is None  # a row of 160 KB


@pytest.mark.skipif(SIM, reason="runs in the main test process")
def test_multiblock_grid_shrinks_to_what_the_gpu_keeps_resident():
    """A cooperative grid must be resident at once: the launch asks the GPU (here a stand-in)."""
    from numrnn.kernels import cuda_rnn

    class Kernel:  # numba's dispatcher: compile(signature) -> the kernel, which knows its limit
        def __init__(self, limit):
            self.limit, self.asked = limit, []

        def compile(self, signature):
            return self

        def max_cooperative_grid_blocks(self, threads, smem):
            self.asked.append((threads, smem))
            return self.limit

    roomy = cuda_rnn._multiblock_plan(Kernel(1000), "multiblock_forward", 64, 512, np.float32, None)
    assert roomy == cuda_rnn.multiblock_launch(64, 512, 4)
    small = Kernel(40)
    plan = cuda_rnn._multiblock_plan(small, "multiblock_forward", 64, 512, np.float32, None)
    assert plan.blocks <= 40 and plan.units * plan.blocks >= 512 and small.asked[0][1] > 0
    with pytest.raises(RuntimeError, match="cannot be resident"):
        cuda_rnn._multiblock_plan(Kernel(0), "multiblock_backward", 64, 512, np.float32, None)


@pytest.mark.skipif(SIM, reason="runs in the main test process")
def test_kernels_for_refuses_other_dtypes():
    from numrnn.kernels import cuda_rnn

    with pytest.raises(TypeError, match="float32 or float64"):
        cuda_rnn.kernels_for(np.float16)

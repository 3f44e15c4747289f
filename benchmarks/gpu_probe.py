"""What a GPU machine has, and whether numrnn's CUDA kernels run on it: stages of gpu_check.sh.

    python benchmarks/gpu_probe.py --env       versions, where NVVM, NVRTC and libcudadevrt are
    python benchmarks/gpu_probe.py             Numba-CUDA + CuPy: the toolchain, a kernel on a
                                               CuPy stream, every GPU path on a small RNN
    python benchmarks/gpu_probe.py --tiny      every kernel path once on tiny shapes (what
                                               compute-sanitizer watches)

Every check is guarded: one that fails prints why and the next one runs. The last line
is ``RESULT: ...`` (gpu_check.sh copies it into its summary); the exit status is 0 when
everything asked for worked, 1 when something failed, 2 when there is no CuPy or GPU.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import traceback
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the checkout, not an install

PACKAGES = ("numpy", "scipy", "numba", "numba-cuda", "llvmlite", "cupy-cuda13x", "cupy-cuda12x", "torch",
            "cuda-bindings", "cuda-core", "cuda-pathfinder", "nvidia-nvvm", "nvidia-cuda-nvrtc",
            "nvidia-cuda-runtime", "jax", "pytest", "pytest-xdist", "pytest-timeout")
KERNEL_PATHS = ("persistent", "multiblock", "steps")


def guarded(label: str, fn, failures: list):
    """Run ``fn()``; on an exception print it under ``label`` and note the failure."""
    try:
        return fn()
    except Exception as exc:  # the probe reports every failure and goes on
        failures.append(label)
        print(f"{label}: FAILED: {type(exc).__name__}: {exc}")
        traceback.print_exc(limit=3, file=sys.stdout)
        return None


# -- --env ------------------------------------------------------------------------------------------
def versions() -> None:
    from importlib.metadata import PackageNotFoundError, version

    print(f"python {platform.python_version()} ({sys.executable}), {platform.platform()}")
    for name in PACKAGES:
        try:
            print(f"  {name} {version(name)}")
        except PackageNotFoundError:
            print(f"  {name}: not installed")
    for var in ("CUDA_HOME", "CUDA_PATH", "NUMBA_CUDA_PER_THREAD_DEFAULT_STREAM", "CUPY_TF32",
                "NUMRNN_CUPY_PATH", "NUMRNN_CUDA_GRAPHS"):
        print(f"  ${var}={os.environ.get(var, '')}")


def cuda_libraries() -> None:
    """Where cuda-pathfinder and Numba find NVVM, NVRTC and libcudadevrt."""
    from cuda import pathfinder

    for lib in ("nvvm", "nvrtc", "cudart"):
        try:
            loaded = pathfinder.load_nvidia_dynamic_lib(lib)
            print(f"  {lib}: {loaded.abs_path} (found via {loaded.found_via})")
        except Exception as exc:
            print(f"  {lib}: NOT FOUND ({type(exc).__name__}: {str(exc).splitlines()[0]})")
    from numba.cuda.cuda_paths import get_cuda_paths

    for name, found in get_cuda_paths().items():
        print(f"  numba {name}: {found}")
    from numrnn.kernels import cuda_toolchain

    print(f"  libcudadevrt.a (the grid barrier): {cuda_toolchain.cudadevrt_path() or 'NOT FOUND'}")


def env() -> int:
    failures: list = []
    versions()
    print("CUDA libraries:")
    guarded("cuda libraries", cuda_libraries, failures)
    print(f"RESULT: {'ok' if not failures else 'missing: ' + ', '.join(failures)}")
    return 0 if not failures else 1


# -- the probe ---------------------------------------------------------------------------------------
def rel(a, b) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-30))


def toolchain():
    from numrnn.kernels import cuda_toolchain

    status = cuda_toolchain.status()
    print(f"Numba CUDA target: {status.target or 'none'}; kernels can run: {status.ok}")
    for problem in status.problems:
        print(f"  missing: {problem}")
    if not status.ok:
        raise RuntimeError(status.reason)
    return status


def device(cp):
    props = cp.cuda.runtime.getDeviceProperties(cp.cuda.Device().id)
    name = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
    optin = props.get("sharedMemPerBlockOptin", 0) // 1024
    print(f"CuPy {cp.__version__}: {name}, sm_{props.get('major')}{props.get('minor')}, "
          f"{props.get('multiProcessorCount')} SMs, {optin} KiB shared per block (opt-in), "
          f"runtime {cp.cuda.runtime.runtimeGetVersion()}, driver {cp.cuda.runtime.driverGetVersion()}")
    from numba import cuda

    print(f"Numba sees: {cuda.get_current_device().name} cc {cuda.get_current_device().compute_capability}")


def kernel_on_a_cupy_stream(cp):
    """One numrnn kernel on a non-blocking CuPy stream, through kernel_stream(), in order with
    CuPy's own work on that stream."""
    from numrnn.kernels import cuda_rnn, cupy_rnn

    k = cuda_rnn.kernels_for(np.float32)
    stream = cp.cuda.Stream(non_blocking=True)
    with stream:
        xw, hw = cp.full((3, 40), 0.25, cp.float32), cp.full((3, 40), 0.5, cp.float32)
        b = cp.zeros(40, cp.float32)
        h = cp.empty((3, 40), cp.float32)
        dv = cuda_rnn.device_view
        cuda_rnn.launch_step_forward(k, cupy_rnn.kernel_stream(cp), dv(xw), dv(hw), dv(b), dv(b), dv(h), 0)
        out = (h * 2).get(stream=stream)
    stream.synchronize()
    err = float(np.abs(out - 2 * np.tanh(0.75)).max())
    print(f"step kernel on CuPy stream {stream.ptr:#x}: max error {err:.1e}")
    if err > 1e-6:
        raise AssertionError(f"wrong result on a CuPy stream: {err}")


def path_on_small_rnn(cp, path: str, T=6, N=3, I=5, H=40):
    """forward + backward of a 2-layer bidirectional RNN on ``path`` against the numpy backend."""
    import numrnn as nr

    os.environ["NUMRNN_CUPY_PATH"] = path
    try:
        kw = dict(input_size=I, hidden_size=H, num_layers=2, bidirectional=True, dtype=np.float32, seed=0)
        ref, gpu = nr.RNN(backend="numpy", **kw), nr.RNN(backend="cupy", **kw).to("cupy")
        rng = np.random.default_rng(0)
        x, dout = rng.standard_normal((T, N, I)).astype(np.float32), None
        out_r, _ = ref(x)
        dout = rng.standard_normal(out_r.shape).astype(np.float32)
        dx_r, _ = ref.backward(dout)
        out, _ = gpu(cp.asarray(x))
        dx, _ = gpu.backward(cp.asarray(dout))
        cache = gpu._cache
        layers = cache["layers"] if isinstance(cache, dict) else cache.layers
        taken = layers[0][0].path
        e_out, e_dx = rel(out.get(), out_r), rel(dx.get(), dx_r)
        e_w = max(rel(g.get(), ref.grads[k]) for k, g in gpu.grads.items())
        print(f"path {path:10s} ran {taken:10s} out {e_out:.1e}  dx {e_dx:.1e}  grads {e_w:.1e}")
        if taken != path or e_out > 1e-5 or max(e_dx, e_w) > 1e-4:
            raise AssertionError(f"{path}: ran {taken}, errors {e_out:.1e} {e_dx:.1e} {e_w:.1e}")
    finally:
        os.environ.pop("NUMRNN_CUPY_PATH", None)


def multiblock_grids():
    """The multi-block kernel's grid at S4 and S6 and how many blocks this GPU keeps resident."""
    from numrnn.kernels import cuda_rnn

    k = cuda_rnn.kernels_for(np.float32)
    for name, (N, H) in {"S4": (32, 128), "S6": (64, 512)}.items():
        plan = cuda_rnn.multiblock_launch(N, H, 4)
        limit = cuda_rnn.max_cooperative_blocks(k.multiblock_forward, cuda_rnn.signatures(np.float32)[
            "multiblock_forward"], plan.threads, plan.smem)
        print(f"multiblock {name}: {plan}; resident at most {limit} blocks")


def probe(paths) -> int:
    from numrnn.backend import cupy_or_none

    cp = cupy_or_none()
    if cp is None:
        from numrnn import backend

        print(f"no CuPy or no GPU: {backend._cupy_error!r}")
        print("RESULT: no CuPy/GPU")
        return 2
    failures: list = []
    guarded("device", lambda: device(cp), failures)
    kernels = guarded("toolchain", toolchain, failures) is not None
    if kernels:
        guarded("kernel on a CuPy stream", lambda: kernel_on_a_cupy_stream(cp), failures)
        guarded("multiblock grid", multiblock_grids, failures)
    for path in paths:
        if path != "reference" and not kernels:
            print(f"path {path}: not run (the kernels cannot run here)")
            continue
        guarded(f"path {path}", lambda p=path: path_on_small_rnn(cp, p), failures)
    ok = "kernels ok" if kernels else "NO KERNELS (auto runs the reference)"
    print(f"RESULT: {ok}; " + ("all checks passed" if not failures else "failed: " + ", ".join(failures)))
    return 0 if not failures else 1


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--env", action="store_true", help="versions and CUDA libraries only")
    ap.add_argument("--tiny", action="store_true",
                    help="kernel paths only, tiny shapes (for compute-sanitizer)")
    args = ap.parse_args(argv)
    if args.env:
        return env()
    if args.tiny:
        return probe(KERNEL_PATHS)
    return probe(KERNEL_PATHS + ("reference",))


if __name__ == "__main__":
    sys.exit(main())

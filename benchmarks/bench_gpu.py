"""numrnn's cupy backend against torch.nn.RNN on CUDA (cuDNN), on the same GPU in the same run.

    python benchmarks/bench_gpu.py [--shapes S1,S4] [--repeats 20] [--out benchmarks/results/gpu.md]

Shapes are (N, T, D, H): batch, time steps, input size, hidden size; one layer, tanh,
float32, the same weights in both (numrnn's state_dict loaded into torch). Two passes:

    forward   out, h_n = rnn(x)
    train     forward, then backward of sum(out * dout) into every weight (no optimizer step)

Timing: CUDA events around each call on the stream the library uses, after warm-up
(which also captures numrnn's CUDA graphs), median of ``--repeats`` (at least 20) runs.
PyTorch runs twice: with TF32 off (``torch.backends.cudnn.allow_tf32 = False`` and
``torch.backends.cuda.matmul.allow_tf32 = False``: the same float32 arithmetic as
numrnn) and with PyTorch's defaults (cuDNN may use TF32 tensor cores), labelled so.
The device, driver and library versions are printed and written with the figures.

Without a GPU (or without CuPy, or with a CPU-only PyTorch) it says which is missing and
exits with status 1, leaving the results file alone.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as hb  # noqa: E402  (the CPU suite's shapes: one list for both)

from numrnn.atomic import atomic_write_text  # noqa: E402

#: name: (N, T, D, H): the CPU suite's S1-S9 plus S8, a large-H shape for the GPU only.
SHAPES = dict(sorted({**hb.SHAPES, "S8": (4, 50, 1536, 1536)}.items()))
WARMUP = 5


def require_gpu():
    """(cupy, torch), or exit 1 with what is missing."""
    problems = []
    cp = torch = None
    try:
        from numrnn.backend import require_cupy

        cp = require_cupy()
    except RuntimeError as exc:
        problems.append(str(exc))
    try:
        import torch as _torch

        torch = _torch
        if not torch.cuda.is_available():
            problems.append(f"PyTorch {torch.__version__} sees no CUDA GPU (a CPU-only build, or no "
                            "driver); install a CUDA build of torch on the GPU machine")
    except ImportError as exc:
        problems.append(f"PyTorch is not installed: {exc}")
    if problems:
        print("bench_gpu: no GPU benchmark possible here; nothing was measured.", file=sys.stderr)
        for p in problems:
            print(f"  - {p}", file=sys.stderr)
        sys.exit(1)
    return cp, torch


def environment(cp, torch) -> list:
    props = cp.cuda.runtime.getDeviceProperties(cp.cuda.Device().id)
    name = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
    from numba import __version__ as numba_version

    import numrnn

    return [
        f"device: {name} (CuPy device {cp.cuda.Device().id}; torch sees {torch.cuda.get_device_name()})",
        f"CUDA runtime {cp.cuda.runtime.runtimeGetVersion()}, driver {cp.cuda.runtime.driverGetVersion()}",
        f"numrnn {numrnn.__version__}, CuPy {cp.__version__}, Numba {numba_version}, "
        f"PyTorch {torch.__version__}, cuDNN {torch.backends.cudnn.version()}",
        f"Python {platform.python_version()}, {platform.platform()}",
    ]


TORCH_DEFAULTS: dict = {}  # PyTorch's own TF32 settings, read before anything changes them
_TF32_FLAGS = (("cudnn", "allow_tf32"), ("cuda.matmul", "allow_tf32"), ("cudnn.rnn", "fp32_precision"),
               ("cuda.matmul", "fp32_precision"))


def _flag_owner(torch, path):
    owner = torch.backends
    for part in path.split("."):
        owner = getattr(owner, part, None)
    return owner


def read_tf32(torch) -> dict:
    """PyTorch's TF32 switches (the old allow_tf32 flags, and fp32_precision where it exists)."""
    out = {}
    for path, attr in _TF32_FLAGS:
        owner = _flag_owner(torch, path)
        if owner is not None and hasattr(owner, attr):
            out[(path, attr)] = getattr(owner, attr)
    return out


def set_tf32(torch, settings) -> None:
    """``None``: TF32 off everywhere (IEEE float32); else restore ``settings``."""
    for path, attr in read_tf32(torch):
        value = settings[(path, attr)] if settings is not None else (
            False if attr == "allow_tf32" else "ieee")
        try:
            setattr(_flag_owner(torch, path), attr, value)
        except (AttributeError, RuntimeError, ValueError):
            pass  # a switch this PyTorch only reads


def time_cuda(fn, event, synchronize, repeats: int) -> float:
    """Median milliseconds of ``fn()`` between two CUDA events, after warm-up."""
    for _ in range(WARMUP):
        fn()
    synchronize()
    times = []
    for _ in range(repeats):
        start, end = event(), event()
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start_end_ms(start, end))
    return statistics.median(times)


def start_end_ms(start, end) -> float:
    if hasattr(start, "elapsed_time"):  # torch.cuda.Event
        return float(start.elapsed_time(end))
    import cupy as cp

    return float(cp.cuda.get_elapsed_time(start, end))


def bench_shape(cp, torch, N, T, D, H, repeats) -> dict:
    import numrnn as nr

    rng = np.random.default_rng(0)
    m = nr.RNN(D, H, backend="cupy", dtype=np.float32, seed=0).to("cupy")
    x_np = rng.standard_normal((T, N, D)).astype(np.float32)
    dout_np = rng.standard_normal((T, N, H)).astype(np.float32)
    x, dout = cp.asarray(x_np), cp.asarray(dout_np)

    def np_forward():
        m(x)

    def np_train():
        out, _ = m(x)
        m.backward(dout)

    t_rnn = torch.nn.RNN(D, H).cuda()
    t_rnn.load_state_dict({k: torch.from_numpy(v) for k, v in m.state_dict().items()})
    tx = torch.from_numpy(x_np).cuda()
    tdout = torch.from_numpy(dout_np).cuda()

    def t_forward():
        with torch.no_grad():
            t_rnn(tx)

    def t_train():
        out, _ = t_rnn(tx)
        out.backward(tdout)

    out, _ = m(x)
    set_tf32(torch, None)
    with torch.no_grad():
        t_out, _ = t_rnn(tx)
    parity = float(cp.abs(out - cp.asarray(t_out.cpu().numpy())).max() / cp.abs(out).max())
    path = m._cache["layers"][0][0].path

    row = dict(path=path, parity=parity)
    for label, fn in (("forward", np_forward), ("train", np_train)):
        row[f"numrnn_{label}"] = time_cuda(fn, cp.cuda.Event, cp.cuda.Device().synchronize, repeats)
    for tf32 in (False, True):
        set_tf32(torch, TORCH_DEFAULTS if tf32 else None)
        tag = "tf32" if tf32 else "fp32"
        for label, fn in (("forward", t_forward), ("train", t_train)):
            row[f"torch_{tag}_{label}"] = time_cuda(
                fn, lambda: torch.cuda.Event(enable_timing=True), torch.cuda.synchronize, repeats)
    return row


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shapes", default=",".join(SHAPES), help="comma-separated names, e.g. S1,S4")
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "gpu.md"))
    args = ap.parse_args(argv)
    if args.repeats < 20:
        ap.error("--repeats must be at least 20 (the figures are medians of >= 20 runs)")
    names = [s.strip() for s in args.shapes.split(",") if s.strip()]
    unknown = [s for s in names if s not in SHAPES]
    if unknown:
        ap.error(f"unknown shapes {unknown}; choose from {', '.join(SHAPES)}")
    cp, torch = require_gpu()
    TORCH_DEFAULTS.update(read_tf32(torch))
    env = environment(cp, torch) + [
        "PyTorch's default TF32 settings: "
        + ", ".join(f"{p}.{a}={v!r}" for (p, a), v in TORCH_DEFAULTS.items())]
    print("\n".join(env))

    header = ("| shape | N, T, D, H | numrnn path | pass | numrnn ms | torch TF32 off ms | ratio "
              "| torch default TF32 ms | ratio | max rel diff |")
    lines = [header, "|" + "---|" * 10]
    for name in names:
        N, T, D, H = SHAPES[name]
        r = bench_shape(cp, torch, N, T, D, H, args.repeats)
        for label in ("forward", "train"):
            ours, off, on = r[f"numrnn_{label}"], r[f"torch_fp32_{label}"], r[f"torch_tf32_{label}"]
            line = (f"| {name} | {N}, {T}, {D}, {H} | {r['path']} | {label} | {ours:.3f} | {off:.3f} | "
                    f"{ours / off:.2f}x | {on:.3f} | {ours / on:.2f}x | {r['parity']:.1e} |")
            print(line, flush=True)
            lines.append(line)

    text = "\n".join([
        "# GPU benchmarks: numrnn cupy backend vs torch.nn.RNN (cuDNN)",
        "",
        "Written by `make bench-gpu` (benchmarks/bench_gpu.py). One layer, tanh, float32, same "
        "weights; CUDA-event timing after warm-up, median of "
        f"{args.repeats} runs; ratio = numrnn / torch (below 1: numrnn is faster). "
        "`train` is forward plus backward into every weight, no optimizer step.",
        "",
        *[f"- {e}" for e in env],
        "",
        *lines,
        "",
    ])
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out, text)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

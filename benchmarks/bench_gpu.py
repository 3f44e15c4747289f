"""numrnn's cupy backend against torch.nn.RNN on CUDA (cuDNN), on the same GPU in the same run.

    python benchmarks/bench_gpu.py [--shapes S1,S4,S6] [--paths auto,persistent,multiblock,steps]
                                   [--repeats 20] [--out benchmarks/results/gpu.md]

Shapes are (N, T, I, H): batch, time steps, input size, hidden size; one layer, tanh,
float32, the same weights in both (numrnn's state_dict loaded into torch). Two passes:

    forward   out, h_n = rnn(x)   (PyTorch under no_grad, its fastest forward)
    train     gradients reset, forward, then backward of sum(out * dout) into the input and
              every weight (no optimizer step), as in the CPU suite (benchmarks/README.md)

numrnn runs on each GPU path asked for that applies to the shape (``auto`` is what a user
gets; ``NUMRNN_CUPY_PATH`` forces the others). A kernel path that fails is reported and
the next one runs; when no kernel path ran (no Numba CUDA target, no NVVM, a launch that
fails), the reference path on CuPy is timed instead, and the table says so.

Timing: CUDA events around each call on the stream the library uses, after warm-up
(which also compiles numrnn's kernels and captures its CUDA graphs), median of
``--repeats`` (at least 20) runs. PyTorch runs twice: with TF32 off (the same IEEE
float32 arithmetic as numrnn, whose CuPy GEMMs run without TF32 unless ``CUPY_TF32=1``)
and with PyTorch's own defaults (cuDNN's RNN may use TF32), labelled so. TF32 is
switched through the one API the running PyTorch has: ``fp32_precision`` (2.9 and
later, where touching the old flags as well can raise) or ``allow_tf32`` before it;
the switch is restored afterwards and never raises (a switch it could not set is named
in the output). The table is rewritten after each shape, so a run cut short keeps what
it measured. Without a GPU (or without CuPy, or with a CPU-only PyTorch) it says which
is missing and exits with status 1, leaving the results file alone.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import traceback
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))  # the checkout, not an install
import harness as hb  # noqa: E402  (the CPU suite's shapes: one list for both)

from numrnn.atomic import atomic_write_text  # noqa: E402

#: name: (N, T, I, H): the CPU suite's S1-S9 plus S8, a large-H shape for the GPU only.
SHAPES = dict(sorted({**hb.SHAPES, "S8": (4, 50, 1536, 1536)}.items()))
PATHS = ("auto", "persistent", "multiblock", "steps", "reference")
#: The issue's goals for the training step, numrnn / cuDNN (TF32 off): at most this ratio.
GOALS = {"S1": 1.0, "S4": 1.0, "S6": 1.2}
WARMUP = 5
MIN_REPEATS = 20  # the figures are medians of at least this many runs


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
        print("RESULT: no GPU benchmark possible (CuPy, a GPU or CUDA PyTorch missing)")
        sys.exit(1)
    return cp, torch


def environment(cp, torch) -> list:
    from importlib.metadata import PackageNotFoundError, version

    import numrnn
    from numrnn.kernels import cuda_toolchain

    props = cp.cuda.runtime.getDeviceProperties(cp.cuda.Device().id)
    name = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
    try:
        numba_cuda = version("numba-cuda")
    except PackageNotFoundError:
        numba_cuda = "not installed"
    status = cuda_toolchain.status()
    return [
        f"device: {name}, sm_{props.get('major')}{props.get('minor')}, "
        f"{props.get('multiProcessorCount')} SMs "
        f"(CuPy device {cp.cuda.Device().id}; torch sees {torch.cuda.get_device_name()})",
        f"CUDA runtime {cp.cuda.runtime.runtimeGetVersion()}, driver {cp.cuda.runtime.driverGetVersion()}",
        f"numrnn {numrnn.__version__}, CuPy {cp.__version__} (CUPY_TF32={os.environ.get('CUPY_TF32', '0')}), "
        f"Numba {version('numba')}, numba-cuda {numba_cuda}, PyTorch {torch.__version__}, "
        f"cuDNN {torch.backends.cudnn.version()}",
        f"numrnn's CUDA kernels: {'can run' if status.ok else 'CANNOT RUN: ' + status.reason}",
        f"Python {platform.python_version()}, {platform.platform()}",
    ]


# -- TF32: one API, read and restored, never raising ---------------------------------------------------
#: (owner under torch.backends, attribute, the value that means IEEE float32)
TF32_NEW = (("cuda.matmul", "fp32_precision", "ieee"), ("cudnn.rnn", "fp32_precision", "ieee"))
TF32_OLD = (("cuda.matmul", "allow_tf32", False), ("cudnn", "allow_tf32", False))


def _flag_owner(torch, path):
    owner = torch.backends
    for part in path.split("."):
        owner = getattr(owner, part, None)
        if owner is None:
            return None
    return owner


def _has(owner, attr) -> bool:
    """``hasattr`` that treats a getter raising (a PyTorch refusing mixed APIs) as absent."""
    try:
        return owner is not None and hasattr(owner, attr)
    except Exception:
        return False


def tf32_switches(torch) -> tuple:
    """The switches of the one TF32 API this PyTorch has: ``fp32_precision`` (2.9+) when it
    has both of them, else the old ``allow_tf32`` flags (never a mix of the two)."""
    if all(_has(_flag_owner(torch, p), a) for p, a, _ in TF32_NEW):
        return TF32_NEW
    return tuple(s for s in TF32_OLD if _has(_flag_owner(torch, s[0]), s[1]))


def read_tf32(torch) -> dict:
    """{(owner, attribute): value} of the switches :func:`tf32_switches` names."""
    out = {}
    for path, attr, _ in tf32_switches(torch):
        try:
            out[(path, attr)] = getattr(_flag_owner(torch, path), attr)
        except Exception:  # a switch this PyTorch will not read: left alone
            pass
    return out


def set_tf32(torch, settings) -> list:
    """``None``: TF32 off (IEEE float32) on every switch; else restore ``settings`` (from
    :func:`read_tf32`). Returns what could not be set, in words; never raises."""
    problems = []
    for path, attr, ieee in tf32_switches(torch):
        if settings is not None and (path, attr) not in settings:
            continue
        value = ieee if settings is None else settings[(path, attr)]
        try:
            setattr(_flag_owner(torch, path), attr, value)
        except Exception as exc:
            problems.append(f"torch.backends.{path}.{attr} = {value!r} failed: {type(exc).__name__}: {exc}")
    return problems


# -- timing ---------------------------------------------------------------------------------------------
def time_cuda(fn, event, synchronize, elapsed_ms, repeats: int) -> float:
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
        times.append(float(elapsed_ms(start, end)))
    return statistics.median(times)


def path_applies(path: str, N: int, H: int) -> bool:
    """Whether a forced kernel path can take this shape (float32)."""
    from numrnn.kernels import cuda_rnn

    if path == "persistent":
        return cuda_rnn.persistent_launch(N, H, 4) is not None
    if path == "multiblock":
        return cuda_rnn.multiblock_launch(N, H, 4) is not None
    return True


def layer_path(m) -> str:
    """The GPU path(s) the module's last forward took: ``m.last_kernels`` ends with them
    in brackets (``numrnn.kernels.cupy_rnn (steps)``)."""
    text = m.last_kernels or ""
    return text[text.index("(") + 1:-1] if text.endswith(")") else "?"


def bench_numrnn(cp, N, T, I, H, path, x, dout, repeats) -> dict:
    """numrnn's forward and training step on ``path``; raises when the path fails."""
    import numrnn as nr

    if path == "auto":
        os.environ.pop("NUMRNN_CUPY_PATH", None)
    else:
        os.environ["NUMRNN_CUPY_PATH"] = path
    try:
        m = nr.RNN(I, H, backend="cupy", dtype=np.float32, seed=0).to("cupy")

        def forward():
            m(x)

        def train():
            m.zero_grad()
            m(x)
            m.backward(dout)

        out, _ = m(x)
        m.backward(dout)
        cp.cuda.Device().synchronize()  # a kernel that fails, fails here
        row = dict(taken=layer_path(m), out=out)
        for label, fn in (("forward", forward), ("train", train)):
            row[label] = time_cuda(fn, cp.cuda.Event, cp.cuda.Device().synchronize,
                                   cp.cuda.get_elapsed_time, repeats)
        return row
    finally:
        os.environ.pop("NUMRNN_CUPY_PATH", None)


def bench_torch(torch, N, T, I, H, state, x_np, dout_np, repeats) -> tuple:
    """cuDNN's forward and training step, TF32 off and at PyTorch's defaults; and its output."""
    t_rnn = torch.nn.RNN(I, H).cuda()
    t_rnn.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
    tx, tdout = torch.from_numpy(x_np).cuda(), torch.from_numpy(dout_np).cuda()

    def forward():
        with torch.no_grad():
            t_rnn(tx)

    def train():
        t_rnn.zero_grad(set_to_none=True)
        out, _ = t_rnn(tx)
        out.backward(tdout)

    times, problems = {}, []
    for tf32 in (False, True):
        problems += set_tf32(torch, TORCH_DEFAULTS if tf32 else None)
        for label, fn in (("forward", forward), ("train", train)):
            times[("tf32" if tf32 else "fp32", label)] = time_cuda(
                fn, lambda: torch.cuda.Event(enable_timing=True), torch.cuda.synchronize,
                lambda start, end: start.elapsed_time(end), repeats)
    problems += set_tf32(torch, None)
    with torch.no_grad():
        t_out, _ = t_rnn(tx)
    problems += set_tf32(torch, TORCH_DEFAULTS)
    return times, t_out.cpu().numpy(), problems


def bench_shape(cp, torch, name, paths, repeats, notes) -> list:
    """Table rows of one shape: every path that applies, against cuDNN."""
    import numrnn as nr

    N, T, I, H = SHAPES[name]
    rng = np.random.default_rng(0)
    x_np = rng.standard_normal((T, N, I)).astype(np.float32)
    dout_np = rng.standard_normal((T, N, H)).astype(np.float32)
    x, dout = cp.asarray(x_np), cp.asarray(dout_np)
    state = nr.RNN(I, H, dtype=np.float32, seed=0).state_dict()  # seed 0: the weights numrnn uses
    t_times, t_out, problems = bench_torch(torch, N, T, I, H, state, x_np, dout_np, repeats)
    notes += [f"{name}: {p}" for p in problems]

    results, kernel_ran = [], False
    for path in paths:
        if path == "reference" and kernel_ran:
            continue  # the reference is timed when asked for alone, or when no kernel ran
        if path not in ("auto", "reference") and not path_applies(path, N, H):
            continue
        try:
            r = bench_numrnn(cp, N, T, I, H, path, x, dout, repeats)
        except Exception as exc:
            msg = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:300]
            notes.append(f"{name}: path {path} FAILED: {msg}")
            print(f"{name} {path}: FAILED: {msg}", flush=True)
            traceback.print_exc(limit=4)
            continue
        label = path if r["taken"] == path else f"{path} -> {r['taken']}"
        if path == "auto" and r["taken"] == "reference":
            from numrnn.kernels import cupy_rnn

            notes.append(f"{name}: auto ran the reference path: {cupy_rnn.unavailable_reason()}")
        kernel_ran |= r["taken"] != "reference"
        results.append((label, r))
    if not kernel_ran and "reference" not in {r["taken"] for _, r in results}:
        notes.append(f"{name}: no kernel path ran; the reference path on CuPy is timed instead")
        try:
            results.append(("reference (kernels failed)", bench_numrnn(cp, N, T, I, H, "reference", x, dout,
                                                                         repeats)))
        except Exception as exc:
            notes.append(f"{name}: the reference path FAILED too: {type(exc).__name__}: {exc}"[:300])

    rows = []
    for label, r in results:
        parity = float(cp.abs(r["out"] - cp.asarray(t_out)).max() / cp.abs(r["out"]).max())
        for pas in ("forward", "train"):
            ours, off, on = r[pas], t_times[("fp32", pas)], t_times[("tf32", pas)]
            rows.append(dict(shape=name, path=label, taken=r["taken"], pas=pas, ours=ours, off=off, on=on,
                             parity=parity))
    return rows


def row_line(r) -> str:
    N, T, I, H = SHAPES[r["shape"]]
    return (f"| {r['shape']} | {N}, {T}, {I}, {H} | {r['path']} | {r['pas']} | {r['ours']:.3f} | "
            f"{r['off']:.3f} | {r['ours'] / r['off']:.2f}x | {r['on']:.3f} | {r['ours'] / r['on']:.2f}x | "
            f"{r['parity']:.1e} |")


def goal_lines(rows) -> list:
    """The issue's goals, against the best kernel path of each goal shape (train, TF32 off)."""
    out = []
    for shape, goal in GOALS.items():
        mine = [r for r in rows if r["shape"] == shape and r["pas"] == "train" and r["taken"] != "reference"]
        if not mine:
            if any(r["shape"] == shape for r in rows):
                out.append(f"- {shape}: no kernel path ran (goal: at most {goal:.1f}x cuDNN): NOT MET")
            continue
        best = min(mine, key=lambda r: r["ours"] / r["off"])
        ratio = best["ours"] / best["off"]
        verdict = "met" if ratio <= goal else "NOT MET"
        out.append(f"- {shape}: best {best['path']} {ratio:.2f}x cuDNN's training step, TF32 off "
                   f"(goal: {'faster than' if goal == 1.0 else f'at most {goal:.1f}x'} cuDNN): {verdict}")
    return out


def render(args, env, rows, notes, complete: bool) -> str:
    header = ("| shape | N, T, I, H | numrnn path | pass | numrnn ms | cuDNN TF32 off ms | ratio "
              "| cuDNN default TF32 ms | ratio | max rel diff (fwd, TF32 off) |")
    return "\n".join([
        "# GPU benchmarks: numrnn cupy backend vs torch.nn.RNN (cuDNN)",
        "",
        "Written by benchmarks/bench_gpu.py (`make bench-gpu`, or `benchmarks/gpu_check.sh`). One layer, "
        "tanh, float32, same weights; CUDA-event timing after warm-up, median of "
        f"{args.repeats} runs; ratio = numrnn / cuDNN (below 1: numrnn is faster). `train` is forward "
        "plus backward into every weight, no optimizer step. `a -> b`: path a was asked for and b ran.",
        "" if complete else "\n**Incomplete: the run stopped before every shape was measured.**",
        *[f"- {e}" for e in env],
        "",
        header,
        "|" + "---|" * 10,
        *[row_line(r) for r in rows],
        "",
        "Goals (issue 11):",
        *goal_lines(rows),
        *(["", "Notes:", *[f"- {n}" for n in notes]] if notes else []),
        "",
    ])


TORCH_DEFAULTS: dict = {}  # PyTorch's own TF32 settings, read before anything changes them


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shapes", default=",".join(SHAPES), help="comma-separated names, e.g. S1,S4")
    ap.add_argument("--paths", default="auto,persistent,multiblock,steps",
                    help=f"numrnn GPU paths to time, from {', '.join(PATHS)}")
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "gpu.md"))
    args = ap.parse_args(argv)
    if args.repeats < MIN_REPEATS:
        ap.error(f"--repeats must be at least {MIN_REPEATS} (the figures are medians of that many runs)")
    names = [s.strip() for s in args.shapes.split(",") if s.strip()]
    unknown = [s for s in names if s not in SHAPES]
    if unknown:
        ap.error(f"unknown shapes {unknown}; choose from {', '.join(SHAPES)}")
    paths = [p.strip() for p in args.paths.split(",") if p.strip()]
    if not paths or any(p not in PATHS for p in paths):
        ap.error(f"--paths takes names from {', '.join(PATHS)}; got {args.paths!r}")
    cp, torch = require_gpu()
    TORCH_DEFAULTS.update(read_tf32(torch))
    env = environment(cp, torch) + [
        "PyTorch's TF32 switches (the API this PyTorch has), as found: "
        + ", ".join(f"torch.backends.{p}.{a}={v!r}" for (p, a), v in TORCH_DEFAULTS.items())
        + "; TF32 off sets each to IEEE float32"]
    print("\n".join(env), flush=True)

    rows, notes = [], []
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(names):
        for r in bench_shape(cp, torch, name, paths, args.repeats, notes):
            print(row_line(r), flush=True)
            rows.append(r)
        atomic_write_text(args.out, render(args, env, rows, notes, complete=i == len(names) - 1))
    print(f"wrote {args.out}")
    failed = [n for n in notes if "FAILED" in n]
    kernel_rows = {r["shape"] for r in rows if r["taken"] != "reference"}
    print(f"RESULT: {len(rows)} rows over {len(names)} shapes; kernels timed on "
          f"{len(kernel_rows)}/{len(names)} shapes; {len(failed)} path(s) failed")
    return 0 if rows else 1


if __name__ == "__main__":
    sys.exit(main())

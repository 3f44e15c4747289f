"""numrnn (numba and numpy backends) against torch.nn on the CPU, same weights, same threads.

    python benchmarks/bench_cpu.py [--cells rnn,lstm,gru] [--shapes S1,S4] [--dtypes float32]
                                   [--reps 10] [--threads 2] [--no-sweep] [--out benchmarks/results]

For every cell, shape (B, T, I, H), dtype and mode (``forward``; ``train`` = forward +
backward of sum(out * dout) into every parameter) it times torch, numrnn's numba
backend and numrnn's numpy reference (median of ``--reps`` runs after 2 warm-up runs;
the numpy reference gets fewer runs and skips the largest shapes, marked in the
table), checks that numrnn's outputs agree with torch's, and writes
``{out}/cpu_{cell}.md``, ``.csv`` and ``_ratio.png`` (PyTorch time / numrnn time per
shape). The training step of the numba backend is also timed on one thread (numrnn's
and BLAS's), and on the bidirectional shapes B4 and B6 with the two directions one
after the other: the ``threads`` column says which. Rules: benchmarks/README.md; the
harness: benchmarks/harness.py.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as hb  # noqa: E402

#: The reference backend runs a Python loop of small GEMMs: it gets this many runs and
#: is skipped on the shapes below (it would take most of the 15-minute budget alone).
NUMPY_REPS = 3
NUMPY_SKIP = {"S6", "S7", "S9", "H512", "H1024", "B4", "B6"}
#: Goals, training step: (shape, dtype, kind, value, issue). Kinds: "torch": PyTorch's
#: time / numba's >= value; "peak": numba's GFLOP/s >= value x the run's best GEMM peak;
#: "in turn": numba's time with the two directions one after the other / numba's time
#: >= value. Issue 3 (RNN), issue 5 (LSTM/GRU at batch 1 and 16), issue 12 (this work;
#: the GRU goals are 1.5 x the ratios of the committed run c148ddd).
GOALS = {
    "rnn": [("S1", "float32", "torch", 40.0, 3), ("S1", "float64", "torch", 20.0, 3),
            ("S3", "float32", "torch", 3.0, 3), ("S4", "float32", "torch", 3.0, 12),
            ("S6", "float32", "torch", 1.1, 3), ("S7", "float32", "torch", 1.0, 3),
            ("S6", "float32", "peak", 0.80, 12), ("S7", "float32", "peak", 0.85, 12),
            ("B4", "float32", "in turn", 1.6, 12), ("B6", "float32", "in turn", 1.6, 12)],
    "lstm": [("S1", "float32", "torch", 1.0, 12), ("S3", "float32", "torch", 1.2, 12),
             ("S4", "float32", "torch", 1.2, 12), ("S6", "float32", "torch", 1.0, 12),
             ("S1", "float64", "torch", 10.0, 5), ("S3", "float64", "torch", 10.0, 5),
             ("S4", "float64", "torch", 1.0, 12), ("S6", "float64", "torch", 1.0, 12),
             ("B4", "float32", "in turn", 1.6, 12), ("B6", "float32", "in turn", 1.6, 12)],
    "gru": [("S1", "float32", "torch", 10.0, 5), ("S1", "float64", "torch", 10.0, 5),
            ("S3", "float32", "torch", 11.3, 12), ("S4", "float32", "torch", 2.8, 12),
            ("S3", "float64", "torch", 7.8, 12), ("S4", "float64", "torch", 2.85, 12),
            ("B4", "float32", "in turn", 1.6, 12), ("B6", "float32", "in turn", 1.6, 12)],
}
#: Shapes each cell runs on when ``--shapes`` is not given (``make bench``): every shape
#: for the RNN; four for LSTM and GRU, which keeps ``make bench`` under 15 minutes.
DEFAULT_SHAPES = {"rnn": ",".join(hb.SHAPES), "lstm": "S1,S3,S4,S6,B4,B6", "gru": "S1,S3,S4,S6,B4,B6"}
#: Cells that also run the H sweep (B=32, T=100, I=H, float32) unless ``--no-sweep``.
SWEEP_CELLS = ("rnn",)
AGREE_TOL = {"float32": 1e-4, "float64": 1e-9}
COLUMNS = ["cell", "shape", "B", "T", "I", "H", "dtype", "mode", "impl", "threads", "ms", "us_per_step",
           "gflops", "peak_share", "torch_over_this", "agree_max_rel", "note"]


@contextlib.contextmanager
def one_thread():
    """numrnn's threads and every BLAS pool held to one thread."""
    from threadpoolctl import threadpool_limits

    from numrnn import parallel

    with parallel.limited_threads(1), threadpool_limits(1, user_api="blas"):
        yield


@contextlib.contextmanager
def directions_in_turn():
    """The two directions of a layer one after the other (each kernel may still use every thread)."""
    import numrnn.nn.stack as stack

    real = stack.run_directions
    stack.run_directions = lambda fn, n, xp: [fn(d) for d in range(n)]
    try:
        yield
    finally:
        stack.run_directions = real


def run_case(cell, name, shape, dtype, mode, reps, peaks, threads):
    """Rows (dicts) for torch, numba (and its variants) and numpy on one case."""
    B, T, I, H = shape
    options = hb.SHAPE_OPTIONS.get(name, {})
    D = 2 if options.get("bidirectional") else 1
    rng = np.random.default_rng(0)
    x = rng.standard_normal((T, B, I)).astype(dtype)
    dout = rng.standard_normal((T, B, D * H)).astype(dtype)
    work = hb.flops(cell, B, T, I, H, mode, **options)
    peak = max(v for (lib, dt), v in peaks.items() if dt == np.dtype(dtype).name)

    m_nb, twin = hb.make_models(cell, I, H, dtype, "numba", **options)
    m_np, _ = hb.make_models(cell, I, H, dtype, "numpy", **options)
    t_calls = hb.torch_calls(twin, x, dout)
    want = t_calls[2](mode)
    index = 0 if mode == "forward" else 1

    rows = []

    def row(impl, seconds, agree=None, note="", nthreads=threads):
        r = dict(cell=cell.name, shape=name, B=B, T=T, I=I, H=H, dtype=np.dtype(dtype).name, mode=mode,
                 impl=impl, threads=nthreads, note=note)
        if seconds is not None:
            r.update(ms=seconds * 1e3, us_per_step=seconds * 1e6 / T, gflops=work / seconds / 1e9,
                     peak_share=work / seconds / 1e9 / peak)
        r["agree_max_rel"] = agree
        rows.append(r)
        return r

    nb_calls = hb.numrnn_calls(m_nb, x, dout)
    agree_nb = hb.agreement(nb_calls[2](mode), want)
    fns = {"torch": t_calls[index], "numba": nb_calls[index]}
    contexts = {}
    if mode == "train":  # the thread-count column: the same step on one thread
        fns["numba 1 thread"] = nb_calls[index]
        contexts["numba 1 thread"] = one_thread
        if D == 2:
            fns["numba, directions in turn"] = nb_calls[index]
            contexts["numba, directions in turn"] = directions_in_turn
    medians = hb.interleaved_medians(fns, reps, contexts=contexts)
    t_torch = medians["torch"]
    row("torch", t_torch)
    row("numba", medians["numba"], agree_nb, _disagree(agree_nb, dtype))
    if "numba 1 thread" in medians:
        row("numba", medians["numba 1 thread"], agree_nb, "one thread", nthreads=1)
    if "numba, directions in turn" in medians:
        row("numba", medians["numba, directions in turn"], agree_nb, "directions in turn")

    if name in NUMPY_SKIP:
        row("numpy", None, note="skipped: slow reference")
    else:
        np_calls = hb.numrnn_calls(m_np, x, dout)
        agree_np = hb.agreement(np_calls[2](mode), want)
        hb.settle()
        seconds = hb.median_time(np_calls[index], NUMPY_REPS, warmup=1)
        row("numpy", seconds, agree_np, f"{NUMPY_REPS} runs" + _disagree(agree_np, dtype, "; "))
    for r in rows:
        if "ms" in r:
            r["torch_over_this"] = t_torch * 1e3 / r["ms"]
    return rows


def goal_value(rows, shape, dtype, kind):
    """What a goal measures in ``rows`` (training step), or None if the rows lack it."""
    def find(note):
        return next((r for r in rows if r["shape"] == shape and r["dtype"] == dtype and r["mode"] == "train"
                     and r["impl"] == "numba" and r.get("note", "").startswith(note) and "ms" in r), None)

    main = next((r for r in rows if r["shape"] == shape and r["dtype"] == dtype and r["mode"] == "train"
                 and r["impl"] == "numba" and r.get("note") in ("", "OUTPUTS DISAGREE") and "ms" in r), None)
    if main is None:
        return None
    if kind == "torch":
        return main["torch_over_this"]
    if kind == "peak":
        return main["peak_share"]
    other = find("directions in turn")
    return None if other is None else other["ms"] / main["ms"]


def _goal_text(kind, value) -> str:
    return f"{value:.0%}" if kind == "peak" else f"{value:.2f}x"


def _disagree(agree, dtype, sep="") -> str:
    return sep + "OUTPUTS DISAGREE" if agree > AGREE_TOL[np.dtype(dtype).name] else ""


def fmt(v, spec):
    return "" if v is None or v == "" else format(v, spec)


def write_markdown(path, cell, rows, env, peaks, starts, goals, elapsed):
    lines = [f"# CPU benchmark: numrnn {cell.name} vs torch.nn.{cell.torch_class}", ""]
    lines += ["Written by `benchmarks/bench_cpu.py` (rules in benchmarks/README.md). Times are medians; "
              "`vs torch` is PyTorch's time divided by this row's (above 1: faster than PyTorch); "
              "`agree` is the worst max |numrnn - torch| / max |torch| over the outputs "
              "(forward: out; train: dx and every parameter gradient).", ""]
    lines += ["## Environment", ""]
    for k, v in env.items():
        if isinstance(v, list):
            lines.append(f"- {k}:")
            lines += [f"  - {item}" for item in v]
        else:
            lines.append(f"- {k}: {v}")
    lines.append(f"- benchmark wall time: {elapsed:.0f} s")
    lines += ["", "## GEMM peak measured in this run (2048^3, GFLOP/s)", "",
              "| library | float32 | float64 |", "|---|---|---|"]
    for lib, label in (("numpy", "NumPy's OpenBLAS"), ("numba", "SciPy's OpenBLAS (Numba's np.dot)"),
                       ("torch", "PyTorch")):
        lines.append(f"| {label} | {peaks[(lib, 'float32')]:.0f} | {peaks[(lib, 'float64')]:.0f} |")
    lines += ["", "`peak` in the table is the share of the best of these for the row's dtype.", ""]
    lines += ["## Start-up of the numba backend", "",
              f"- cold start (empty Numba cache, everything compiles): {starts[0]:.2f} s",
              f"- warm start (compiled code loaded from Numba's cache): {starts[1]:.2f} s",
              "- both from `import numrnn` to the end of the first forward+backward, in a fresh process", ""]
    if goals:
        lines += ["## Goals (training step)", "",
                  "`torch`: PyTorch's time / numba's; `peak`: numba's share of the run's best GEMM; "
                  "`in turn`: numba's time with the two directions one after the other / numba's time.", "",
                  "| shape | dtype | measure | goal | reached | | issue |", "|---|---|---|---|---|---|---|"]
        for shape, dtype, kind, goal, issue in goals:
            got = goal_value(rows, shape, dtype, kind)
            head = f"| {shape} | {dtype} | {kind} | {_goal_text(kind, goal)} |"
            if got is None:
                lines.append(f"{head} not run | | {issue} |")
            else:
                verdict = "met" if got >= goal else "MISSED"
                lines.append(f"| {shape} | {dtype} | {kind} | {_goal_text(kind, goal)} | "
                             f"{_goal_text(kind, got)} | {verdict} | {issue} |")
        lines.append("")
    lines += ["## Results", "",
              "B4 and B6 are S4 and S6 as two bidirectional layers.", "",
              "| shape | B,T,I,H | dtype | mode | impl | threads | ms | us/step | GFLOP/s | peak | vs torch "
              "| agree | note |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {r['shape']} | {r['B']},{r['T']},{r['I']},{r['H']} | {r['dtype']} | {r['mode']} "
            f"| {r['impl']} | {r['threads']} | {fmt(r.get('ms'), '.3g')} "
            f"| {fmt(r.get('us_per_step'), '.3g')} "
            f"| {fmt(r.get('gflops'), '.3g')} "
            f"| {fmt(r.get('peak_share'), '.0%')} | {fmt(r.get('torch_over_this'), '.2f')} "
            f"| {fmt(r.get('agree_max_rel'), '.1e')} | {r.get('note', '')} |")
    Path(path).write_text("\n".join(lines) + "\n")


def write_csv(path, rows):
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({k: r.get(k, "") for k in COLUMNS})


def write_plot(path, cell, rows):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shapes = list(dict.fromkeys(r["shape"] for r in rows))
    series = [(d, m) for d in ("float32", "float64") for m in ("train", "forward")]
    fig, ax = plt.subplots(figsize=(max(8, 0.9 * len(shapes)), 4.5))
    width = 0.8 / len(series)
    for k, (dtype, mode) in enumerate(series):
        vals = []
        for s in shapes:
            r = next((r for r in rows if r["shape"] == s and r["dtype"] == dtype and r["mode"] == mode
                      and r["impl"] == "numba" and r.get("note") in ("", "OUTPUTS DISAGREE")
                      and "ms" in r), None)
            vals.append(np.nan if r is None else r["torch_over_this"])
        ax.bar(np.arange(len(shapes)) + (k - (len(series) - 1) / 2) * width, vals, width,
               label=f"{mode}, {dtype}")
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_yscale("log")
    ax.set_xticks(np.arange(len(shapes)), shapes)
    ax.set_ylabel("PyTorch time / numrnn numba time")
    ax.set_title(f"numrnn {cell.name} (numba) vs torch.nn.{cell.torch_class}, CPU; above 1 = numrnn faster")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cells", default="rnn,lstm,gru", help="comma-separated: rnn, lstm, gru")
    p.add_argument("--shapes", default=None,
                   help="comma-separated names from harness.SHAPES (default: DEFAULT_SHAPES per cell)")
    p.add_argument("--dtypes", default="float32,float64")
    p.add_argument("--reps", type=int, default=10,
                   help="timed runs per case (at least 10 for reported figures)")
    p.add_argument("--threads", type=int, default=os.cpu_count(),
                   help="threads of torch, of every BLAS pool and of numrnn's own pool (default: all cores)")
    p.add_argument("--no-sweep", action="store_true", help="skip the H sweep (B=32, T=100, I=H)")
    p.add_argument("--out", default=str(Path(__file__).resolve().parent / "results"))
    args = p.parse_args(argv)

    import torch
    from threadpoolctl import threadpool_limits

    from numrnn import parallel

    # the threads column is true of each side: torch's threads, every BLAS pool, numrnn's own
    torch.set_num_threads(args.threads)
    threadpool_limits(limits=args.threads, user_api="blas")
    with parallel.limited_threads(args.threads):
        run_benchmarks(args)


def run_benchmarks(args):
    """Every cell's table, on the threads :func:`main` has set."""
    env = hb.environment(args.threads)
    print("\n".join(f"{k}: {v}" for k, v in env.items()), flush=True)
    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory() as cache_dir:
        starts = hb.start_times(cache_dir)
    print(f"numba start: cold {starts[0]:.2f} s, warm {starts[1]:.2f} s", flush=True)
    peaks = hb.gemm_peaks()
    print("GEMM peaks GFLOP/s:", {f"{k[0]}/{k[1]}": round(v) for k, v in peaks.items()}, flush=True)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for cell_name in args.cells.split(","):
        cell = hb.CELLS[cell_name]
        t_cell = time.perf_counter()
        if cell_name != args.cells.split(",")[0]:  # the first cell's includes start-up and peaks
            env["load average (before)"] = " ".join(f"{v:.2f}" for v in os.getloadavg())
        shapes = args.shapes or DEFAULT_SHAPES[cell_name]
        cases = [(n, hb.SHAPES[n], d) for n in shapes.split(",") for d in args.dtypes.split(",")]
        if not args.no_sweep and cell_name in SWEEP_CELLS:
            cases += [(n, s, "float32") for n, s in hb.sweep_shapes().items()]
        rows = []
        for name, shape, dtype in cases:
            for mode in ("forward", "train"):
                new = run_case(cell, name, shape, np.dtype(dtype).type, mode, args.reps, peaks, args.threads)
                rows += new
                print(" | ".join(f"{name} {dtype} {mode} {r['impl']} {r['threads']}t {r['note']}: " + (
                    f"{r['ms']:.3g} ms ({r['torch_over_this']:.2f}x)" if "ms" in r else "")
                    for r in new), flush=True)
        # this cell's table; the first one's time includes start-up and the GEMM peaks
        elapsed = time.perf_counter() - (t_start if cell_name == args.cells.split(",")[0] else t_cell)
        env["load average (after)"] = " ".join(f"{v:.2f}" for v in os.getloadavg())
        stem = out / f"cpu_{cell.name}"
        write_csv(f"{stem}.csv", rows)
        write_markdown(f"{stem}.md", cell, rows, env, peaks, starts, GOALS.get(cell.name, []), elapsed)
        write_plot(f"{stem}_ratio.png", cell, rows)
        print(f"wrote {stem}.md, .csv, _ratio.png", flush=True)


if __name__ == "__main__":
    main()

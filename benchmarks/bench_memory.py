"""Training memory and time against the sequence length, with and without recomputation.

    python benchmarks/bench_memory.py [--cells rnn,lstm] [--T 100,1000,10000,100000]
                                      [--max-T lstm=10000] [--N 32] [--H 256] [--I 32]
                                      [--reps 3] [--budget-gb 10]

For each cell and T: one training step (forward, then backward of sum(out * dout)) of a
one-layer numba module, float32, N x T x I input, hidden size H, with full storage
(``recompute=None``) and with ``recompute="sqrt"``:

* memory (numrnn/training_memory.py, tracemalloc): ``kept``, what the forward holds for the
  backward beyond its output (its copy of the input x included, and given apart), and
  ``peak``, the most allocated at any moment beyond the caller's arrays;
* time: the median of ``--reps`` steps (1 for steps over 10 s), after one warm-up step.

A point whose memory would exceed ``--budget-gb`` (default 70% of the memory available
at the start; estimated from the previous T, linearly: what BPTT keeps grows as T) is
skipped and marked, as is a T above the cell's ``--max-T`` (time: an LSTM step at
T = 100 000 takes minutes). The caller's arrays alone (x, out, dout, dx) take
4 T N (2I + 2H) bytes: 7.4 GB at T = 100 000, N = 32, I = 32, H = 256. The goal of issue 12 is
read at the largest T: recomputation keeps less than 1/20 of full storage's activations
(beyond the input), for at most 1.4x its time. If full storage did not fit there, its
activations are the largest measured ones scaled by T (they are exactly linear in T:
every step keeps the same arrays), and the table says so.

Writes ``{out}/cpu_memory.md``, ``.csv`` and ``_memory.png`` (time and memory against T,
log-log).
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as hb  # noqa: E402

MODES = {"full storage": None, "recompute='sqrt'": "sqrt"}
COLUMNS = ["cell", "T", "N", "I", "H", "mode", "kept_bytes", "input_bytes", "activation_bytes", "peak_bytes",
           "caller_bytes", "seconds", "note"]


def available_bytes() -> int:
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 8 * 2**30


def train_seconds(m, x, dout, reps: int) -> float:
    def step():
        m.zero_grad()
        m(x)
        m.backward(dout)

    t0 = time.perf_counter()
    step()  # warm-up (and compile)
    first = time.perf_counter() - t0
    reps = 1 if first > 10 else reps
    times = []
    for _ in range(reps):
        hb.settle(0.1)
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cells", default="rnn,lstm")
    p.add_argument("--T", default="100,1000,10000,100000")
    p.add_argument("--N", type=int, default=32)
    p.add_argument("--H", type=int, default=256)
    p.add_argument("--I", type=int, default=32)
    p.add_argument("--max-T", default="lstm=10000",
                   help="comma-separated cell=T: the largest T run for that cell")
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--budget-gb", type=float, default=None,
                   help="skip points estimated above this (default: 70%% of the memory available "
                        "at the start)")
    p.add_argument("--out", default=str(Path(__file__).resolve().parent / "results"))
    args = p.parse_args(argv)

    import numrnn as nr
    from numrnn import training_memory as memory

    budget = args.budget_gb * 2**30 if args.budget_gb else int(0.7 * available_bytes())
    max_T = {k: int(v) for k, v in (item.split("=") for item in args.max_T.split(",") if item)}
    env = hb.environment(None)  # no thread count is set here: the environment's own apply
    print("\n".join(f"{k}: {v}" for k, v in env.items()), flush=True)
    print(f"memory budget per point: {budget / 2**30:.1f} GiB", flush=True)
    t_start = time.perf_counter()
    rows = []
    Ts = [int(t) for t in args.T.split(",")]
    N, I, H = args.N, args.I, args.H
    for cell_name in args.cells.split(","):
        cell = hb.CELLS[cell_name]
        last = {mode: None for mode in MODES}  # (T, total bytes) of the previous point
        for T in Ts:
            caller = 4 * T * N * (2 * I + 2 * H)  # x, dx, out, dout (float32)
            for mode, recompute in MODES.items():
                row = dict(cell=cell_name, T=T, N=N, I=I, H=H, mode=mode, caller_bytes=caller, note="")
                prev = last[mode]
                estimate = caller + (prev[1] * T / prev[0] if prev else 0)
                if T > max_T.get(cell_name, T):
                    row["note"] = f"skipped: T above --max-T {cell_name}={max_T[cell_name]}"
                    rows.append(row)
                    continue
                if estimate > budget:
                    row["note"] = f"skipped: about {estimate / 2**30:.1f} GiB estimated, over the budget"
                    rows.append(row)
                    print(f"{cell_name} T={T} {mode}: {row['note']}", flush=True)
                    continue
                m = getattr(nr, cell.numrnn_class)(I, H, backend="numba", seed=0, recompute=recompute)
                rng = np.random.default_rng(0)
                x = rng.standard_normal((T, N, I)).astype(np.float32)
                mem = memory.training_memory(m, x)
                dout = rng.standard_normal((T, N, H)).astype(np.float32)
                seconds = train_seconds(m, x, dout, args.reps)
                row.update(kept_bytes=mem.kept, input_bytes=mem.input_bytes,
                           activation_bytes=mem.kept - mem.input_bytes, peak_bytes=mem.peak, seconds=seconds)
                rows.append(row)
                last[mode] = (T, mem.peak)
                print(f"{cell_name} T={T} {mode}: kept {mem.kept / 2**20:.1f} MiB (input "
                      f"{mem.input_bytes / 2**20:.1f}), peak {mem.peak / 2**20:.1f} MiB, {seconds:.3g} s",
                      flush=True)
                del m, x, dout
    elapsed = time.perf_counter() - t_start
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "cpu_memory.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({k: r.get(k, "") for k in COLUMNS})
    write_markdown(out / "cpu_memory.md", rows, env, budget, elapsed, args)
    write_plot(out / "cpu_memory.png", rows)
    print(f"wrote {out / 'cpu_memory.md'}, .csv, .png", flush=True)


def _mib(n) -> str:
    return "" if n in (None, "") else f"{n / 2**20:,.1f}"


def goal_lines(rows, cell: str) -> list:
    """Issue 12's memory goal for ``cell`` at the largest T recomputation ran."""
    rec = [r for r in rows if r["cell"] == cell and r["mode"] != "full storage" and "seconds" in r]
    full = [r for r in rows if r["cell"] == cell and r["mode"] == "full storage" and "seconds" in r]
    if not rec or not full:
        return [f"| {cell} | not run | | | | |"]
    r = max(rec, key=lambda r: r["T"])
    same = next((f for f in full if f["T"] == r["T"]), None)
    if same is not None:
        f_act, f_time, how = same["activation_bytes"], same["seconds"], "measured"
    else:
        f = max(full, key=lambda f: f["T"])
        f_act = f["activation_bytes"] * r["T"] / f["T"]
        f_time = None
        how = f"full storage scaled from T = {f['T']:,} (linear in T)"
    ratio = f_act / max(1, r["activation_bytes"])
    t_ratio = "" if f_time is None else f"{r['seconds'] / f_time:.2f}x"
    t_ok = "" if f_time is None else ("met" if r["seconds"] / f_time <= 1.4 else "MISSED")
    return [f"| {cell} | {r['T']:,} | 1/{ratio:.0f} ({how}) | {'met' if ratio >= 20 else 'MISSED'} | "
            f"{t_ratio or 'not measured at this T'} | {t_ok} |"]


def write_markdown(path, rows, env, budget, elapsed, args):
    lines = ["# Training memory and time against T, with and without recomputation", "",
             "Written by `benchmarks/bench_memory.py` (its docstring says what is measured). One layer, "
             f"numba backend, float32, N = {args.N}, I = {args.I}, H = {args.H}; one training step "
             "(forward + backward). `kept`: held from the forward to the backward beyond the output; "
             "`input`: of that, the layer's copy of x; `activations` = kept - input; `peak`: the most "
             "allocated at once beyond the caller's arrays (x, out, dout, dx: `caller`). MiB.", "",
             "## Environment", ""]
    for k, v in env.items():
        lines += [f"- {k}:"] + [f"  - {i}" for i in v] if isinstance(v, list) else [f"- {k}: {v}"]
    lines += [f"- memory budget per point: {budget / 2**30:.1f} GiB",
              f"- benchmark wall time: {elapsed:.0f} s", ""]
    lines += ["## Goal (issue 12): activations below 1/20 of full storage, time at most 1.4x", "",
              "| cell | T | recompute's activations | | time vs full storage | |",
              "|---|---|---|---|---|---|"]
    for cell in dict.fromkeys(r["cell"] for r in rows):
        lines += goal_lines(rows, cell)
    lines += ["", "## Results", "",
              "| cell | T | mode | kept | input | activations | peak | caller | seconds | note |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['cell']} | {r['T']:,} | {r['mode']} | {_mib(r.get('kept_bytes'))} | "
                     f"{_mib(r.get('input_bytes'))} | {_mib(r.get('activation_bytes'))} | "
                     f"{_mib(r.get('peak_bytes'))} | {_mib(r['caller_bytes'])} | "
                     f"{'' if 'seconds' not in r else format(r['seconds'], '.3g')} | {r['note']} |")
    Path(path).write_text("\n".join(lines) + "\n")


def write_plot(path, rows):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_t, ax_m) = plt.subplots(1, 2, figsize=(11, 4.5))
    for cell in dict.fromkeys(r["cell"] for r in rows):
        for mode, style in zip(MODES, ("-o", "--s")):
            pts = [r for r in rows if r["cell"] == cell and r["mode"] == mode and "seconds" in r]
            if not pts:
                continue
            Ts = [r["T"] for r in pts]
            ax_t.plot(Ts, [r["seconds"] for r in pts], style, label=f"{cell}, {mode}")
            ax_m.plot(Ts, [r["activation_bytes"] / 2**20 for r in pts], style,
                      label=f"{cell}, {mode}: activations")
            ax_m.plot(Ts, [r["peak_bytes"] / 2**20 for r in pts], style, alpha=0.4,
                      label=f"{cell}, {mode}: peak")
    for ax, label in ((ax_t, "seconds per training step"), (ax_m, "MiB")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("T (time steps)")
        ax.set_ylabel(label)
        ax.legend(fontsize=7)
    ax_t.set_title("time")
    ax_m.set_title("memory kept for the backward / peak")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()

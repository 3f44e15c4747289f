"""A/B of the Numba kernels against an earlier revision of them, in one process.

    python benchmarks/ab_kernels.py [--base 0f6c9c6] [--cells lstm,gru,rnn] [--shapes S3,S4]
                                    [--dtypes float32,float64] [--rounds 8] [--reps 10]

The earlier revision's ``numrnn`` package is taken out of git into a temporary folder
and imported under another name (``numrnn_base``), so that its kernels and the working
tree's run side by side in the same process, on the same inputs, interleaved: round by
round every variant runs ``--reps`` times (after a pause that lets BLAS's spinning
threads sleep), and the table gives each variant's median over all rounds, in us per
time step, for the training step of the kernels (forward, then backward) and for the
forward alone. No module overhead: this measures the kernels. Variants:

    base, BLAS 2      the earlier kernels, BLAS on 2 threads (as `make bench` ran them)
    base, BLAS 1      the earlier kernels, BLAS on 1 thread
    new, 1 thread     the working tree's kernels, NUMRNN threads = 1
    new, N threads    the working tree's kernels, all threads
    new, BLAS step    the working tree's kernels with use_loops=False (BLAS per step), 1 thread

On a shared machine the medians move from run to run; the interleaving puts the same
load on every variant. docs/performance.md quotes the tables it printed.
"""

from __future__ import annotations

import argparse
import importlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import harness as hb  # noqa: E402


def import_base(rev: str, where: Path):
    """The ``numrnn`` package of git revision ``rev``, importable as ``numrnn_base``."""
    dest = where / "numrnn_base"
    files = subprocess.run(["git", "ls-tree", "-r", "--name-only", rev, "numrnn"], cwd=ROOT, check=True,
                           capture_output=True, text=True).stdout.split()
    for name in files:
        if not name.endswith(".py"):
            continue
        text = subprocess.run(["git", "show", f"{rev}:{name}"], cwd=ROOT, check=True, capture_output=True,
                              text=True).stdout
        text = text.replace("from numrnn.", "from numrnn_base.")
        text = text.replace("import numrnn.", "import numrnn_base.")
        text = text.replace("from numrnn import", "from numrnn_base import")
        target = dest / Path(name).relative_to("numrnn")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    sys.path.insert(0, str(where))
    return importlib.import_module("numrnn_base")


def layer_args(cell: str, shape, dtype, seed=0):
    """x, the initial state(s) and the weights of one layer, PyTorch's init."""
    B, T, I, H = shape
    G = {"rnn": 1, "lstm": 4, "gru": 3}[cell]
    rng = np.random.default_rng(seed)
    k = 1 / np.sqrt(H)

    def u(*s):
        return rng.uniform(-k, k, s).astype(dtype)

    x = rng.standard_normal((T, B, I)).astype(dtype)
    states = [np.zeros((B, H), dtype)] * (2 if cell == "lstm" else 1)
    weights = [u(G * H, I), u(G * H, H), u(G * H), u(G * H)]
    dh = rng.standard_normal((T, B, H)).astype(dtype)
    return x, states, weights, dh


def calls(mod, cell, args, **kw):
    """(train, forward) callables of one kernel module on one case."""
    x, states, weights, dh = args
    fwd = getattr(mod, f"{cell}_forward")
    bwd = getattr(mod, f"{cell}_backward")
    dc = np.zeros_like(dh)

    def forward():
        return fwd(x, *states, *weights, **kw)

    def train():
        res = forward()
        if cell == "lstm":
            bwd(dh, dc, res[-1])
        else:
            bwd(dh, res[-1])

    return train, forward


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--base", default="0f6c9c6", help="git revision of the kernels to compare with")
    p.add_argument("--cells", default="lstm,gru,rnn")
    p.add_argument("--shapes", default="S3,S4")
    p.add_argument("--dtypes", default="float32,float64")
    p.add_argument("--rounds", type=int, default=8)
    p.add_argument("--reps", type=int, default=10)
    p.add_argument("--variants", default="base2,base1,new1,newN,newblas")
    args = p.parse_args(argv)

    from threadpoolctl import threadpool_limits

    import numrnn
    from numrnn import parallel
    from numrnn.kernels.numba_threads import describe_pools

    tmp = Path(tempfile.mkdtemp(prefix="numrnn_ab_"))
    try:
        import_base(args.base, tmp)
        nthreads = parallel.threads()
        print(f"numrnn {numrnn.__version__} (working tree) against {args.base}; "
              f"{hb.cpu_model()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}; "
              f"threads {nthreads}")
        print(describe_pools())
        names = {"base2": "base, BLAS 2", "base1": "base, BLAS 1", "new1": "new, 1 thread",
                 "newN": f"new, {nthreads} threads", "newblas": "new, BLAS step"}
        chosen = args.variants.split(",")
        print("\nus per step, median over rounds (train = forward + backward; fwd = forward only)\n")
        print("| cell | shape | dtype | " + " | ".join(f"{names[v]} train | fwd" for v in chosen) + " |")
        print("|---|---|---|" + "---|---|" * len(chosen))
        for cell in args.cells.split(","):
            kb = importlib.import_module(f"numrnn_base.kernels.numba_{cell}")
            kn = importlib.import_module(f"numrnn.kernels.numba_{cell}")
            for sname in args.shapes.split(","):
                shape = hb.SHAPES[sname]
                T = shape[1]
                for dname in args.dtypes.split(","):
                    case = layer_args(cell, shape, np.dtype(dname).type)
                    variants = {
                        "base2": (calls(kb, cell, case), 2, None),
                        "base1": (calls(kb, cell, case), 1, None),
                        "new1": (calls(kn, cell, case), 1, 1),
                        "newN": (calls(kn, cell, case), nthreads, nthreads),
                        "newblas": (calls(kn, cell, case, use_loops=False), 1, 1),
                    }
                    times = {v: {"train": [], "fwd": []} for v in chosen}
                    for rnd in range(args.rounds):
                        for v in chosen:
                            (train, forward), blas, ours = variants[v]
                            limits = threadpool_limits(blas, user_api="blas")
                            with limits, parallel.limited_threads(ours or 1):
                                hb.settle(0.1)
                                if rnd == 0:
                                    train()
                                    train()
                                for mode, fn in (("train", train), ("fwd", forward)):
                                    for _ in range(args.reps):
                                        t0 = time.perf_counter()
                                        fn()
                                        times[v][mode].append(time.perf_counter() - t0)
                    cells = [f"{statistics.median(times[v]['train']) / T * 1e6:.1f} | "
                             f"{statistics.median(times[v]['fwd']) / T * 1e6:.1f}" for v in chosen]
                    print(f"| {cell} | {sname} | {dname} | " + " | ".join(cells) + " |", flush=True)
        print(f"\nload average after: {os.getloadavg()[0]:.2f}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

"""The two-OpenBLAS-pools fight, measured: a Numba RNN layer next to a NumPy matmul head.

    python benchmarks/bench_pools.py [--rounds 4]

One training-like step at S5 (B=64, T=100, I=123, H=320, float32): the numba kernel's
forward (SciPy's OpenBLAS), a NumPy "Linear head" and its backward (NumPy's OpenBLAS),
the kernel's backward. Timed with both pools at their default threads, with one of
them pinned to 1 thread (numrnn.kernels.numba_threads.limit_blas), and with both
pinned; the configurations alternate in rounds so machine load falls on all of them.
docs/performance.md quotes the result.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as hb  # noqa: E402

from numrnn.kernels import numba_rnn as nb  # noqa: E402
from numrnn.kernels.numba_threads import describe_pools, limit_blas  # noqa: E402

CONFIGS = {
    "both pools at default threads": {},
    "NumPy's pool pinned to 1": {"numpy": 1},
    "SciPy's (Numba's) pool pinned to 1": {"numba": 1},
    "both pinned to 1": {"numpy": 1, "numba": 1},
}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=4)
    p.add_argument("--reps", type=int, default=4, help="timed steps per configuration and round")
    args = p.parse_args(argv)
    rng = np.random.default_rng(0)
    dt = np.float32
    B, T, I, H = hb.SHAPES["S5"]
    x = rng.standard_normal((T, B, I)).astype(dt)
    h0 = np.zeros((B, H), dt)
    w_ih = (rng.uniform(-1, 1, (H, I)) / np.sqrt(H)).astype(dt)
    w_hh = (rng.uniform(-1, 1, (H, H)) / np.sqrt(H)).astype(dt)
    b = np.zeros(H, dt)
    w_out = (rng.standard_normal((H, H)) / np.sqrt(H)).astype(dt)

    def step():
        h, cache = nb.rnn_forward(x, h0, w_ih, w_hh, b, b)  # SciPy's OpenBLAS
        y = h.reshape(T * B, H) @ w_out  # NumPy's OpenBLAS
        dh = (y @ w_out.T).reshape(T, B, H)
        nb.rnn_backward(dh, cache)  # SciPy's again

    print(describe_pools())
    step()
    times = {k: [] for k in CONFIGS}
    for _ in range(args.rounds):
        for name, limits in CONFIGS.items():
            with limit_blas(**limits):
                hb.settle()
                step()
                for _ in range(args.reps):
                    t0 = time.perf_counter()
                    step()
                    times[name].append(time.perf_counter() - t0)
    for name, ts in times.items():
        print(f"{name:36s} median {statistics.median(ts) * 1e3:7.1f} ms  "
              f"(min {min(ts) * 1e3:.1f}, max {max(ts) * 1e3:.1f})")


if __name__ == "__main__":
    main()

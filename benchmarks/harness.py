"""The CPU benchmark harness, generic over the cell: numrnn backends against torch.nn.

``bench_cpu.py`` is the script; this file holds what any CPU benchmark of a recurrent
cell needs, so that LSTM and GRU rows are one ``--cells lstm,gru`` away:

* the shapes (B, T, I, H) and the FLOP count of a cell (``CELLS`` gives its gates);
* a numrnn module and its torch twin with the same weights (through ``state_dict``);
* the timed calls: forward only, and the training step (forward, then backward of
  ``sum(out * dout)`` into every parameter, no optimiser step), for numrnn and torch;
* the timer (warm-up excluded, median of ``reps`` runs), the GEMM peak of every BLAS in
  the process, measured in the same run, and the environment (machine, versions,
  thread pools) printed with the figures.

The fairness rules are in benchmarks/README.md.
"""

from __future__ import annotations

import contextlib
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass

import numpy as np

#: (B, T, I, H): batch, time steps, input size, hidden size.
SHAPES = {
    "S1": (1, 1000, 32, 32),
    "S2": (1, 150, 256, 256),
    "S3": (16, 200, 32, 64),
    "S4": (32, 100, 64, 128),
    "S5": (64, 100, 123, 320),
    "S6": (64, 100, 512, 512),
    "S7": (128, 25, 1024, 1024),
    "S9": (32, 1000, 123, 320),
    "B4": (32, 100, 64, 128),
    "B6": (64, 100, 512, 512),
}
#: Module options of the shapes that are not one layer, one direction: B4 and B6 are S4
#: and S6 as two bidirectional layers (issue 12: the benefit of the second core).
SHAPE_OPTIONS = {
    "B4": {"num_layers": 2, "bidirectional": True},
    "B6": {"num_layers": 2, "bidirectional": True},
}
#: The H sweep: B = 32, T = 100, I = H.
SWEEP_H = (32, 64, 128, 256, 512, 1024)


def sweep_shapes() -> dict:
    return {f"H{h}": (32, 100, h, h) for h in SWEEP_H}


@dataclass(frozen=True)
class Cell:
    """How to build one cell kind in numrnn and in torch."""

    name: str  # rnn, lstm, gru
    numrnn_class: str  # attribute of the numrnn package
    torch_class: str  # attribute of torch.nn
    gates: int  # rows of weight_ih per hidden unit


CELLS = {
    "rnn": Cell("rnn", "RNN", "RNN", 1),
    "lstm": Cell("lstm", "LSTM", "LSTM", 4),
    "gru": Cell("gru", "GRU", "GRU", 3),
}


def flops(cell: Cell, B: int, T: int, I: int, H: int, mode: str, num_layers: int = 1,
          bidirectional: bool = False) -> float:
    """Multiply-adds x 2 of the GEMMs: forward 2*T*B*G*H*(F+H) per layer and direction
    (F = I for the first layer, D*H above it); the training step 3x."""
    D = 2 if bidirectional else 1
    fwd = sum(D * 2.0 * T * B * cell.gates * H * ((I if layer == 0 else D * H) + H)
              for layer in range(num_layers))
    return fwd if mode == "forward" else 3.0 * fwd


# -- timing ---------------------------------------------------------------------------------
def median_time(fn, reps: int, warmup: int = 2) -> float:
    """Median wall time of ``fn()`` in seconds over ``reps`` runs after ``warmup`` runs."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def interleaved_medians(fns: dict, reps: int, rounds: int = 2, warmup: int = 2, contexts=None) -> dict:
    """Median seconds of each callable over ``reps`` runs, taken in ``rounds`` blocks.

    The blocks alternate between the callables (A A A, B B B, A A A, B B B ...), with a
    pause before each block (:func:`settle`), so that a change of machine load during
    the measurement falls on both sides instead of on one. ``contexts`` maps a name to a
    function returning a context manager that its blocks run inside (thread limits).
    """
    contexts = contexts or {}
    per_round = -(-reps // rounds)
    times = {name: [] for name in fns}
    for name, fn in fns.items():
        with contexts.get(name, contextlib.nullcontext)():
            for _ in range(warmup):
                fn()
    for _ in range(rounds):
        for name, fn in fns.items():
            with contexts.get(name, contextlib.nullcontext)():
                settle()
                for _ in range(per_round):
                    t0 = time.perf_counter()
                    fn()
                    times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(ts) for name, ts in times.items()}


def settle(seconds: float = 0.3) -> None:
    """Let one library's spinning worker threads go to sleep before the next library runs.

    An OpenBLAS worker spins for 2**28 cycles (about 0.1 s) after its last job before it
    sleeps; timing torch while it spins would charge torch for numrnn's idle threads.
    """
    time.sleep(seconds)


# -- the two contestants ------------------------------------------------------------------------
def make_models(cell: Cell, I: int, H: int, dtype, backend: str, seed: int = 0, **options):
    """A numrnn module (time-major; one layer unless ``options`` say otherwise, e.g.
    ``num_layers=2, bidirectional=True``) and its torch twin with the same weights."""
    import torch

    import numrnn as nr

    m = getattr(nr, cell.numrnn_class)(I, H, dtype=dtype, backend=backend, seed=seed, **options)
    twin = getattr(torch.nn, cell.torch_class)(I, H, **options)
    twin = twin.to(torch.float64 if dtype == np.float64 else torch.float32)
    with torch.no_grad():
        for name, p in twin.named_parameters():
            p.copy_(torch.from_numpy(np.ascontiguousarray(m.params[name])))
    return m, twin


def numrnn_calls(m, x, dout):
    """(forward, train, outputs) callables for a numrnn module."""

    def forward():
        return m(x)

    def train():
        m.zero_grad()
        m(x)
        m.backward(dout)

    def outputs(mode):
        out, _ = m(x)
        if mode == "forward":
            return [out]
        m.zero_grad()
        dx, _ = m.backward(dout)
        return [dx] + [m.grads[k] for k in sorted(m.grads)]

    return forward, train, outputs


def torch_calls(twin, x, dout):
    """(forward, train, outputs) callables for a torch module: forward under no_grad."""
    import torch

    xt = torch.from_numpy(x)
    dt = torch.from_numpy(dout)

    def forward():
        with torch.no_grad():
            return twin(xt)

    def train():
        xg = xt.detach().requires_grad_(True)
        for p in twin.parameters():
            p.grad = None
        out, _ = twin(xg)
        out.backward(dt)
        return xg

    def outputs(mode):
        if mode == "forward":
            return [forward()[0].numpy()]
        xg = train()
        grads = dict(twin.named_parameters())
        return [xg.grad.numpy()] + [grads[k].grad.numpy() for k in sorted(grads)]

    return forward, train, outputs


def max_rel(a, b) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-30))


def agreement(got: list, want: list) -> float:
    """Worst max-relative error over the outputs (forward: out; train: dx and every grad)."""
    return max(max_rel(g, w) for g, w in zip(got, want))


# -- GEMM peak and environment ---------------------------------------------------------------------
def gemm_peaks(n: int = 2048, reps: int = 5) -> dict:
    """GFLOP/s of an n x n x n GEMM per library and dtype, measured now.

    Keys ``(library, dtype_name)`` with library in numpy (NumPy's BLAS), numba (SciPy's
    BLAS, which np.dot in Numba code calls) and torch.
    """
    import scipy.linalg.blas as sblas
    import torch

    out = {}
    for dtype in (np.float32, np.float64):
        rng = np.random.default_rng(0)
        a = rng.random((n, n)).astype(dtype)
        b = rng.random((n, n)).astype(dtype)
        af, bf = np.asfortranarray(a), np.asfortranarray(b)
        gemm = sblas.sgemm if dtype == np.float32 else sblas.dgemm
        ta, tb = torch.from_numpy(a), torch.from_numpy(b)
        work = 2.0 * n**3
        calls = {"numpy": lambda a=a, b=b: a @ b,
                 "numba": lambda g=gemm, af=af, bf=bf: g(1.0, af, bf),
                 "torch": lambda ta=ta, tb=tb: torch.mm(ta, tb)}
        for lib, fn in calls.items():
            settle()
            t = min(median_time(fn, 1, warmup=1) for _ in range(reps))
            out[(lib, np.dtype(dtype).name)] = work / t / 1e9
    return out


def cpu_model() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def environment(threads: int | None) -> dict:
    """What the figures depend on: machine, versions, thread pools, BLAS kernels.

    ``threads``: the count the script set for torch, every BLAS pool and numrnn's own pool;
    None where it set none (each then runs on its own count, printed here).
    """
    import numba
    import scipy
    import torch

    import numrnn
    from numrnn import parallel
    from numrnn.kernels.numba_threads import blas_pools

    pools = [f"{p['owner']}: {p['internal_api']} {p['version'] or ''} {p['architecture'] or ''}"
             f" threads={p['num_threads']}" for p in blas_pools()]
    return {
        "machine": f"{cpu_model()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}",
        "load average (before)": " ".join(f"{v:.2f}" for v in os.getloadavg()),
        "python": platform.python_version(),
        "versions": f"numrnn {numrnn.__version__}, numpy {np.__version__}, scipy {scipy.__version__}, "
                    f"numba {numba.__version__}, torch {torch.__version__}",
        "threads": (f"{threads} (torch.set_num_threads, every BLAS pool through threadpoolctl, "
                    f"numrnn's own: {parallel.threads()})" if threads is not None else
                    f"none set by this script: numrnn's own pool {parallel.threads()} (NUMRNN_THREADS, "
                    f"else the cores), each BLAS pool its own count (thread pools below)"),
        "torch": ", ".join(
            [line.strip() for line in torch.__config__.parallel_info().splitlines() if "get_num" in line]
            + re.findall(r"BLAS_INFO=\w+|Math Kernel Library Version [\d.]+|CPU capability usage: \w+",
                         torch.__config__.show())),
        "thread pools": pools,
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE", "(unset: OpenBLAS picks the kernel)"),
    }


_START_PROBE = """
import time, numpy as np
t0 = time.perf_counter()
import numrnn as nr
m = nr.RNN(8, 16, backend="numba", seed=0)
x = np.zeros((5, 2, 8), np.float32)
out, _ = m(x); m.backward(np.ones_like(out))
print(time.perf_counter() - t0)
"""


def start_times(cache_dir: str) -> tuple:
    """(cold, warm) seconds from process start of the first numba forward+backward.

    Cold: an empty Numba cache directory (everything compiles); warm: the same
    directory again (the compiled code is loaded from Numba's cache).
    """
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir, NUMRNN_NUMBA_CACHE="1")
    runs = []
    for _ in range(2):
        res = subprocess.run([sys.executable, "-c", _START_PROBE], env=env, capture_output=True,
                             text=True, check=True)
        runs.append(float(res.stdout.strip().splitlines()[-1]))
    return runs[0], runs[1]

"""``python -m numrnn trace``: watch the gradient vanish or explode, cell by cell.

Every network gets the same task and the same input: read T random symbols (one-hot)
and, at the last step, name the first one through a Linear head with softmax
cross-entropy. Everything the loss needs to learn happened at t = 0, so what matters
is how much of dL/dh_{T-1} BPTT carries back there. Printed side by side, per step:

1. ||dL/dh_t||, the gradient at step t (Frobenius norm over the batch);
2. ||dh_{T-1}/dh_t||, the spectral norm of the product of step Jacobians (for an
   LSTM, of h_{T-1} with respect to the whole state (h_t, c_t)), batch mean;

then the spectral radius of W_hh and the share of saturated units per network, and
a heatmap PNG of |dL/dh_t| (time x unit) for each, written to ``--out``.

The networks: tanh and ReLU RNNs at PyTorch's initialisation (spectral radius of
W_hh about 0.6: the gradient vanishes), the same with W_hh rescaled to spectral radius
``--radius`` (ReLU explodes; tanh grows until its units saturate), an LSTM at
PyTorch's initialisation (forget gate near sigmoid(0) = 0.5: it vanishes too) and
with ``--forget-bias`` added to the forget gate (the cell state carries the gradient),
and a GRU.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import numrnn as nr
from numrnn import diagnostics, plotting
from numrnn.data import one_hot


def add_parser(sub) -> None:
    p = sub.add_parser("trace", help="tanh vs ReLU vs LSTM vs GRU: per-step gradient norms, heatmaps",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seq-len", type=int, default=50, help="T (default 50)")
    p.add_argument("--hidden-size", type=int, default=32, help="H (default 32)")
    p.add_argument("--batch", type=int, default=8, help="N (default 8)")
    p.add_argument("--symbols", type=int, default=4, help="vocabulary of the input (default 4)")
    p.add_argument("--radius", type=float, default=2.0,
                   help="spectral radius of W_hh for the rescaled RNNs (default 2.0)")
    p.add_argument("--forget-bias", type=float, default=2.0,
                   help="added to the LSTM's forget-gate bias for 'lstm-forget' (default 2.0)")
    p.add_argument("--networks", nargs="+", choices=NETWORKS, default=list(NETWORKS), metavar="NET",
                   help=f"which networks to compare (default all: {' '.join(NETWORKS)})")
    p.add_argument("--every", type=int, default=5, help="print every k-th step (default 5)")
    p.add_argument("--out", default="runs/trace", help="folder for the PNGs (default runs/trace)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(run=run)


def _rnn(nonlinearity: str, rescale: bool):
    def make(I, H, radius, forget_bias, f64):
        model = nr.RNN(I, H, nonlinearity=nonlinearity, **f64)
        if rescale:
            w = model.params["weight_hh_l0"]
            w *= radius / diagnostics.spectral_radius(w)  # in place: same eigenvectors, new radius
        return model
    return make


def _lstm(add_forget_bias: bool):
    def make(I, H, radius, forget_bias, f64):
        model = nr.LSTM(I, H, **f64)
        if add_forget_bias:
            f = model.cell.gate_names.index("f")  # the forget gate's row block
            model.params["bias_ih_l0"][f * H:(f + 1) * H] += forget_bias
        return model
    return make


#: network name -> (I, H, radius, forget_bias, float64 kwargs) -> model
BUILDERS = {
    "tanh": _rnn("tanh", False), "relu": _rnn("relu", False),
    "tanh-radius": _rnn("tanh", True), "relu-radius": _rnn("relu", True),
    "lstm": _lstm(False), "lstm-forget": _lstm(True),
    "gru": lambda I, H, radius, forget_bias, f64: nr.GRU(I, H, **f64),
}
NETWORKS = tuple(BUILDERS)


def build(name: str, I: int, H: int, radius: float, forget_bias: float, seed: int):
    """The network called ``name``, in float64 (the norms span many decades)."""
    return BUILDERS[name](I, H, radius, forget_bias, dict(dtype=np.float64, seed=seed))


def label(name: str, args) -> str:
    if name.endswith("radius"):
        return f"{name.split('-')[0]} r={args.radius:g}"
    if name == "lstm-forget":
        return f"lstm bf={args.forget_bias:g}"
    return name


def recall_task(T: int, N: int, V: int, seed: int):
    """x (T, N, V) one-hot random symbols; y (N,) the first symbol of each sequence."""
    ids = np.random.default_rng(seed).integers(0, V, size=(T, N))
    return one_hot(ids, V, np.float64), ids[0]


def trace_one(model, head, x, y) -> dict:
    """Every measurement of one network on the task."""
    T, N, _ = x.shape
    out, _ = model(x)  # (T, N, H)
    loss, dlogits = nr.cross_entropy(head(out[-1]), y)  # the loss reads only h_{T-1}
    dout = np.zeros_like(out)
    dout[-1] = head.backward(dlogits)  # (N, H) dL/dh_{T-1}
    dh = diagnostics.hidden_grads(model, x, dout)  # (T, N, H)
    return dict(
        loss=loss,
        grad_norms=np.sqrt((dh**2).sum(axis=(1, 2))),  # (T,)
        jacobian_norms=diagnostics.jacobian_norms(model, x),  # (T,)
        heatmap=np.abs(dh).mean(axis=1),  # (T, H)
        radius=max(diagnostics.recurrent_spectral_radii(model).values()),
        saturation=diagnostics.saturation(model, x),
    )


def print_table(title: str, rows: range, columns: dict, key: str) -> None:
    print(f"\n{title}")
    names = list(columns)
    width = max(11, *(len(n) + 2 for n in names))
    print("   t " + "".join(n.rjust(width) for n in names))
    for t in rows:
        print(f"{t:4d} " + "".join(f"{columns[n][key][t]:{width}.2e}" for n in names))


def verdict(ratio: float) -> str:
    if not np.isfinite(ratio) or ratio > 1e3:
        return "exploding"
    if ratio > 10:
        return "growing"
    if ratio < 1e-3:
        return "vanishing"
    return "carried"


def run(args) -> int:
    T, N, V, H = args.seq_len, args.batch, args.symbols, args.hidden_size
    if min(T, N, V, H, args.every) < 1:
        raise SystemExit("trace: --seq-len, --batch, --symbols, --hidden-size and --every must be >= 1")
    x, y = recall_task(T, N, V, args.seed)
    print(f"task: read {T} random symbols (V = {V}), name the first at the last step; "
          f"N = {N}, H = {H}, seed {args.seed}")
    results = {}
    for name in args.networks:
        model = build(name, V, H, args.radius, args.forget_bias, args.seed)
        head = nr.Linear(H, V, dtype=np.float64, seed=args.seed + 1)
        results[label(name, args)] = trace_one(model, head, x, y)

    steps = range(T - 1, -1, -args.every)
    print_table(f"||dL/dh_t||: the gradient at step t (loss at t = {T - 1})", steps, results, "grad_norms")
    print_table(f"||dh_{T - 1}/dh_t||_2: the product of step Jacobians", steps, results, "jacobian_norms")

    print("\nnetwork        radius  ||dL/dh_0||/||dL/dh_T-1||  verdict    saturated share "
          f"(tanh |y| > {diagnostics.TANH_SATURATED}, sigmoid within {diagnostics.SIGMOID_SATURATED} "
          "of 0 or 1, relu off)")
    for name, r in results.items():
        ratio = r["grad_norms"][0] / r["grad_norms"][-1]
        sat = ", ".join(f"{k} {v:.0%}" for k, v in r["saturation"].items())
        print(f"{name:<14} {r['radius']:6.2f}  {ratio:25.2e}  {verdict(ratio):<9}  {sat}")

    out = Path(args.out)
    written = [
        plotting.save_heatmaps({n: r["heatmap"] for n, r in results.items()}, out / "heatmaps.png",
                               title="|dL/dh_t|, batch mean"),
        plotting.save_lines({n: r["grad_norms"] for n, r in results.items()}, out / "grad_norms.png",
                            title=f"||dL/dh_t||, loss at t = {T - 1}", ylabel="norm", logy=True),
        plotting.save_lines({n: r["jacobian_norms"] for n, r in results.items()},
                            out / "jacobian_norms.png", title=f"||dh_{T - 1}/dh_t||_2",
                            ylabel="spectral norm", logy=True),
    ]
    for path in written:
        if path is not None:
            print(f"wrote {path}")
    return 0

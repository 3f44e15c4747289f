"""``python -m numrnn demo``: the main job, on built-in data, in a few seconds.

1. The gradient-check table of a 2-layer bidirectional RNN: every hand-written
   gradient against central differences.
2. The classic first exercise of RNN tutorials: learn "hello" -> "ohlol" one character
   at a time (one-hot input, an RNN, a Linear head, softmax cross-entropy, Adam),
   printing the loss per epoch until the prediction reads "ohlol".
3. BPTT made visible: ||dL/dh_t|| at every step t = 1..T when the loss reads only the
   last state h_T, so the reader sees the gradient shrink as it flows back in time.

Each part says which code ran. With the default ``--backend auto`` the RNN layers run
the Numba kernels when Numba is installed; ``--backend numpy`` runs the textbook in
``numrnn/functional/`` (the place to set a breakpoint), about as fast at these sizes.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import numrnn as nr
from numrnn import config
from numrnn.argtypes import positive_int
from numrnn.data import HELLO_VOCAB, decode, hello_ohlol, one_hot
from numrnn.diagnostics import hidden_grad_norms
from numrnn.which_code import which_code


def add_parser(sub) -> None:
    p = sub.add_parser("demo", help="gradient check, 'hello' -> 'ohlol', BPTT gradient norms",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=positive_int, default=300, help="most epochs for 'hello' (default 300)")
    p.add_argument("--hidden-size", type=positive_int, default=8)
    p.add_argument("--backend", default="auto", choices=config.BACKENDS,
                   help="numpy: the textbook in numrnn/functional/; auto (default): Numba when installed")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(run=run)


def section(title: str) -> None:
    print(f"\n== {title} " + "=" * max(0, 72 - len(title)))


def gradient_check(backend: str, seed: int) -> bool:
    section("1. gradient check: 2-layer bidirectional tanh RNN, float64")
    rnn = nr.RNN(3, 4, num_layers=2, bidirectional=True, dtype=np.float64, backend=backend, seed=seed)
    x = np.random.default_rng(seed).standard_normal((6, 2, 3))  # (T, N, I)
    report = nr.check_gradients(rnn, x, seed=seed)
    print(report)
    print(f"which code was checked: {which_code(rnn, probe=x)}")  # check_gradients ran a copy
    return report.ok


def train_hello(epochs: int, hidden: int, backend: str, seed: int):
    """Train RNN + Linear on "hello" -> "ohlol"; returns (rnn, head, prediction)."""
    section('2. learning "hello" -> "ohlol" (one-hot, RNN, Linear, cross-entropy, Adam)')
    V = len(HELLO_VOCAB)
    x, y = hello_ohlol()  # (T, 1, V), (T, 1)
    rnn = nr.RNN(V, hidden, backend=backend, seed=seed)
    head = nr.Linear(hidden, V, seed=seed + 1)
    opt = nr.Adam([rnn, head], lr=0.05)
    prediction = ""
    for epoch in range(1, epochs + 1):
        opt.zero_grad()
        out, _ = rnn(x)  # (T, 1, H)
        logits = head(out)  # (T, 1, V)
        loss, dlogits = nr.cross_entropy(logits, y)
        rnn.backward(head.backward(dlogits))
        opt.step()
        prediction = decode(logits.argmax(axis=-1)[:, 0], HELLO_VOCAB)
        print(f"epoch {epoch:3d}  loss {loss:.4f}  prediction {prediction!r}")
        if prediction == "ohlol":
            break
    print(f'learned prediction: "{prediction}"' if prediction == "ohlol"
          else f'did not reach "ohlol" in {epochs} epochs: last prediction "{prediction}"')
    print(f"which code ran: {which_code(rnn)}")
    return rnn, head, prediction


def show_gradient_flow(rnn, T: int = 20) -> None:
    section(f"3. BPTT: ||dL/dh_t|| for t = {T}..1 when the loss reads only h_{T} (T = {T})")
    ids = np.resize(np.arange(len(HELLO_VOCAB)), T)
    x = one_hot(ids, len(HELLO_VOCAB), rnn.dtype)[:, None, :]  # (T, 1, V)
    dh_last = np.ones((1, rnn.hidden_size), dtype=rnn.dtype)
    norms = hidden_grad_norms(rnn, x, dh_last)  # (T,): norms[t - 1] is step t's
    logs = np.log10(np.maximum(norms, 1e-300))
    span = max(logs.max() - logs.min(), 1e-12)
    for t in range(T, 0, -1):
        bar = "#" * (1 + int(round(39 * (logs[t - 1] - logs.min()) / span)))  # log scale
        print(f"t = {t:2d}  ||dL/dh_t|| = {norms[t - 1]:.3e}  {bar}")
    print(f"from t = {T} back to t = 1 the gradient shrank by a factor of "
          f"{norms[-1] / max(norms[0], 1e-300):.1e}: the vanishing gradient that the LSTM and "
          "GRU were designed against")
    print("which code ran: numrnn.diagnostics, through the reference step functions of "
          "numrnn/functional/rnn.py, whatever the backend")


def run(args) -> int:
    start = time.perf_counter()
    ok = gradient_check(args.backend, args.seed)
    rnn, _, prediction = train_hello(args.epochs, args.hidden_size, args.backend, args.seed)
    show_gradient_flow(rnn)
    print(f"\ndemo finished in {time.perf_counter() - start:.1f} s (backend {args.backend!r})")
    return 0 if ok and prediction == "ohlol" else 1

"""hello: read "hello", emit "ohlol", one character at a time (many-to-many).

A classic first exercise of RNN tutorials (the ones numrnn grew out of). The
vocabulary is "helo" (V = 4). At each step the network reads one character of
"hello" and names one of "ohlol"; the two l's of "hello" need different answers
("l", then "o"), so the state must remember what came before.

Two variants, trained side by side with the same optimizer:

    one-hot:    x (T, 1, V) one-hot           -> RNN(V, H) -> Linear(H, V) -> (T, 1, V)
    embedding:  ids (T, 1) -> Embedding(V, E) -> RNN(E, H) -> Linear(H, V) -> (T, 1, V)

(an embedding is a one-hot vector times a learned matrix, so the two are the same
model written two ways). Loss: softmax cross-entropy at every step; Adam. The
training loop is written out in full here, the five lines every other example hands
to ``numrnn.train.Trainer``.
Target: both predict "ohlol". Writes loss.png and onehot.npz, embedding.npz.
"""

from __future__ import annotations

import numrnn as nr
from numrnn import plotting
from numrnn.argtypes import positive_int
from numrnn.checkpoint import load, save
from numrnn.data import HELLO_VOCAB, decode, encode, one_hot
from numrnn.examples.common import Progress, add_common_arguments, out_dir, print_written, verdict
from numrnn.train import check_finite_loss
from numrnn.which_code import which_code

TARGET = "ohlol"


def add_arguments(p) -> None:
    add_common_arguments(p, steps=100, lr=0.05, hidden=8)
    p.add_argument("--embedding-dim", type=positive_int, default=4, help="E (default 4)")


def build(variant: str, args):
    V, H = len(HELLO_VOCAB), args.hidden_size
    rnn_in = V if variant == "onehot" else args.embedding_dim
    layers = [] if variant == "onehot" else [nr.Embedding(V, args.embedding_dim, seed=args.seed)]
    layers += [nr.RNN(rnn_in, H, backend=args.backend, seed=args.seed + 1),
               nr.Linear(H, V, seed=args.seed + 2)]
    return nr.Sequential(*layers)


def predict(model, inputs) -> str:
    logits = model(inputs)  # (T, 1, V)
    return decode(logits.argmax(axis=-1)[:, 0], HELLO_VOCAB)


def train(variant: str, args) -> tuple:
    """Train one variant; returns (model, inputs, losses, first step that predicted "ohlol")."""
    ids = encode("hello", HELLO_VOCAB)[:, None]  # (T, 1)
    inputs = one_hot(ids, len(HELLO_VOCAB)) if variant == "onehot" else ids  # (T, 1, V) or (T, 1)
    targets = encode(TARGET, HELLO_VOCAB)[:, None]  # (T, 1)
    model = build(variant, args)
    opt = nr.Adam(model, lr=args.lr)
    losses, first = [], None
    with Progress(args.steps, f"hello ({variant})", args.progress) as bar:
        for step in range(1, args.steps + 1):
            opt.zero_grad()
            logits = model(inputs)  # (T, 1, V)
            loss, dlogits = nr.cross_entropy(logits, targets)
            check_finite_loss(step, loss)  # stop at the first NaN, naming the step
            model.backward(dlogits)
            opt.step()
            losses.append(loss)
            prediction = decode(logits.argmax(axis=-1)[:, 0], HELLO_VOCAB)
            if first is None and prediction == TARGET:
                first = step
            bar.update(loss=loss, pred=prediction)
    return model, inputs, losses, first


def run(args) -> int:
    out = out_dir(args, "hello")
    curves, ok = {}, True
    for variant in ("onehot", "embedding"):
        model, inputs, losses, first = train(variant, args)
        prediction = predict(model, inputs)
        path = save(model, out / f"{variant}.npz", steps=args.steps, vocab=HELLO_VOCAB)
        again = predict(load(path), inputs)
        when = f"first at step {first}" if first else "never during training"
        print(f'{variant:>9}: "hello" -> "{prediction}"  (loss {losses[-1]:.4f}; "ohlol" {when}; '
              f'checkpoint {path} reloaded predicts "{again}")')
        print(f"{'':>9}  which code ran: {which_code(model)}")
        curves[variant] = losses
        ok = ok and prediction == TARGET == again
    print_written(plotting.save_loss_curve(curves, out / "loss.png", title='hello -> ohlol: cross-entropy',
                                           ylabel="loss", logy=True))
    verdict(ok, 'both variants predict "ohlol"')
    return 0 if ok else 1


"""chars: a character-level language model, in the spirit of Karpathy's min-char-rnn.

The text is real and needs no download: the source of a standard-library module
(``argparse`` by default, about 100,000 characters of code, comments and docstrings,
read with ``inspect.getsource``), or any file given with ``--text``. The last 10% is
held out for validation.

Training is stateful truncated BPTT, as in min-char-rnn, but batched: the training
text is cut into N parallel streams and read T characters at a time; the state at
the end of a chunk starts the next chunk, but no gradient flows across the cut.

    ids (T, N) -> Embedding(V, 32) -> RNN(32, H) -> Linear(H, V) -> logits (T, N, V)

Loss: cross-entropy of the next character, at every step; optimizer: Adam (or
Adagrad, min-char-rnn's choice); gradient norm clipped to 5; each update is one call
of ``numrnn.tbptt.train_tbptt``.

A model that knows nothing guesses uniformly and scores ln V nats per character
(perplexity V). Target: validation loss below half of that, i.e. perplexity below
sqrt(V). Samples are drawn at a few temperatures (logits / temperature before the
softmax: low is cautious, high is adventurous). Writes loss.png and model.npz.
"""

from __future__ import annotations

import importlib
import inspect
import math
from pathlib import Path

import numpy as np

import numrnn as nr
from numrnn import plotting
from numrnn.argtypes import positive_float, positive_int
from numrnn.checkpoint import load, save
from numrnn.examples.common import Progress, add_common_arguments, out_dir, print_written, verdict
from numrnn.functional.losses import softmax
from numrnn.tbptt import train_tbptt
from numrnn.which_code import which_code

TARGET_FRACTION = 0.5  # of ln V


def add_arguments(p) -> None:
    add_common_arguments(p, steps=300, lr=5e-3, hidden=128)
    source = p.add_mutually_exclusive_group()
    source.add_argument("--text", default=None, help="train on this UTF-8 file instead")
    source.add_argument("--module", default="argparse",
                        help="standard-library module whose source is the text (default argparse)")
    p.add_argument("--seq-len", type=positive_int, default=25, help="T, characters per chunk (default 25)")
    p.add_argument("--batch", type=positive_int, default=64, help="N, parallel streams (default 64)")
    p.add_argument("--embedding-dim", type=positive_int, default=32, help="E (default 32)")
    p.add_argument("--optimizer", choices=("adam", "adagrad"), default="adam",
                   help="adam (default) or adagrad (min-char-rnn; try --lr 0.1)")
    p.add_argument("--temperatures", type=positive_float, nargs="+", default=[0.5, 1.0],
                   help="sampling temperatures (default 0.5 1.0)")
    p.add_argument("--sample-len", type=positive_int, default=200, help="characters per sample (default 200)")


def read_text(args) -> tuple:
    """(text, where it came from)."""
    if args.text:
        return Path(args.text).read_text(encoding="utf-8"), args.text
    module = importlib.import_module(args.module)
    try:
        return inspect.getsource(module), f"the source of the standard-library module {args.module!r}"
    except (OSError, TypeError) as exc:
        raise SystemExit(f"chars: cannot read the source of {args.module!r} ({exc}); "
                         "pick another --module or give --text FILE") from exc


def streams(ids, N: int) -> np.ndarray:
    """(L,) ids -> (N, L // N): N contiguous streams, read side by side."""
    L = len(ids) // N
    return ids[: N * L].reshape(N, L)


def mean_loss(model, ids) -> float:
    """Cross-entropy per character of ``ids`` read as one sequence from a zero state."""
    logits = model(ids[:-1, None])  # (L-1, 1, V)
    loss, _ = nr.cross_entropy(logits, ids[1:, None])
    return loss


def sample(model, vocab: str, start: str, length: int, temperature: float, rng) -> str:
    """Feed ``start``, then draw ``length`` characters one at a time from softmax(logits / temperature)."""
    index = {ch: i for i, ch in enumerate(vocab)}
    prompt = np.array([index[ch] for ch in start if ch in index] or [0])[:, None]  # (T0, 1)
    logits = model(prompt)[-1, 0]  # (V,): the prediction after the prompt
    h = model.state
    out = []
    for _ in range(length):
        p = softmax(logits.astype(np.float64) / temperature)
        i = int(rng.choice(len(vocab), p=p))
        out.append(vocab[i])
        logits = model(np.array([[i]]), h)[0, 0]  # one step from the carried state
        h = model.state
    return "".join(out)


def run(args) -> int:
    out = out_dir(args, "chars")
    text, where = read_text(args)
    vocab = "".join(sorted(set(text)))
    V = len(vocab)
    ids = np.array([vocab.index(ch) for ch in text], dtype=np.int64)
    n_val = max(len(ids) // 10, 2)
    train_ids, val_ids = ids[:-n_val], ids[-n_val:]
    data = streams(train_ids, args.batch)  # (N, L)
    T = args.seq_len
    if data.shape[1] < T + 1:
        raise SystemExit(f"chars: the text is too short for {args.batch} streams of {T + 1} characters")
    uniform = math.log(V)
    print(f"chars: {len(text)} characters from {where}; V = {V}, uniform guess ln V = {uniform:.3f} nats")

    model = nr.Sequential(
        nr.Embedding(V, args.embedding_dim, seed=args.seed),
        nr.RNN(args.embedding_dim, args.hidden_size, backend=args.backend, seed=args.seed + 1),
        nr.Linear(args.hidden_size, V, seed=args.seed + 2),
    )
    opt = (nr.Adam if args.optimizer == "adam" else nr.Adagrad)(model, lr=args.lr)
    losses, state, pos, step = [], None, 0, 0
    with Progress(args.steps, "chars", args.progress) as bar:
        while step < args.steps:
            if pos + T + 1 > data.shape[1]:  # end of the streams: start over from a zero state
                pos, state = 0, None
            x = data[:, pos:pos + T].T  # (T, N) characters read
            y = data[:, pos + 1:pos + T + 1].T  # (T, N) the characters that follow
            pos += T
            # one update on this chunk, starting from the state the last chunk ended in;
            # no gradient flows into that state (the cut), NaN guards included
            loss, state, step = train_tbptt(model, opt, x, y, k=T, loss_fn=nr.cross_entropy,
                                            state=state, clip_norm=5.0, step=step)
            losses.append(loss)
            bar.update(loss=loss)

    print(f"which code ran: {which_code(model)}")
    val = mean_loss(model, val_ids)
    print(f"validation: {val:.3f} nats/char, perplexity {math.exp(val):.2f} "
          f"(uniform guess: {uniform:.3f} nats/char, perplexity {V})")
    for temperature in args.temperatures:
        rng = np.random.default_rng(args.seed)
        text_out = sample(model, vocab, "def ", args.sample_len, temperature, rng)
        print(f"\n--- sample at temperature {temperature:g} ---\ndef {text_out}")
    print()
    path = save(model, out / "model.npz", vocab=vocab, steps=args.steps, val_loss=val)
    again = sample(load(path), vocab, "def ", 50, 1.0, np.random.default_rng(args.seed))
    first = sample(model, vocab, "def ", 50, 1.0, np.random.default_rng(args.seed))
    print(f"checkpoint {path} reloaded: samples {'identical' if again == first else 'DIFFER'}")
    print_written(plotting.save_loss_curve(
        losses, out / "loss.png", title=f"chars: training loss (validation {val:.2f})",
        ylabel="nats per character", reference=uniform,
        reference_label=f"uniform guess ln V = {uniform:.2f}"))
    bound = TARGET_FRACTION * uniform
    ok = verdict(val < bound, f"validation loss {val:.3f} nats/char = {val / uniform:.0%} of ln V "
                              f"(target < {bound:.3f}, half of ln V = {uniform:.3f})")
    return 0 if ok else 1

"""classify: the sentiment of a short review, read word by word (many-to-one).

The data are synthetic movie reviews, drawn with the random seed ``--seed``: one or three opinion
words ("good", "dull", ...), some negated ("not good" is negative), scattered among
filler words ("the", "plot", "was", ...), 1 to 20 words long. The label is the
majority opinion after negation. Nothing can be read off one position: the network
must read the whole review, remember what "not" did, and count.

Reviews of different lengths share a batch: they are padded with id 0 to the longest
one, and ``lengths`` tells the RNN and the many-to-one selector where each ends, so
the class is read at each review's own last word:

    ids (T, N) -> Embedding(V, 16) -> GRU(16, H, lengths) -> LastStep(lengths) -> (N, H)
        -> Linear(H, 2) -> logits (N, 2)

(``--cell rnn`` swaps in the Elman RNN: it gets there too, more slowly and less
surely, e.g. ``--cell rnn --hidden-size 64 --lr 3e-3 --steps 800``.)

Loss: softmax cross-entropy; optimizer: Adam; training by ``numrnn.train.Trainer``.
Target: accuracy above 95% on 1,000 held-out reviews. Writes loss.png and model.npz.
"""

from __future__ import annotations

import math

import numpy as np

import numrnn as nr
from numrnn import plotting
from numrnn.argtypes import int_at_least, positive_int
from numrnn.checkpoint import load
from numrnn.examples.common import Progress, add_common_arguments, out_dir, print_written, verdict
from numrnn.train import Trainer
from numrnn.which_code import which_code

TARGET_ACCURACY = 0.95
POSITIVE = ("good", "great", "fun", "superb", "loved")
NEGATIVE = ("bad", "awful", "boring", "dull", "hated")
FILLER = ("the", "movie", "film", "plot", "was", "and", "it", "a", "very", "this", "acting", "story")
VOCAB = ("<pad>", "not") + POSITIVE + NEGATIVE + FILLER
CLASSES = ("negative", "positive")
MIN_LEN = 6  # the longest review without filler: three negated opinions, "not good" x 3


def add_arguments(p) -> None:
    add_common_arguments(p, steps=400, lr=1e-2, hidden=32)
    p.add_argument("--cell", choices=("rnn", "lstm", "gru"), default="gru",
                   help="recurrent cell (default gru)")
    p.add_argument("--batch", type=positive_int, default=64, help="N, reviews per step (default 64)")
    p.add_argument("--max-len", type=int_at_least(MIN_LEN), default=20,
                   help=f"longest review in words, at least {MIN_LEN} (default 20)")


def review(rng, max_len: int) -> tuple:
    """One review as a list of words, and its label (1 positive, 0 negative)."""
    phrases, score = [], 0
    for _ in range(rng.choice([1, 3])):  # an odd number of opinions: no ties
        positive = rng.random() < 0.5
        negated = rng.random() < 0.3
        word = str(rng.choice(POSITIVE if positive else NEGATIVE))
        phrases.append(["not", word] if negated else [word])
        score += (1 if positive else -1) * (-1 if negated else 1)
    n_filler = rng.integers(0, max_len - sum(map(len, phrases)) + 1)
    phrases += [[str(rng.choice(FILLER))] for _ in range(n_filler)]
    words = [w for i in rng.permutation(len(phrases)) for w in phrases[i]]
    return words, int(score > 0)


def make_reviews(M: int, max_len: int, rng) -> tuple:
    """ids (max_len, M) padded with 0, lengths (M,), labels (M,), and the texts."""
    ids = np.zeros((max_len, M), dtype=np.int64)
    lengths = np.empty(M, dtype=np.int64)
    labels = np.empty(M, dtype=np.int64)
    texts = []
    for m in range(M):
        words, labels[m] = review(rng, max_len)
        lengths[m] = len(words)
        ids[:len(words), m] = [VOCAB.index(w) for w in words]
        texts.append(" ".join(words))
    return ids, lengths, labels, texts


def batch_of(ids, lengths, labels, index):
    """The reviews at ``index``, cut to the longest of them: the Trainer's (x, y, lengths)."""
    T = int(lengths[index].max())
    return ids[:T, index], labels[index], lengths[index]


def accuracy(model, ids, lengths, labels) -> float:
    logits = model(ids, lengths=lengths)  # (M, 2)
    return float((logits.argmax(axis=1) == labels).mean())


def run(args) -> int:
    out = out_dir(args, "classify")
    rng = np.random.default_rng(args.seed)
    train = make_reviews(4000, args.max_len, rng)
    test = make_reviews(1000, args.max_len, rng)
    print(f"classify: 4000 training and 1000 test reviews, vocabulary of {len(VOCAB)} words, "
          f"{train[2].mean():.0%} positive")

    cell = {"rnn": nr.RNN, "lstm": nr.LSTM, "gru": nr.GRU}[args.cell]
    H = args.hidden_size
    model = nr.Sequential(
        nr.Embedding(len(VOCAB), 16, padding_idx=0, seed=args.seed),
        cell(16, H, backend=args.backend, seed=args.seed + 1),
        nr.LastStep(),  # many-to-one: the output at each review's last word
        nr.Linear(H, len(CLASSES), seed=args.seed + 2),
    )
    opt = nr.Adam(model, lr=args.lr)
    # one epoch = the training reviews in batches of N, each cut to its longest review;
    # the Trainer passes lengths on, clips the gradient norm, guards against NaN, and
    # writes the checkpoint at the end
    ids, lengths, labels, _ = train
    batches = [batch_of(ids, lengths, labels, np.arange(i, min(i + args.batch, len(labels))))
               for i in range(0, len(labels), args.batch)]
    trainer = Trainer(model, opt, nr.cross_entropy, clip_norm=5.0, checkpoint_path=out / "model.npz",
                      seed=args.seed)
    with Progress(args.steps, "classify", args.progress) as bar:
        history = trainer.fit(batches, epochs=math.ceil(args.steps / len(batches)), max_steps=args.steps,
                              on_step=lambda _, loss: bar.update(loss=loss))

    print(f"which code ran: {which_code(model)}")
    test_ids, test_lengths, test_labels, texts = test
    acc = accuracy(model, test_ids, test_lengths, test_labels)
    predicted = model(test_ids, lengths=test_lengths).argmax(axis=1)
    print("a few test reviews:")
    for m in range(6):
        mark = "ok" if predicted[m] == test_labels[m] else "WRONG"
        print(f"  {CLASSES[predicted[m]]:>8} ({mark:>5})  {texts[m]}")
    path = trainer.checkpoint_path
    again = accuracy(load(path), test_ids, test_lengths, test_labels)
    print(f"checkpoint {path} reloaded: test accuracy {again:.1%}")
    print_written(plotting.save_loss_curve(history.loss, out / "loss.png", title=f"classify: cross-entropy "
                                           f"(test accuracy {acc:.1%})", ylabel="loss", logy=True))
    ok = verdict(acc > TARGET_ACCURACY, f"test accuracy {acc:.1%} (target > {TARGET_ACCURACY:.0%})")
    return 0 if ok else 1

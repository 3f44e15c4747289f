"""minimal: a whole character-level RNN in one file of plain NumPy, to read in one sitting.

Karpathy's min-char-rnn (https://gist.github.com/karpathy/d4dee566867f8291f086) in the
symbols of docs/bptt.md, with the equation numbers of that page. Nothing from numrnn
is used, only NumPy and a text (the source of the standard-library module argparse,
as in ``python -m numrnn train chars``). Mathematically it is min-char-rnn: a tanh RNN
with one bias, a linear read-out, softmax cross-entropy summed over the T = 25 steps
of a chunk, every gradient entry clipped to [-5, 5], Adagrad with 1e-8 inside the
square root, weights drawn as 0.01 * N(0, 1); the state is carried from chunk to chunk.

Steps t = 1..T in the maths live at array index t-1: ``hs[t]`` below is h_{t+1}.
numrnn's layers compute the same thing (tests/examples/test_minimal.py checks it).

    python -m numrnn.examples.minimal [--steps 2000] [--text FILE]
"""

from __future__ import annotations

import argparse
import inspect

import numpy as np


def init_params(V: int, H: int, rng) -> dict:
    """Weights in PyTorch's layout: w_ih (H, V), w_hh (H, H), b (H,), w_hy (V, H), b_y (V,)."""
    return dict(w_ih=0.01 * rng.standard_normal((H, V)), w_hh=0.01 * rng.standard_normal((H, H)),
                b=np.zeros(H), w_hy=0.01 * rng.standard_normal((V, H)), b_y=np.zeros(V))


def loss_and_grads(p: dict, inputs, targets, h0):
    """Forward and BPTT over one chunk of T ids: (summed loss, gradients, h_T)."""
    T, H = len(inputs), h0.shape[0]
    hs = np.zeros((T, H))  # hs[t] = h_{t+1}
    probs = np.zeros((T, len(p["b_y"])))  # softmax of the logits at every step
    loss, h = 0.0, h0
    for t in range(T):
        a = p["w_ih"][:, inputs[t]] + p["w_hh"] @ h + p["b"]  # (1): W_ih x_t for one-hot x_t
        h = hs[t] = np.tanh(a)  # (2)
        logits = p["w_hy"] @ h + p["b_y"]  # (V,)
        e = np.exp(logits - logits.max())
        probs[t] = e / e.sum()
        loss -= np.log(probs[t, targets[t]])
    grads = {k: np.zeros_like(v) for k, v in p.items()}
    dh_carry = np.zeros(H)  # what step t+1 sends back to h_t; nothing comes from beyond T
    for t in reversed(range(T)):
        dlogits = probs[t].copy()
        dlogits[targets[t]] -= 1  # softmax cross-entropy: p - onehot(target)
        grads["w_hy"] += np.outer(dlogits, hs[t])
        grads["b_y"] += dlogits
        dh = dlogits @ p["w_hy"] + dh_carry  # (9): from the loss at t, plus from step t+1
        da = dh * (1 - hs[t] ** 2)  # (3): tanh' from the saved output
        h_prev = hs[t - 1] if t > 0 else h0
        grads["w_ih"][:, inputs[t]] += da  # (6), one-hot x_t
        grads["w_hh"] += np.outer(da, h_prev)  # (7)
        grads["b"] += da  # (8)
        dh_carry = da @ p["w_hh"]  # (5)
    return loss, grads, hs[-1]


def clip(grads: dict, limit: float = 5.0) -> None:
    """Clip every gradient entry to [-limit, limit], in place (against exploding gradients)."""
    for g in grads.values():
        np.clip(g, -limit, limit, out=g)


def adagrad(p: dict, grads: dict, memory: dict, lr: float) -> None:
    """min-char-rnn's Adagrad: memory += g**2, p -= lr * g / sqrt(memory + 1e-8), in place."""
    for k in p:
        memory[k] += grads[k] ** 2
        p[k] -= lr * grads[k] / np.sqrt(memory[k] + 1e-8)


def sample(p: dict, h, first: int, n: int, rng) -> list:
    """Draw ``n`` ids one at a time, feeding each back in, from state ``h`` and id ``first``."""
    ids, i = [], first
    for _ in range(n):
        h = np.tanh(p["w_ih"][:, i] + p["w_hh"] @ h + p["b"])
        logits = p["w_hy"] @ h + p["b_y"]
        e = np.exp(logits - logits.max())
        i = int(rng.choice(len(e), p=e / e.sum()))
        ids.append(i)
    return ids


def train(text: str, steps: int, H: int = 100, T: int = 25, lr: float = 0.1, seed: int = 0,
          report=print):
    """min-char-rnn's loop: returns (params, vocab, smoothed loss after every step)."""
    vocab = sorted(set(text))
    index = {ch: i for i, ch in enumerate(vocab)}
    data = [index[ch] for ch in text]
    rng = np.random.default_rng(seed)
    p = init_params(len(vocab), H, rng)
    memory = {k: np.zeros_like(v) for k, v in p.items()}
    smooth, history, pos, h = np.log(len(vocab)) * T, [], 0, np.zeros(H)
    for n in range(steps):
        if pos + T + 1 >= len(data):  # end of the text: start over from a zero state
            pos, h = 0, np.zeros(H)
        inputs, targets = data[pos:pos + T], data[pos + 1:pos + T + 1]
        loss, grads, h = loss_and_grads(p, inputs, targets, h)  # h_T starts the next chunk
        clip(grads)
        adagrad(p, grads, memory, lr)
        smooth = 0.999 * smooth + 0.001 * loss
        history.append(smooth)
        if report and n % max(1, steps // 5) == 0:
            ids = sample(p, h, inputs[0], 120, rng)
            report(f"step {n}, smoothed loss {smooth:.2f}\n----\n{''.join(vocab[i] for i in ids)}\n----")
        pos += T
    return p, vocab, history


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m numrnn.examples.minimal", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=2000, help="Adagrad steps (default 2000)")
    parser.add_argument("--text", default=None, help="a UTF-8 file (default: argparse's source)")
    parser.add_argument("--seed", type=int, default=0, help="random seed of weights and samples")
    args = parser.parse_args(argv)
    text = open(args.text, encoding="utf-8").read() if args.text else inspect.getsource(argparse)
    _, vocab, history = train(text, args.steps, seed=args.seed)
    print(f"{len(text)} characters, V = {len(vocab)}: smoothed loss {history[0]:.2f} -> {history[-1]:.2f} "
          f"(uniform guess: T ln V = {25 * np.log(len(vocab)):.2f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

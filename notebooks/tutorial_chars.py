# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # A character-level language model
#
# Karpathy's min-char-rnn in numrnn's parts: read text one character at a time, predict the
# next character, then sample new text. This is
# [docs/tutorial_chars.md](../docs/tutorial_chars.md) run cell by cell; the same run from the
# command line is `python -m numrnn train chars --backend numpy`. At the end, the same model
# in one file of plain NumPy, `numrnn/examples/minimal.py`, is checked against numrnn's
# textbook functions.
#
# The RNN is built with `backend="numpy"`, so it runs the textbook in
# `numrnn/functional/rnn.py` (`"auto"` would take the Numba kernel when Numba is installed).

# %%
import argparse
import inspect
import math

import matplotlib.pyplot as plt
import numpy as np

import numrnn as nr
from numrnn.examples import minimal
from numrnn.examples.chars import mean_loss, sample, streams
from numrnn.functional.linear import linear_backward, linear_forward
from numrnn.functional.rnn import rnn_backward, rnn_forward
from numrnn.tbptt import train_tbptt
from numrnn.which_code import which_code

BACKEND = "numpy"  # the textbook; "auto" takes the Numba kernels when Numba is installed

# %% [markdown]
# ## Data that ships with Python
#
# The text is the source of the standard-library module `argparse`, about 100,000
# characters; the last 10% is held out. A model that knows nothing pays ln V nats per
# character; the target is half of that.

# %%
text = inspect.getsource(argparse)
vocab = "".join(sorted(set(text)))
V = len(vocab)
ids = np.array([vocab.index(ch) for ch in text])
n_val = len(ids) // 10
train_ids, val_ids = ids[:-n_val], ids[-n_val:]
print(f"{len(text)} characters, V = {V}, uniform guess ln V = {math.log(V):.3f} nats")

# %% [markdown]
# ## Model and stateful truncated BPTT
#
# The training text is cut into N = 64 contiguous streams read side by side, T = 25
# characters per update. Each chunk starts from the state where the last one ended, but the
# backward pass stops at the chunk's first step: that is the truncation. (In NumPy there is
# no graph to detach: the state is just an array.)

# %%
data = streams(train_ids, 64)  # (N, L)
T, H = 25, 128
model = nr.Sequential(
    nr.Embedding(V, 32, seed=0),  # ids (T, N) -> (T, N, 32)
    nr.RNN(32, H, backend=BACKEND, seed=1),  # -> (T, N, H)
    nr.Linear(H, V, seed=2),  # -> logits (T, N, V): a guess for the next character at every step
)
opt = nr.Adam(model, lr=5e-3)

losses, state, pos, step = [], None, 0, 0
while step < 300:
    if pos + T + 1 > data.shape[1]:  # end of the streams: start over from a zero state
        pos, state = 0, None
    x = data[:, pos:pos + T].T  # (T, N) characters read
    y = data[:, pos + 1:pos + T + 1].T  # (T, N) the characters that follow
    pos += T
    loss, state, step = train_tbptt(model, opt, x, y, k=T, loss_fn=nr.cross_entropy,
                                    state=state, clip_norm=5.0, step=step)
    losses.append(loss)
print(which_code(model))

val = mean_loss(model, val_ids)
print(f"validation: {val:.3f} nats/char, perplexity {math.exp(val):.2f} "
      f"(target: below {0.5 * math.log(V):.3f})")

# %%
fig, ax = plt.subplots(figsize=(6, 3))
ax.plot(losses)
ax.axhline(math.log(V), color="gray", ls="--", lw=1, label=f"uniform guess ln V = {math.log(V):.2f}")
ax.set(xlabel="step", ylabel="nats per character", title=f"training loss (validation {val:.2f})")
ax.legend(frameon=False)
plt.show()

# %% [markdown]
# ## Sampling with a temperature
#
# Feed a prompt, then draw one character at a time from softmax(logits / temperature),
# feeding each back in with the carried state. Below 1 is cautious, above 1 adventurous.

# %%
for temperature in (0.5, 1.0):
    print(f"--- temperature {temperature} ---")
    print("def " + sample(model, vocab, "def ", 160, temperature, np.random.default_rng(0)))

# %% [markdown]
# ## The same model in one file
#
# `numrnn/examples/minimal.py` is min-char-rnn in about 120 lines of NumPy: forward, BPTT,
# clipping, Adagrad and sampling, with the equation numbers of bptt.md in its comments. Its
# hand-written gradients equal what numrnn's textbook functions give for the same weights
# (one bias: numrnn's `b_hh` is zero; min-char-rnn sums the loss over the T steps where
# `cross_entropy` takes the mean).

# %%
rng = np.random.default_rng(0)
p = {k: 0.3 * rng.standard_normal(v.shape) for k, v in minimal.init_params(V, 16, rng).items()}
chunk = [int(i) for i in ids[:26]]
loss, grads, _ = minimal.loss_and_grads(p, chunk[:-1], chunk[1:], np.zeros(16))

x1 = np.eye(V)[chunk[:-1]][:, None, :]  # (T, 1, V) one-hot
h, rnn_cache = rnn_forward(x1, np.zeros((1, 16)), p["w_ih"], p["w_hh"], p["b"], np.zeros(16))
logits, lin_cache = linear_forward(h, p["w_hy"], p["b_y"])
mean, dlogits = nr.cross_entropy(logits, np.array(chunk[1:])[:, None])
dh, dw_hy, _ = linear_backward(dlogits * 25, lin_cache)
_, _, dw_ih, dw_hh, db, _ = rnn_backward(dh, rnn_cache)
for name, ours in (("w_ih", dw_ih), ("w_hh", dw_hh), ("b", db), ("w_hy", dw_hy)):
    print(f"d{name}: largest difference {np.abs(grads[name] - ours).max():.1e}")
print(f"loss {loss:.6f} vs 25 x mean {25 * mean:.6f}")

# %%
assert val < 0.5 * math.log(V), val
assert all(np.allclose(grads[k], v) for k, v in (("w_ih", dw_ih), ("w_hh", dw_hh), ("w_hy", dw_hy)))

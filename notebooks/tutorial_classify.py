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
# # Classifying sequences of different lengths
#
# Many-to-one classification: read a short movie review word by word and say whether it is
# positive or negative. This is [docs/tutorial_classify.md](../docs/tutorial_classify.md) run
# cell by cell; the same run from the command line is
# `python -m numrnn train classify --backend numpy`.
#
# The GRU is built with `backend="numpy"`, so it runs the textbook in
# `numrnn/functional/gru.py` (`"auto"` would take the Numba kernel when Numba is installed).

# %%
import math

import matplotlib.pyplot as plt
import numpy as np

import numrnn as nr
from numrnn.diagrams import gru_cell
from numrnn.examples.classify import CLASSES, VOCAB, accuracy, batch_of, make_reviews
from numrnn.train import Trainer
from numrnn.which_code import which_code

BACKEND = "numpy"  # the textbook; "auto" takes the Numba kernels when Numba is installed

# %% [markdown]
# ## Data
#
# Synthetic reviews, drawn with a random seed: one or three opinion words, each negated with
# probability 0.3 ("not good" is negative), among filler words, 1 to 20 words in all. The
# label is the majority opinion after negation, so the network must read to the end,
# remember what "not" did, and count.

# %%
rng = np.random.default_rng(0)
train = make_reviews(4000, 20, rng)  # ids (20, M) padded with 0, lengths (M,), labels (M,), texts
test = make_reviews(1000, 20, rng)
for m in range(4):
    print(f"{CLASSES[train[2][m]]:>8}  {train[3][m]}")

# %% [markdown]
# ## The GRU
#
# The update gate z decides how much of h_{t-1} is copied through, which lets the state (and
# its gradient) cross the filler words; the reset gate r acts on the hidden half of the
# candidate after its matrix product. [docs/lstm_gru.md](../docs/lstm_gru.md) derives the
# backward pass gate by gate, with the labels (G1)-(G4) of the picture.

# %%
gru_cell()
plt.show()

# %% [markdown]
# ## Different lengths in one batch
#
# A batch is cut to its longest review; shorter ones are padded with id 0 and `lengths` says
# where each ends. `Sequential` passes `lengths` to every layer that takes it: the GRU stops
# each review at its own length (as PyTorch's packed sequences do) and `LastStep` reads each
# review's own last word.

# %%
H = 32
model = nr.Sequential(
    nr.Embedding(len(VOCAB), 16, padding_idx=0, seed=0),  # ids (T, N) -> (T, N, 16)
    nr.GRU(16, H, backend=BACKEND, seed=1),  # -> (T, N, H), stopping at each length
    nr.LastStep(),  # -> (N, H): the output at step lengths - 1
    nr.Linear(H, len(CLASSES), seed=2),  # -> logits (N, 2)
)
ids, lengths, labels, _ = train
batches = [batch_of(ids, lengths, labels, np.arange(i, min(i + 64, len(labels)))) for i in range(0, 4000, 64)]
x, y, n = batches[0]
print("one batch:", x.shape, "(T, N) ids;", "lengths", n[:8], "...")

# %% [markdown]
# Cross-entropy, Adam, the gradient norm clipped to 5: 200 steps here (about three epochs),
# half of what the command line runs, which is already enough.

# %%
trainer = Trainer(model, nr.Adam(model, lr=1e-2), nr.cross_entropy, clip_norm=5.0, seed=0)
history = trainer.fit(batches, epochs=math.ceil(200 / len(batches)), max_steps=200)
print(which_code(model))
acc = accuracy(model, test[0], test[1], test[2])
print(f"test accuracy {acc:.1%} (target > 95%)")

# %%
fig, ax = plt.subplots(figsize=(6, 3))
ax.semilogy(history.loss)
ax.set(xlabel="step", ylabel="cross-entropy", title=f"classify (test accuracy {acc:.1%})")
plt.show()

# %% [markdown]
# Try `nr.RNN` or `nr.LSTM` in place of `nr.GRU` (the plain RNN gets there more slowly and
# less surely: [docs/diagnostics.md](../docs/diagnostics.md) shows why), or longer reviews.

# %%
assert acc > 0.95, acc

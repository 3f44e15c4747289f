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
# # "hello" -> "ohlol": an RNN learns to remember
#
# A classic first exercise of RNN tutorials (the ones numrnn grew out of): read "hello" one
# character at a time and, at every step, name one character of "ohlol". The two l's of
# "hello" need different answers ("l", then "o"), so the network must remember what it has
# read. This is [docs/tutorial_hello.md](../docs/tutorial_hello.md) run cell by cell; the
# same run from the command line is `python -m numrnn train hello --backend numpy`.
#
# Every recurrent layer in this notebook is built with `backend="numpy"`: it runs the textbook
# in `numrnn/functional/rnn.py`, so a breakpoint or a `print` you put there fires. With
# `"auto"` it would run the compiled Numba kernel when Numba is installed; the notebook says
# which code ran after training.

# %%
import matplotlib.pyplot as plt
import numpy as np

import numrnn as nr
from numrnn import diagnostics
from numrnn.data import HELLO_VOCAB, decode, encode, one_hot
from numrnn.diagrams import unrolled_rnn
from numrnn.which_code import which_code

BACKEND = "numpy"  # the textbook; "auto" takes the Numba kernels when Numba is installed

# %% [markdown]
# ## The data
#
# The vocabulary is "helo" (V = 4). The input is "hello" as one-hot vectors, time-major with a
# batch of one; the targets are the ids of "ohlol". Steps are counted t = 1..T (T = 5) in the
# maths and live at array index t-1: `x[0]` is x_1 = "h".

# %%
V, T = len(HELLO_VOCAB), 5
ids = encode("hello", HELLO_VOCAB)[:, None]  # (T, 1)
x = one_hot(ids, V)  # (T, N=1, V)
y = encode("ohlol", HELLO_VOCAB)[:, None]  # (T, 1) the character to name at each step
print("x", x.shape, "targets", y.ravel(), "=", decode(y[:, 0], HELLO_VOCAB))

# %% [markdown]
# ## The network, unrolled
#
# One RNN step per character, a Linear head reading every h_t, softmax cross-entropy at
# every step. The blue arrows are the forward pass, the red ones what `model.backward`
# computes: [docs/bptt.md](../docs/bptt.md) derives each, with the equation numbers shown.

# %%
unrolled_rnn(T)
plt.show()

# %%
H = 8
model = nr.Sequential(nr.RNN(V, H, backend=BACKEND, seed=1), nr.Linear(H, V, seed=2))
opt = nr.Adam(model, lr=0.05)
print(model)

# %% [markdown]
# ## The loop, written out
#
# zero the gradients, forward, loss, backward (BPTT through all five steps), update.

# %%
losses, predictions = [], []
for _ in range(100):
    opt.zero_grad()
    logits = model(x)  # (T, 1, V)
    loss, dlogits = nr.cross_entropy(logits, y)  # mean over the 5 steps
    model.backward(dlogits)  # BPTT
    opt.step()
    losses.append(loss)
    predictions.append(decode(logits.argmax(axis=-1)[:, 0], HELLO_VOCAB))

print(which_code(model))
first = predictions.index("ohlol") + 1
print(f'"ohlol" first predicted at step {first}; loss after 100 steps {losses[-1]:.4f}')

# %%
fig, ax = plt.subplots(figsize=(6, 3))
ax.semilogy(np.arange(1, len(losses) + 1), losses)
ax.axvline(first, color="gray", ls="--", lw=1, label='first "ohlol"')
ax.set(xlabel="step", ylabel="cross-entropy", title="hello -> ohlol")
ax.legend(frameon=False)
plt.show()

# %% [markdown]
# ## Inside BPTT: the gradient at each step
#
# `numrnn.diagnostics.hidden_grads` runs the textbook's backward and returns the total
# gradient dL/dh_t at every step: the upstream part from the head plus the part carried back
# from step t+1 (equation (9) of bptt.md). The loss reads every step here, so every step gets
# its own upstream gradient as well as what later steps send back.

# %%
rnn, head = model[0], model[1]
out, _ = rnn(x)  # (T, 1, H)
logits = head(out)
loss, dlogits = nr.cross_entropy(logits, y)
dout = head.backward(dlogits)  # (T, 1, H): dh[t-1], the gradient "from above" at step t
dh_total = diagnostics.hidden_grads(rnn, x, dout)  # (T, 1, H): dL/dh_t, both parts
for t in range(1, T + 1):
    above = np.linalg.norm(dout[t - 1])
    total = np.linalg.norm(dh_total[t - 1])
    char = HELLO_VOCAB[ids[t - 1, 0]]
    print(f"step {t} ({char!r}): |from above| {above:.2e}   |total dL/dh_t| {total:.2e}")

# %% [markdown]
# At the last step the two are equal (nothing comes back from beyond step T); at every earlier
# step the total adds what step t+1 carried back.

# %%
assert np.allclose(dh_total[-1], dout[-1])
assert predictions[-1] == "ohlol", predictions[-1]

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
# # Exercises 3: the head, the loss and the clip
#
# What sits around the RNN in every example: the Linear head's backward (`linear.py`), the
# softmax cross-entropy forward and backward (`losses.py`), and clipping by the global norm
# (`clip.py`). [docs/training.md](../docs/training.md) describes the three.
#
# Set `FOLDER` to your exercise folder; if it does not exist, the cell after it writes a fresh
# one. After each edit, run the exercise's cell again: it reads your file afresh.

# %%
import numpy as np

import numrnn as nr
from numrnn.exercises.grader import grade
from numrnn.exercises.student import workspace

# %% tags=["parameters"]
FOLDER = "exercises"  # your exercise folder

# %%
folder, load = workspace(FOLDER)  # writes a fresh student folder when there is none;
# load(name) imports your file afresh: run it again after every edit


rng = np.random.default_rng(0)
T, N, I, O, C = 5, 2, 3, 4, 5  # time steps, batch, input features, outputs, classes

# %% [markdown]
# ## 1. `linear_backward`
#
# y = x @ w.T + b for x (..., I), w (O, I): the same products as equations (4), (6) and (8)
# of [docs/bptt.md](../docs/bptt.md). `linear_forward` is given; it flattens the leading axes
# to M rows.

# %% tags=["exercise"]
linear = load("linear.py")
x, w, b = rng.standard_normal((T, N, I)), rng.standard_normal((O, I)), rng.standard_normal(O)
y, cache = linear.linear_forward(x, w, b)
dx, dw, db = linear.linear_backward(np.ones_like(y), cache)  # your code runs here
print(nr.check_function(linear.linear_forward, linear.linear_backward, (x, w, b)))

# %% [markdown]
# ## 2. Softmax cross-entropy
#
# `log_softmax(z)` must survive logits of 1000 (shift by the max first);
# `softmax_cross_entropy_forward(logits, targets, mask)` returns the mean loss over the
# counted positions and a cache; `softmax_cross_entropy_backward(dloss, cache)` returns
# dL/dlogits = dloss * (softmax(z) - onehot(y)) / M at the counted positions.

# %% tags=["exercise"]
losses = load("losses.py")
logits = 1000 * rng.standard_normal((T, N, C))  # large: exp(1000) overflows without the shift
print("finite:", np.isfinite(losses.log_softmax(logits)).all())  # your code runs here
targets = rng.integers(0, C, size=(T, N))
loss, ce_cache = losses.softmax_cross_entropy_forward(logits / 1000, targets)
print(f"loss {loss:.4f}; numrnn's cross_entropy {nr.cross_entropy(logits / 1000, targets)[0]:.4f}")
print(nr.check_function(losses.softmax_cross_entropy_forward, losses.softmax_cross_entropy_backward,
                        (logits / 1000, targets)))

# %% [markdown]
# ## 3. `clip_grad_norm`
#
# One norm over all the gradients, sqrt(sum of every g**2); when it exceeds `max_norm`, scale
# every gradient *in place* by max_norm / (norm + 1e-6). Return the norm before clipping.

# %% tags=["exercise"]
clip = load("clip.py")
grads = [np.full(4, 3.0), np.full((2, 2), 4.0)]
norm = clip.clip_grad_norm(grads, 1.0)  # your code runs here
print(f"norm before {norm:.3f}, after {np.sqrt(sum((g ** 2).sum() for g in grads)):.6f}")

# %%
for name in ("linear.py", "losses.py", "clip.py"):
    final = grade(folder, only=name)
    print(final, end="\n\n")
    assert final.ok, name

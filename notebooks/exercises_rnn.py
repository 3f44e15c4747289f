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
# # Exercises 2: the RNN, one step and through time
#
# You write the four functions of `rnn.py` in your exercise folder, in the order of
# [docs/bptt.md](../docs/bptt.md): `rnn_step_forward` (equations (1)-(2)),
# `rnn_step_backward` ((3)-(8)), `rnn_forward` and `rnn_backward` (the carried gradient,
# (9)-(10)). Each cell below runs *your* function, then checks it: forwards against golden
# values that ship with numrnn, backwards against central differences of your own forward
# (`nr.check_function`), exactly as `python -m numrnn exercises grade` does.
#
# Set `FOLDER` to your exercise folder; if it does not exist, the next cell writes a fresh one
# (`python -m numrnn exercises make FOLDER` from a terminal does the same). After each edit of
# `rnn.py`, run the exercise's cell again: it reads the file afresh.

# %%
import matplotlib.pyplot as plt
import numpy as np

import numrnn as nr
from numrnn.diagrams import unrolled_rnn
from numrnn.exercises.grader import grade
from numrnn.exercises.student import workspace
from numrnn.exercises.train import train

# %% tags=["parameters"]
FOLDER = "exercises"  # your exercise folder

# %%
folder, load = workspace(FOLDER)  # writes a fresh student folder when there is none;
# load(name) imports your file afresh: run it again after every edit


T, N, I, H = 5, 2, 3, 4  # time steps, batch, input features, hidden units
rng = np.random.default_rng(0)
x = rng.standard_normal((T, N, I))  # x[t-1] is x_t
h0 = rng.standard_normal((N, H))  # the initial state h_0
w_ih, w_hh = 0.5 * rng.standard_normal((H, I)), 0.5 * rng.standard_normal((H, H))
b_ih, b_hh = 0.1 * rng.standard_normal(H), 0.1 * rng.standard_normal(H)

# %% [markdown]
# ## 1. `rnn_step_forward`: equations (1) and (2)
#
#     a_t = x_t @ W_ih.T + b_ih + h_{t-1} @ W_hh.T + b_hh          (1)
#     h_t = f(a_t)                                                 (2)
#
# Return `h_next` (N, H) and an `RNNStepCache` holding what the backward will need. The
# docstring in `rnn.py` gives every shape.

# %% tags=["exercise"]
rnn = load("rnn.py")
h1, cache = rnn.rnn_step_forward(x[0], h0, w_ih, w_hh, b_ih, b_hh)  # your code runs here
print("h_1:", h1.shape)
print(grade(folder, only="rnn_step_forward"))

# %% [markdown]
# ## 2. `rnn_step_backward`: equations (3) to (8)
#
# Given `dh`, the *total* gradient dL/dh_t, return `dx, dh_prev, dw_ih, dw_hh, db_ih, db_hh`.
# Take f'(a_t) from the saved output h_t (1 - h_t**2 for tanh), not from a_t.

# %% tags=["exercise"]
rnn = load("rnn.py")
grads = rnn.rnn_step_backward(np.ones_like(h1), cache)  # your code runs here
print([g.shape for g in grads])
print(nr.check_function(rnn.rnn_step_forward, rnn.rnn_step_backward, (x[0], h0, w_ih, w_hh, b_ih, b_hh)))

# %% [markdown]
# ## 3. `rnn_forward`: the step, T times
#
# Loop your step over `for t in range(T)`; iteration t computes step t+1 from `x[t]`, and
# `h[t]` holds h_{t+1}. Return all the states as one (T, N, H) array and an `RNNCache`.

# %% tags=["exercise"]
rnn = load("rnn.py")
h, seq_cache = rnn.rnn_forward(x, h0, w_ih, w_hh, b_ih, b_hh)  # your code runs here
print("h:", h.shape, " h_T = h[-1]:", np.round(h[-1, 0], 3))
print(grade(folder, only="rnn_forward"))

# %% [markdown]
# ## 4. `rnn_backward`: backpropagation through time
#
# Walk the steps backwards. Step t's backward starts from the total gradient
# `dh[t] + dh_carry` (equation (9)); what it sends back through (5) is the next `dh_carry`;
# the weight gradients add up over the steps; `dh0` is the last `dh_carry` (10).

# %%
unrolled_rnn(T)
plt.show()

# %% tags=["exercise"]
rnn = load("rnn.py")
grads = rnn.rnn_backward(np.ones_like(h), seq_cache)  # your code runs here
print([g.shape for g in grads])
report = nr.check_function(rnn.rnn_forward, rnn.rnn_backward, (x, h0, w_ih, w_hh, b_ih, b_hh))
print(report)

# %% [markdown]
# Below the table, the report breaks `dx` down by time step. If the carried gradient is
# missing, only the last step is right ("correct at t >= 5, wrong before").
#
# ## 5. Your RNN learns
#
# The same functions, plugged into a layer (`nr.Recurrent` over your `rnn.py`), learn
# "hello" -> "ohlol" with numrnn's Linear head, loss and Adam
# (`python -m numrnn exercises train FOLDER`). Learning is the reward, not the proof: the
# grader decides whether a function is right.

# %%
result = train(load("rnn.py"))
print(f'prediction "{result.prediction}", first "ohlol" at step {result.first}; the layer ran {result.ran}')

# %%
final = grade(folder, only="rnn.py")
print(final)
assert final.ok and result.ok

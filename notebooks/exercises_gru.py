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
# # Exercises 5: the GRU step backward
#
# `gru_step_forward` and the sequence loops are given in `gru.py` of your exercise folder;
# you write `gru_step_backward`, through (G4) to (G1) of
# [docs/lstm_gru.md](../docs/lstm_gru.md). PyTorch's reset gate multiplies the hidden half
# of the candidate *after* its matrix product and bias, r * (h W_hn.T + b_hn), so the input
# and hidden halves of the pre-activation get different gradients.
#
# Set `FOLDER` to your exercise folder; if it does not exist, the cell after it writes a fresh
# one. After each edit, run the exercise's cell again: it reads your file afresh.

# %%
import matplotlib.pyplot as plt
import numpy as np

import numrnn as nr
from numrnn.diagrams import gru_cell
from numrnn.exercises.grader import grade
from numrnn.exercises.student import workspace

# %% tags=["parameters"]
FOLDER = "exercises"  # your exercise folder

# %%
folder, load = workspace(FOLDER)  # writes a fresh student folder when there is none;
# load(name) imports your file afresh: run it again after every edit


# %%
gru_cell()
plt.show()

# %%
N, I, H = 2, 3, 4  # batch, input features, hidden units
rng = np.random.default_rng(0)
x, h_prev = rng.standard_normal((N, I)), rng.standard_normal((N, H))
w_ih, w_hh = 0.5 * rng.standard_normal((3 * H, I)), 0.5 * rng.standard_normal((3 * H, H))
b_ih, b_hh = 0.5 * rng.standard_normal(3 * H), 0.5 * rng.standard_normal(3 * H)

# %% tags=["exercise"]
gru = load("gru.py")
h_next, cache = gru.gru_step_forward(x, h_prev, w_ih, w_hh, b_ih, b_hh)
grads = gru.gru_step_backward(np.ones_like(h_next), cache)  # your code runs here
report = nr.check_function(gru.gru_step_forward, gru.gru_step_backward, (x, h_prev, w_ih, w_hh, b_ih, b_hh))
print(report)

# %% [markdown]
# The r and z biases enter as sums b_i + b_h, so their two gradients are equal; only the
# candidate's differ (b_hn is multiplied by r, b_in is not).

# %%
db_ih, db_hh = grads[4], grads[5]
print("r, z blocks equal:", np.allclose(db_ih[:2 * H], db_hh[:2 * H]),
      "  n block equal:", np.allclose(db_ih[2 * H:], db_hh[2 * H:]))

# %%
final = grade(folder, only="gru_step_backward")
print(final)
assert final.ok

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
# # Exercises 4: the LSTM step backward
#
# `lstm_step_forward` and the sequence loops are given in `lstm.py` of your exercise folder;
# you write `lstm_step_backward`, walking the forward backwards through (L5) to (L1) of
# [docs/lstm_gru.md](../docs/lstm_gru.md). Two gradients arrive at a step: `dh`, everything
# flowing into h_t, and `dc`, what flows into c_t from outside the step.
#
# Set `FOLDER` to your exercise folder; if it does not exist, the cell after it writes a fresh
# one. After each edit, run the exercise's cell again: it reads your file afresh.

# %%
import matplotlib.pyplot as plt
import numpy as np

import numrnn as nr
from numrnn.diagrams import lstm_cell
from numrnn.exercises.grader import grade
from numrnn.exercises.student import workspace

# %% tags=["parameters"]
FOLDER = "exercises"  # your exercise folder

# %%
folder, load = workspace(FOLDER)  # writes a fresh student folder when there is none;
# load(name) imports your file afresh: run it again after every edit


# %% [markdown]
# The gates, in PyTorch's order i, f, g, o. The one line to stop at is the total gradient
# into c_t: c_t reaches the loss through m = o * tanh(c_t) at this step *and* through
# c_{t+1} at the next one (the red line), so the two add.

# %%
lstm_cell()
plt.show()

# %%
N, I, H, P = 2, 3, 4, 2  # batch, input features, hidden units, projection
rng = np.random.default_rng(0)
x, h_prev, c_prev = rng.standard_normal((N, I)), rng.standard_normal((N, H)), rng.standard_normal((N, H))
w_ih, w_hh = 0.5 * rng.standard_normal((4 * H, I)), 0.5 * rng.standard_normal((4 * H, H))
b_ih, b_hh = 0.5 * rng.standard_normal(4 * H), 0.5 * rng.standard_normal(4 * H)

# %% tags=["exercise"]
lstm = load("lstm.py")
h_next, c_next, cache = lstm.lstm_step_forward(x, h_prev, c_prev, w_ih, w_hh, b_ih, b_hh)
grads = lstm.lstm_step_backward(np.ones_like(h_next), np.zeros_like(c_next), cache)  # your code
print(nr.check_function(lstm.lstm_step_forward, lstm.lstm_step_backward,
                        (x, h_prev, c_prev, w_ih, w_hh, b_ih, b_hh)))

# %% [markdown]
# With a projection (`proj_size = P`), h_t = m @ W_hr.T is (N, P) and W_hh is (4H, P): (L5).

# %%
w_hr = 0.5 * rng.standard_normal((P, H))
hp = rng.standard_normal((N, P))
w_hhp = 0.5 * rng.standard_normal((4 * H, P))
print(nr.check_function(lstm.lstm_step_forward, lstm.lstm_step_backward,
                        (x, hp, c_prev, w_ih, w_hhp, b_ih, b_hh, w_hr)))

# %%
final = grade(folder, only="lstm_step_backward")
print(final)
assert final.ok

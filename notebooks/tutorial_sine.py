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
# # Forecasting a sine wave: many-to-one regression
#
# The classic regression exercise of RNN tutorials (the ones numrnn grew out of): read 20
# values of a sine wave, predict the next one. A whole window goes in, one number comes out.
# This is [docs/tutorial_sine.md](../docs/tutorial_sine.md) run cell by cell; the same run
# from the command line is `python -m numrnn train sine --backend numpy`.
#
# The RNN is built with `backend="numpy"`, so it runs the textbook in
# `numrnn/functional/rnn.py` (`"auto"` would take the Numba kernel when Numba is installed).

# %%
import math
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

import numrnn as nr
from numrnn.checkpoint import load
from numrnn.examples.sine import as_sequence, sine_windows
from numrnn.train import Trainer
from numrnn.which_code import which_code

BACKEND = "numpy"  # the textbook; "auto" takes the Numba kernels when Numba is installed

# %% [markdown]
# ## Data
#
# sin(t) sampled every 0.1, 2,000 samples. Each example is a window of 20 values (T = 20
# steps of one feature), its target the value that follows. The first 80% of the windows
# train, the last 20% test: later in time, never seen.

# %%
window = 20
x, y = sine_windows(window)  # (M, 20) windows, (M,) next values
split = int(0.8 * len(x))
train_x, train_y, test_x, test_y = x[:split], y[:split], x[split:], y[split:]
print(f"{len(train_x)} training and {len(test_x)} test windows; one batch as the RNN reads it:",
      as_sequence(train_x[:64]).shape, "(T, N, I)")

# %% [markdown]
# ## Model
#
# `LastStep` makes it many-to-one: the Linear head reads only h_T, so in the backward pass
# `LastStep` puts the head's gradient at the last step and zeros everywhere else, and BPTT
# carries it back through the 20 steps.

# %%
H = 64
model = nr.Sequential(
    nr.RNN(1, H, backend=BACKEND, seed=0),  # (T, N, 1) -> (T, N, H)
    nr.LastStep(),  # -> (N, H): h_T only
    nr.Linear(H, 1, seed=1),  # -> (N, 1): the forecast
)
opt = nr.Adam(model, lr=3e-3)

# %% [markdown]
# ## Training
#
# `Trainer` runs the five lines of a step (zero_grad, forward, `mse_loss`, backward,
# clip the gradient norm to 1, step) over shuffled epochs of 64 windows, stops at the first
# NaN naming the tensor, and writes a checkpoint at the end. 300 steps are 12 epochs.

# %%
batches = [(as_sequence(train_x[i:i + 64]), train_y[i:i + 64, None]) for i in range(0, len(train_x), 64)]
out = Path(tempfile.mkdtemp())
trainer = Trainer(model, opt, nr.mse_loss, clip_norm=1.0, checkpoint_path=out / "model.npz", seed=0)
history = trainer.fit(batches, epochs=math.ceil(300 / len(batches)), max_steps=300)
print(which_code(model))
print(f"training MSE: first step {history.loss[0]:.3g}, last step {history.loss[-1]:.3g}")

# %%
pred = model(as_sequence(test_x))[:, 0]  # (M_test,)
test_mse = float(np.mean((pred - test_y) ** 2))
reloaded = load(trainer.checkpoint_path)(as_sequence(test_x))[:, 0]
print(f"test MSE {test_mse:.2e} (target < 1e-3); the reloaded checkpoint predicts the same: "
      f"{np.array_equal(reloaded, pred)}")

# %%
fig, (a, b) = plt.subplots(1, 2, figsize=(11, 3.2))
a.semilogy(history.loss)
a.axhline(1e-3, color="gray", ls="--", lw=1, label="target 1e-3")
a.set(xlabel="step", ylabel="MSE", title="training MSE")
a.legend(frameon=False)
t_test = 0.1 * (split + window + np.arange(len(test_y)))
b.plot(t_test, test_y, label="sin(t)")
b.plot(t_test, pred, ls="--", label="forecast")
b.set(xlabel="t", title="one-step forecasts on the test part")
b.legend(frameon=False)
plt.show()

# %% [markdown]
# Try a smaller network (`H = 8`), a shorter window, or stop early: the command line takes the
# same settings (`--hidden-size`, `--window`, `--steps`).

# %%
assert test_mse < 1e-3, test_mse

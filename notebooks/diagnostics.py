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
# # Seeing BPTT: vanishing and exploding gradients, cell by cell
#
# [docs/bptt.md](../docs/bptt.md) derives why the gradient of an RNN vanishes or explodes;
# this notebook measures it, as [docs/diagnostics.md](../docs/diagnostics.md) and
# `python -m numrnn trace` do. The functions of `numrnn.diagnostics` run the textbook's step
# backward functions (`numrnn/functional/`) whatever backend a model trains on.
#
# Steps are counted t = 1..T in the maths; arrays hold step t at index t-1.

# %%
from types import SimpleNamespace

import matplotlib.pyplot as plt
import numpy as np

import numrnn as nr
from numrnn import diagnostics
from numrnn.commands.trace import NETWORKS, build, label, recall_task, trace_one
from numrnn.diagrams import lstm_cell

# %% [markdown]
# ## The task
#
# Every network reads the same T = 50 random symbols (one-hot, V = 4, a batch of N = 8) and
# must name the *first* one at the last step, through a Linear head. Everything the loss
# needs happened at step 1, so the question is how much of dL/dh_50 gets back to h_1.
# The networks are untrained, H = 32, float64: tanh and ReLU RNNs at PyTorch's
# initialisation and with W_hh rescaled to spectral radius 2, an LSTM at PyTorch's
# initialisation and with 2 added to its forget-gate bias, and a GRU.

# %%
T, N, V, H = 50, 8, 4, 32
options = SimpleNamespace(radius=2.0, forget_bias=2.0)  # as python -m numrnn trace's defaults
x, y = recall_task(T, N, V, seed=0)  # (T, N, V) one-hot, (N,) the first symbol
results = {}
for name in NETWORKS:
    model = build(name, V, H, options.radius, options.forget_bias, seed=0)
    head = nr.Linear(H, V, dtype=np.float64, seed=1)
    results[label(name, options)] = trace_one(model, head, x, y)
print("networks:", ", ".join(results))

# %% [markdown]
# ## ||dL/dh_t|| step by step
#
# `grad_norms[t - 1]` is the norm of the total gradient at step t, over the batch.

# %%
steps = [50, 45, 40, 30, 20, 10, 5]
print("step t " + "".join(f"{n:>11}" for n in results))
for t in steps:
    print(f"{t:6d} " + "".join(f"{r['grad_norms'][t - 1]:11.2e}" for r in results.values()))

fig, ax = plt.subplots(figsize=(7, 3.5))
for n, r in results.items():
    ax.semilogy(np.arange(1, T + 1), r["grad_norms"], label=n)
ax.set(xlabel="step t", ylabel="||dL/dh_t||", title=f"the gradient at step t; the loss reads h_{T}")
ax.legend(frameon=False, fontsize=8, ncol=2)
plt.show()

# %% [markdown]
# * tanh and ReLU at PyTorch's initialisation **vanish**: ReLU faster, because the units that
#   are off cut their rows out of every step Jacobian.
# * With W_hh rescaled to radius 2, ReLU **explodes**; tanh grows slowly, held back by the
#   units it saturates.
# * The LSTM at initialisation vanishes too (its forget gate sits near 0.5); with 2 added to
#   the forget-gate bias the cell state **carries** the gradient back.

# %%
print("network       radius  ||dL/dh_1|| / ||dL/dh_50||")
for n, r in results.items():
    print(f"{n:<12}  {r['radius']:6.2f}  {r['grad_norms'][0] / r['grad_norms'][-1]:.2e}")

# %% [markdown]
# ## The LSTM's gradient highway
#
# Along the cell state the gradient crosses a step as dc_{t-1} = dc * f: no matrix and no
# tanh' factor, only the forget gate (the red dashed line). With f near 0.5 that still
# halves it every step; with f near 0.9 it survives 50 steps.

# %%
lstm_cell()
plt.show()

# %% [markdown]
# ## Spectral radius or largest singular value?
#
# The spectral radius rho of W_hh sets the long-run rate of its powers (Gelfand's formula,
# ||W^k||^(1/k) -> rho); the largest singular value sigma_max bounds every single step. At
# PyTorch's initialisation sigma_max is above 1 while rho is about 0.6: a gradient can be
# stretched for a step or two, but over tens of steps the radius decides.

# %%
w = build("tanh", V, H, 2.0, 2.0, seed=0).params["weight_hh_l0"]
rho = diagnostics.spectral_radius(w)
sigma = np.linalg.svd(w, compute_uv=False)[0]
print(f"rho = {rho:.3f}, sigma_max = {sigma:.3f}")
for k in (1, 2, 5, 10, 20, 45):
    norm = np.linalg.norm(np.linalg.matrix_power(w, k), 2)
    print(f"k = {k:2d}  ||W^k|| = {norm:.2e}   per step {norm ** (1 / k):.3f}")

# %% [markdown]
# The measured gradient of the tanh network falls faster than rho alone says, because
# every step also multiplies by f'(a) = 1 - h^2 < 1.

# %%
ratios = {n: r["grad_norms"][0] / r["grad_norms"][-1] for n, r in results.items()}
assert ratios["tanh"] < 1e-9 and ratios["relu"] < ratios["tanh"]
assert ratios["relu r=2"] > 1e3 and ratios["lstm bf=2"] > 1e-3 > ratios["lstm"]
assert sigma > 1 > rho

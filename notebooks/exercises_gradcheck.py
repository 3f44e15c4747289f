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
# # Exercises 1: the numerical gradient
#
# Every other exercise is checked against central differences, so the first thing to write
# is the central difference itself: `numerical_gradient` in `gradcheck.py` of your exercise
# folder ([docs/gradcheck.md](../docs/gradcheck.md) derives it and explains the step eps).
#
#     df/dx ~ (f(x + eps) - f(x - eps)) / (2 eps)          (error O(eps**2))
#
# Set `FOLDER` to your exercise folder; if it does not exist, the cell after it writes a fresh
# one (`python -m numrnn exercises make FOLDER` does the same). After each edit, run the
# exercise's cell again: it reads your file afresh.

# %%
import matplotlib.pyplot as plt
import numpy as np

from numrnn.exercises.grader import grade
from numrnn.exercises.student import workspace

# %% tags=["parameters"]
FOLDER = "exercises"  # your exercise folder

# %%
folder, load = workspace(FOLDER)  # writes a fresh student folder when there is none;
# load(name) imports your file afresh: run it again after every edit


# %% [markdown]
# ## A function whose gradient we know
#
# f(x) = tanh(x @ w) for x (N, I) and w (I, H). With an upstream gradient df (N, H), the
# gradient of sum(f(x) * df) with respect to x is ((1 - f(x)**2) * df) @ w.T.

# %%
rng = np.random.default_rng(0)
x, w = rng.standard_normal((2, 3)), rng.standard_normal((3, 4))
df = rng.standard_normal((2, 4))


def f(x):
    return np.tanh(x @ w)


exact = ((1 - f(x) ** 2) * df) @ w.T  # (N, I)

# %% [markdown]
# ## `numerical_gradient(f, x, df, eps=1e-5)`
#
# Perturb one entry of `x` at a time (in place), evaluate `sum(f(x) * df)` at x + eps and
# x - eps, and put the entry back exactly as it was.

# %% tags=["exercise"]
gc = load("gradcheck.py")
numeric = gc.numerical_gradient(f, x, df)  # your code runs here
rel = np.abs(numeric - exact) / np.maximum(1e-8, np.abs(numeric) + np.abs(exact))
print(f"largest relative error against the exact gradient: {rel.max():.1e}")
print(grade(folder, only="numerical_gradient"))

# %% [markdown]
# ## Which eps?
#
# Too large a step and the O(eps**2) truncation error shows; too small and the rounding error
# of the two forward passes, about 1e-16 |f| / eps in float64, takes over.

# %%
steps = 10.0 ** -np.arange(1, 11)
errors = []
for eps in steps:
    numeric = gc.numerical_gradient(f, x.copy(), df, eps=eps)
    errors.append(np.max(np.abs(numeric - exact) / np.maximum(1e-8, np.abs(numeric) + np.abs(exact))))
fig, ax = plt.subplots(figsize=(6, 3))
ax.loglog(steps, errors, marker="o")
ax.set(xlabel="eps", ylabel="max relative error", title="central differences in float64")
plt.show()
print(f"best eps here: {steps[int(np.argmin(errors))]:.0e}")

# %% [markdown]
# Where the minimum falls depends on the size and curvature of f; in float64 it is near
# 1e-5 to 1e-6 for the functions of these exercises, and numrnn's checks use 1e-5
# ([docs/gradcheck.md](../docs/gradcheck.md) measures it for the RNN, LSTM and GRU).

# %%
assert grade(folder, only="numerical_gradient").ok

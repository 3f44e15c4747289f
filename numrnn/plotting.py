"""PNG figures for the examples and the diagnostics: loss curves, lines, heatmaps.

Matplotlib is an optional dependency (``pip install 'numrnn[plot]'``). It is imported
the first time a figure is drawn, with the non-interactive Agg backend so that it
works on a machine without a display; without it every function here prints one
line saying so and returns ``None`` instead of a path, and training goes on.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from numrnn.atomic import atomic_savefig
from numrnn.errors import UsageValueError

_pyplot = None
_import_error: Exception | None = None


def pyplot_or_none():
    """``matplotlib.pyplot`` on the Agg backend, or ``None`` when matplotlib is missing."""
    global _pyplot, _import_error
    if _pyplot is None and _import_error is None:
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt

            _pyplot = plt
        except ImportError as exc:
            _import_error = exc
    return _pyplot


def _start(path):
    """pyplot (or None after saying why) and ``path`` as a Path whose folder exists."""
    plt = pyplot_or_none()
    if plt is None:
        print(f"matplotlib is not installed ({_import_error}): skipping {path}")
        return None, None
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return plt, path


def _finish(plt, fig, path: Path) -> Path:
    fig.tight_layout()
    atomic_savefig(fig, path, dpi=80)
    plt.close(fig)
    return path


def save_loss_curve(losses, path, title: str = "training loss", ylabel: str = "loss",
                    reference: float | None = None, reference_label: str = "",
                    logy: bool = False) -> Path | None:
    """Loss per training step, optionally with a horizontal reference line.

    Parameters
    ----------
    losses : (steps,) sequence of floats, or a dict label -> sequence for several curves.
    reference : a level to draw across the plot (the uniform-guess loss ln V, say).
    logy : log scale on the y axis (for losses that fall by orders of magnitude).
    """
    plt, path = _start(path)
    if plt is None:
        return None
    curves = losses if isinstance(losses, dict) else {"": losses}
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for label, ys in curves.items():
        ax.plot(np.arange(1, len(ys) + 1), ys, lw=1, label=label or None)
    if reference is not None:
        ax.axhline(reference, color="gray", ls="--", lw=1, label=reference_label or None)
    if logy:
        ax.set_yscale("log")
    ax.set(xlabel="step", ylabel=ylabel, title=title)
    if any(curves) or reference_label:
        ax.legend(frameon=False)
    return _finish(plt, fig, path)


def save_lines(series: dict, path, title: str = "", xlabel: str = "t", ylabel: str = "",
               logy: bool = False, x=None) -> Path | None:
    """Several curves on one axis: ``series`` maps a label to a (len,) sequence."""
    plt, path = _start(path)
    if plt is None:
        return None
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for label, ys in series.items():
        xs = np.arange(len(ys)) if x is None else x
        ax.plot(xs, ys, lw=1.2, label=label)
    if logy:
        ax.set_yscale("log")
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    ax.legend(frameon=False)
    return _finish(plt, fig, path)


def save_heatmap(values, path, title: str = "|dL/dh_t|", xlabel: str = "hidden unit",
                 ylabel: str = "time step t", log: bool = True) -> Path | None:
    """A (T, H) array as a time x unit image, time running down, on a log colour scale.

    Zeros (a ReLU unit that is off, say) are drawn at the smallest positive value.
    """
    plt, path = _start(path)
    if plt is None:
        return None
    values = np.abs(np.asarray(values, dtype=np.float64))
    if values.ndim != 2:
        raise UsageValueError(f"save_heatmap: values must be (T, H); got shape {values.shape}")
    fig, ax = plt.subplots(figsize=(5, 4))
    shown = values
    label = title
    if log:
        positive = values[values > 0]
        floor = positive.min() if positive.size else 1e-300
        shown = np.log10(np.maximum(values, floor))
        label = f"log10 {title}"
    im = ax.imshow(shown, aspect="auto", interpolation="nearest", cmap="viridis")
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    fig.colorbar(im, ax=ax, label=label)
    return _finish(plt, fig, path)


def save_heatmaps(panels: dict, path, title: str = "|dL/dh_t|") -> Path | None:
    """Several (T, H) heatmaps side by side on one shared log colour scale.

    ``panels`` maps a label (a cell: "tanh", "relu", ...) to its (T, H) array, so
    the reader compares how far back each one carries the gradient.
    """
    plt, path = _start(path)
    if plt is None:
        return None
    logs = {}
    for label, v in panels.items():
        v = np.abs(np.asarray(v, dtype=np.float64))
        logs[label] = np.log10(np.maximum(v, 1e-30))  # ReLU's exact zeros at the floor
    finite = np.concatenate([a.ravel() for a in logs.values()])
    vmin, vmax = max(finite.min(), finite.max() - 30), finite.max()  # 30 decades at most
    fig, axes = plt.subplots(1, len(logs), figsize=(1.6 * len(logs) + 1.2, 3.6), sharey=True,
                             squeeze=False, layout="constrained")
    im = None
    for ax, (label, a) in zip(axes[0], logs.items()):
        im = ax.imshow(a, aspect="auto", interpolation="nearest", cmap="viridis", vmin=vmin, vmax=vmax)
        ax.set_title(label, fontsize=9)
        ax.set_xlabel("unit")
    axes[0][0].set_ylabel("time step t")
    fig.suptitle(title)
    fig.colorbar(im, ax=list(axes[0]), label=f"log10 {title}", fraction=0.05, pad=0.02)
    atomic_savefig(fig, path, dpi=80)
    plt.close(fig)
    return path

"""The pieces every diagram is drawn with: a canvas, boxes, operator circles, arrows, text.

Coordinates are in "diagram units" on an axis with equal aspect and no ticks, so a
diagram file reads as a list of positions. Forward arrows are solid and blue, the
gradients of BPTT dashed and red, in every diagram.

Matplotlib is imported on the first call (it is the optional ``plot`` extra); pyplot
makes the figure, so that a notebook shows it inline and a script can save it.
"""

from __future__ import annotations

from pathlib import Path

from numrnn.atomic import atomic_savefig

FORWARD = "#1f4e79"  # forward pass: values
BACKWARD = "#c0392b"  # backward pass: gradients dL/d(...)
INDEX = "#7f7f7f"  # array indices beside the maths symbols
GATE = {"sigmoid": "#fde9c9", "tanh": "#d6eaf8", "cell": "#e8f6e8", "loss": "#f2f2f2"}
DPI = 100


def pyplot():
    """``matplotlib.pyplot``, or an ImportError that names the extra to install."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # the plot extra is optional
        raise ImportError("numrnn.diagrams needs matplotlib: pip install 'numrnn[plot]'") from exc
    return plt


def canvas(width: float, height: float, title: str = "", scale: float = 0.8):
    """A blank ``width`` x ``height`` drawing area; returns ``(fig, ax)``."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(width * scale, height * scale))
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)
    ax.set_aspect("equal")
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=11)
    return fig, ax


def box(ax, x: float, y: float, w: float, h: float, text: str, color: str = "white",
        fontsize: float = 11, edge: str = "black", dashed: bool = False) -> None:
    """A rounded box of size ``w`` x ``h`` centred on (x, y), with ``text`` inside."""
    from matplotlib.patches import FancyBboxPatch

    pad = 0.08
    ax.add_patch(FancyBboxPatch((x - w / 2 + pad, y - h / 2 + pad), w - 2 * pad, h - 2 * pad,
                                boxstyle=f"round,pad={pad}", facecolor=color, edgecolor=edge,
                                linewidth=1.2, linestyle="--" if dashed else "-", zorder=2))
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize, zorder=3)


def op(ax, x: float, y: float, symbol: str, r: float = 0.22, fontsize: float = 11) -> None:
    """A pointwise operation in a circle: "+", r"$\\odot$", "1-", ..."""
    from matplotlib.patches import Circle

    ax.add_patch(Circle((x, y), r, facecolor="white", edgecolor="black", linewidth=1.2, zorder=2))
    ax.text(x, y, symbol, ha="center", va="center", fontsize=fontsize, zorder=3)


def arrow(ax, points, color: str = FORWARD, dashed: bool = False, head: bool = True,
          width: float = 1.4) -> None:
    """A polyline through ``points`` [(x, y), ...] with an arrow head at the last one."""
    from matplotlib.patches import FancyArrowPatch

    style = "--" if dashed else "-"
    xs, ys = zip(*points)
    if len(points) > 2:
        ax.plot(xs[:-1], ys[:-1], color=color, lw=width, ls=style, zorder=1, solid_capstyle="butt")
    ax.add_patch(FancyArrowPatch(points[-2], points[-1], arrowstyle="-|>" if head else "-",
                                 mutation_scale=12, color=color, lw=width, linestyle=style,
                                 shrinkA=0, shrinkB=0, zorder=1))


def text(ax, x: float, y: float, s: str, color: str = "black", fontsize: float = 10,
         ha: str = "center", va: str = "center", **kwargs) -> None:
    """A label at (x, y)."""
    ax.text(x, y, s, color=color, fontsize=fontsize, ha=ha, va=va, zorder=4, **kwargs)


def legend(ax, x: float, y: float, entries) -> None:
    """A hand-made legend at (x, y): ``entries`` are (color, dashed, label), one per line."""
    for k, (color, dashed, label) in enumerate(entries):
        yy = y - 0.4 * k
        ax.plot([x, x + 0.6], [yy, yy], color=color, lw=1.6, ls="--" if dashed else "-")
        text(ax, x + 0.75, yy, label, ha="left", fontsize=9)


def save(fig, path) -> Path:
    """Write ``fig`` as a PNG atomically, without the metadata that changes between runs."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    atomic_savefig(fig, path, dpi=DPI, metadata={"Software": None})
    pyplot().close(fig)
    return path

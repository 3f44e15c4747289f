"""What every example shares: options, the output folder, a progress bar, the verdict.

The progress bar is :class:`numrnn.progress.Progress`, the one the Trainer uses:
tqdm's when tqdm is installed (``pip install 'numrnn[progress]'``) and the output is a
terminal or ``--progress`` asks for it; otherwise a line is printed every tenth of the
run, so a log file still shows training move.
"""

from __future__ import annotations

from pathlib import Path

from numrnn import config
from numrnn.argtypes import positive_float, positive_int
from numrnn.progress import Progress


def add_common_arguments(p, steps: int, lr: float, hidden: int) -> None:
    """The options every example takes, with that example's defaults."""
    p.add_argument("--steps", type=positive_int, default=steps, help=f"training steps (default {steps})")
    p.add_argument("--lr", type=positive_float, default=lr, help=f"learning rate (default {lr:g})")
    p.add_argument("--hidden-size", type=positive_int, default=hidden, help=f"H (default {hidden})")
    p.add_argument("--backend", default="auto", choices=config.BACKENDS,
                   help="numpy: the textbook in numrnn/functional/; auto (default): Numba when installed")
    p.add_argument("--seed", type=int, default=0, help="seeds data, weights and sampling (default 0)")
    p.add_argument("--out", default=None, help="folder for the PNGs and the checkpoint "
                                               "(default runs/<example>)")
    bar = p.add_mutually_exclusive_group()
    bar.add_argument("--progress", dest="progress", action="store_true", default=None,
                     help="always show a progress bar")
    bar.add_argument("--no-progress", dest="progress", action="store_false",
                     help="print a line every tenth of the run instead of a bar")


def out_dir(args, example: str) -> Path:
    """``--out``, or ``runs/<example>``; created if needed."""
    path = Path(args.out) if args.out else Path("runs") / example
    path.mkdir(parents=True, exist_ok=True)
    return path


def verdict(ok: bool, what: str) -> bool:
    """Print the line the tests and the tutorials look for; returns ``ok``."""
    print(f"{'TARGET REACHED' if ok else 'TARGET MISSED'}: {what}")
    return ok


def print_written(*paths) -> None:
    for p in paths:
        if p is not None:
            print(f"wrote {p}")


__all__ = ["Progress", "add_common_arguments", "out_dir", "print_written", "verdict"]

"""One progress display for every loop in numrnn: the Trainer's epochs and the examples.

``with Progress(total, desc) as bar: ... bar.update(loss=...)`` shows tqdm's bar when
tqdm is installed (``pip install 'numrnn[progress]'``) and a bar is wanted; otherwise
it prints a line every tenth of the run, so a log file still shows training move::

    chars: step  600/6000  loss 2.113

``bar=None`` (the default) wants a bar only when stderr is a terminal; ``lines=False``
prints nothing when there is no bar.
"""

from __future__ import annotations

import sys


class Progress:
    """``with Progress(total, desc, bar=None) as p: ... p.update(loss=...)``.

    Parameters
    ----------
    total : the number of updates the run will make.
    desc : the label shown before the bar or on each line.
    bar : ``True`` for a tqdm bar (when tqdm is installed), ``False`` for none,
        ``None`` for a bar when stderr is a terminal.
    lines : print a line every tenth of the run when there is no bar.
    initial : updates already done (a resumed epoch starts there).
    leave : keep the finished bar on screen (tqdm's ``leave``).
    """

    def __init__(self, total: int, desc: str, bar: bool | None = None, *, lines: bool = True,
                 initial: int = 0, leave: bool = True):
        self.total, self.desc, self.step, self.lines = total, desc, initial, lines
        if bar is None:
            bar = sys.stderr.isatty()
        self.bar = None
        if bar:
            try:
                from tqdm.auto import tqdm
            except ImportError:  # tqdm is optional: fall back to lines
                pass
            else:
                self.bar = tqdm(total=total, initial=initial, desc=desc, dynamic_ncols=True, leave=leave)
        self.every = max(1, total // 10)

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Close the bar (a no-op for lines)."""
        if self.bar is not None:
            self.bar.close()

    def update(self, **values) -> None:
        """One update done; ``values`` (loss=..., acc=...) are shown beside the bar."""
        self.step += 1
        shown = {k: (f"{v:.4g}" if isinstance(v, float) else v) for k, v in values.items()}
        if self.bar is not None:
            self.bar.set_postfix(shown, refresh=False)
            self.bar.update(1)
        elif self.lines and (self.step % self.every == 0 or self.step == self.total):
            pairs = "  ".join(f"{k} {v}" for k, v in shown.items())
            print(f"{self.desc}: step {self.step:>{len(str(self.total))}}/{self.total}  {pairs}",
                  flush=True)


__all__ = ["Progress"]

"""argparse ``type=`` functions for options that must be positive.

Shared by the commands (``numrnn/commands/``) and the examples (``numrnn/examples/``),
so it sits beside both rather than inside either: the commands import the examples,
and the examples import nothing from the commands.

A bad value is reported by argparse itself (``error: argument --batch: must be an
integer >= 1; got '0'``, exit status 2) instead of failing later inside the run.
"""

from __future__ import annotations

import argparse
import math


def int_at_least(minimum: int):
    """A ``type=`` function accepting integers >= ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer >= {minimum}; got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be an integer >= {minimum}; got {text!r}")
        return value

    return parse


positive_int = int_at_least(1)
nonnegative_int = int_at_least(0)


def positive_float(text: str) -> float:
    """A ``type=`` function accepting finite numbers > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number > 0; got {text!r}") from None
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0; got {text!r}")
    return value

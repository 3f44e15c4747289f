"""What a multi-step layer (:class:`~numrnn.nn.recurrent.Recurrent`) and a one-step cell
(:class:`~numrnn.nn.cell.Cell`) share: the cell they run, its options, its states in the
caller's form, and PyTorch's initialisation.

A caller passes a cell's state the way PyTorch takes it: one array for a one-state
cell (``h``), a tuple for more (``(h, c)``), ``None`` for zeros, and ``None`` inside a
tuple for a zero entry. Inside, states are always tuples ordered like ``spec.states``.
"""

from __future__ import annotations

import math

import numpy as np

from numrnn._checks import check_positive_int
from numrnn.cells import CellSpec
from numrnn.errors import UsageTypeError


def split_states(spec: CellSpec, given, owner: str, what: str = "the state") -> tuple:
    """The caller's state (or state gradient) as a tuple with one entry per state.

    ``None`` becomes a tuple of ``None``; a one-state cell takes one array; a cell with
    several states takes a tuple or list of that many entries (each may be ``None``).
    """
    n = spec.num_states
    if given is None:
        return (None,) * n
    if n == 1:
        return (given,)
    if not isinstance(given, (tuple, list)) or len(given) != n:
        form = "(" + ", ".join(spec.states) + ")"
        got = f"a {type(given).__name__}" + (f" of {len(given)}" if isinstance(given, (tuple, list)) else "")
        raise UsageTypeError(f"{owner}: {what} must be a tuple {form}; got {got}")
    return tuple(given)


def join_states(spec: CellSpec, states: tuple):
    """The inverse of :func:`split_states`: one array for a one-state cell, else a tuple."""
    return states[0] if spec.num_states == 1 else tuple(states)


def state_label(spec: CellSpec, i: int, prefix: str = "", suffix: str = "") -> str:
    """``h0``, ``dc_n``, ...: the name of state ``i`` in messages."""
    return f"{prefix}{spec.states[i]}{suffix}"


def init_uniform(rng: np.random.Generator, shape: tuple, hidden_size: int, dtype) -> np.ndarray:
    """PyTorch's initialisation of every recurrent parameter: U(-1/sqrt(H), 1/sqrt(H))."""
    k = 1.0 / math.sqrt(hidden_size)
    return rng.uniform(-k, k, size=shape).astype(dtype)


def check_sizes(owner: str, input_size, hidden_size) -> tuple:
    """``(input_size, hidden_size)`` as ints >= 1."""
    return (check_positive_int(input_size, "input_size", owner),
            check_positive_int(hidden_size, "hidden_size", owner))


__all__ = ["check_sizes", "init_uniform", "join_states", "split_states", "state_label"]

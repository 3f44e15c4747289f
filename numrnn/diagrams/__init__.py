"""Diagrams drawn by code (matplotlib), for the docs and the notebooks.

* ``unrolled.py``: the RNN unrolled over T steps, forward arrows and BPTT's dL/dh arrows;
* ``lstm.py``: the LSTM cell with its gates i, f, g, o;
* ``gru.py``: the GRU cell with its gates r, z, n (PyTorch's form);
* ``draw.py``: the boxes, circles and arrows they share.

Each function returns a matplotlib Figure (shown inline in a notebook).
``python -m numrnn.diagrams [DIR]`` (``make diagrams``) writes them all as PNGs,
``docs/img/`` by default, byte for byte the same on every run with the same matplotlib.
"""

from __future__ import annotations

from pathlib import Path

from numrnn.diagrams.draw import save
from numrnn.diagrams.gru import gru_cell
from numrnn.diagrams.lstm import lstm_cell
from numrnn.diagrams.unrolled import unrolled_rnn

#: file name (without .png) -> function that draws it
DIAGRAMS = {"rnn_unrolled": unrolled_rnn, "lstm_cell": lstm_cell, "gru_cell": gru_cell}


def save_all(folder="docs/img") -> list:
    """Draw every diagram and write ``<folder>/<name>.png``; returns the paths."""
    return [save(draw(), Path(folder) / f"{name}.png") for name, draw in DIAGRAMS.items()]


__all__ = ["DIAGRAMS", "gru_cell", "lstm_cell", "save_all", "unrolled_rnn"]

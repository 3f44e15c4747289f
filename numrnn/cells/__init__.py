"""Cell descriptions: one :class:`CellSpec` per recurrent cell, and their registry.

Importing this package registers the built-in cells (``rnn``, ``lstm``, ``gru``)
through :func:`register_cell`, the same function a user's cell goes through.
"""

from numrnn.cells.gru import GRU_CELL
from numrnn.cells.lstm import LSTM_CELL
from numrnn.cells.registry import get_cell, register_cell, registered_cells, unregister_cell
from numrnn.cells.rnn import RNN_CELL
from numrnn.cells.spec import CellSpec, KerasLayout, SequenceOps

__all__ = ["CellSpec", "GRU_CELL", "KerasLayout", "LSTM_CELL", "RNN_CELL", "SequenceOps", "get_cell",
           "register_cell", "registered_cells", "unregister_cell"]

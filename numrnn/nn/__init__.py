"""Layers with PyTorch's contract: parameters under PyTorch's names, explicit backward."""

from numrnn.nn.cell import CellBase
from numrnn.nn.linear import Linear
from numrnn.nn.module import Module
from numrnn.nn.recurrent import RecurrentBase
from numrnn.nn.rnn import RNN, RNNCell

__all__ = ["CellBase", "Linear", "Module", "RNN", "RNNCell", "RecurrentBase"]

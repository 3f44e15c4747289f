"""Layers with PyTorch's contract: parameters under PyTorch's names, explicit backward."""

from numrnn.nn.cell import Cell, CellBase
from numrnn.nn.dropout import Dropout
from numrnn.nn.embedding import Embedding
from numrnn.nn.gru import GRU, GRUCell
from numrnn.nn.linear import Linear
from numrnn.nn.lstm import LSTM, LSTMCell
from numrnn.nn.module import Module
from numrnn.nn.recurrent import Recurrent, RecurrentBase
from numrnn.nn.rnn import RNN, RNNCell
from numrnn.nn.sequential import LastStep, Sequential

__all__ = [
    "Cell", "CellBase", "GRU", "GRUCell", "LSTM", "LSTMCell", "Linear", "Module", "RNN", "RNNCell",
    "Recurrent", "RecurrentBase",
    "Dropout", "Embedding", "LastStep", "Sequential",
]

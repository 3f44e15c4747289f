"""numrnn: recurrent networks and backpropagation through time, by hand.

The public names. Importing numrnn loads NumPy only: Numba and CuPy are imported
the first time a backend that needs them runs.
"""

from numrnn.cells import CellSpec, get_cell, register_cell, registered_cells
from numrnn.checkpoint import Checkpoint, load, load_checkpoint, save
from numrnn.clip import clip_grad_norm, clip_grad_value, grad_norm
from numrnn.errors import CheckpointError, SizeError, UsageError, UsageTypeError, UsageValueError
from numrnn.functional.losses import cross_entropy, mse_loss
from numrnn.gradcheck import GradcheckReport, check_function, check_gradients, numerical_gradient, rel_error
from numrnn.nn import (
    GRU,
    LSTM,
    RNN,
    Cell,
    Dropout,
    Embedding,
    GRUCell,
    LastStep,
    Linear,
    LSTMCell,
    Module,
    Recurrent,
    RNNCell,
    Sequential,
)
from numrnn.optim import SGD, Adagrad, Adam, RMSprop
from numrnn.summary import summary
from numrnn.tbptt import train_tbptt, truncated_gradients, truncated_vs_full
from numrnn.train import History, NonFiniteError, Trainer, fit

__version__ = "0.1.0"

__all__ = [
    "SGD",
    "Adagrad",
    "Adam",
    "RMSprop",
    "GRU",
    "GRUCell",
    "GradcheckReport",
    "LSTM",
    "LSTMCell",
    "Linear",
    "Module",
    "RNN",
    "RNNCell",
    "__version__",
    "Dropout",
    "Embedding",
    "LastStep",
    "Sequential",
    "Cell",
    "CellSpec",
    "Checkpoint",
    "CheckpointError",
    "Recurrent",
    "SizeError",
    "UsageError",
    "UsageTypeError",
    "UsageValueError",
    "get_cell",
    "register_cell",
    "registered_cells",
    "check_function",
    "check_gradients",
    "clip_grad_norm",
    "clip_grad_value",
    "grad_norm",
    "fit",
    "History",
    "NonFiniteError",
    "Trainer",
    "load",
    "load_checkpoint",
    "cross_entropy",
    "mse_loss",
    "numerical_gradient",
    "rel_error",
    "save",
    "train_tbptt",
    "truncated_gradients",
    "truncated_vs_full",
    "summary",
]

"""``RNN`` and ``RNNCell``: the Elman network with tanh or ReLU, PyTorch's contract.

    h_t = f(x_t @ W_ih.T + b_ih + h_{t-1} @ W_hh.T + b_hh),   f = tanh or relu

The arithmetic is in ``numrnn/functional/rnn.py`` (and the kernels that mirror it),
described for the layer machinery in ``numrnn/cells/rnn.py``; layers, directions and
layouts are in ``numrnn/nn/recurrent.py``.
"""

from __future__ import annotations

import numpy as np

from numrnn.cells import RNN_CELL
from numrnn.nn.cell import Cell
from numrnn.nn.recurrent import Recurrent


class RNN(Recurrent):
    """A multi-layer Elman RNN, like ``torch.nn.RNN``.

    Parameters (PyTorch's names; L layers, D directions, G = 1 gate):
        weight_ih_l{k}[_reverse] (H, I) for k = 0, (H, D*H) above;
        weight_hh_l{k}[_reverse] (H, H);  bias_ih_l{k}[_reverse], bias_hh_l{k}[_reverse] (H,)

    ``out, h_n = rnn(x, h0)`` with x (T, N, I) and h0 (L*D, N, H) gives out
    (T, N, D*H) and h_n (L*D, N, H); ``dx, dh0 = rnn.backward(dout, dh_n)``.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False,
                 dropout: float = 0.0, bidirectional: bool = False, dtype=np.float32,
                 backend: str = "auto", seed: int | None = None):
        super().__init__(RNN_CELL, input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, 0, dtype, backend, seed, options={"nonlinearity": nonlinearity})

    @property
    def nonlinearity(self) -> str:
        return self.options["nonlinearity"]

    def extra_repr(self) -> str:
        s = super().extra_repr()
        return s if self.nonlinearity == "tanh" else s + ", nonlinearity='relu'"


class RNNCell(Cell):
    """One step of the Elman cell, like ``torch.nn.RNNCell``.

    ``h1 = cell(x, h)`` with x (N, I) and h (N, H) (or (I,), (H,) unbatched);
    ``dx, dh = cell.backward(dh1)``.
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", dtype=np.float32, seed: int | None = None):
        super().__init__(RNN_CELL, input_size, hidden_size, bias, dtype, seed,
                         options={"nonlinearity": nonlinearity})

    @property
    def nonlinearity(self) -> str:
        return self.options["nonlinearity"]


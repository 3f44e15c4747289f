"""``LSTM`` and ``LSTMCell``: long short-term memory, PyTorch's contract.

    i, f, g, o = sigmoid, sigmoid, tanh, sigmoid of  x_t @ W_ih.T + b_ih + h_{t-1} @ W_hh.T + b_hh
    c_t = f * c_{t-1} + i * g,   h_t = o * tanh(c_t)   (then @ W_hr.T with ``proj_size``)

The arithmetic is in ``numrnn/functional/lstm.py`` (and the kernels that mirror it),
described for the layer machinery in ``numrnn/cells/lstm.py``; layers, directions and
layouts are in ``numrnn/nn/recurrent.py``.
"""

from __future__ import annotations

import numpy as np

from numrnn.cells import LSTM_CELL
from numrnn.nn.cell import Cell
from numrnn.nn.recurrent import Recurrent


class LSTM(Recurrent):
    """A multi-layer LSTM, like ``torch.nn.LSTM``.

    Parameters (PyTorch's names; L layers, D directions, G = 4 gates i, f, g, o;
    P = ``proj_size`` if set, else H):
        weight_ih_l{k}[_reverse] (4H, I) for k = 0, (4H, D*P) above;
        weight_hh_l{k}[_reverse] (4H, P);  bias_ih_l{k}[_reverse], bias_hh_l{k}[_reverse] (4H,);
        weight_hr_l{k}[_reverse] (P, H) only with ``proj_size > 0``.

    ``out, (h_n, c_n) = lstm(x, (h0, c0))`` (or ``lstm(x)`` for zero states) with x
    (T, N, I), h0 (L*D, N, P) and c0 (L*D, N, H) gives out (T, N, D*P), h_n (L*D, N, P)
    and c_n (L*D, N, H); ``dx, (dh0, dc0) = lstm.backward(dout, (dh_n, dc_n))``, where
    either of dh_n, dc_n (or the whole tuple) may be ``None`` for zeros.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 proj_size: int = 0, dtype=np.float32, backend: str = "auto",
                 seed: int | None = None):
        super().__init__(LSTM_CELL, input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, proj_size, dtype, backend, seed)


class LSTMCell(Cell):
    """One step of the LSTM cell, like ``torch.nn.LSTMCell``.

    ``h1, c1 = cell(x, (h, c))`` with x (N, I) and h, c (N, H) (or (I,), (H,)
    unbatched; ``cell(x)`` starts from zeros); ``dx, (dh, dc) = cell.backward((dh1, dc1))``,
    where either of dh1, dc1 may be ``None``.
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, dtype=np.float32,
                 seed: int | None = None):
        super().__init__(LSTM_CELL, input_size, hidden_size, bias, dtype, seed)


"""``GRU`` and ``GRUCell``: the gated recurrent unit, PyTorch's contract.

    r, z = sigmoid(x_t @ W_i{r,z}.T + b_i{r,z} + h_{t-1} @ W_h{r,z}.T + b_h{r,z})
    n    = tanh(x_t @ W_in.T + b_in + r * (h_{t-1} @ W_hn.T + b_hn))
    h_t  = (1 - z) * n + z * h_{t-1}

The arithmetic is in ``numrnn/functional/gru.py`` (and the kernels that mirror it),
described for the layer machinery in ``numrnn/cells/gru.py``; layers, directions and
layouts are in ``numrnn/nn/recurrent.py``.
"""

from __future__ import annotations

import numpy as np

from numrnn.cells import GRU_CELL
from numrnn.nn.cell import Cell
from numrnn.nn.recurrent import Recurrent


class GRU(Recurrent):
    """A multi-layer GRU, like ``torch.nn.GRU``.

    Parameters (PyTorch's names; L layers, D directions, G = 3 gates r, z, n):
        weight_ih_l{k}[_reverse] (3H, I) for k = 0, (3H, D*H) above;
        weight_hh_l{k}[_reverse] (3H, H);  bias_ih_l{k}[_reverse], bias_hh_l{k}[_reverse] (3H,)

    ``out, h_n = gru(x, h0)`` with x (T, N, I) and h0 (L*D, N, H) gives out
    (T, N, D*H) and h_n (L*D, N, H); ``dx, dh0 = gru.backward(dout, dh_n)``.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 dtype=np.float32, backend: str = "auto", seed: int | None = None):
        super().__init__(GRU_CELL, input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, 0, dtype, backend, seed)


class GRUCell(Cell):
    """One step of the GRU cell, like ``torch.nn.GRUCell``.

    ``h1 = cell(x, h)`` with x (N, I) and h (N, H) (or (I,), (H,) unbatched);
    ``dx, dh = cell.backward(dh1)``.
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, dtype=np.float32,
                 seed: int | None = None):
        super().__init__(GRU_CELL, input_size, hidden_size, bias, dtype, seed)


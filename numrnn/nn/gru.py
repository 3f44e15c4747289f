"""``GRU`` and ``GRUCell``: the gated recurrent unit, PyTorch's contract.

    r, z = sigmoid(x_t @ W_i{r,z}.T + b_i{r,z} + h_{t-1} @ W_h{r,z}.T + b_h{r,z})
    n    = tanh(x_t @ W_in.T + b_in + r * (h_{t-1} @ W_hn.T + b_hn))
    h_t  = (1 - z) * n + z * h_{t-1}

The arithmetic is in ``numrnn/functional/gru.py`` (and the kernels that mirror it);
layers, directions and layouts are in ``numrnn/nn/recurrent.py``.
"""

from __future__ import annotations

import numpy as np

from numrnn.functional.gru import gru_step_backward, gru_step_forward
from numrnn.nn.cell import CellBase
from numrnn.nn.recurrent import RecurrentBase


class GRU(RecurrentBase):
    """A multi-layer GRU, like ``torch.nn.GRU``.

    Parameters (PyTorch's names; L layers, D directions, G = 3 gates r, z, n):
        weight_ih_l{k}[_reverse] (3H, I) for k = 0, (3H, D*H) above;
        weight_hh_l{k}[_reverse] (3H, H);  bias_ih_l{k}[_reverse], bias_hh_l{k}[_reverse] (3H,)

    ``out, h_n = gru(x, h0)`` with x (T, N, I) and h0 (L*D, N, H) gives out
    (T, N, D*H) and h_n (L*D, N, H); ``dx, dh0 = gru.backward(dout, dh_n)``.
    """

    _cell = "gru"
    _gates = 3
    _n_states = 1

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 dtype=np.float32, backend: str = "auto", seed: int | None = None):
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, 0, dtype, backend, seed)

    def _run_layer(self, ops, x, state0, weights):
        h, cache = ops.gru_forward(x, state0[0], *weights)
        return (h,), cache

    def _run_layer_backward(self, ops, dstates, cache):
        dx, dh0, *dweights = ops.gru_backward(dstates[0], cache)
        return dx, (dh0,), dweights


class GRUCell(CellBase):
    """One step of the GRU cell, like ``torch.nn.GRUCell``.

    ``h1 = cell(x, h)`` with x (N, I) and h (N, H) (or (I,), (H,) unbatched);
    ``dx, dh = cell.backward(dh1)``.
    """

    _gates = 3
    _n_states = 1

    def _step(self, x, state):
        h, cache = gru_step_forward(x, state[0], *self._weights())
        return (h,), cache

    def _step_backward(self, dstate, cache):
        dx, dh_prev, *dweights = gru_step_backward(dstate[0], cache)
        return dx, (dh_prev,), dweights

"""``RNN`` and ``RNNCell``: the Elman network with tanh or ReLU, PyTorch's contract.

    h_t = f(x_t @ W_ih.T + b_ih + h_{t-1} @ W_hh.T + b_hh),   f = tanh or relu

The arithmetic is in ``numrnn/functional/rnn.py`` (and the kernels that mirror it);
layers, directions and layouts are in ``numrnn/nn/recurrent.py``.
"""

from __future__ import annotations

import numpy as np

from numrnn.functional.activations import check_nonlinearity
from numrnn.functional.rnn import rnn_step_backward, rnn_step_forward
from numrnn.nn.cell import CellBase
from numrnn.nn.recurrent import RecurrentBase


class RNN(RecurrentBase):
    """A multi-layer Elman RNN, like ``torch.nn.RNN``.

    Parameters (PyTorch's names; L layers, D directions, G = 1 gate):
        weight_ih_l{k}[_reverse] (H, I) for k = 0, (H, D*H) above;
        weight_hh_l{k}[_reverse] (H, H);  bias_ih_l{k}[_reverse], bias_hh_l{k}[_reverse] (H,)

    ``out, h_n = rnn(x, h0)`` with x (T, N, I) and h0 (L*D, N, H) gives out
    (T, N, D*H) and h_n (L*D, N, H); ``dx, dh0 = rnn.backward(dout, dh_n)``.
    """

    _cell = "rnn"
    _gates = 1
    _n_states = 1

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False,
                 dropout: float = 0.0, bidirectional: bool = False, dtype=np.float32,
                 backend: str = "auto", seed: int | None = None):
        self.nonlinearity = check_nonlinearity(nonlinearity)
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, 0, dtype, backend, seed)

    def extra_repr(self) -> str:
        s = super().extra_repr()
        return s if self.nonlinearity == "tanh" else s + ", nonlinearity='relu'"

    def _run_layer(self, ops, x, state0, weights):
        h, cache = ops.rnn_forward(x, state0[0], *weights, nonlinearity=self.nonlinearity)
        return (h,), cache

    def _run_layer_backward(self, ops, dstates, cache):
        dx, dh0, *dweights = ops.rnn_backward(dstates[0], cache)
        return dx, (dh0,), dweights


class RNNCell(CellBase):
    """One step of the Elman cell, like ``torch.nn.RNNCell``.

    ``h1 = cell(x, h)`` with x (N, I) and h (N, H) (or (I,), (H,) unbatched);
    ``dx, dh = cell.backward(dh1)``.
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", dtype=np.float32, seed: int | None = None):
        self.nonlinearity = check_nonlinearity(nonlinearity)
        super().__init__(input_size, hidden_size, bias, dtype, seed)

    def _step(self, x, state):
        h, cache = rnn_step_forward(x, state[0], *self._weights(), nonlinearity=self.nonlinearity)
        return (h,), cache

    def _step_backward(self, dstate, cache):
        dx, dh_prev, *dweights = rnn_step_backward(dstate[0], cache)
        return dx, (dh_prev,), dweights

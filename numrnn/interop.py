"""Weights to and from Keras's layouts, for a single-layer ``SimpleRNN``, ``LSTM`` or ``GRU``.

numrnn stores PyTorch's layout (rows are gates, two bias vectors); Keras stores the
transpose (columns are gates), one bias vector for SimpleRNN and LSTM, and a
different gate order for the GRU. ``layer.get_weights()`` in Keras returns:

    SimpleRNN  kernel (I, H)    recurrent_kernel (H, H)    bias (H,)
    LSTM       kernel (I, 4H)   recurrent_kernel (H, 4H)   bias (4H,)    gates i, f, c, o
    GRU        kernel (I, 3H)   recurrent_kernel (H, 3H)   bias (2, 3H)  gates z, r, h
               (``reset_after=True``, Keras's default: row 0 input bias, row 1 recurrent bias)

and without ``use_bias`` the list stops after ``recurrent_kernel``. The conversions:

    kernel = weight_ih.T,  recurrent_kernel = weight_hh.T      (gate blocks permuted for the GRU)
    SimpleRNN, LSTM:  bias = bias_ih + bias_hh;  back: bias_ih = bias, bias_hh = 0
    GRU:              bias = [bias_ih; bias_hh]  (both are needed: b_hn sits inside r * (...))

LSTM's gate order is the same in both (Keras's c is PyTorch's g). A numrnn -> Keras ->
numrnn round trip gives the same function, with the two RNN/LSTM biases summed into
``bias_ih``. Keras's GRU with ``reset_after=False`` computes ``(r * h) @ U_h`` where
PyTorch's computes ``r * (h @ W_hn.T + b_hn)``. In general no PyTorch GRU computes the
same function; only special weights make the two agree for every input (a diagonal
``U_h``, zero included, with ``W_hn = U_h.T`` and ``b_hn = 0``). So those weights are
refused rather than converted into a different network. docs/lstm_gru.md has the
equations side by side.
"""

from __future__ import annotations

import numpy as np

from numrnn.cells import KerasLayout
from numrnn.errors import UsageTypeError, UsageValueError
from numrnn.nn.cell import Cell
from numrnn.nn.recurrent import Recurrent

_NO_RESET_BEFORE = (
    "Keras's GRU with reset_after=False computes the candidate as tanh(x W_h + b_h + (r * h) U_h), "
    "with the reset gate applied before the recurrent matrix; PyTorch's and numrnn's GRU compute "
    "tanh(x W_in^T + b_in + r * (h W_hn^T + b_hn)) (Keras's reset_after=True). The two agree only for "
    "special weights (a diagonal U_h, for one), not in general, so these weights are not converted; "
    "rebuild the Keras layer with reset_after=True (the default since TensorFlow 2)"
)


def _layout(module) -> KerasLayout:
    """How Keras stores ``module``'s cell; a TypeError/ValueError unless it is a one-layer,
    one-direction layer (or a one-step cell) of a cell Keras has."""
    keras = getattr(getattr(module, "cell", None), "keras", None)
    if not isinstance(module, (Recurrent, Cell)) or keras is None:
        raise UsageTypeError(
            "Keras conversion takes an RNN, LSTM, GRU or one of their cells (a layer whose cell "
            f"describes a Keras layout); got {type(module).__name__}"
        )
    if isinstance(module, Recurrent):
        name = type(module).__name__
        if module.num_layers != 1 or module.bidirectional:
            raise UsageValueError(
                f"Keras conversion takes a single-layer, single-direction {name} (a Keras layer "
                f"holds one); got num_layers={module.num_layers}, bidirectional={module.bidirectional}"
            )
        if module.proj_size:
            raise UsageValueError(f"Keras's {keras.layer} has no projection; "
                                  f"got proj_size={module.proj_size}")
    return keras


def _keras_name(module, keras: KerasLayout) -> str:
    return keras.layer + ("Cell" if isinstance(module, Cell) else "")


def _names(module) -> tuple:
    """numrnn's names of (weight_ih, weight_hh, bias_ih, bias_hh)."""
    sfx = "" if isinstance(module, Cell) else "_l0"
    return tuple(f"{n}{sfx}" for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))


def _permute(a, keras: KerasLayout, H: int):
    """Reorder the gate blocks along the last axis between PyTorch's order and Keras's
    (the GRU's (r, z, n) <-> (z, r, h); a swap, so it is its own inverse)."""
    if keras.order == tuple(range(len(keras.order))):
        return a
    return np.concatenate([a[..., k * H:(k + 1) * H] for k in keras.order], axis=-1)


def to_keras(module, *, reset_after: bool = True) -> list:
    """The weights of ``module`` as Keras's ``layer.get_weights()`` list.

    Parameters
    ----------
    module : a one-layer, one-direction ``RNN``, ``LSTM`` (no ``proj_size``) or ``GRU``,
        or an ``RNNCell``, ``LSTMCell``, ``GRUCell``.
    reset_after : for a GRU, the Keras layer's ``reset_after``; only ``True`` describes
        the same network.

    Returns
    -------
    ``[kernel (I, G*H), recurrent_kernel (H, G*H), bias]`` as NumPy float arrays (bias
    (G*H,), or (2, 3H) for a GRU); without bias, the first two only. Feed it to
    ``keras_layer.set_weights``.
    """
    keras = _layout(module)
    if keras.two_biases and not reset_after:
        raise UsageValueError(_NO_RESET_BEFORE)
    sd = module.state_dict()
    H = module.hidden_size
    n_ih, n_hh, n_bih, n_bhh = _names(module)
    kernel = _permute(sd[n_ih].T, keras, H)  # (I, G*H)
    recurrent = _permute(sd[n_hh].T, keras, H)  # (H, G*H)
    out = [np.ascontiguousarray(kernel), np.ascontiguousarray(recurrent)]
    if module.bias:
        if keras.two_biases:
            out.append(_permute(np.stack([sd[n_bih], sd[n_bhh]]), keras, H))  # (2, G*H)
        else:
            out.append(sd[n_bih] + sd[n_bhh])  # (G*H,): Keras adds one bias
    return out


def from_keras(module, weights, *, reset_after: bool = True):
    """Load Keras's ``layer.get_weights()`` list into ``module``, in place; returns it.

    Parameters
    ----------
    module : a numrnn module of the matching kind and sizes (see :func:`to_keras`),
        e.g. ``nr.LSTM(I, H, batch_first=True)`` for ``keras.layers.LSTM(H)``.
    weights : ``[kernel, recurrent_kernel, bias]``, or the first two when the Keras
        layer has ``use_bias=False`` (then ``module`` must have ``bias=False``).
    reset_after : for a GRU, the Keras layer's ``reset_after``; ``False`` is refused,
        because that GRU is a different function (see the module docstring).

    The Keras layer must use the default activations (tanh, with sigmoid gates);
    SimpleRNN's ``activation`` must match the RNN's ``nonlinearity``.
    """
    layout = _layout(module)
    keras = _keras_name(module, layout)
    if layout.two_biases and not reset_after:
        raise UsageValueError(_NO_RESET_BEFORE)
    if not isinstance(weights, (list, tuple)):
        raise UsageTypeError(
            f"from_keras expects the list layer.get_weights() returns; got {type(weights).__name__}"
        )
    want = 3 if module.bias else 2
    if len(weights) != want:
        have = "bias=True" if module.bias else "bias=False"
        raise UsageValueError(
            f"from_keras: a Keras {keras} with use_bias={module.bias} has {want} weight arrays "
            f"(kernel, recurrent_kernel{', bias' if module.bias else ''}) to match a module with {have}; "
            f"got {len(weights)}"
        )
    arrays = [np.asarray(w) for w in weights]
    H, I, G = module.hidden_size, module.input_size, module.cell.gates
    expected = [(I, G * H), (H, G * H)]
    if module.bias:
        expected.append((2, G * H) if layout.two_biases else (G * H,))
    for label, a, shape in zip(("kernel", "recurrent_kernel", "bias"), arrays, expected):
        if a.shape != shape:
            hint = ""
            if label == "bias" and layout.two_biases and a.shape == (G * H,):
                hint = f" (a bias of shape {a.shape} is a reset_after=False GRU: {_NO_RESET_BEFORE})"
            raise UsageValueError(
                f"from_keras: {label} of a Keras {keras}({H}) on {I} input features must have shape "
                f"{shape}; got {a.shape}{hint}"
            )
    kernel, recurrent = _permute(arrays[0], layout, H), _permute(arrays[1], layout, H)
    n_ih, n_hh, n_bih, n_bhh = _names(module)
    state = {n_ih: kernel.T, n_hh: recurrent.T}
    if module.bias:
        if layout.two_biases:
            b = _permute(arrays[2], layout, H)  # (2, G*H) in PyTorch's gate order
            state[n_bih], state[n_bhh] = b[0], b[1]
        else:
            state[n_bih], state[n_bhh] = arrays[2], np.zeros_like(arrays[2])
    module.load_state_dict(state)
    return module

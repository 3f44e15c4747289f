"""Elementwise nonlinearities and their derivatives, written from the saved output.

The derivative of each activation is computed from its *output* ``y`` rather than its
input, as Chainer and CS231n do: the forward pass already holds ``y`` in its cache.

    tanh:    y = tanh(a),        dy/da = 1 - y**2
    relu:    y = max(a, 0),      dy/da = 1 if y > 0 else 0
    sigmoid: y = 1/(1+exp(-a)),  dy/da = y * (1 - y)

Every function takes and returns arrays of the array module of its input (NumPy or
CuPy) and keeps the input's dtype.
"""

from __future__ import annotations

from numrnn.backend import get_array_module
from numrnn.errors import UsageValueError

NONLINEARITIES = ("tanh", "relu")


def check_nonlinearity(name) -> str:
    """``name`` if it is a supported recurrent nonlinearity, else a ValueError."""
    if not isinstance(name, str) or name not in NONLINEARITIES:
        raise UsageValueError(f"nonlinearity must be 'tanh' or 'relu'; got {name!r}")
    return name


def activation_forward(a, nonlinearity: str = "tanh"):
    """``tanh(a)`` or ``relu(a)``; any shape."""
    xp = get_array_module(a)
    if nonlinearity == "tanh":
        return xp.tanh(a)
    if nonlinearity == "relu":
        return xp.maximum(a, 0)
    raise UsageValueError(f"nonlinearity must be 'tanh' or 'relu'; got {nonlinearity!r}")


def activation_backward(dy, y, nonlinearity: str = "tanh"):
    """dL/da from dL/dy and the saved output ``y`` of :func:`activation_forward`."""
    if nonlinearity == "tanh":
        return tanh_backward(dy, y)
    if nonlinearity == "relu":
        return dy * (y > 0)
    raise UsageValueError(f"nonlinearity must be 'tanh' or 'relu'; got {nonlinearity!r}")


def sigmoid(a):
    """The logistic function ``1 / (1 + exp(-a))``, without overflow warnings.

    For ``a < 0`` it is evaluated as ``exp(a) / (1 + exp(a))``, which is the same
    number and never computes ``exp`` of a large positive argument.
    """
    xp = get_array_module(a)
    e = xp.exp(-xp.abs(a))  # in (0, 1]: never overflows
    return xp.where(a >= 0, 1 / (1 + e), e / (1 + e))


def sigmoid_backward(dy, y):
    """dL/da for ``y = sigmoid(a)``, from the saved output."""
    return dy * y * (1 - y)


def tanh_backward(dy, y):
    """dL/da for ``y = tanh(a)``, from the saved output."""
    return dy * (1 - y * y)

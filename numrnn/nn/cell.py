"""The single-step cells (RNNCell, LSTMCell, GRUCell): one step, batched or not.

Like ``torch.nn.RNNCell``: ``x`` is (N, I) or (I,) for one unbatched sample, the state
is (N, H) or (H,), and parameters are ``weight_ih``, ``weight_hh``, ``bias_ih``,
``bias_hh``. A cell runs the textbook step functions of ``numrnn.functional`` on the
array module of its input; the compiled kernels are for whole sequences.
"""

from __future__ import annotations

import math

import numpy as np

from numrnn._checks import as_float_array, check_positive_int, check_shape
from numrnn.backend import get_array_module
from numrnn.errors import UsageTypeError, UsageValueError
from numrnn.nn.module import Module


class CellBase(Module):
    """One step of a recurrent cell; subclasses set ``_gates``, ``_n_states`` and
    implement :meth:`_step` and :meth:`_step_backward`."""

    _gates = 1
    _n_states = 1

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 dtype=np.float32, seed: int | None = None):
        super().__init__(dtype)
        name = type(self).__name__
        self.input_size = check_positive_int(input_size, "input_size", name)
        self.hidden_size = check_positive_int(hidden_size, "hidden_size", name)
        self.bias = bool(bias)
        self.rng = np.random.default_rng(seed)
        self._cache = None
        G, H, k = self._gates, self.hidden_size, 1.0 / math.sqrt(self.hidden_size)
        shapes = {"weight_ih": (G * H, self.input_size), "weight_hh": (G * H, H)}
        if self.bias:
            shapes.update(bias_ih=(G * H,), bias_hh=(G * H,))
        for pname, shape in shapes.items():
            self._add_param(pname, self.rng.uniform(-k, k, size=shape).astype(self.dtype))

    def __repr__(self) -> str:
        extra = "" if self.bias else ", bias=False"
        return f"{type(self).__name__}({self.input_size}, {self.hidden_size}{extra})"

    def _weights(self) -> tuple:
        p = self._params
        return p["weight_ih"], p["weight_hh"], p.get("bias_ih"), p.get("bias_hh")

    def _step(self, x, state: tuple):
        """(N, I), states (N, H) each -> (new states tuple, cache)."""
        raise NotImplementedError

    def _step_backward(self, dstate: tuple, cache):
        """-> (dx, dstate_prev tuple, (dw_ih, dw_hh, db_ih, db_hh))."""
        raise NotImplementedError

    def _state_label(self, i: int) -> str:
        return ("h", "c")[i]

    def _check_state_like(self, s, N: int, batched: bool, label: str, xp):
        name = type(self).__name__
        s = as_float_array(s, label, name, self.dtype)
        H = self.hidden_size
        if batched:
            check_shape(s, (N, H), label, name, "(N, hidden_size)")
            return s.copy()  # the step cache keeps it: the caller may write into its own
        check_shape(s, (H,), label, name, "(hidden_size,) for unbatched input")
        return s[None, :].copy()

    def _states_in(self, given, N, batched, prefix, xp) -> tuple:
        if given is None:
            given = (None,) * self._n_states
        elif self._n_states == 1:
            given = (given,)
        elif not isinstance(given, (tuple, list)) or len(given) != self._n_states:
            raise UsageTypeError(f"{type(self).__name__}: the state must be a tuple (h, c); "
                                 f"got {type(given).__name__}")
        return tuple(
            xp.zeros((N, self.hidden_size), dtype=self.dtype) if g is None
            else self._check_state_like(g, N, batched, f"{prefix}{self._state_label(i)}", xp)
            for i, g in enumerate(given)
        )

    def _states_out(self, states: tuple, batched: bool):
        states = tuple(s if batched else s[0] for s in states)
        return states[0] if self._n_states == 1 else states

    def forward(self, x, state=None):
        """One step: x (N, I) or (I,); state (N, H) or (H,) (a tuple (h, c) for LSTMCell).

        Returns the new state, shaped like the given one.
        """
        name = type(self).__name__
        x = as_float_array(x, "input", name, self.dtype)
        if x.ndim not in (1, 2):
            raise UsageValueError(f"{name}: input must be 2-D (N, I) or 1-D (I,) unbatched; "
                                  f"got shape {tuple(x.shape)}")
        batched = x.ndim == 2
        if x.shape[-1] != self.input_size:
            raise UsageValueError(f"{name}: input must have input_size={self.input_size} "
                                  f"features in its last axis; got {x.shape[-1]} (shape {tuple(x.shape)})")
        xp = get_array_module(x)
        x2 = (x if batched else x[None, :]).copy()  # the step cache keeps it (see states)
        if x2.shape[0] == 0:
            raise UsageValueError(f"{name}: input has an empty batch (N = 0)")
        states = self._states_in(state, x2.shape[0], batched, "", xp)
        new, cache = self._step(x2, states)
        self._cache = (cache, batched, x2.shape[0])
        # copies: the step's cache holds the new state, and the caller may write into it
        return self._states_out(tuple(s.copy() for s in new), batched)

    def backward(self, dstate):
        """dL/d(new state) in, ``(dx, dL/d(old state))`` out; parameter gradients are
        added into :attr:`grads`."""
        name = type(self).__name__
        if self._cache is None:
            raise RuntimeError(f"{name}.backward called before forward: run the forward pass first")
        cache, batched, N = self._cache
        xp = get_array_module(*(dstate if isinstance(dstate, (tuple, list)) else (dstate,)))
        dstates = self._states_in(dstate, N, batched, "d", xp)
        dx, dprev, dweights = self._step_backward(dstates, cache)
        for pname, g in zip(("weight_ih", "weight_hh", "bias_ih", "bias_hh"), dweights):
            if pname in self._grads:
                self._accumulate(pname, g)
        return (dx if batched else dx[0]), self._states_out(dprev, batched)

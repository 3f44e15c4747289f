"""``Cell``: one step of any recurrent cell, batched or not (RNNCell, LSTMCell, GRUCell).

Like ``torch.nn.RNNCell``: ``x`` is (N, I) or (I,) for one unbatched sample, a state
is (N, H) or (H,), and the parameters are ``weight_ih`` (G*H, I), ``weight_hh`` (G*H, H),
``bias_ih`` and ``bias_hh`` (G*H,). A cell runs its spec's step functions (the
textbook's, for the built-in cells) on the array module of its input, checked against
the step contract of ``numrnn/cells/spec.py``; the compiled kernels are for whole
sequences (:class:`~numrnn.nn.recurrent.Recurrent`).
"""

from __future__ import annotations

import numpy as np

from numrnn._checks import as_float_array, check_bool, check_shape
from numrnn.backend import get_array_module
from numrnn.cells import CellSpec, get_cell
from numrnn.cells.generic import run_step_backward, run_step_forward
from numrnn.errors import UsageValueError
from numrnn.memory import check_allocation, parameter_bytes
from numrnn.nn.cellstate import (
    check_sizes,
    init_uniform,
    join_states,
    split_states,
    state_label,
)
from numrnn.nn.module import Module

_NAMES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


class Cell(Module):
    """One step of the cell ``spec`` describes (a cell with a projection is not supported
    here: its step is only available inside :class:`~numrnn.nn.recurrent.Recurrent`).

    ``new = cell(x, state)`` with x (N, I) and the state (N, H) (a tuple for several
    states; ``None`` is zeros) gives the new state in the same form;
    ``dx, dstate = cell.backward(dnew)`` adds the parameter gradients into :attr:`grads`.
    """

    def __init__(self, cell, input_size: int, hidden_size: int, bias: bool = True,
                 dtype=np.float32, seed: int | None = None, options: dict | None = None):
        super().__init__(dtype)
        name = type(self).__name__
        self.cell: CellSpec = get_cell(cell, name)
        self.options = self.cell.resolve_options(options, name)
        self.input_size, self.hidden_size = check_sizes(name, input_size, hidden_size)
        self.bias = check_bool(bias, "bias", name)
        self.rng = np.random.default_rng(seed)
        G, H = self.cell.gates, self.hidden_size
        shapes = {"weight_ih": (G * H, self.input_size), "weight_hh": (G * H, H)}
        if self.bias:
            shapes.update(bias_ih=(G * H,), bias_hh=(G * H,))
        check_allocation(parameter_bytes(shapes.values(), self.dtype),
                         f"{name}({self.input_size}, {H}) (parameters and gradients)")
        for pname, shape in shapes.items():
            self._add_param(pname, init_uniform(self.rng, shape, H, self.dtype))

    def __repr__(self) -> str:
        extra = "" if self.bias else ", bias=False"
        options = {k: v for k, v in self.options.items() if v != self.cell.options[k]}
        if type(self) is not Cell:  # RNNCell, LSTMCell, GRUCell: the class names the cell
            extra += "".join(f", {k}={v!r}" for k, v in options.items())  # their own arguments
            return f"{type(self).__name__}({self.input_size}, {self.hidden_size}{extra})"
        extra += f", options={options!r}" if options else ""
        return f"Cell({self.cell.name}, {self.input_size}, {self.hidden_size}{extra})"

    def _weights(self) -> tuple:
        p = self._params
        return p["weight_ih"], p["weight_hh"], p.get("bias_ih"), p.get("bias_hh")

    def _states_in(self, given, N: int, batched: bool, prefix: str, xp) -> tuple:
        """The caller's state (or its gradient) as a tuple of fresh (N, H) arrays; ``None``
        entries become zeros of the array module ``xp``."""
        name = type(self).__name__
        out = []
        for i, g in enumerate(split_states(self.cell, given, name)):
            label = state_label(self.cell, i, prefix=prefix)
            if g is None:
                out.append(xp.zeros((N, self.hidden_size), dtype=self.dtype))
                continue
            s = as_float_array(g, label, name, self.dtype)
            if batched:
                check_shape(s, (N, self.hidden_size), label, name, "(N, hidden_size)")
                out.append(s.copy())  # the step cache keeps it: the caller may write into its own
            else:
                check_shape(s, (self.hidden_size,), label, name, "(hidden_size,) for unbatched input")
                out.append(s[None, :].copy())
        return tuple(out)

    def _states_out(self, states: tuple, batched: bool):
        return join_states(self.cell, tuple(s if batched else s[0] for s in states))

    def _step(self, x, state: tuple):
        """(N, I), states (N, H) each -> (new states tuple, cache): the spec's step, checked."""
        return run_step_forward(self.cell, x, state, self._weights(), self.options)

    def _step_backward(self, dstate: tuple, cache):
        """-> (dx, dstate_prev tuple, (dw_ih, dw_hh, db_ih, db_hh)): the spec's step backward, checked."""
        step, x_shape = cache
        return run_step_backward(self.cell, dstate, step, x_shape, self._weights())

    def forward(self, x, state=None):
        """One step: x (N, I) or (I,); the state (N, H) or (H,) (a tuple for several states).

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
        x2 = (x if batched else x[None, :]).copy()  # the step cache keeps it (see states)
        if x2.shape[0] == 0:
            raise UsageValueError(f"{name}: input has an empty batch (N = 0)")
        states = self._states_in(state, x2.shape[0], batched, "", get_array_module(x2))
        new, step = self._step(x2, states)
        self._cache = ((step, tuple(x2.shape)), batched, x2.shape[0])
        # copies: the step's cache holds the new state, and the caller may write into it
        return self._states_out(tuple(s.copy() for s in new), batched)

    def backward(self, dstate):
        """dL/d(new state) in, ``(dx, dL/d(old state))`` out; parameter gradients are
        added into :attr:`grads`."""
        cache, batched, N = self._saved_cache()
        given = dstate if isinstance(dstate, (tuple, list)) else (dstate,)
        dstates = self._states_in(dstate, N, batched, "d", get_array_module(*given))
        dx, dprev, dweights = self._step_backward(dstates, cache)
        for pname, g in zip(_NAMES, dweights):
            if pname in self._grads:
                self._accumulate(pname, g)
        self._used_cache()
        return (dx if batched else dx[0]), self._states_out(dprev, batched)


CellBase = Cell  # the name of this class before cells were described by specs

__all__ = ["Cell", "CellBase"]

"""``Recurrent``: a multi-layer, bidirectional recurrent layer over any cell.

``nr.Recurrent(spec, input_size, hidden_size, ...)`` runs the cell a
:class:`~numrnn.cells.CellSpec` describes with PyTorch's contract: ``RNN``, ``LSTM``
and ``GRU`` are this class over the built-in cells, and a user's cell gets the same
layers, directions, ``batch_first``, lengths, dropout, gradient checks, summaries and
checkpoints. The work is split so each part reads on its own:

    this file              parameters (PyTorch's names, U(-1/sqrt(H), 1/sqrt(H))), the
                           choice of backend, and the forward/backward that glue:
    nn/boundary.py         the caller's layout and device  <->  time-major on the device
    nn/stack.py            layers, directions, lengths, dropout, the order of h_n
    the cell's functions   one layer, one direction: the reference, a kernel, or the
                           generic loop over the cell's steps (cells/generic.py)
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from numrnn._checks import check_bool, check_positive_int, check_real
from numrnn.backend import check_backend_name, get_ops
from numrnn.cells import CellSpec, get_cell
from numrnn.cells.generic import generic_ops
from numrnn.device import backend_device, check_device, module_backend, to_device
from numrnn.errors import UsageTypeError, UsageValueError
from numrnn.memory import check_allocation, parameter_bytes
from numrnn.nn.boundary import Boundary
from numrnn.nn.cellstate import (
    check_sizes,
    init_uniform,
    join_states,
    split_states,
    state_label,
)
from numrnn.nn.module import Module
from numrnn.nn.stack import StackCache, stack_backward, stack_forward
from numrnn.recompute import check_recompute, recompute_ops


class RecurrentCache(NamedTuple):
    """What :meth:`Recurrent.backward` needs from the forward of the same thread."""

    ops: object  # the cell's SequenceOps the forward ran: the backward must be their twin
    stack: StackCache  # per layer and direction, the cell's cache; lengths, masks
    boundary: Boundary  # how the arrays crossed in, so gradients cross back alike
    out_shape: tuple  # (T, N, D*P) time-major


class Recurrent(Module):
    """Stacks of any recurrent cell, like ``torch.nn.RNN`` for the cell ``spec`` describes.

    Parameters
    ----------
    cell : a :class:`~numrnn.CellSpec` (or the name of a registered one).
    input_size, hidden_size : I and H.
    num_layers, bias, batch_first, dropout, bidirectional : as in ``torch.nn.RNN``.
    proj_size : P < H, for a cell that takes a projection (the LSTM); 0 is none.
    dtype : np.float32 or np.float64.
    backend : ``"auto"``, ``"numpy"``, ``"numba"`` or ``"cupy"`` (numrnn.backend).
    seed : seeds the initialisation and the dropout masks.
    options : the cell's keyword options (``{"nonlinearity": "relu"}`` for the RNN cell).
    recompute : ``None`` (keep every step for the backward), an int k or ``"sqrt"``:
        keep the states every k (or ceil(sqrt(T))) steps and recompute each segment's
        forward during the backward (numrnn/recompute.py): memory O(T/k + k) instead of
        O(T), for about one more forward.

    Parameters of layer k and direction d (PyTorch's names; G = ``cell.gates``):
        weight_ih_l{k}[_reverse] (G*H, I) for k = 0, (G*H, D*P) above;
        weight_hh_l{k}[_reverse] (G*H, P);  bias_ih_l{k}[_reverse], bias_hh_l{k}[_reverse] (G*H,);
        weight_hr_l{k}[_reverse] (P, H) only with ``proj_size > 0``.

    ``out, h_n = layer(x, h0)`` for a one-state cell, ``out, (h_n, c_n) = layer(x, (h0, c0))``
    for a two-state one: x (T, N, I) (or (N, T, I) with ``batch_first``, or (T, I)
    unbatched), states (L*D, N, S), out (T, N, D*P); ``layer(x, h0, lengths=...)`` for
    variable lengths. ``dx, dh0 = layer.backward(dout, dh_n)`` (tuples for several states,
    any entry may be ``None``) adds the parameter gradients into :attr:`grads`.
    """

    _unpack_output_grads = True  # backward(dout, dh_n) takes forward's (out, h_n) unpacked

    def __init__(
        self,
        cell,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        dtype=np.float32,
        backend: str = "auto",
        seed: int | None = None,
        options: dict | None = None,
        recompute=None,
    ):
        super().__init__(dtype)
        name = type(self).__name__
        self.cell: CellSpec = get_cell(cell, name)
        self.options = self.cell.resolve_options(options, name)
        self.input_size, self.hidden_size = check_sizes(name, input_size, hidden_size)
        self.num_layers = check_positive_int(num_layers, "num_layers", name)
        self.proj_size = check_positive_int(proj_size, "proj_size", name, minimum=0)
        if self.proj_size and not self.cell.projection:
            raise UsageValueError(f"{name}: cell {self.cell.name!r} takes no projection; got "
                                  f"proj_size={proj_size}")
        if self.proj_size and self.proj_size >= self.hidden_size:
            raise UsageValueError(
                f"{name}: proj_size must be smaller than hidden_size; "
                f"got proj_size={proj_size}, hidden_size={hidden_size}"
            )
        check_real(dropout, "dropout", name, 0, 1, high_open=True)
        self.bias = check_bool(bias, "bias", name)
        self.batch_first = check_bool(batch_first, "batch_first", name)
        self.dropout = float(dropout)
        self.bidirectional = check_bool(bidirectional, "bidirectional", name)
        self.backend = check_backend_name(backend)
        self.recompute = check_recompute(recompute, name)
        self.last_backend: str | None = None  # the backend the last forward ran on
        self.last_kernels: str | None = None  # the implementation whose functions it called
        self.rng = np.random.default_rng(seed)
        self._masks: list = []  # dropout mask per layer below the top, from the last forward
        self._hold_masks = False
        self._init_params()

    # -- sizes and names ---------------------------------------------------------------
    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    @property
    def output_size(self) -> int:
        """P: the size of h (``proj_size`` when it is set, else ``hidden_size``)."""
        return self.proj_size or self.hidden_size

    def _state_sizes(self) -> tuple:
        """Size of each state: P for h, H for the others (an LSTM's c)."""
        return self.cell.state_sizes(self.hidden_size, self.output_size)

    def _names(self, layer: int, direction: int) -> tuple:
        """Parameter names of one layer and direction, in the order the cell's functions
        take the weights: (weight_ih, weight_hh, bias_ih, bias_hh[, weight_hr]); absent
        ones (no bias) are ``None``."""
        sfx = f"_l{layer}" + ("_reverse" if direction else "")
        names = [f"weight_ih{sfx}", f"weight_hh{sfx}"]
        names += [f"bias_ih{sfx}", f"bias_hh{sfx}"] if self.bias else [None, None]
        if self.proj_size:
            names.append(f"weight_hr{sfx}")
        return tuple(names)

    def layer_weights(self, layer: int = 0, direction: int = 0) -> tuple:
        """The weights of one layer and direction as the cell's functions take them:
        ``(w_ih, w_hh, b_ih, b_hh[, w_hr])``, ``None`` for the biases of ``bias=False``."""
        return tuple(None if n is None else self._params[n] for n in self._names(layer, direction))

    def _init_params(self) -> None:
        """PyTorch's initialisation: every parameter from U(-1/sqrt(H), 1/sqrt(H)).

        The bytes are added up and checked (numrnn.memory) before anything is allocated:
        ``nr.RNN(3, 10**9)`` is a SizeError at once, not a process the OS kills.
        """
        H, P, G = self.hidden_size, self.output_size, self.cell.gates
        planned = []  # (name, shape) of every parameter, before any is allocated
        for layer in range(self.num_layers):
            in_size = self.input_size if layer == 0 else P * self.num_directions
            for d in range(self.num_directions):
                shapes = [(G * H, in_size), (G * H, P), (G * H,), (G * H,), (P, H)]
                planned += [(n, s) for n, s in zip(self._names(layer, d), shapes) if n is not None]
        check_allocation(parameter_bytes([s for _, s in planned], self.dtype),
                         f"{type(self).__name__}({self.input_size}, {H}, num_layers={self.num_layers}) "
                         "(parameters and gradients)")
        for pname, shape in planned:
            self._add_param(pname, init_uniform(self.rng, shape, H, self.dtype))

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        for attr, default in (("bias", True), ("batch_first", False), ("dropout", 0.0),
                              ("bidirectional", False), ("recompute", None)):
            if getattr(self, attr) != default:
                s += f", {attr}={getattr(self, attr)!r}"
        if self.dtype != np.float32:
            s += f", dtype={self.dtype.name}"
        return s

    def __repr__(self) -> str:
        if type(self) is not Recurrent:  # RNN, LSTM, GRU: the class names the cell
            return f"{type(self).__name__}({self.extra_repr()})"
        options = {k: v for k, v in self.options.items() if v != self.cell.options[k]}
        extra = f", options={options!r}" if options else ""
        return f"Recurrent({self.cell.name}, {self.extra_repr()}{extra})"

    # -- one layer, one direction: the cell's whole-sequence functions -------------------------
    def _run_layer(self, ops, x, state0: tuple, weights: tuple):
        """One layer, one direction: ``x`` (T, N, F) -> (one (T, N, S) array per state, cache)."""
        return ops.forward(x, state0, *weights, **self.options)

    def _run_layer_backward(self, ops, dstates: tuple, cache):
        """Backward of :meth:`_run_layer`: gradients for every state at every step in,
        ``(dx, dstate0 tuple, dweights tuple in _names order)`` out."""
        dx, dstate0, *dweights = ops.backward(dstates, cache)
        return dx, tuple(dstate0), tuple(dweights)

    def _ops(self, backend: str):
        """The cell's sequence functions on ``backend``: its implementation for that
        backend (numrnn.backend.get_ops), or the generic loop over its steps."""
        impl = get_ops(backend, self.cell)
        ops = generic_ops(self.cell) if impl is None else self.cell.sequence(impl)
        return ops if self.recompute is None else recompute_ops(ops, self.recompute)

    def _dropout_mask(self, layer: int, shape, xp):
        """Inverted-dropout mask for the output of ``layer``: 0 or 1/(1-p)."""
        if self._hold_masks and layer < len(self._masks) and self._masks[layer].shape == shape:
            return self._masks[layer]
        keep = self.rng.random(shape) >= self.dropout
        mask = xp.asarray((keep / (1.0 - self.dropout)).astype(self.dtype))
        if layer < len(self._masks):
            self._masks[layer] = mask
        else:
            self._masks.append(mask)
        return mask

    def _check_param_dtypes(self) -> None:
        """Every parameter must still have the module's dtype (an array assigned into
        ``params`` may not): the same refusal on every backend, never a silent upcast."""
        for pname, p in self._params.items():
            if p.dtype != self.dtype:
                raise UsageTypeError(f"{type(self).__name__}: parameter {pname} has dtype {p.dtype}, but the "
                                     f"module is {self.dtype.name}; assign arrays of that dtype, or call "
                                     f".astype(np.{p.dtype.name}) on the module")

    # -- forward -----------------------------------------------------------------------------
    def forward(self, x, hx=None, lengths=None):
        """Run the stack over a batch of sequences.

        Parameters
        ----------
        x : (T, N, I), or (N, T, I) with ``batch_first``, or (T, I) unbatched.
        hx : initial state(s), (L*D, N, S) each ((L*D, S) unbatched); ``None`` is zeros.
        lengths : optional (N,) ints in [1, T]: the real length of each sequence.

        Returns
        -------
        out : (T, N, D*P) (batch-first or unbatched like ``x``): the top layer's h at
            every step, both directions side by side; exact zeros past each length.
        h_n : (L*D, N, P) final states (a tuple with the other states, e.g. (h_n, c_n)).
        """
        name = type(self).__name__
        self._check_param_dtypes()
        backend = module_backend(self.backend, x, self._params.values())
        device = backend_device(backend)
        boundary, x = Boundary.enter(x, batch_first=self.batch_first, input_size=self.input_size,
                                     dtype=self.dtype, device=device, owner=name)
        xp = boundary.xp
        T, N, _ = x.shape
        LD = self.num_layers * self.num_directions
        labels = tuple(state_label(self.cell, i, suffix="0") for i in range(self.cell.num_states))
        states0 = boundary.states(split_states(self.cell, hx, name), self._state_sizes(), labels, LD, N,
                                  self.dtype, name)
        lengths = boundary.lengths(lengths, T, N, name)
        ops = self._ops(backend)
        use_dropout = self.training and self.dropout > 0

        def weights(layer, d):
            return tuple(to_device(w, device) for w in self.layer_weights(layer, d))

        out, states_n, stack = stack_forward(
            x, states0, lengths, num_layers=self.num_layers, num_directions=self.num_directions,
            weights=weights, run_layer=lambda xin, s0, w: self._run_layer(ops, xin, s0, w),
            dropout_mask=(lambda layer, shape: self._dropout_mask(layer, shape, xp)) if use_dropout else None,
            xp=xp,
        )
        # a kernel module that chooses among paths (cupy_rnn) says which ran in its caches
        paths = sorted({c.path for layer in stack.layers for c in layer if hasattr(c, "path")})
        self.last_backend = backend
        self.last_kernels = ops.name + (f" ({', '.join(paths)})" if paths else "")
        self._cache = RecurrentCache(ops, stack, boundary, tuple(out.shape))
        return boundary.leave(out), join_states(self.cell, boundary.leave_states(states_n))

    # -- backward -----------------------------------------------------------------------------
    def backward(self, dout, dhx=None):
        """Backpropagation through time for the last forward (in this thread).

        Parameters
        ----------
        dout : dL/dout, shaped like ``out``.
        dhx : dL/dh_n shaped like ``h_n`` (a tuple such as (dh_n, dc_n) for a cell with
            several states, where any entry may be ``None``); ``None`` means zeros.

        Returns
        -------
        dx : shaped like the input ``x``.
        dhx0 : dL/dh_0 shaped like ``h_0`` (a tuple for several states).

        The parameter gradients are *added* into :attr:`grads`. A forward's cache serves
        one backward (see :class:`~numrnn.nn.module.Module`).
        """
        name = type(self).__name__
        c = self._saved_cache()
        b = c.boundary
        dout = b.output_grad(dout, c.out_shape, self.dtype, name)
        labels = tuple(state_label(self.cell, i, "d", "_n") for i in range(self.cell.num_states))
        LD = self.num_layers * self.num_directions
        dstates_n = b.states(split_states(self.cell, dhx, name, "the state gradient"), self._state_sizes(),
                             labels, LD, c.stack.N, self.dtype, name)

        def accumulate(layer, d, dweights):
            for pname, g in zip(self._names(layer, d), dweights):
                if pname is not None:
                    self._accumulate(pname, g)

        dx, dstates0 = stack_backward(
            dout, dstates_n, c.stack, num_directions=self.num_directions,
            run_layer_backward=lambda dseqs, cache: self._run_layer_backward(c.ops, dseqs, cache),
            accumulate=accumulate, xp=b.xp,
        )
        self._used_cache()
        return b.leave(dx), join_states(self.cell, b.leave_states(dstates0))

    def astype(self, dtype) -> Recurrent:
        super().astype(dtype)
        self._masks = [m.astype(self.dtype) for m in self._masks]
        return self

    def to(self, device: str) -> Recurrent:
        super().to(device)
        self._masks = [to_device(m, check_device(device)) for m in self._masks]
        return self


RecurrentBase = Recurrent  # the name of this class before cells were described by specs

__all__ = ["Recurrent", "RecurrentBase", "RecurrentCache"]

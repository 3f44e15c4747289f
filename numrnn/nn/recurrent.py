"""The multi-layer, bidirectional driver shared by RNN, LSTM and GRU.

This file knows nothing about any cell's arithmetic. It owns what PyTorch's
``nn.RNNBase`` owns: parameter names and initialisation, the layout of the input
(``batch_first``, unbatched), the stacking of layers, the two directions, dropout
between layers, variable-length batches, and the order of ``h_n``. Per layer and
direction it calls the cell's sequence functions, ``{cell}_forward`` and
``{cell}_backward``, from the backend chosen by :mod:`numrnn.backend`.

Inside, everything is time-major: ``x`` is (T, N, I). With L layers, D directions
(1 or 2), hidden size H and output size P (= H, or ``proj_size`` for an LSTM):

    layer input      (T, N, I) for layer 0, (T, N, D*P) above it
    layer output     (T, N, D*P): the directions side by side, forward first
    state h_0, h_n   (L*D, N, P), ordered layer 0 forward, layer 0 reverse, layer 1 ...

The reverse direction reads its input back to front: with ``lengths`` each sequence
is reversed within its own length, so the reverse pass starts at its last real step.
Past a sequence's length the outputs are zero and ``h_n`` is the state at its own
last step, which is what PyTorch's packed sequences give.
"""

from __future__ import annotations

import math

import numpy as np

from numrnn._checks import as_float_array, check_lengths, check_positive_int, check_real, check_shape
from numrnn.backend import check_backend_name, get_array_module, get_ops
from numrnn.device import array_module, backend_device, check_device, device_of, module_backend, to_device
from numrnn.errors import UsageTypeError, UsageValueError
from numrnn.nn.module import Module


class RecurrentBase(Module):
    """Stacks of a recurrent cell; subclasses name the cell and bind its functions.

    A subclass sets ``_cell`` (``"rnn"``, ``"lstm"`` or ``"gru"``), ``_gates`` (rows
    of ``weight_ih`` per hidden unit) and ``_n_states`` (1 for h, 2 for (h, c)), and
    implements :meth:`_run_layer` and :meth:`_run_layer_backward`.
    """

    _cell = "rnn"
    _gates = 1
    _n_states = 1
    _unpack_output_grads = True  # backward(dout, dh_n) takes forward's (out, h_n) unpacked

    def __init__(
        self,
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
    ):
        super().__init__(dtype)
        name = type(self).__name__
        self.input_size = check_positive_int(input_size, "input_size", name)
        self.hidden_size = check_positive_int(hidden_size, "hidden_size", name)
        self.num_layers = check_positive_int(num_layers, "num_layers", name)
        self.proj_size = check_positive_int(proj_size, "proj_size", name, minimum=0)
        if self.proj_size and self.proj_size >= self.hidden_size:
            raise UsageValueError(
                f"{name}: proj_size must be smaller than hidden_size; "
                f"got proj_size={proj_size}, hidden_size={hidden_size}"
            )
        check_real(dropout, "dropout", name, 0, 1, high_open=True)
        self.bias = bool(bias)
        self.batch_first = bool(batch_first)
        self.dropout = float(dropout)
        self.bidirectional = bool(bidirectional)
        self.backend = check_backend_name(backend)
        self.last_backend: str | None = None  # the backend the last forward ran on
        self.last_kernels: str | None = None  # the module whose functions it called
        self.rng = np.random.default_rng(seed)
        self._cache = None
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
        """Size of each state (h, and c for an LSTM)."""
        return (self.output_size,) if self._n_states == 1 else (self.output_size, self.hidden_size)

    def _names(self, layer: int, direction: int) -> tuple:
        """Parameter names of one layer and direction, in PyTorch's order.

        The order is the order of the cell's sequence function arguments after the
        states: (weight_ih, weight_hh, bias_ih, bias_hh[, weight_hr]); absent ones are
        ``None``.
        """
        sfx = f"_l{layer}" + ("_reverse" if direction else "")
        names = [f"weight_ih{sfx}", f"weight_hh{sfx}"]
        names += [f"bias_ih{sfx}", f"bias_hh{sfx}"] if self.bias else [None, None]
        if self.proj_size:
            names.append(f"weight_hr{sfx}")
        return tuple(names)

    def _weights(self, layer: int, direction: int) -> tuple:
        return tuple(None if n is None else self._params[n] for n in self._names(layer, direction))

    def _init_params(self) -> None:
        """PyTorch's initialisation: every parameter from U(-1/sqrt(H), 1/sqrt(H))."""
        H, P, G = self.hidden_size, self.output_size, self._gates
        k = 1.0 / math.sqrt(H)
        for layer in range(self.num_layers):
            in_size = self.input_size if layer == 0 else P * self.num_directions
            for d in range(self.num_directions):
                shapes = [(G * H, in_size), (G * H, P), (G * H,), (G * H,), (P, H)]
                for name, shape in zip(self._names(layer, d), shapes):
                    if name is not None:
                        w = self.rng.uniform(-k, k, size=shape).astype(self.dtype)
                        self._add_param(name, w)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        for attr, default in (("bias", True), ("batch_first", False), ("dropout", 0.0),
                              ("bidirectional", False)):
            if getattr(self, attr) != default:
                s += f", {attr}={getattr(self, attr)}"
        if self.dtype != np.float32:
            s += f", dtype={self.dtype.name}"
        return s

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"

    # -- the cell's hooks ----------------------------------------------------------------
    def _run_layer(self, ops, x, state0: tuple, weights: tuple):
        """One layer, one direction: ``x`` (T, N, F) -> (states per step, cache).

        Returns a tuple with one (T, N, size) array per state, h first.
        """
        raise NotImplementedError

    def _run_layer_backward(self, ops, dstates: tuple, cache):
        """Backward of :meth:`_run_layer`: gradients for every state at every step in,
        ``(dx, dstate0 tuple, dweights tuple in _names order)`` out."""
        raise NotImplementedError

    # -- boundary: layouts and checks -----------------------------------------------------
    def _split_hx(self, hx) -> tuple | None:
        """``hx`` as a tuple of states (or ``None``): h, or (h, c) for an LSTM."""
        if hx is None:
            return None
        if self._n_states == 1:
            return (hx,)
        if not isinstance(hx, (tuple, list)) or len(hx) != self._n_states:
            raise UsageTypeError(
                f"{type(self).__name__}: the state must be a tuple (h, c); got {type(hx).__name__}"
            )
        return tuple(hx)

    def _join_state(self, states: tuple):
        return states[0] if self._n_states == 1 else tuple(states)

    def _state_label(self, i: int) -> str:
        return ("h", "c")[i]

    def _input_to_time_major(self, x):
        """Check ``x`` and return it as a contiguous (T, N, I) array, and whether it was batched."""
        name = type(self).__name__
        x = as_float_array(x, "input", name, self.dtype)
        layout = "(N, T, I)" if self.batch_first else "(T, N, I)"
        if x.ndim not in (2, 3):
            raise UsageValueError(
                f"{name}: input must be 3-D {layout} or 2-D (T, I) for one unbatched "
                f"sequence; got {x.ndim}-D input of shape {tuple(x.shape)}"
            )
        batched = x.ndim == 3
        shape = tuple(x.shape)
        if not batched:
            x = x[:, None, :]
        elif self.batch_first:
            x = x.transpose(1, 0, 2)
        T, N, I = x.shape
        if I != self.input_size:
            raise UsageValueError(
                f"{name}: input must have input_size={self.input_size} features in its "
                f"last axis; got {I} (input shape {shape})"
            )
        if T == 0:
            raise UsageValueError(f"{name}: input is an empty sequence (T = 0); need at least one step")
        if N == 0:
            raise UsageValueError(f"{name}: input has an empty batch (N = 0)")
        # a copy: the caches keep the input, and the caller may write into its own array
        # before calling backward (PyTorch refuses that; here it cannot go wrong)
        return get_array_module(x).array(x, order="C", copy=True), batched

    def _check_state(self, s, size: int, label: str, N: int, batched: bool, xp):
        """Check one initial state (or its gradient); return it as (L*D, N, size)."""
        name = type(self).__name__
        LD = self.num_layers * self.num_directions
        s = as_float_array(s, label, name, self.dtype)
        if batched:
            check_shape(s, (LD, N, size), label, name, "(num_layers * num_directions, N, size)")
            return get_array_module(s).array(s, order="C", copy=True)  # a copy, as for x
        check_shape(s, (LD, size), label, name, "(num_layers * num_directions, size) for unbatched input")
        return get_array_module(s).array(s[:, None, :], order="C", copy=True)

    def _check_states(self, given, N: int, batched: bool, prefix: str, xp) -> tuple:
        """Initial states, or gradients of final states, as (L*D, N, size) arrays.

        ``given`` is the tuple from :meth:`_split_hx`; ``None`` entries become zeros.
        ``prefix`` is ``""`` for h0/c0 and ``"d"`` for dh_n/dc_n (used in messages).
        """
        LD = self.num_layers * self.num_directions
        suffix = "0" if prefix == "" else "_n"
        out = []
        for i, size in enumerate(self._state_sizes()):
            g = None if given is None else given[i]
            if g is None:
                out.append(xp.zeros((LD, N, size), dtype=self.dtype))
            else:
                label = f"{prefix}{self._state_label(i)}{suffix}"
                out.append(self._check_state(g, size, label, N, batched, xp))
        return tuple(out)

    def _check_lengths(self, lengths, T: int, N: int, batched: bool):
        """``lengths`` as an int array (N,) with 1 <= length <= T, or ``None``."""
        if lengths is None:
            return None
        name = type(self).__name__
        if not batched:
            raise UsageValueError(f"{name}: lengths needs batched input; got one unbatched sequence")
        return check_lengths(lengths, T, N, name)

    # -- time order helpers -----------------------------------------------------------------
    @staticmethod
    def _reverse_index(lengths, T: int):
        """(T, N) index that reverses each column within its length: rev[t] = len-1-t.

        Positions past a sequence's length stay where they are. It is its own inverse.
        """
        t = np.arange(T)[:, None]
        return np.where(t < lengths[None, :], lengths[None, :] - 1 - t, t)

    def _in_direction(self, a, direction: int, rev, xp):
        """``a`` (T, N, F) in the reading order of ``direction`` (and back again)."""
        if direction == 0:
            return a
        if rev is None:
            return xp.ascontiguousarray(a[::-1])
        return a[xp.asarray(rev), xp.arange(a.shape[1])[None, :]]

    @staticmethod
    def _at_last_step(seq, lengths, xp):
        """The state at each sequence's last real step: (T, N, S) -> (N, S)."""
        if lengths is None:
            return seq[-1]
        return seq[xp.asarray(lengths - 1), xp.arange(seq.shape[1])]

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

    # -- forward -----------------------------------------------------------------------------
    def forward(self, x, hx=None, lengths=None):
        """Run the stack over a batch of sequences.

        Parameters
        ----------
        x : (T, N, I), or (N, T, I) with ``batch_first``, or (T, I) unbatched.
        hx : initial state(s), (L*D, N, P) each ((L*D, P) unbatched); ``None`` is zeros.
        lengths : optional (N,) ints in [1, T]: the real length of each sequence.

        Returns
        -------
        out : (T, N, D*P) (batch-first or unbatched like ``x``): the top layer's h at
            every step, both directions side by side.
        h_n : (L*D, N, P) final states (and c_n, as a tuple, for an LSTM).
        """
        x, batched = self._input_to_time_major(x)
        xp = get_array_module(x)
        T, N, _ = x.shape
        states0 = self._check_states(self._split_hx(hx), N, batched, "", xp)
        lengths = self._check_lengths(lengths, T, N, batched)
        backend = module_backend(self.backend, x, self._params.values())
        ops = get_ops(backend, self._cell)
        # compute where the backend runs; hand back what the caller passed (NumPy or CuPy)
        caller, device = device_of(x), backend_device(backend)
        xp = array_module(device)
        x, states0 = to_device(x, device), tuple(to_device(s, device) for s in states0)
        rev = None if lengths is None else self._reverse_index(lengths, T)
        valid = None if lengths is None else xp.asarray(
            (np.arange(T)[:, None] < lengths[None, :])[:, :, None].astype(self.dtype))  # (T, N, 1)

        layer_in = x
        finals = [[] for _ in range(self._n_states)]
        layer_caches = []
        use_dropout = self.training and self.dropout > 0
        for layer in range(self.num_layers):
            outs, caches = [], []
            for d in range(self.num_directions):
                idx = layer * self.num_directions + d
                state0 = tuple(s[idx] for s in states0)
                xin = self._in_direction(layer_in, d, rev, xp)
                weights = tuple(to_device(w, device) for w in self._weights(layer, d))
                seqs, cache = self._run_layer(ops, xin, state0, weights)
                outs.append(self._in_direction(seqs[0], d, rev, xp))
                for i, seq in enumerate(seqs):
                    finals[i].append(self._at_last_step(seq, lengths, xp))
                caches.append(cache)
            layer_out = outs[0] if len(outs) == 1 else xp.concatenate(outs, axis=2)  # (T, N, D*P)
            if valid is not None:
                layer_out = layer_out * valid
            layer_caches.append(caches)
            if use_dropout and layer < self.num_layers - 1:
                layer_in = layer_out * self._dropout_mask(layer, layer_out.shape, xp)
            else:
                layer_in = layer_out
        out = layer_in  # (T, N, D*P)
        if self.num_directions == 1 and valid is None:
            # out is then the kernel's own buffer, which its cache still reads: hand the
            # caller a copy, so that writing into out cannot corrupt the backward
            out = out.copy()
        states_n = tuple(xp.stack(f) for f in finals)  # (L*D, N, size) each

        self.last_backend, self.last_kernels = backend, ops.__name__
        self._cache = dict(  # the backend's name, not its module: a module cannot be deep-copied
            backend=backend, layers=layer_caches, lengths=lengths, rev=rev, valid=valid,
            dropout=use_dropout, batched=batched, T=T, N=N, out_shape=out.shape, device=device,
        )
        return to_device(self._to_user_layout(out, batched), caller), self._join_state(
            tuple(to_device(s if batched else s[:, 0], caller) for s in states_n)
        )

    def _to_user_layout(self, a, batched: bool):
        """(T, N, F) -> the caller's layout: (N, T, F) if batch_first, (T, F) unbatched."""
        if not batched:
            return a[:, 0]
        if self.batch_first:
            return get_array_module(a).ascontiguousarray(a.transpose(1, 0, 2))
        return a

    # -- backward -----------------------------------------------------------------------------
    def backward(self, dout, dhx=None):
        """Backpropagation through time for the last forward.

        Parameters
        ----------
        dout : dL/dout, shaped like ``out``.
        dhx : dL/dh_n shaped like ``h_n`` (a tuple (dh_n, dc_n) for an LSTM, where
            either may be ``None``); ``None`` means zeros.

        Returns
        -------
        dx : shaped like the input ``x``.
        dhx0 : dL/dh_0 shaped like ``h_0`` (a tuple for an LSTM).

        The parameter gradients are *added* into :attr:`grads`.
        """
        name = type(self).__name__
        c = self._cache
        if c is None:
            raise RuntimeError(f"{name}.backward called before forward: run the forward pass first")
        ops = get_ops(c["backend"], self._cell)
        lengths, rev, valid, batched = c["lengths"], c["rev"], c["valid"], c["batched"]
        T, N = c["T"], c["N"]
        L, D = self.num_layers, self.num_directions
        user_out_shape = tuple(self._to_user_layout(np.empty(c["out_shape"], dtype=np.bool_), batched).shape)
        dout = as_float_array(dout, "dout", name, self.dtype)
        check_shape(dout, user_out_shape, "dout", name, "(the shape of out)")
        xp = get_array_module(dout)
        if not batched:
            dout = dout[:, None, :]
        elif self.batch_first:
            dout = dout.transpose(1, 0, 2)
        dstates_n = self._check_states(self._split_hx(dhx), N, batched, "d", xp)
        caller, device = device_of(dout), c["device"]
        xp = array_module(device)
        dout, dstates_n = to_device(dout, device), tuple(to_device(s, device) for s in dstates_n)

        P = self.output_size
        dstates0 = [[None] * (L * D) for _ in range(self._n_states)]
        d_layer_out = dout
        cols = xp.arange(N)
        for layer in reversed(range(L)):
            if valid is not None:
                d_layer_out = d_layer_out * valid
            d_layer_in = None
            for d in range(D):
                idx = layer * D + d
                # a fresh array: dh_n is added into it below, and dout is the caller's
                dh_seq = xp.array(
                    self._in_direction(d_layer_out[:, :, d * P:(d + 1) * P], d, rev, xp), copy=True
                )
                dseqs = [dh_seq] + [
                    xp.zeros((T, N, s), dtype=self.dtype) for s in self._state_sizes()[1:]
                ]
                last = T - 1 if lengths is None else xp.asarray(lengths - 1)
                for i in range(self._n_states):
                    dseqs[i][last, cols] += dstates_n[i][idx]
                dx, dstate0, dweights = self._run_layer_backward(
                    ops, tuple(dseqs), c["layers"][layer][d]
                )
                for pname, g in zip(self._names(layer, d), dweights):
                    if pname is not None:
                        self._accumulate(pname, g)
                for i, g in enumerate(dstate0):
                    dstates0[i][idx] = g
                dx = self._in_direction(dx, d, rev, xp)
                d_layer_in = dx if d_layer_in is None else d_layer_in + dx
            if layer > 0 and c["dropout"]:
                d_layer_in = d_layer_in * self._masks[layer - 1]
            d_layer_out = d_layer_in
        dx = to_device(self._to_user_layout(d_layer_out, batched), caller)
        dh0 = tuple(xp.stack(g) for g in dstates0)
        return dx, self._join_state(tuple(to_device(g if batched else g[:, 0], caller) for g in dh0))

    def astype(self, dtype) -> RecurrentBase:
        super().astype(dtype)
        self._masks = [m.astype(self.dtype) for m in self._masks]
        return self

    def to(self, device: str) -> RecurrentBase:
        super().to(device)
        self._masks = [to_device(m, check_device(device)) for m in self._masks]
        return self


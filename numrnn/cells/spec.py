"""``CellSpec``: everything the layer machinery needs to know about one recurrent cell.

A recurrent cell is, to numrnn, one step forward and one step backward. A layer
(:class:`numrnn.Recurrent`) runs any cell over a sequence, stacks layers, runs the
two directions, handles ``batch_first``, unbatched input, variable lengths and dropout,
and the gradient checker, ``nr.summary``, checkpoints, the optimizers and the trace
diagnostics all work from the same description. This is Keras's ``RNN(cell)`` idea
with a hand-written backward.

The contract of a cell's step functions (``S_k`` is the size of state k: P for the
first state h, H for the others, such as an LSTM's c; P = H without a projection)::

    new_states, cache = step_forward(x, states, w_ih, w_hh, b_ih, b_hh, **options)
        x (N, I);  states: tuple of (N, S_k) ordered like ``spec.states``
        w_ih (G*H, I), w_hh (G*H, P), b_ih and b_hh (G*H,) or both None (bias=False)
    dx, dstates_prev, dw_ih, dw_hh, db_ih, db_hh = step_backward(dstates, cache)
        dstates: tuple of dL/d(new state k), everything that flows into it
        dstates_prev: tuple of dL/d(previous state k); db_ih, db_hh None without bias

A cell with a projection (the LSTM's ``proj_size``) takes one more weight after
``b_hh``, ``w_hr`` (P, H), and returns its gradient after ``db_hh``.

The built-in RNN, LSTM and GRU are described in ``numrnn/cells/rnn.py``, ``lstm.py``
and ``gru.py`` through exactly this class, and registered with exactly
:func:`numrnn.register_cell`, as a user's cell is. They add what a user's cell may
leave out: whole-sequence functions (the textbook's ``rnn_forward``/``rnn_backward``)
and compiled kernels per backend. Without them the layer runs the generic loop of
``numrnn/cells/generic.py`` over the step functions, on NumPy or CuPy arrays alike.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, NamedTuple

from numrnn.errors import UsageTypeError, UsageValueError

#: Activation kinds :func:`numrnn.diagnostics.saturation` knows how to judge.
ACTIVATION_KINDS = ("tanh", "sigmoid", "relu")


class SequenceOps(NamedTuple):
    """A cell's whole-sequence forward and backward on one backend.

    ``forward(x, states0, *weights, **options) -> (seqs, cache)``: x (T, N, I), states0
    a tuple of (N, S_k), seqs a tuple of (T, N, S_k) (every step's state k, first state
    first). ``backward(dseqs, cache) -> (dx, dstates0, *dweights)``: dseqs a tuple of
    (T, N, S_k) gradients from outside only (what flows back from step t+1 is added
    inside), dweights in the order of the weights.
    """

    forward: Callable
    backward: Callable
    name: str  # what ran, for ``module.last_kernels``: a module name


class KerasLayout(NamedTuple):
    """How Keras stores the same cell (``numrnn.interop``)."""

    layer: str  # Keras's class name: "SimpleRNN", "LSTM", "GRU"
    order: tuple  # Keras's gate block k is numrnn's block order[k]
    two_biases: bool  # Keras keeps bias_ih and bias_hh apart (its GRU), else one summed vector


@dataclass(frozen=True, eq=False)
class CellSpec:
    """The description of one recurrent cell (immutable; see the module docstring).

    Parameters
    ----------
    name : shown in reprs and summaries, the key of the registry and of checkpoints.
    gates : G, the row blocks of ``w_ih`` (G*H, I), ``w_hh`` (G*H, P) and the biases.
    states : names of the carried states, in order: ``("h",)``, or ``("h", "c")`` for
        an LSTM-like cell. The first is the output h, of size P; the others have size H.
    step_forward, step_backward : the step functions (the contract above).
    gate_names : a name per gate block, for diagnostics (``("i", "f", "g", "o")``).
    options : keyword options of the cell and their defaults (the RNN's
        ``nonlinearity="tanh"``), passed to every function of the cell.
    check_options : ``options -> options``, raising a UsageError for a bad value.
    projection : whether the cell takes ``proj_size`` (an extra weight ``w_hr``).
    sequence : ``impl -> SequenceOps``: the cell's whole-sequence functions over an
        implementation ``impl`` (the reference module, or a kernel module with the
        same function names). ``None``: the generic loop over the step functions.
    implementations : backend name -> a function that imports and returns that
        backend's implementation (``"numpy"`` is the reference). Explicit imports, so a
        search for ``numba_gru`` finds who uses it; nothing is imported until it runs.
    activations : ``step cache -> {label: (values, kind)}``, kind in ``ACTIVATION_KINDS``:
        what :func:`numrnn.diagnostics.saturation` measures. ``None``: nothing.
    keras : how Keras stores this cell (``numrnn.interop``), or ``None`` if it has none.
    """

    name: str
    gates: int
    states: tuple
    step_forward: Callable
    step_backward: Callable
    gate_names: tuple = ()
    options: Mapping[str, Any] = field(default_factory=dict)
    check_options: Callable | None = None
    projection: bool = False
    sequence: Callable | None = None
    implementations: Mapping[str, Callable] = field(default_factory=dict)
    activations: Callable | None = None
    keras: KerasLayout | None = None

    def __post_init__(self):
        where = f"CellSpec({self.name!r})" if isinstance(self.name, str) else "CellSpec"
        if not isinstance(self.name, str) or not self.name.isidentifier():
            raise UsageValueError(f"{where}: name must be a non-empty identifier-like string; "
                                  f"got {self.name!r}")
        if isinstance(self.gates, bool) or not isinstance(self.gates, int) or self.gates < 1:
            raise UsageValueError(f"{where}: gates must be an integer >= 1; got {self.gates!r}")
        states = tuple(self.states) if isinstance(self.states, (tuple, list)) else None
        if not states or not all(isinstance(s, str) and s.isidentifier() for s in states) \
                or len(set(states)) != len(states):
            raise UsageValueError(f"{where}: states must be a non-empty tuple of distinct names such "
                                  f"as ('h',) or ('h', 'c'); got {self.states!r}")
        object.__setattr__(self, "states", states)
        for fname in ("step_forward", "step_backward"):
            if not callable(getattr(self, fname)):
                raise UsageTypeError(f"{where}: {fname} must be a function; "
                                     f"got {type(getattr(self, fname)).__name__}")
        gate_names = tuple(self.gate_names)
        if gate_names and len(gate_names) != self.gates:
            raise UsageValueError(f"{where}: gate_names must name all {self.gates} gates; got {gate_names}")
        object.__setattr__(self, "gate_names", gate_names)
        for fname in ("check_options", "sequence", "activations"):
            value = getattr(self, fname)
            if value is not None and not callable(value):
                raise UsageTypeError(f"{where}: {fname} must be a function or None; "
                                     f"got {type(value).__name__}")
        if not isinstance(self.options, Mapping) or not all(isinstance(k, str) for k in self.options):
            raise UsageTypeError(f"{where}: options must be a dict of option name -> default; "
                                 f"got {self.options!r}")
        if not isinstance(self.implementations, Mapping) or not all(
                callable(v) for v in self.implementations.values()):
            raise UsageTypeError(f"{where}: implementations must map a backend name to a function "
                                 "that returns its implementation")
        if self.implementations and self.sequence is None:
            raise UsageValueError(f"{where}: implementations need a sequence function to call them")
        # read-only views: a spec is shared by every layer built from it
        object.__setattr__(self, "options", MappingProxyType(dict(self.options)))
        object.__setattr__(self, "implementations", MappingProxyType(dict(self.implementations)))

    # -- what a layer reads -----------------------------------------------------------------
    @property
    def num_states(self) -> int:
        return len(self.states)

    def state_sizes(self, hidden_size: int, output_size: int) -> tuple:
        """The size of each state: P for the first (h), H for the others."""
        return (output_size,) + (hidden_size,) * (len(self.states) - 1)

    def gate_labels(self) -> tuple:
        """A label per gate block: ``gate_names``, or ``0, 1, ...`` when it has none."""
        return self.gate_names or tuple(str(k) for k in range(self.gates))

    def resolve_options(self, given: Mapping | None, owner: str) -> dict:
        """The cell's options: its defaults updated with ``given``, checked."""
        if given is None:
            given = {}
        elif not isinstance(given, Mapping):
            raise UsageTypeError(f"{owner}: options must be a dict of the cell's options; got "
                                 f"{type(given).__name__}")
        given = dict(given)
        unknown = sorted(set(given) - set(self.options))
        if unknown:
            known = ", ".join(self.options) or "none"
            raise UsageValueError(f"{owner}: cell {self.name!r} has no option {unknown[0]!r} "
                                  f"(its options: {known})")
        options = {**self.options, **given}
        if self.check_options is not None:
            options = dict(self.check_options(options))
        return options

    def __repr__(self) -> str:
        return f"CellSpec({self.name!r}, gates={self.gates}, states={self.states})"

    # A spec is immutable and shared by every layer built from it: copying a layer
    # (the gradient checker works on a deep copy) keeps the same spec.
    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self


__all__ = ["ACTIVATION_KINDS", "CellSpec", "KerasLayout", "SequenceOps"]

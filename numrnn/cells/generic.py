"""BPTT for any cell: the sequence loop over a cell's step functions.

This is ``numrnn/functional/rnn.py``'s ``rnn_forward``/``rnn_backward`` written once for
every cell, with the states as tuples (h, or (h, c), ...). A user's cell runs here;
the built-in cells have their own sequence functions and kernels, which compute the
same numbers (the tests check both against each other).

    forward:   for t in range(T):             states = step_forward(x[t], states)
    backward:  for t in reversed(range(T)):   dstates = dseqs[t] + carry
                                              dx[t], carry, dW_t = step_backward(dstates)
                                              dW += dW_t

The step functions are called through :func:`run_step_forward` and
:func:`run_step_backward`, which check what they return against the contract of
``numrnn/cells/spec.py``: a cell written by hand that returns the wrong number of
values, a wrong shape or dtype, is stopped at its first call with a message that names
the function and what was expected (never a broadcast error deep inside the loop).
"""

from __future__ import annotations

from typing import NamedTuple

from numrnn.backend import get_array_module
from numrnn.cells.spec import CellSpec, SequenceOps
from numrnn.errors import UsageTypeError, UsageValueError


class GenericCache(NamedTuple):
    """What :func:`sequence_backward` needs from :func:`sequence_forward`."""

    spec: CellSpec
    steps: list  # T step caches, whatever the cell's step_forward returned
    x_shape: tuple  # (T, N, I)
    state_shapes: tuple  # (N, S_k) per state
    weights: tuple  # (w_ih, w_hh, b_ih, b_hh[, w_hr]): shapes for the checks, and the dtype


# -- checked calls of the step functions ----------------------------------------------------
# The checks run at every step; the text of a message (which names the function) is
# written only when a check fails.
_BACKWARD_NAMES = ("dx", "dstates_prev", "dw_ih", "dw_hh", "db_ih", "db_hh")


def _where(spec: CellSpec, fname: str) -> str:
    fn = getattr(spec, fname)
    return f"cell {spec.name!r}: {fname} ({getattr(fn, '__qualname__', repr(fn))})"


def _check_array(a, shape: tuple, dtype, what: str, spec: CellSpec, fname: str) -> None:
    if not hasattr(a, "shape") or not hasattr(a, "dtype"):
        raise UsageTypeError(f"{_where(spec, fname)} returned {what} as a {type(a).__name__}; "
                             f"expected an array of shape {shape}")
    if tuple(a.shape) != tuple(shape):
        raise UsageValueError(f"{_where(spec, fname)} returned {what} of shape {tuple(a.shape)}; "
                              f"expected {tuple(shape)}")
    if a.dtype != dtype:
        raise UsageTypeError(f"{_where(spec, fname)} returned {what} of dtype {a.dtype}; expected "
                             f"{dtype} like its inputs (mind Python floats and float64 constants)")


def _check_states(spec: CellSpec, states, shapes: tuple, dtype, what: str, fname: str) -> tuple:
    n = spec.num_states
    if not isinstance(states, (tuple, list)) or len(states) != n:
        got = _describe(states)
        raise UsageTypeError(f"{_where(spec, fname)} returned {what} as {got}; expected a tuple of {n} "
                             f"array{'s' if n > 1 else ''} ordered like states={spec.states}")
    for name, s, shape in zip(spec.states, states, shapes):
        _check_array(s, shape, dtype, f"{what[:-1] if what.endswith('s') else what} {name!r}", spec, fname)
    return tuple(states)


def run_step_forward(spec: CellSpec, x, states: tuple, weights: tuple, options: dict):
    """``spec.step_forward`` on one step, its result checked: ``(new_states, cache)``."""
    out = spec.step_forward(x, states, *weights, **options)
    if not isinstance(out, tuple) or len(out) != 2:
        raise UsageTypeError(f"{_where(spec, 'step_forward')} must return (new_states, cache); got "
                             f"{_describe(out)}")
    new_states = _check_states(spec, out[0], tuple(s.shape for s in states), x.dtype, "new_states",
                               "step_forward")
    return new_states, out[1]


def run_step_backward(spec: CellSpec, dstates: tuple, cache, x_shape: tuple, weights: tuple):
    """``spec.step_backward`` on one step, its result checked.

    Returns ``(dx, dstates_prev, dweights)`` with dweights in the order of ``weights``.
    """
    out = spec.step_backward(dstates, cache)
    fname = "step_backward"
    names = _BACKWARD_NAMES + (("dw_hr",) if len(weights) > 4 else ())  # dw_hr: a cell with a projection
    if not isinstance(out, tuple) or len(out) != len(names):
        raise UsageTypeError(f"{_where(spec, fname)} must return ({', '.join(names)}); got {_describe(out)}")
    dtype = dstates[0].dtype
    dx, dprev, dweights = out[0], out[1], out[2:]
    _check_array(dx, x_shape, dtype, "dx", spec, fname)
    dprev = _check_states(spec, dprev, tuple(d.shape for d in dstates), dtype, "dstates_prev", fname)
    for name, g, w in zip(names[2:], dweights, weights):
        if w is None:
            if g is not None:
                raise UsageValueError(f"{_where(spec, fname)} returned {name} for a layer without that "
                                      "parameter (bias=False); expected None")
        elif g is None:
            raise UsageValueError(f"{_where(spec, fname)} returned None for {name}; expected an array of "
                                  f"shape {tuple(w.shape)}")
        else:
            _check_array(g, w.shape, dtype, name, spec, fname)
    return dx, dprev, tuple(dweights)


def _describe(obj) -> str:
    if isinstance(obj, (tuple, list)):
        return f"a {type(obj).__name__} of {len(obj)}"
    return f"a {type(obj).__name__}"


# -- the loops --------------------------------------------------------------------------------
def sequence_forward(spec: CellSpec, x, states0: tuple, *weights, **options):
    """Run ``spec``'s step over a whole sequence, time-major.

    Parameters
    ----------
    spec : the cell.
    x : (T, N, I) inputs.
    states0 : tuple of (N, S_k) initial states, ordered like ``spec.states``.
    *weights : w_ih, w_hh, b_ih, b_hh (None without bias)[, w_hr].
    **options : the cell's options.

    Returns
    -------
    seqs : tuple of (T, N, S_k): state k after every step.
    cache : GenericCache for :func:`sequence_backward`.
    """
    xp = get_array_module(x)
    T = x.shape[0]
    seqs = tuple(xp.empty((T,) + tuple(s.shape), dtype=x.dtype) for s in states0)
    steps = []
    states = tuple(states0)
    for t in range(T):  # x[t] is the input of step t+1 (arrays count from 0)
        states, step = run_step_forward(spec, x[t], states, weights, options)
        for seq, s in zip(seqs, states):
            seq[t] = s
        steps.append(step)
    cache = GenericCache(spec, steps, tuple(x.shape), tuple(tuple(s.shape) for s in states0), weights)
    return seqs, cache


def sequence_backward(dseqs: tuple, cache: GenericCache):
    """Backpropagation through time over the whole sequence.

    Parameters
    ----------
    dseqs : tuple of (T, N, S_k): dL/d(state k) at every step from outside only (the
        caller adds dL/dh_n into the last step); what flows back from step t+1 is
        added here.
    cache : GenericCache from :func:`sequence_forward`.

    Returns
    -------
    dx : (T, N, I);  dstates0 : tuple of (N, S_k);  then dw_ih, dw_hh, db_ih, db_hh
    (None without bias)[, dw_hr], summed over the steps.
    """
    spec, weights = cache.spec, cache.weights
    xp = get_array_module(dseqs[0])
    T, N, I = cache.x_shape
    dx = xp.empty((T, N, I), dtype=dseqs[0].dtype)
    dweights = [None if w is None else xp.zeros(w.shape, dtype=dseqs[0].dtype) for w in weights]
    carry = tuple(xp.zeros(shape, dtype=dseqs[0].dtype) for shape in cache.state_shapes)  # from t+1
    for t in reversed(range(T)):
        dstates = tuple(d[t] + c for d, c in zip(dseqs, carry))  # everything into step t+1's states
        dx[t], carry, dw_t = run_step_backward(spec, dstates, cache.steps[t], (N, I), weights)
        for acc, g in zip(dweights, dw_t):
            if acc is not None:
                acc += g
    return (dx, carry, *dweights)


def generic_ops(spec: CellSpec) -> SequenceOps:
    """The generic loop bound to ``spec``, as the layer driver calls a cell."""

    def forward(x, states0, *weights, **options):
        return sequence_forward(spec, x, states0, *weights, **options)

    return SequenceOps(forward, sequence_backward, __name__)


__all__ = ["GenericCache", "generic_ops", "run_step_backward", "run_step_forward", "sequence_backward",
           "sequence_forward"]

"""Numerical gradient checking: does a hand-written backward agree with central
differences of its own forward?

    df/dp ~ (f(p + eps) - f(p - eps)) / (2 eps)          (error O(eps**2))

Two entry points, one report:

* :func:`check_gradients` takes any numrnn module (RNN, LSTM, a cell, Linear, a
  user's subclass...), works on a float64 copy and runs the module's *own*
  ``backward`` (so a wrong backward is caught, not bypassed);
* :func:`check_function` takes a pair of functions in the textbook's convention,
  ``forward(*inputs) -> (out, cache)`` and ``backward(dout, cache) -> grads``
  (``numrnn.functional``, or a student's own).

Both draw random upstream gradients ``dout`` for every output, so the scalar under
test is ``f = sum(out * dout)``, and compare every gradient with central differences.
The comparison is CS231n's relative error

    rel_error(a, n) = |a - n| / max(floor, |a| + |n|),   floor = max(1e-8, 1e-4 * max|a|)

reported per tensor as its maximum, with the index where it is reached. The floor is
CS231n's 1e-8, raised for entries 10^4 times smaller than the tensor's largest,
which central differences cannot resolve on their own scale. Small tensors
are checked element by element ("full"); large ones at a random sample of elements
plus a few random directions v, comparing <grad, v> with (f(p+eps v) - f(p-eps v))/2eps
("sampled"). A tensor with a time axis (a sequence input x) also gets its worst error
at every time step, and the report says where the error starts: "dx[0..2] wrong,
dx[3..] correct" is the signature of a gradient not carried back through time.
docs/gradcheck.md explains how to read the report.

:func:`numerical_gradient` itself is written once, in
``numrnn/exercises/sources/gradcheck.py``, the source of the student's exercise.
"""

from __future__ import annotations

import copy
import inspect
import math
from dataclasses import dataclass, field

import numpy as np

from numrnn import config
from numrnn.errors import UsageTypeError, UsageValueError
from numrnn.exercises.sources.gradcheck import numerical_gradient
from numrnn.nn.module import Module

#: The denominator of the relative error is at least this fraction of the tensor's
#: largest gradient entry (and at least 1e-8, CS231n's floor).
SCALE_FLOOR = 1e-4


def rel_error(a, n, floor: float = 1e-8) -> np.ndarray:
    """Elementwise relative error ``|a - n| / max(floor, |a| + |n|)``.

    This is CS231n's formula (floor 1e-8) entry by entry; CS231n's ``rel_error``
    returns the maximum of it, ``np.max(rel_error(a, n))``.
    """
    a, n = np.asarray(a, dtype=np.float64), np.asarray(n, dtype=np.float64)
    return np.abs(a - n) / np.maximum(floor, np.abs(a) + np.abs(n))


# -- the report --------------------------------------------------------------------------
def _ranges(indices) -> str:
    """``[0, 1, 2, 5]`` -> ``"0..2, 5"``."""
    parts, run = [], []
    for i in indices:
        if run and i == run[-1] + 1:
            run.append(i)
            continue
        if run:
            parts.append(f"{run[0]}..{run[-1]}" if len(run) > 1 else str(run[0]))
        run = [i]
    if run:
        parts.append(f"{run[0]}..{run[-1]}" if len(run) > 1 else str(run[0]))
    return ", ".join(parts)


def describe_steps(label: str, step_errors, tol: float, gradient: bool = True) -> str:
    """Where along the time axis ``step_errors`` (worst error per array index) fail.

    ``label`` names the array (``"dx"``, ``"h"``); index t-1 holds step t. Steps that
    were not compared (nan, in sampled mode) count as neither. Examples::

        dx[0..2] wrong, dx[3..] correct: correct at t >= 4, wrong before
        h[0] correct, h[1..] wrong: wrong from t = 2 on
    """
    errs = np.asarray(step_errors, dtype=np.float64)
    T = errs.size
    seen = ~np.isnan(errs)
    bad = seen & ~(errs < tol)
    good = seen & (errs < tol)
    if not seen.any():
        return "no step compared"
    if not bad.any():
        return f"{label}[0..{T - 1}] correct" if T > 1 else f"{label}[0] correct"
    if not good.any():
        return f"{label}[0..{T - 1}] wrong at every step" if T > 1 else f"{label}[0] wrong"
    wrong = [int(i) for i in np.flatnonzero(bad)]
    right = [int(i) for i in np.flatnonzero(good)]
    if max(wrong) < min(right):  # wrong early, correct late
        k = min(right)
        text = (f"{label}[{_ranges(wrong)}] wrong, {label}[{k}..] correct: "
                f"correct at t >= {k + 1}, wrong before")
        if gradient:
            text += " (the signature of a gradient not carried back through time)"
        return text
    if max(right) < min(wrong):  # correct early, wrong late
        k = min(wrong)
        text = (f"{label}[{_ranges(right)}] correct, {label}[{k}..] wrong: "
                f"wrong from t = {k + 1} on")
        if not gradient:
            text += " (the signature of a state not carried forward through time)"
        return text
    return f"{label}[{_ranges(wrong)}] wrong, {label}[{_ranges(right)}] correct"


@dataclass
class TensorCheck:
    """The outcome for one tensor.

    ``steps`` is set for a tensor with a time axis (``time_axis``): the worst
    relative error at each index along it (nan where nothing was compared).
    """

    name: str
    shape: tuple
    mode: str  # "full", "sampled", or "shape"/"missing" for a gradient that cannot be compared
    checked: int  # elements (and directions) compared
    max_rel_error: float
    worst_index: tuple | str  # element index, or "direction k", or what went wrong
    ok: bool
    time_axis: int | None = None
    steps: tuple | None = None

    @property
    def label(self) -> str:
        """The gradient's name as the breakdown writes it: ``dx`` for ``x`` or ``input x``."""
        return "d" + self.name.split()[-1]

    def step_summary(self, tol: float) -> str:
        """Where along the time axis the error sits (empty without a time axis)."""
        if self.steps is None:
            return ""
        return describe_steps(self.label, self.steps, tol)


@dataclass
class GradcheckReport:
    """Per-tensor results of :func:`check_gradients` and :func:`check_function`."""

    checks: list = field(default_factory=list)
    tol: float = config.GRADCHECK_TOL
    eps: float = 1e-5
    module: str = ""  # what was checked: a module's repr, or "forward / backward"

    @property
    def ok(self) -> bool:
        """True when every tensor's max relative error is below ``tol``."""
        return all(c.ok for c in self.checks)

    @property
    def errors(self) -> dict:
        """Tensor name -> max relative error."""
        return {c.name: c.max_rel_error for c in self.checks}

    @property
    def failed(self) -> list:
        """Names of the tensors that failed."""
        return [c.name for c in self.checks if not c.ok]

    @property
    def steps(self) -> dict:
        """Tensor name -> worst relative error per time step, for tensors with a time axis."""
        return {c.name: c.steps for c in self.checks if c.steps is not None}

    def __str__(self) -> str:
        head = f"gradient check of {self.module} (float64, eps={self.eps:g}, tol={self.tol:g})"
        timed = [c for c in self.checks if c.steps is not None]
        rows = [("tensor", "shape", "mode", "checked", "max rel error", "worst at", "")]
        for c in self.checks:
            rows.append((c.name, "x".join(map(str, c.shape)) or "scalar", c.mode, str(c.checked),
                         f"{c.max_rel_error:.2e}", str(c.worst_index), "ok" if c.ok else "FAIL"))
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        lines = [head]
        for k, r in enumerate(rows):
            lines.append("  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip())
            if k == 0:
                lines.append("  ".join("-" * w for w in widths))
        if timed:
            lines.append("per time step (worst rel error at each index; index t-1 holds step t):")
            for c in timed:
                errs = "  ".join("-" if math.isnan(e) else f"[{t}] {e:.1e}" for t, e in enumerate(c.steps))
                lines.append(f"  {c.label}: {errs}")
                lines.append(f"  {' ' * len(c.label)}  {c.step_summary(self.tol)}")
        verdict = "PASSED" if self.ok else f"FAILED: {', '.join(self.failed)}"
        lines.append(f"{verdict} ({len(self.checks)} tensors)")
        return "\n".join(lines)


# -- nested (tuple) structures of arrays -------------------------------------------------
def _flatten(obj) -> list:
    if obj is None:
        return []
    if isinstance(obj, (tuple, list)):
        return [a for o in obj for a in _flatten(o)]
    return [obj]


def _unflatten(obj, flat: list):
    """Rebuild ``obj``'s structure from the arrays in ``flat`` (consumed in order)."""
    if obj is None:
        return None
    if isinstance(obj, (tuple, list)):
        return tuple(_unflatten(o, flat) for o in obj)
    return flat.pop(0)


def _as_float64(obj):
    if obj is None:
        return None
    if isinstance(obj, (tuple, list)):
        return tuple(_as_float64(o) for o in obj)
    return np.array(obj, dtype=np.float64, copy=True)


def _has_missing(state) -> bool:
    """Whether ``state`` (an array, a tuple such as (h0, c0), or None) lacks an entry."""
    if isinstance(state, (tuple, list)):
        return any(s is None for s in state)
    return state is None


def _fill_missing(state, like, rng):
    """``state`` with every missing entry drawn at random, shaped like its gradient in ``like``."""
    if isinstance(like, (tuple, list)):
        given = state if isinstance(state, (tuple, list)) else (None,) * len(like)
        return tuple(_fill_missing(s, g, rng) for s, g in zip(given, like))
    return 0.5 * rng.standard_normal(np.shape(like)) if state is None else state


def _not_compared(name, shape, mode, why) -> TensorCheck:
    """A failing row for a gradient that cannot be compared (wrong shape, missing)."""
    return TensorCheck(name, tuple(shape), mode, 0, np.inf, why, False)


def _compare(name, array, analytic, f, eps, tol, rng, full_max, samples, directions, exempt=None,
             time_axis=None):
    """Compare ``analytic`` with central differences of ``f`` perturbing ``array`` in place.

    ``exempt`` (a bool mask shaped like ``array``, or None) marks entries whose gradient
    is zero by the layer's definition (an embedding's padding row): they are skipped.
    ``time_axis`` (or None) is the axis of ``array`` that counts time steps: the check
    then also keeps the worst error at each step.
    """
    if analytic is None:
        return _not_compared(name, array.shape, "missing", "backward returned None")
    analytic = np.asarray(analytic, dtype=np.float64)
    if analytic.shape != array.shape:
        return _not_compared(name, array.shape, "shape",
                             f"analytic gradient has shape {analytic.shape}, expected {array.shape}")
    flat = array.reshape(-1)  # a view: perturbing it perturbs the tensor
    assert np.shares_memory(flat, array) or array.size == 0
    # Entries 10^4 times smaller than the tensor's largest (a vanished gradient at
    # an early step) are below what central differences resolve: compare them on the
    # tensor's scale instead of their own.
    floor = max(1e-8, SCALE_FLOOR * float(np.abs(analytic).max(initial=0.0)))
    full = array.size <= full_max
    allowed = np.flatnonzero(~exempt.reshape(-1)) if exempt is not None else np.arange(array.size)
    idx = allowed if full else rng.choice(allowed, size=min(samples, allowed.size), replace=False)
    errs, where = [], []
    for i in idx:
        old = flat[i]
        flat[i] = old + eps
        plus = f()
        flat[i] = old - eps
        minus = f()
        flat[i] = old
        num = (plus - minus) / (2 * eps)
        errs.append(float(rel_error(analytic.reshape(-1)[i], num, floor)))
        where.append(np.unravel_index(i, array.shape) if array.ndim else ())
    steps = None
    if time_axis is not None and array.ndim > time_axis:
        per_step = np.full(array.shape[time_axis], np.nan)
        for e, w in zip(errs, where):
            t = int(w[time_axis])
            per_step[t] = e if np.isnan(per_step[t]) else max(per_step[t], e)
        steps = tuple(float(e) for e in per_step)
    if not full:
        for k in range(directions):
            v = rng.standard_normal(array.shape)
            if exempt is not None:
                v[exempt] = 0
            v /= np.linalg.norm(v)
            old = array.copy()
            array += eps * v
            plus = f()
            array[...] = old - eps * v
            minus = f()
            array[...] = old
            num = (plus - minus) / (2 * eps)
            errs.append(float(rel_error(np.sum(analytic * v), num, floor)))
            where.append(f"direction {k}")
    k = int(np.argmax(errs)) if errs else 0
    worst = errs[k] if errs else 0.0
    w = where[k] if errs else ()
    w = tuple(int(j) for j in w) if isinstance(w, tuple) else w
    return TensorCheck(name, tuple(array.shape), "full" if full else "sampled", len(errs),
                       worst, w, bool(worst < tol), time_axis if steps is not None else None, steps)


# -- modules -----------------------------------------------------------------------------
def _input_time_axis(module, x) -> int | None:
    """The time axis of ``x`` for ``module``: read from its first recurrent part (the
    first module, in order, with a ``batch_first`` setting); None if it has none."""
    walk = module._walk() if hasattr(module, "_walk") else [module]
    for m in walk:
        if hasattr(m, "batch_first"):
            if np.ndim(x) < 2:
                return None
            return 1 if (m.batch_first and np.ndim(x) == 3) else 0
    return None


def check_gradients(module, x, h0=None, *, eps: float = 1e-5, tol: float | None = None,
                    seed: int = 0, full_max: int | None = None, samples: int = 64,
                    directions: int = 4, check_input: bool = True,
                    **forward_kwargs) -> GradcheckReport:
    """Check ``module.backward`` against central differences, in float64.

    Parameters
    ----------
    module : a numrnn module. It is not modified: a deep copy is cast to float64.
    x : the input array (any layout the module accepts); integer inputs (token ids)
        are passed as they are and not checked.
    h0 : initial state (an array, or a tuple such as (h0, c0)). Where it is ``None``
        (or an entry of the tuple is), a random state is drawn for a module that takes
        one (its shape read from the gradient ``backward`` returns), so that its
        gradient is checked too.
    eps : central-difference step.
    tol : the pass mark for the max relative error (default ``config.GRADCHECK_TOL``).
    seed : seeds the upstream gradients and the sampled elements.
    full_max : tensors with more elements are sampled (default ``config.GRADCHECK_FULL_MAX``).
    samples, directions : elements and random directions compared in sampled mode.
    check_input : also check dL/dx (off for inputs that are not differentiable).
    **forward_kwargs : passed to every forward call (``lengths=...``).

    Returns
    -------
    GradcheckReport with ``ok``, ``errors``, ``steps`` (the per-time-step errors of
    the input of a recurrent module) and a readable ``str()``. Dropout masks drawn by
    the first forward are held fixed for every later one.
    """
    if not isinstance(module, Module):
        hint = (" (for a pair of functions forward/backward, use nr.check_function)"
                if callable(module) else "")
        raise UsageTypeError(f"check_gradients checks a numrnn module (nr.RNN, nr.Linear, a "
                             f"Sequential, ...); got {type(module).__name__}{hint}")
    if isinstance(x, (list, tuple)):
        raise UsageTypeError(f"check_gradients: x must be an array; got a {type(x).__name__} "
                             f"(pass np.asarray(x))")
    if not (hasattr(x, "shape") and hasattr(x, "dtype")):
        raise UsageTypeError(f"check_gradients: x must be an array; got {type(x).__name__}")
    tol = config.GRADCHECK_TOL if tol is None else tol
    full_max = config.GRADCHECK_FULL_MAX if full_max is None else full_max
    rng = np.random.default_rng(seed)
    m = copy.deepcopy(module)
    m.astype(np.float64)
    x_is_float = np.asarray(x).dtype.kind == "f"
    x = _as_float64(x) if x_is_float else np.array(x, copy=True)
    h0 = _as_float64(h0)
    unpack = getattr(m, "_unpack_output_grads", False)

    def run(state):
        out = m(x, state, **forward_kwargs) if state is not None else m(x, **forward_kwargs)
        return out

    report = GradcheckReport(tol=tol, eps=eps, module=repr(module))
    with m.hold_randomness():
        out = run(h0)
        douts = [rng.standard_normal(np.shape(o)) for o in _flatten(out)]

        def backward():
            m.zero_grad()
            structured = _unflatten(run(state_holder[0]), list(douts))
            return m.backward(*structured) if unpack else m.backward(structured)

        state_holder = [h0]
        result = backward()
        dx, dstate = result if isinstance(result, tuple) else (result, None)
        if dstate is not None and _has_missing(h0):
            # the module takes a state: check its gradient too, at a random state where
            # none was given (a zero state can sit exactly on ReLU's kink without bias)
            state_holder[0] = h0 = _fill_missing(h0, dstate, rng)
            dx, dstate = backward()
        grads = {k: np.array(v, dtype=np.float64) for k, v in m.grads.items()}

        def f():
            return float(sum(np.sum(o * d) for o, d in zip(_flatten(run(h0)), douts)))

        args = (eps, tol, rng, full_max, samples, directions)
        exempt = m.no_grad_entries()
        for name, p in m.params.items():
            report.checks.append(_compare(name, p, grads[name], f, *args, exempt=exempt.get(name)))
        if check_input and x_is_float:
            report.checks.append(_compare("input x", x, dx, f, *args,
                                          time_axis=_input_time_axis(m, x)))
        if h0 is not None:
            states = h0 if isinstance(h0, tuple) else (h0,)
            dstates = dstate if isinstance(dstate, tuple) else (dstate,)
            for label, s, g in zip(("h0", "c0"), states, dstates):
                report.checks.append(_compare(label, s, g, f, *args))
    return report


# -- pairs of functions ------------------------------------------------------------------
def _is_float_array(a) -> bool:
    return isinstance(a, np.ndarray) and a.dtype.kind == "f"


def _input_names(forward, n: int, names) -> list:
    """The names of the first ``n`` positional parameters of ``forward``."""
    if names is not None:
        names = list(names)
        if len(names) != n:
            raise UsageValueError(f"check_function: names has {len(names)} entries for {n} inputs")
        return names
    try:
        params = list(inspect.signature(forward).parameters.values())
    except (TypeError, ValueError):  # a builtin without a signature
        return [f"input {k}" for k in range(n)]
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if any(p.kind == p.VAR_POSITIONAL for p in params):
        return [p.name for p in positional] + [f"input {k}" for k in range(len(positional), n)]
    if n > len(positional):
        raise UsageValueError(f"check_function: {getattr(forward, '__name__', 'forward')} takes "
                              f"{len(positional)} positional arguments; got {n} inputs")
    return [p.name for p in positional[:n]]


def _infer_time_axes(names, args, outs) -> dict:
    """Inputs shaped (T, N, ...) like a 3-D output (T, N, ...) have time on axis 0."""
    lengths = {np.shape(o)[0] for o in outs if np.ndim(o) == 3}
    return {n: 0 for n, a in zip(names, args) if _is_float_array(a) and a.ndim == 3
            and a.shape[0] in lengths}


def check_function(forward, backward, inputs, kwargs=None, *, names=None, douts=None,
                   time_axes=None, eps: float = 1e-5, tol: float | None = None, seed: int = 0,
                   full_max: int | None = None, samples: int = 64,
                   directions: int = 4) -> GradcheckReport:
    """Check a backward function against central differences of its forward, in float64.

    The convention is the textbook's (``numrnn.functional``, CS231n)::

        *outs, cache = forward(*inputs, **kwargs)     # (out, cache) or (h, c, cache)
        grads = backward(*douts, cache)               # one dout per output, in order

    where ``grads`` holds one gradient per *tensor input*, in the order of the inputs:
    a float array (checked) or ``None`` (an absent bias: its gradient must be None too).
    Other inputs (``nonlinearity``, integer class ids, bool masks) are passed through
    and get no gradient. An output that is itself a tuple takes a tuple ``dout``.

    Parameters
    ----------
    forward, backward : the pair of functions.
    inputs : tuple of the forward's positional arguments. Float arrays are copied to
        float64; their rows in the report are named after the forward's parameters
        (``x``, ``h_prev``, ``w_ih``, ...).
    kwargs : keyword arguments for every forward call (not differentiated).
    names : row names, if the forward's own cannot be read (``*args``).
    douts : upstream gradients, one per output (default: drawn at random, which
        exercises every path; all-ones can hide errors that cancel).
    time_axes : ``{name: axis}`` of the inputs with a time axis, for the per-step
        breakdown (default: a 3-D input whose first axis has the length of a 3-D
        output's first axis, as x (T, N, I) for h (T, N, H)).
    eps, tol, seed, full_max, samples, directions : as in :func:`check_gradients`.

    Returns
    -------
    GradcheckReport, one row per tensor input.

    Example
    -------
    >>> report = nr.check_function(rnn_forward, rnn_backward, (x, h0, w_ih, w_hh, b_ih, b_hh))
    >>> print(report)      # rows x, h0, w_ih, w_hh, b_ih, b_hh; x broken down by step
    """
    if not (callable(forward) and callable(backward)):
        raise UsageTypeError(f"check_function needs two functions, forward and backward; got "
                             f"{type(forward).__name__} and {type(backward).__name__}")
    if not isinstance(inputs, (tuple, list)):
        raise UsageTypeError(f"check_function: inputs must be a tuple of the forward's positional "
                             f"arguments; got {type(inputs).__name__} (a single array goes as (x,))")
    kwargs = dict(kwargs or {})
    tol = config.GRADCHECK_TOL if tol is None else tol
    full_max = config.GRADCHECK_FULL_MAX if full_max is None else full_max
    rng = np.random.default_rng(seed)
    fname = getattr(forward, "__name__", "forward")
    bname = getattr(backward, "__name__", "backward")
    names = _input_names(forward, len(inputs), names)
    args = []
    for name, a in zip(names, inputs):
        if isinstance(a, (list, tuple)):
            raise UsageTypeError(f"check_function: input {name!r} is a {type(a).__name__}; pass an array")
        args.append(np.array(a, dtype=np.float64) if _is_float_array(a) else a)  # a float64 copy

    def run():
        result = forward(*args, **kwargs)
        if not isinstance(result, tuple) or len(result) < 2:
            raise UsageTypeError(f"check_function: {fname} must return (out, cache) or "
                                 f"(out1, out2, ..., cache); got {type(result).__name__}")
        return result[:-1], result[-1]

    outs, _ = run()
    flat_outs = _flatten(outs)
    if douts is None:
        flat_douts = [rng.standard_normal(np.shape(o)) for o in flat_outs]
    else:
        flat_douts = [np.asarray(d, dtype=np.float64) for d in _flatten(douts)]
        if len(flat_douts) != len(flat_outs):
            raise UsageValueError(f"check_function: {len(flat_douts)} douts for the "
                                  f"{len(flat_outs)} outputs of {fname}")
        for k, (o, d) in enumerate(zip(flat_outs, flat_douts)):
            if np.shape(o) != d.shape:
                raise UsageValueError(f"check_function: dout {k} has shape {d.shape}; output {k} "
                                      f"of {fname} has shape {np.shape(o)}")

    def upstream():
        """Fresh copies of the douts in the outputs' structure (float for a float output)."""
        copies = [float(d) if np.ndim(o) == 0 and not isinstance(o, np.ndarray) else d.copy()
                  for o, d in zip(flat_outs, flat_douts)]
        return _unflatten(outs, copies)

    def f():
        fresh, _ = run()
        return float(sum(np.sum(np.asarray(o, dtype=np.float64) * d)
                         for o, d in zip(_flatten(fresh), flat_douts)))

    outs, cache = run()
    grads = backward(*upstream(), cache)
    grads = tuple(grads) if isinstance(grads, (tuple, list)) else (grads,)
    # One gradient per tensor input, in order. Inputs left out at the end (a bias that
    # defaults to None) may still get their None; an input given as None may get none.
    slots = [k for k, a in enumerate(args) if a is None or _is_float_array(a)]
    extra = grads[len(slots):]
    if any(g is not None for g in extra) or any(args[k] is not None for k in slots[len(grads):]):
        listed = ", ".join(names[k] for k in slots)
        raise UsageValueError(f"check_function: {bname} returned {len(grads)} gradients; {fname} was "
                              f"given {len(slots)} tensor inputs ({listed}): one gradient each, in "
                              f"order, None for an input that is None")
    if time_axes is None:
        time_axes = _infer_time_axes(names, args, _flatten(outs))
    report = GradcheckReport(tol=tol, eps=eps, module=f"{fname} / {bname}")
    opts = (eps, tol, rng, full_max, samples, directions)
    for k, g in zip(slots, grads):
        name = names[k]
        if args[k] is None:
            if g is not None:
                report.checks.append(_not_compared(name, np.shape(g), "None",
                                                   f"{name} is None, so its gradient must be None"))
            continue
        report.checks.append(_compare(name, args[k], g, f, *opts, time_axis=time_axes.get(name)))
    return report


__all__ = ["GradcheckReport", "TensorCheck", "check_function", "check_gradients", "describe_steps",
           "numerical_gradient", "rel_error"]

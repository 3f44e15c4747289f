"""``check_function``: a backward function against central differences of its forward,
in the textbook's convention (``numrnn.functional``, CS231n, a student's own pair)."""

from __future__ import annotations

import inspect

import numpy as np

from numrnn import config
from numrnn.errors import UsageTypeError, UsageValueError
from numrnn.gradcheck.compare import compare_tensor, flatten, not_compared, unflatten
from numrnn.gradcheck.report import GradcheckReport


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

    outs, cache = run()
    flat_outs = flatten(outs)
    if douts is None:
        flat_douts = [rng.standard_normal(np.shape(o)) for o in flat_outs]
    else:
        flat_douts = [np.asarray(d, dtype=np.float64) for d in flatten(douts)]
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
        return unflatten(outs, copies)

    def f():
        fresh, _ = run()
        return float(sum(np.sum(np.asarray(o, dtype=np.float64) * d)
                         for o, d in zip(flatten(fresh), flat_douts)))

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
        time_axes = _infer_time_axes(names, args, flatten(outs))
    report = GradcheckReport(tol=tol, eps=eps, module=f"{fname} / {bname}")
    opts = (eps, tol, rng, full_max, samples, directions)
    for k, g in zip(slots, grads):
        name = names[k]
        if args[k] is None:
            if g is not None:
                report.checks.append(not_compared(name, np.shape(g), "None",
                                                   f"{name} is None, so its gradient must be None"))
            continue
        report.checks.append(compare_tensor(name, args[k], g, f, *opts, time_axis=time_axes.get(name)))
    return report


__all__ = ["check_function"]

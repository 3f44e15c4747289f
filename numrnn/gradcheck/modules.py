"""``check_gradients``: a module's own backward against central differences of its forward."""

from __future__ import annotations

import copy

import numpy as np

from numrnn import config
from numrnn.errors import UsageTypeError
from numrnn.gradcheck.compare import as_float64, compare_tensor, flatten, unflatten
from numrnn.gradcheck.report import GradcheckReport
from numrnn.nn.module import Module


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
    x = as_float64(x) if x_is_float else np.array(x, copy=True)
    h0 = as_float64(h0)
    unpack = getattr(m, "_unpack_output_grads", False)

    def run(state):
        out = m(x, state, **forward_kwargs) if state is not None else m(x, **forward_kwargs)
        return out

    report = GradcheckReport(tol=tol, eps=eps, module=repr(module))
    with m.hold_randomness():
        out = run(h0)
        douts = [rng.standard_normal(np.shape(o)) for o in flatten(out)]

        def backward():
            m.zero_grad()
            structured = unflatten(run(state_holder[0]), list(douts))
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
            return float(sum(np.sum(o * d) for o, d in zip(flatten(run(h0)), douts)))

        args = (eps, tol, rng, full_max, samples, directions)
        exempt = m.no_grad_entries()
        for name, p in m.params.items():
            report.checks.append(compare_tensor(name, p, grads[name], f, *args, exempt=exempt.get(name)))
        if check_input and x_is_float:
            report.checks.append(compare_tensor("input x", x, dx, f, *args,
                                          time_axis=_input_time_axis(m, x)))
        if h0 is not None:
            states = h0 if isinstance(h0, tuple) else (h0,)
            dstates = dstate if isinstance(dstate, tuple) else (dstate,)
            cell = getattr(m, "cell", None)  # a recurrent layer names its states: h0, c0, ...
            labels = [f"{name}0" for name in cell.states] if cell is not None else ["h0", "c0"]
            for label, s, g in zip(labels, states, dstates):
                report.checks.append(compare_tensor(label, s, g, f, *args))
    return report


__all__ = ["check_gradients"]

"""Numerical gradient checking: does a module's hand-written backward agree with
central differences of its own forward?

    df/dp ~ (f(p + eps) - f(p - eps)) / (2 eps)          (error O(eps**2))

:func:`check_gradients` takes any numrnn module (RNN, LSTM, a cell, Linear, a user's
subclass...), works on a float64 copy, draws random upstream gradients ``dout`` for
every output so the scalar under test is ``f = sum(out * dout)``, runs the module's
*own* ``backward`` (so a wrong backward is caught, not bypassed) and compares every
entry of ``grads``, plus the gradients for ``x`` and the initial state, with
central differences. The comparison is CS231n's relative error

    rel_error(a, n) = |a - n| / max(floor, |a| + |n|),   floor = max(1e-8, 1e-4 * max|a|)

reported per tensor as its maximum, with the index where it is reached. The floor is
CS231n's 1e-8, raised for entries 10^4 times smaller than the tensor's largest,
which central differences cannot resolve on their own scale. Small tensors
are checked element by element ("full"); large ones at a random sample of elements
plus a few random directions v, comparing <grad, v> with (f(p+eps v) - f(p-eps v))/2eps
("sampled"). docs/gradcheck.md explains how to read the report.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np

from numrnn import config
from numrnn.errors import UsageTypeError

#: The denominator of the relative error is at least this fraction of the tensor's
#: largest gradient entry (and at least 1e-8, CS231n's floor).
SCALE_FLOOR = 1e-4


def rel_error(a, n, floor: float = 1e-8) -> np.ndarray:
    """Elementwise relative error ``|a - n| / max(floor, |a| + |n|)`` (CS231n's, floor 1e-8)."""
    a, n = np.asarray(a, dtype=np.float64), np.asarray(n, dtype=np.float64)
    return np.abs(a - n) / np.maximum(floor, np.abs(a) + np.abs(n))


def numerical_gradient(f, x: np.ndarray, df, eps: float = 1e-6) -> np.ndarray:
    """Central-difference gradient of ``sum(f(x) * df)`` with respect to ``x``.

    The exercise helper of CS231n (``eval_numerical_gradient_array``): ``f`` maps
    the array ``x`` (perturbed in place, one element at a time, and restored) to an
    array shaped like ``df``.

    Parameters
    ----------
    f : callable, ``x -> array``.
    x : array of any shape; use float64.
    df : upstream gradient, shaped like ``f(x)``.
    eps : step of the central difference.

    Returns
    -------
    grad : array shaped like ``x``.
    """
    x = np.asarray(x)
    if x.dtype != np.float64:
        raise UsageTypeError(f"numerical_gradient needs a float64 x (for precision); got {x.dtype}")
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + eps
        plus = np.sum(np.asarray(f(x)) * df)
        x[i] = old - eps
        minus = np.sum(np.asarray(f(x)) * df)
        x[i] = old
        grad[i] = (plus - minus) / (2 * eps)
    return grad


@dataclass
class TensorCheck:
    """The outcome for one tensor."""

    name: str
    shape: tuple
    mode: str  # "full" or "sampled"
    checked: int  # elements (and directions) compared
    max_rel_error: float
    worst_index: tuple | str  # element index, or "direction k"
    ok: bool


@dataclass
class GradcheckReport:
    """Per-tensor results of :func:`check_gradients`."""

    checks: list = field(default_factory=list)
    tol: float = config.GRADCHECK_TOL
    eps: float = 1e-5
    module: str = ""

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

    def __str__(self) -> str:
        head = f"gradient check of {self.module} (float64, eps={self.eps:g}, tol={self.tol:g})"
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


def _compare(name, array, analytic, f, eps, tol, rng, full_max, samples, directions, exempt=None):
    """Compare ``analytic`` with central differences of ``f`` perturbing ``array`` in place.

    ``exempt`` (a bool mask shaped like ``array``, or None) marks entries whose gradient
    is zero by the layer's definition (an embedding's padding row): they are skipped.
    """
    analytic = np.asarray(analytic, dtype=np.float64)
    if analytic.shape != array.shape:
        return TensorCheck(name, array.shape, "shape", 0, np.inf,
                           f"analytic gradient has shape {analytic.shape}", False)
    flat = array.reshape(-1)  # a view: perturbing it perturbs the tensor
    assert np.shares_memory(flat, array)
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
                       worst, w, bool(worst < tol))


def check_gradients(module, x, h0=None, *, eps: float = 1e-5, tol: float | None = None,
                    seed: int = 0, full_max: int | None = None, samples: int = 64,
                    directions: int = 4, check_input: bool = True,
                    **forward_kwargs) -> GradcheckReport:
    """Check ``module.backward`` against central differences, in float64.

    Parameters
    ----------
    module : a numrnn module. It is not modified: a deep copy is cast to float64.
    x : the input (any layout the module accepts); integer inputs (token ids) are
        passed as they are and not checked.
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
    GradcheckReport with ``ok``, ``errors`` and a readable ``str()``. Dropout masks
    drawn by the first forward are held fixed for every later one.
    """
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
            report.checks.append(_compare("input x", x, dx, f, *args))
        if h0 is not None:
            states = h0 if isinstance(h0, tuple) else (h0,)
            dstates = dstate if isinstance(dstate, tuple) else (dstate,)
            for label, s, g in zip(("h0", "c0"), states, dstates):
                report.checks.append(_compare(label, s, g, f, *args))
    return report

"""The gradient-check report: one row per tensor, and where along time the error sits.

:class:`GradcheckReport` is what :func:`numrnn.check_gradients` and
:func:`numrnn.check_function` return; :func:`describe_steps` turns the worst error at
each time step into the sentence a student reads ("dx[0..2] wrong, dx[3..] correct:
correct at t >= 4, wrong before", the signature of a gradient not carried back in time).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from numrnn import config


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


__all__ = ["GradcheckReport", "TensorCheck", "describe_steps"]

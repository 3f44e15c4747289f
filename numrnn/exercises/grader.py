"""``exercises grade``: import a student's files, check every function, print a table.

Each exercise of :mod:`numrnn.exercises.catalog` gives rows, one per tensor:

* a forward's outputs are compared with the golden values (:mod:`.golden`);
* a backward is checked with :func:`numrnn.check_function` on the student's own
  forward and backward, so every gradient it returns is compared with central
  differences; a tensor with a time axis also says at which steps the error sits;
* ``numerical_gradient`` is compared with the exact gradient of a known function,
  and ``clip_grad_norm`` with :func:`numrnn.clip_grad_norm`.

A row names the function, the tensor (``dx`` for dL/dx), the worst relative error and
where it is (the case and the array index), and the line of docs/bptt.md or
docs/lstm_gru.md the tensor comes from. A function that raises is reported with the
last line of its traceback and where in the student's file it was raised; a file that
does not compile, with its line. Every other function is still graded.

The student's files are read from their folder and executed as fresh modules: the
folder is on ``sys.path`` only while they are imported (so they may import each
other), no bytecode is written, and nothing is left in ``sys.modules``.
"""

from __future__ import annotations

import contextlib
import copy
import importlib
import sys
import traceback
import types
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from numrnn import config
from numrnn.clip import clip_grad_norm as library_clip_grad_norm
from numrnn.errors import UsageValueError
from numrnn.exercises import catalog
from numrnn.exercises import golden as golden_values
from numrnn.exercises.catalog import EXERCISES, FILES
from numrnn.gradcheck import SCALE_FLOOR, check_function, describe_steps, rel_error

#: A forward output passes when its max relative error (on the scale of the output,
#: as in the gradient check) is below this: only the order of sums may differ.
FORWARD_TOL = 1e-8
#: numerical_gradient passes when it is this close to the exact gradient: a central
#: difference at eps=1e-5 is within about 1e-10, a one-sided one only about 1e-5.
NUMERICAL_TOL = 1e-7
#: clip_grad_norm passes when its norm and its scaled arrays are this close to the library's.
CLIP_TOL = 1e-10


@dataclass
class Row:
    """One line of the grade: a function and one of its tensors (or what went wrong)."""

    function: str
    tensor: str  # "dx" for dL/dx, "h" for an output, "-" when the function could not run
    status: str  # "ok", "FAIL", "ERROR" (it raised, or its file did not import), "MISSING"
    error: float | None = None  # max relative error
    where: str = ""  # the case and the index of the worst entry
    steps: str = ""  # where along the time axis the error sits (tensors with a time axis)
    derivation: str = ""  # the line of the docs the tensor comes from
    message: str = ""  # what went wrong, when a number does not say it

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass
class Grade:
    """The rows of a whole folder; ``str()`` is the table ``exercises grade`` prints."""

    folder: str
    rows: list = field(default_factory=list)
    missing: list = field(default_factory=list)  # exercise files not in the folder

    @property
    def ok(self) -> bool:
        return bool(self.rows) and all(r.ok for r in self.rows) and not self.missing

    @property
    def functions(self) -> list:
        """The graded functions, in the order of the exercises."""
        return list(dict.fromkeys(r.function for r in self.rows))

    @property
    def failed(self) -> dict:
        """Function -> the tensors (or ``"-"``) whose rows did not pass."""
        out = {}
        for r in self.rows:
            if not r.ok:
                out.setdefault(r.function, []).append(r.tensor)
        return out

    def rows_of(self, function: str) -> list:
        return [r for r in self.rows if r.function == function]

    def __str__(self) -> str:
        lines = [f"grading {self.folder}: forwards against numrnn's golden values, backwards "
                 f"with nr.check_function (float64, central differences)"]
        if self.missing:
            lines.append(f"missing files: {', '.join(self.missing)} (write them with "
                         f"`python -m numrnn exercises make {self.folder} --force`)")
        table = [("function", "tensor", "result", "max rel err", "worst at", "derivation")]
        for r in self.rows:
            err = "" if r.error is None else ("inf" if np.isinf(r.error) else f"{r.error:.1e}")
            if r.status in ("ERROR", "MISSING"):
                table.append((r.function, r.tensor, r.status, r.message, "", ""))
            else:
                table.append((r.function, r.tensor, r.status, err, r.where, r.derivation))
        # an ERROR row's message spans the last columns: it does not widen them
        widths = [max(len(t[i]) for t in table if i < 3 or t[2] not in ("ERROR", "MISSING"))
                  for i in range(6)]
        indent = " " * (widths[0] + widths[1] + 4)
        for k, (t, r) in enumerate(zip(table, [None, *self.rows])):
            lines.append("  ".join(v.ljust(w) for v, w in zip(t, widths)).rstrip())
            if k == 0:
                lines.append("  ".join("-" * w for w in widths))
                continue
            if r.status == "FAIL" and r.message:
                lines.append(indent + r.message)
            if r.status == "FAIL" and r.steps:
                lines.append(indent + r.steps)
        n = len(self.functions)
        if self.ok:
            lines.append(f"PASSED: all {n} functions")
        else:
            failed = [f"{name} ({', '.join(t for t in tensors if t != '-') or 'raised'})"
                      for name, tensors in self.failed.items()]
            lines.append(f"FAILED {len(self.failed)} of {n} functions: {'; '.join(failed)}")
        return "\n".join(lines)


# -- importing the student's files ---------------------------------------------------------
def _inside(filename: str, folder: Path) -> bool:
    try:
        return Path(filename).resolve().is_relative_to(folder)
    except (OSError, ValueError):
        return False


def _student_frame(exc: BaseException, folder: Path):
    """The innermost frame of the traceback that lies in the student's folder, or None."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if _inside(f.filename, folder)]
    return frames[-1] if frames else None


def describe_exception(exc: BaseException, folder: Path) -> str:
    """The traceback's last line, and where in the student's folder it was raised."""
    if isinstance(exc, SyntaxError) and exc.filename and _inside(exc.filename, folder):
        return f"{type(exc).__name__} in {Path(exc.filename).name} line {exc.lineno}: {exc.msg}"
    last = traceback.format_exception_only(type(exc), exc)[-1].strip()
    frame = _student_frame(exc, folder)
    if frame is not None:
        return f"{last} ({Path(frame.filename).name} line {frame.lineno}, in {frame.name})"
    return last


@contextlib.contextmanager
def _importable(folder: Path):
    """``folder`` on ``sys.path`` and no bytecode written, for the duration only; modules
    imported from ``folder`` meanwhile (the student's files importing each other) are
    taken out of ``sys.modules`` afterwards."""
    before = set(sys.modules)
    saved_path, saved_flag = list(sys.path), sys.dont_write_bytecode
    sys.path.insert(0, str(folder))
    sys.dont_write_bytecode = True
    try:
        yield
    finally:
        sys.path[:] = saved_path
        sys.dont_write_bytecode = saved_flag
        for name in set(sys.modules) - before:
            if _inside(getattr(sys.modules[name], "__file__", None) or "", folder):
                del sys.modules[name]


def load_file(path: Path, folder: Path):
    """The student's file as a fresh module (compiled from its text, so an edit made a
    moment ago is always what runs)."""
    name = f"_numrnn_student_{path.stem}"
    code = compile(path.read_text(encoding="utf-8"), str(path), "exec")
    module = types.ModuleType(name)
    module.__file__ = str(path)
    with _importable(folder):
        sys.modules[name] = module
        try:
            exec(code, module.__dict__)
        finally:
            sys.modules.pop(name, None)
    return module


# -- comparing values ----------------------------------------------------------------------
def _index(i) -> str:
    return str(tuple(int(j) for j in i))


def compare_values(got, want, time_axis=None):
    """``(max rel error, index, per-step errors or None, message)`` of ``got`` against ``want``."""
    try:
        got = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        return np.inf, "", None, f"returned {type(got).__name__}; expected an array shaped {want.shape}"
    if got.shape != want.shape:
        return np.inf, "", None, f"has shape {got.shape}; expected {want.shape}"
    floor = max(1e-8, SCALE_FLOOR * float(np.abs(want).max(initial=0.0)))
    finite = np.isfinite(got)
    with np.errstate(invalid="ignore"):
        errs = np.where(finite, rel_error(got, want, floor), np.inf)
    k = int(np.argmax(errs)) if errs.size else 0
    worst = float(errs.reshape(-1)[k]) if errs.size else 0.0
    where = _index(np.unravel_index(k, errs.shape)) if errs.ndim else ""
    steps = None
    if time_axis is not None and errs.ndim > time_axis:
        other = tuple(a for a in range(errs.ndim) if a != time_axis)
        steps = errs.max(axis=other) if other else errs
    message = "" if finite.all() else f"not finite at {int((~finite).sum())} entries (an overflow?)"
    return worst, where, steps, message


def _worst(records: dict, key, record):
    """Keep, per tensor, the record of the case with the largest error."""
    if key not in records or not (record[0] <= records[key][0]):
        records[key] = record


def _rows_from(name: str, records: dict, derivation: dict, multi: bool, tol: float) -> list:
    rows = []
    for tensor, (err, where, label, steps, message, base) in records.items():
        at = f"{label}: {where}" if multi and where else (label if multi else where)
        rows.append(Row(name, tensor, "ok" if err < tol else "FAIL", err, at, steps,
                        derivation.get(base, ""), message))
    return rows


def _error_row(name, exc, folder, label="", forward="") -> Row:
    """The row of a function that raised (``forward``: the forward its check runs first)."""
    where = f" [case {label}]" if label else ""
    frame = _student_frame(exc, folder)
    first = (f"its check runs your {forward} first, which raised: "
             if forward and frame is not None and frame.name == forward else "")
    return Row(name, "-", "ERROR", message=first + describe_exception(exc, folder) + where)


# -- the checks ----------------------------------------------------------------------------
def grade_forward(ex, fn, folder: Path, golden) -> list:
    records = {}
    cases = golden_values.cases(ex.name, golden)
    for label, args, kwargs, expected in cases:
        try:
            with np.errstate(all="ignore"):
                result = fn(*args, **kwargs)
        except Exception as exc:
            return [_error_row(ex.name, exc, folder, label)]
        if ex.returns_cache and not (isinstance(result, tuple) and len(result) == len(ex.outputs) + 1):
            shape = ", ".join((*ex.outputs, "cache"))
            return [Row(ex.name, ex.outputs[0], "FAIL", np.inf, label,
                        derivation=ex.derivation.get(ex.outputs[0], ""),
                        message=f"returned {type(result).__name__}; expected ({shape})")]
        outs = golden_values.outputs_of(ex, result)
        for name, got in zip(ex.outputs, outs):
            err, where, steps, message = compare_values(got, expected[name], ex.time_axes.get(name))
            summary = "" if steps is None else describe_steps(name, steps, FORWARD_TOL, gradient=False)
            _worst(records, name, (err, where, label, summary, message, name))
    return _rows_from(ex.name, records, ex.derivation, len(cases) > 1, FORWARD_TOL)


def forward_for_backward(ex, module, folder: Path, golden) -> tuple:
    """The forward a backward exercise is checked with, and a note saying which.

    The student's own forward, when it passes its golden values (or is not an exercise);
    otherwise numrnn's reference forward of the same name, so that a backward is graded on
    its own merits and the student can work on the two in either order.
    """
    mine = getattr(module, ex.forward)
    forward_ex = catalog.BY_NAME.get(ex.forward)
    if forward_ex is None or forward_ex.kind != "forward":
        return mine, ""
    if all(r.ok for r in grade_forward(forward_ex, mine, folder, golden)):
        return mine, ""
    reference = getattr(importlib.import_module(f"numrnn.functional.{Path(ex.file).stem}"), ex.forward)
    return reference, f"checked with numrnn's {ex.forward}: yours does not pass its own check yet"


def grade_backward(ex, forward, backward, folder: Path, note: str = "") -> list:
    """Rows of a backward exercise; ``note`` (which forward ran) is added to every message."""
    rows = _grade_backward(ex, forward, backward, folder)
    if note:
        for r in rows:
            r.message = f"{r.message}; {note}" if r.message else note
    return rows


def _grade_backward(ex, forward, backward, folder: Path) -> list:
    records = {}
    for case in ex.cases:
        args, kwargs = case.inputs()
        try:
            with np.errstate(all="ignore"):
                report = check_function(forward, backward, args, kwargs, time_axes=dict(ex.time_axes),
                                        seed=case.seed)
        except Exception as exc:
            return [_error_row(ex.name, exc, folder, case.label, ex.forward)]
        for c in report.checks:
            if c.mode not in ("full", "sampled"):  # not compared: worst_index says why
                where, message = "", str(c.worst_index)
            elif isinstance(c.worst_index, tuple):
                where, message = (_index(c.worst_index) if c.worst_index else ""), ""
            else:  # "direction k" in sampled mode
                where, message = c.worst_index, ""
            steps = c.step_summary(report.tol) if not c.ok else ""
            _worst(records, c.label, (c.max_rel_error, where, case.label, steps, message, c.name))
    return _rows_from(ex.name, records, ex.derivation, len(ex.cases) > 1, config.GRADCHECK_TOL)


def grade_numerical(ex, fn, folder: Path) -> list:
    """``numerical_gradient`` on f(x) = tanh(x @ w), whose gradient is known exactly."""
    records = {}
    for label, shape, seed in (("x (3, 4)", (3, 4), 201), ("x (2, 3, 4)", (2, 3, 4), 202)):
        rng = np.random.default_rng(seed)
        x, w = rng.standard_normal(shape), rng.standard_normal((4, 5))
        df = rng.standard_normal((*shape[:-1], 5))
        exact = (df * (1 - np.tanh(x @ w) ** 2)) @ w.T
        x0 = x.copy()
        try:
            grad = fn(lambda a, w=w: np.tanh(a @ w), x, df)
        except Exception as exc:
            return [_error_row(ex.name, exc, folder, label)]
        err, where, _, message = compare_values(grad, exact)
        _worst(records, "grad", (err, where, label, "", message, "grad"))
        changed = not np.array_equal(x, x0)
        _worst(records, "x", (np.inf if changed else 0.0, "", label, "",
                              "x is not the same after the call: restore each entry after perturbing it"
                              if changed else "", "x"))
    return _rows_from(ex.name, records, ex.derivation, True, NUMERICAL_TOL)


def grade_clip(ex, fn, folder: Path) -> list:
    """``clip_grad_norm`` against the library's on the same arrays, clipped and not."""
    records = {}
    for label, max_norm, seed in (("norm above max_norm", 1.0, 211), ("norm below max_norm", 100.0, 212)):
        rng = np.random.default_rng(seed)
        grads = [3 * rng.standard_normal(s) for s in ((4, 3), (4,), (2, 2, 2))]
        want = {str(k): g.copy() for k, g in enumerate(grads)}
        want_norm = library_clip_grad_norm(want, max_norm)
        before = copy.deepcopy(grads)
        try:
            got_norm = fn(grads, max_norm)
        except Exception as exc:
            return [_error_row(ex.name, exc, folder, label)]
        err, _, _, message = compare_values(got_norm, np.float64(want_norm))
        _worst(records, "total_norm", (err, "", label, "", message, "total_norm"))
        worst = (0.0, "", "")
        for k, (g, w) in enumerate(zip(grads, want.values())):
            e, where, _, msg = compare_values(g, w)
            if not e <= worst[0]:
                worst = (e, f"grads[{k}] {where}", msg)
        if worst[0] >= CLIP_TOL and all(np.array_equal(g, b) for g, b in zip(grads, before)):
            worst = (worst[0], worst[1], "the arrays were not scaled in place (g *= clip_coef)")
        _worst(records, "grads", (worst[0], worst[1], label, "", worst[2], "grads"))
    return _rows_from(ex.name, records, ex.derivation, True, CLIP_TOL)


# -- the whole folder ----------------------------------------------------------------------
def select(only) -> list:
    """The exercises to grade: all, or those named by ``only`` (a function, or a file)."""
    if only is None:
        return list(EXERCISES)
    key = only if only.endswith(".py") or only in (e.name for e in EXERCISES) else f"{only}.py"
    chosen = [e for e in EXERCISES if key in (e.name, e.file)]
    if not chosen:
        names = ", ".join(e.name for e in EXERCISES)
        raise UsageValueError(f"exercises grade --only: no exercise or file {only!r}; the exercises "
                              f"are {names} (or a file: {', '.join(FILES)})")
    return chosen


def grade(folder, only=None) -> Grade:
    """Grade the student's folder (every exercise, or those ``only`` names)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UsageValueError(f"exercises grade: {folder} is not a folder; write one with "
                              f"`python -m numrnn exercises make {folder}`")
    folder = folder.resolve()
    chosen = select(only)
    files = list(dict.fromkeys(e.file for e in chosen))
    missing = [f for f in files if not (folder / f).is_file()]
    if len(missing) == len(files):
        raise UsageValueError(f"exercises grade: {folder} holds none of the exercise files "
                              f"({', '.join(files)}); write them with `python -m numrnn exercises make`")
    modules, broken = {}, {}
    for f in files:
        if f in missing:
            continue
        try:
            modules[f] = load_file(folder / f, folder)
        except Exception as exc:  # a SyntaxError, or any error while the file runs
            broken[f] = f"{f} did not import: {describe_exception(exc, folder)}"
    golden = golden_values.load()
    result = Grade(str(folder), missing=missing)
    for ex in chosen:
        if ex.file in missing:
            result.rows.append(Row(ex.name, "-", "MISSING", message=f"{ex.file} is not in the folder"))
            continue
        if ex.file in broken:
            result.rows.append(Row(ex.name, "-", "ERROR", message=broken[ex.file]))
            continue
        module = modules[ex.file]
        needed = [ex.name] + ([ex.forward] if ex.forward else [])
        absent = [n for n in needed if not callable(getattr(module, n, None))]
        if absent:
            result.rows.append(Row(ex.name, "-", "ERROR",
                                   message=f"{ex.file} has no function {', '.join(absent)}"))
            continue
        fn = getattr(module, ex.name)
        if ex.kind == "forward":
            result.rows += grade_forward(ex, fn, folder, golden)
        elif ex.kind == "backward":
            forward, note = forward_for_backward(ex, module, folder, golden)
            result.rows += grade_backward(ex, forward, fn, folder, note)
        elif ex.kind == "numerical":
            result.rows += grade_numerical(ex, fn, folder)
        else:
            result.rows += grade_clip(ex, fn, folder)
    return result

"""Input checks shared by every module, so that misuse fails at the boundary.

Each check raises TypeError or ValueError with a message that says what was expected
and what was given, in the words of the module that called it; nothing bad reaches
NumPy's internals or comes back as a silently wrong answer.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from numrnn.backend import get_array_module, is_cupy_array
from numrnn.errors import UsageTypeError, UsageValueError

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def check_dtype(dtype) -> np.dtype:
    """``np.dtype(dtype)`` if it is float32 or float64, else a TypeError."""
    try:
        dt = np.dtype(dtype)
    except (TypeError, ValueError) as exc:  # np.dtype((None, False)) is a ValueError
        raise UsageTypeError(f"dtype must be np.float32 or np.float64; got {dtype!r}") from exc
    if dt not in FLOAT_DTYPES:
        raise UsageTypeError(f"dtype must be np.float32 or np.float64; got {dt.name}")
    return dt


def as_array(x, owner: str, expected: str = "an array"):
    """``x`` as an array of its own kind (NumPy or CuPy; a list becomes a NumPy array), or a
    UsageTypeError for a ragged list and the like: ``"{owner}: input must be {expected}"``."""
    try:
        return get_array_module(x).asarray(x)
    except (TypeError, ValueError) as exc:  # ragged lists and the like
        raise UsageTypeError(f"{owner}: input must be {expected}; got {type(x).__name__}") from exc


def check_bool(value, name: str, owner: str) -> bool:
    """``value`` as a bool if it is one (Python's or NumPy's, or the integer 0 or 1), else a TypeError."""
    if isinstance(value, (bool, np.bool_)) or (isinstance(value, (int, np.integer)) and value in (0, 1)):
        return bool(value)
    raise UsageTypeError(f"{owner}: {name} must be True or False; got {value!r:.60}")


def check_positive_int(value, name: str, owner: str, minimum: int = 1) -> int:
    """``value`` as an int if it is an integer >= ``minimum``, else an error."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise UsageTypeError(f"{owner}: {name} must be an integer; got {value!r}")
    if value < minimum:
        raise UsageValueError(f"{owner}: {name} must be >= {minimum}; got {value}")
    return int(value)


def check_real(value, name: str, owner: str, low=None, high=None, *, low_open: bool = False,
               high_open: bool = False) -> float:
    """``value`` as a float if it is a real number in the range, else an error.

    Any ``numbers.Real`` is accepted (Python and NumPy ints and floats, as PyTorch
    accepts them) except ``bool``; a non-number is a TypeError, NaN or a number out
    of range a ValueError. The range is ``[low, high]``, ``low_open``/``high_open``
    exclude an end, and ``None`` leaves that side unbounded.
    """
    lo = "" if low is None else f"{'>' if low_open else '>='} {low:g}"
    hi = "" if high is None else f"{'<' if high_open else '<='} {high:g}"
    if lo and hi:
        wanted = f" in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    else:
        wanted = f" {lo or hi}" if lo or hi else ""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise UsageTypeError(f"{owner}: {name} must be a number{wanted}; got {value!r}")
    v = float(value)
    out_of_range = math.isnan(v) or (
        low is not None and (v <= low if low_open else v < low)) or (
        high is not None and (v >= high if high_open else v > high))
    if out_of_range:
        raise UsageValueError(f"{owner}: {name} must be a number{wanted}; got {value!r}")
    return v


def as_float_array(a, name: str, owner: str, dtype: np.dtype):
    """``a`` as an array of the module's ``dtype`` (NumPy or CuPy kept as given).

    Lists and other array-likes are converted; an array of another dtype is refused
    (TypeError) rather than cast behind the caller's back, as PyTorch does.
    """
    if not (isinstance(a, np.ndarray) or is_cupy_array(a)):
        try:
            a = np.asarray(a)
        except Exception as exc:  # ragged lists and the like
            raise UsageTypeError(f"{owner}: {name} must be an array; got {type(a).__name__}") from exc
        if a.dtype.kind in "iub":
            raise UsageTypeError(f"{owner}: {name} must hold floats ({dtype.name}); got {a.dtype.name}")
        if a.dtype.kind == "f":
            a = a.astype(dtype)
    if a.dtype != dtype:
        hint = (
            f"cast it with .astype(np.{dtype.name}) or build the module with "
            f"dtype=np.{a.dtype.name}"
            if a.dtype in FLOAT_DTYPES
            else f"pass floating-point data of dtype {dtype.name}"
        )
        raise UsageTypeError(f"{owner}: {name} must have dtype {dtype.name}; got {a.dtype.name} ({hint})")
    return a


def check_shape(a, expected: tuple, name: str, owner: str, meaning: str = "", *,
                layout_first: bool = False) -> None:
    """ValueError unless ``a.shape == expected``; ``meaning`` names the axes.

    The message reads ``h0 must have shape (2, 3, 4) (L*D, N, H)``, or with
    ``layout_first`` ``w_ih must have shape (4H, I) = (12, 3)`` (the kernels' checks,
    where the letters say more than the numbers).
    """
    if tuple(a.shape) != tuple(expected):
        if layout_first:
            want = f"{meaning} = {tuple(expected)}"
        else:
            want = f"{tuple(expected)}" + (f" {meaning}" if meaning else "")
        raise UsageValueError(f"{owner}: {name} must have shape {want}; got {tuple(a.shape)}")


def check_lengths(lengths, T: int, N: int, owner: str):
    """``lengths`` (N,) as an int64 NumPy array with 1 <= length <= T (CuPy is copied to the host).

    TypeError unless they are integers, ValueError for the wrong shape or a length
    outside [1, T].
    """
    lengths = np.asarray(lengths.get() if hasattr(lengths, "get") else lengths)
    if lengths.dtype.kind not in "iu":
        raise UsageTypeError(f"{owner}: lengths must be integers; got dtype {lengths.dtype}")
    if lengths.shape != (N,):
        raise UsageValueError(f"{owner}: lengths must have shape ({N},) (one per sequence); got "
                              f"{lengths.shape}")
    if lengths.min() < 1 or lengths.max() > T:
        raise UsageValueError(f"{owner}: every length must be in [1, {T}] (T = {T}); "
                              f"got min {lengths.min()}, max {lengths.max()}")
    return lengths.astype(np.int64)


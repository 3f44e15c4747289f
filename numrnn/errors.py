"""The errors numrnn raises on purpose, in one small hierarchy.

Every check that refuses a caller's argument raises one of these. Each subclasses the
built-in error a Python user expects (``TypeError`` for the wrong kind of value,
``ValueError`` for the wrong value), so ``except ValueError`` keeps working; the common
base :class:`UsageError` lets a program (``python -m numrnn``, a grader, a notebook)
tell "you called it wrongly" apart from a bug, which raises anything else.

    UsageError                      the base: a misuse of the library
      UsageTypeError  (TypeError)   wrong kind of argument: a list where a module goes
      UsageValueError (ValueError)  wrong value: a shape, a size, a range
        CheckpointError             a file that is not a valid numrnn checkpoint
        SizeError (also MemoryError)  a model or file larger than the allowed bound
          CheckpointSizeError       a checkpoint too large to load (also a CheckpointError)
"""

from __future__ import annotations


class UsageError(Exception):
    """Base of every error numrnn raises because it was called wrongly."""


class UsageTypeError(UsageError, TypeError):
    """An argument of the wrong kind (a string where a number goes, a non-module, ...)."""


class UsageValueError(UsageError, ValueError):
    """An argument of the right kind with a wrong value (a shape, a size, a range)."""


class CheckpointError(UsageValueError):
    """A file that is not a valid numrnn checkpoint; the message names the file and why."""


class SizeError(UsageValueError, MemoryError):
    """A model or a file that would need more memory than numrnn allows itself
    (``numrnn.config.MAX_ALLOC_BYTES``, or what the machine has); the message names the size."""


class CheckpointSizeError(CheckpointError, SizeError):
    """A checkpoint whose arrays or model would need more memory than allowed: both a
    :class:`CheckpointError` (every failure of ``nr.load`` is one) and a :class:`SizeError`."""


__all__ = ["CheckpointError", "CheckpointSizeError", "SizeError", "UsageError", "UsageTypeError",
           "UsageValueError"]

"""The boundary of a recurrent layer: the caller's layout and device in, time-major out.

Inside numrnn a sequence is time-major, (T, N, F), on the device where the backend
computes. A caller may pass (N, T, F) (``batch_first``), one unbatched sequence (T, F),
NumPy arrays to a module whose parameters sit on the GPU, or the reverse. Everything
about that is here and nowhere else: :meth:`Boundary.enter` checks and converts the
input and initial states, :meth:`Boundary.leave` turns results back into the caller's
layout and array kind, and the backward uses the same two steps for the gradients.

Arrays that cross in are copied: the caches keep them, and a caller may write into
its own array between forward and backward (PyTorch refuses that; here it cannot go
wrong).
"""

from __future__ import annotations

from typing import NamedTuple

from numrnn._checks import as_float_array, check_lengths, check_shape
from numrnn.backend import get_array_module
from numrnn.device import array_module, device_of, to_device
from numrnn.errors import UsageValueError


class Boundary(NamedTuple):
    """How one forward's arrays crossed in, so results and gradients cross back alike."""

    batched: bool  # False for one unbatched (T, F) sequence
    batch_first: bool
    caller: str  # the caller's device ("numpy" or "cupy"): results go back there
    device: str  # where the backend computes

    @property
    def xp(self):
        """The array module of the computing device."""
        return array_module(self.device)

    # -- in ------------------------------------------------------------------------------
    @classmethod
    def enter(cls, x, *, batch_first: bool, input_size: int, dtype, device: str, owner: str):
        """Check ``x`` and return ``(boundary, x)`` with x a fresh (T, N, I) array on ``device``."""
        x = as_float_array(x, "input", owner, dtype)
        layout = "(N, T, I)" if batch_first else "(T, N, I)"
        if x.ndim not in (2, 3):
            raise UsageValueError(f"{owner}: input must be 3-D {layout} or 2-D (T, I) for one unbatched "
                                  f"sequence; got {x.ndim}-D input of shape {tuple(x.shape)}")
        batched = x.ndim == 3
        shape = tuple(x.shape)
        if not batched:
            x = x[:, None, :]
        elif batch_first:
            x = x.transpose(1, 0, 2)
        T, N, I = x.shape
        if I != input_size:
            raise UsageValueError(f"{owner}: input must have input_size={input_size} features in its "
                                  f"last axis; got {I} (input shape {shape})")
        if T == 0:
            raise UsageValueError(f"{owner}: input is an empty sequence (T = 0); need at least one step")
        if N == 0:
            raise UsageValueError(f"{owner}: input has an empty batch (N = 0)")
        boundary = cls(batched, batch_first, device_of(x), device)
        return boundary, _fresh_on(x, device)

    def states(self, given: tuple, sizes: tuple, labels: tuple, LD: int, N: int, dtype, owner: str) -> tuple:
        """Initial states (or gradients of final states) as (L*D, N, S) arrays on the device.

        ``given`` has one entry per state (``None`` means zeros); ``labels`` name them in
        messages (``h0``, ``dc_n``...).
        """
        out = []
        for g, size, label in zip(given, sizes, labels):
            if g is None:
                out.append(self.xp.zeros((LD, N, size), dtype=dtype))
                continue
            s = as_float_array(g, label, owner, dtype)
            if self.batched:
                check_shape(s, (LD, N, size), label, owner, "(num_layers * num_directions, N, size)")
            else:
                check_shape(s, (LD, size), label, owner, "(num_layers * num_directions, size) for unbatched "
                            "input")
                s = s[:, None, :]
            out.append(_fresh_on(s, self.device))  # a copy, as for x
        return tuple(out)

    def lengths(self, lengths, T: int, N: int, owner: str):
        """``lengths`` as an int array (N,) with 1 <= length <= T, or ``None``."""
        if lengths is None:
            return None
        if not self.batched:
            raise UsageValueError(f"{owner}: lengths needs batched input; got one unbatched sequence")
        return check_lengths(lengths, T, N, owner)

    def output_grad(self, dout, out_shape: tuple, dtype, owner: str):
        """dL/dout in the caller's layout -> a (T, N, F) array on the device."""
        user_shape = self.user_shape(out_shape)
        dout = as_float_array(dout, "dout", owner, dtype)
        check_shape(dout, user_shape, "dout", owner, "(the shape of out)")
        if not self.batched:
            dout = dout[:, None, :]
        elif self.batch_first:
            dout = dout.transpose(1, 0, 2)
        return to_device(dout, self.device)

    # -- out -------------------------------------------------------------------------------
    def user_shape(self, shape: tuple) -> tuple:
        """The caller's shape of a time-major (T, N, F) shape."""
        T, N, F = shape
        if not self.batched:
            return (T, F)
        return (N, T, F) if self.batch_first else (T, N, F)

    def leave(self, a):
        """A time-major (T, N, F) result in the caller's layout and array kind."""
        if not self.batched:
            a = a[:, 0]
        elif self.batch_first:
            a = get_array_module(a).ascontiguousarray(a.transpose(1, 0, 2))
        return to_device(a, self.caller)

    def leave_states(self, states: tuple) -> tuple:
        """(L*D, N, S) states (or their gradients) in the caller's form: (L*D, S) unbatched."""
        return tuple(to_device(s if self.batched else s[:, 0], self.caller) for s in states)


def _fresh_on(a, device: str):
    """A C-contiguous copy of ``a`` on ``device`` that the caller's array does not share:
    the move between devices is that copy, else one is made."""
    moved = to_device(a, device)
    xp = get_array_module(moved)
    return xp.array(moved, order="C", copy=True) if moved is a else xp.ascontiguousarray(moved)


__all__ = ["Boundary"]


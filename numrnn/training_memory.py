"""The memory of a training step, measured: what the forward keeps for the backward.

BPTT keeps, from the forward to the backward, what each step computed (states, gates);
that is what grows with the sequence length T, and what recomputation
(``recompute=`` on a recurrent layer, numrnn/recompute.py) trades for time.
:func:`training_memory` runs one training step (forward, then backward of
``sum(out)``) on a copy of a model and measures, with :mod:`tracemalloc` (NumPy
reports its arrays to it):

    kept   bytes allocated by the forward and still held when it returns, beyond its
           output: the activations kept for the backward. It counts the layer's copy
           of its input x (the backward needs x for dw_ih, with or without
           recomputation); ``input_bytes`` says how much of ``kept`` that copy is.
    peak   the most bytes allocated at any moment of the forward and the backward,
           beyond the caller's arrays (x, the output, dout and the returned gradients):
           ``kept`` plus the backward's scratch at its largest.

The compiled kernels keep scratch from one call to the next (kernels/workspace.py); it
is released before measuring, so that the step allocates, and is counted, afresh.
``nr.summary(model, input, training=True)`` prints both, with and without recomputation.
"""

from __future__ import annotations

import copy
import tracemalloc
from typing import NamedTuple

import numpy as np

from numrnn.errors import UsageTypeError

__all__ = ["TrainingMemory", "training_memory", "describe"]

_KEEP = object()  # recompute: leave each layer's own setting


class TrainingMemory(NamedTuple):
    """Bytes of one training step (see the module docstring)."""

    kept: int  # held from the forward to the backward, beyond the output
    peak: int  # the most at any moment, beyond the caller's arrays
    input_bytes: int  # of ``kept``: the layer's copy of its input


def _nbytes(obj) -> int:
    if obj is None:
        return 0
    if isinstance(obj, (tuple, list)):
        return sum(_nbytes(o) for o in obj)
    return int(getattr(obj, "nbytes", 0))


def _input_copy_bytes(model) -> int:
    """Bytes of the copy of its input that the first recurrent layer of ``model`` (the model
    itself, or the first the module walk finds in a ``Sequential``...) made in the forward
    just run: T * N * I of its dtype (``nn/boundary.py``). Deeper layers' inputs are the
    outputs below them, activations like the others."""
    from numrnn.nn.recurrent import Recurrent

    first = next((m for m in model._walk() if isinstance(m, Recurrent)), None)
    if first is None:
        return 0
    stack = first._cache.stack  # the forward's cache: T and N as the layer saw them
    return int(stack.T * stack.N * first.input_size * first.dtype.itemsize)


def _backward_of_ones(module, result):
    """``module.backward`` of the gradient of ``sum(out)`` for a forward's ``result``."""
    out = result[0] if isinstance(result, tuple) else result
    dout = np.ones_like(out)
    return module.backward(dout) if out is result else module.backward(dout, None)


def training_memory(model, x, *, recompute=_KEEP) -> TrainingMemory:
    """Measure one training step of a copy of ``model`` on the example input ``x``.

    Parameters
    ----------
    model : a numrnn module whose ``forward(x)`` returns an array or an (out, state) pair
        and whose ``backward`` takes the gradient of that output (a recurrent layer, a cell,
        ``Linear``, ``Sequential``...).
    x : the example input (an array).
    recompute : set every recurrent layer of the copy to this (``None``, k or ``"sqrt"``);
        by default each keeps its own setting.
    """
    from numrnn.kernels import workspace
    from numrnn.nn.module import Module
    from numrnn.nn.recurrent import Recurrent
    from numrnn.recompute import check_recompute

    if not isinstance(model, Module):
        raise UsageTypeError(f"training_memory measures a numrnn Module; got {type(model).__name__}")
    twin = copy.deepcopy(model)
    twin.train()
    if recompute is not _KEEP:
        recompute = check_recompute(recompute)
        for m in twin._walk():
            if isinstance(m, Recurrent):
                m.recompute = recompute
    x = np.asarray(x)
    # one short step first, untraced: compiling the kernels allocates Python objects too
    _backward_of_ones(twin, twin(x[:2] if x.ndim >= 2 else x))
    twin.zero_grad()
    workspace.clear(all_threads=True)
    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base, _ = tracemalloc.get_traced_memory()
        result = twin(x)
        after_forward, forward_peak = tracemalloc.get_traced_memory()
        copied = _input_copy_bytes(twin)
        out = result[0] if isinstance(result, tuple) else result
        returned = _nbytes(result)
        kept = after_forward - base - returned
        before_backward, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        grads = _backward_of_ones(twin, result)
        _, backward_peak = tracemalloc.get_traced_memory()
        given_back = _nbytes(grads) + _nbytes(out)  # and the ones: the gradient the caller gives
    finally:
        if started:
            tracemalloc.stop()
        workspace.clear(all_threads=True)
    peak = max(forward_peak - base - returned, backward_peak - before_backward - given_back + kept)
    return TrainingMemory(int(kept), int(max(peak, kept)), copied)


def _mib(n: int) -> str:
    return f"{n / 2**20:,.1f} MiB" if n >= 2**20 else f"{n / 2**10:,.1f} KiB"


def describe(model, x) -> list:
    """Lines for ``nr.summary(..., training=True)``: the step's memory with full storage and
    with recomputation (each recurrent layer's own ``recompute``, else ``"sqrt"``)."""
    from numrnn.nn.recurrent import Recurrent

    layers = [m for m in model._walk() if isinstance(m, Recurrent)]
    own = {m.recompute for m in layers} - {None}
    setting = own.pop() if len(own) == 1 else "sqrt"
    full = training_memory(model, x, recompute=None)
    lines = [f"Training step on input {tuple(np.shape(x))}: activations kept for the backward "
             f"{_mib(full.kept)} (of which the input copy {_mib(full.input_bytes)}), peak {_mib(full.peak)}"]
    if layers:
        rec = training_memory(model, x, recompute=setting)
        ratio = (full.kept - full.input_bytes) / max(1, rec.kept - rec.input_bytes)
        lines.append(f"  with recompute={setting!r}: kept {_mib(rec.kept)}, peak {_mib(rec.peak)} "
                     f"(activations beyond the input {ratio:.1f}x smaller)")
    return lines

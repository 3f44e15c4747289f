"""Recomputation (gradient checkpointing) for BPTT: memory that does not grow with T.

Backpropagation through time needs, at step t, what the forward computed at step t:
a layer normally keeps every step's states and gates from the forward to the backward,
so its memory grows with the sequence (an LSTM at N = 32, H = 256 keeps about 230 KB
per step in float32: 23 GB for T = 100 000). Chen et al. 2016 ("Training deep nets with
sublinear memory cost") and Gruslys et al. 2016 ("Memory-efficient backpropagation
through time") trade that memory for time: keep the state only every k steps, and
during the backward run each segment's forward again, just before its backward.

    forward     for each segment [s, s + k):   keep the states entering it
                    seqs[s:s+k], _ = forward(x[s:s+k], states)      (its cache dropped)
    backward    carry = 0
                for each segment, the last first:
                    _, cache = forward(x[s:s+k], kept states)        (recomputed)
                    dseqs[s+k-1] += carry                            (from the segment after)
                    dx[s:s+k], carry, dW_seg = backward(dseqs[s:s+k], cache)
                    dW += dW_seg

What stays between the forward and the backward is the layer's input x and T/k
sets of states; at most one segment's cache lives at a time. With k = sqrt(T)
(``recompute="sqrt"``) both are O(sqrt(T)) steps' worth; the price is one more forward
of every step (a forward is about a third of a training step, so about 1.3x the time).

It needs nothing but a cell's whole-sequence functions (``numrnn.cells.SequenceOps``),
so it works for every cell and backend alike: the reference, the Numba kernels, the
generic loop over a user's ``CellSpec``. Lengths, dropout (between layers), both
directions and stacked layers are the driver's business around these functions, so
they combine with it unchanged.

Numbers: the forward's outputs are the same as without recomputation (the same steps
run; in the compiled kernels, a segment's GEMMs are cut into blocks at other places, so
the last bits may differ), and the gradients are the same sums taken in another order
(the weight gradients segment by segment): equal within 1e-12 relative in float64
(tests/test_recompute.py), not bitwise.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from numrnn._checks import check_positive_int
from numrnn.backend import get_array_module
from numrnn.cells.spec import SequenceOps

__all__ = ["RecomputeCache", "check_recompute", "recompute_ops", "segment_length"]


def check_recompute(recompute, owner: str = "recompute"):
    """``recompute`` checked: ``None`` (off), a positive int k (keep every k-th state) or
    ``"sqrt"`` (k = ceil(sqrt(T)))."""
    if recompute is None or (isinstance(recompute, str) and recompute == "sqrt"):
        return recompute
    return check_positive_int(recompute, "recompute (None, 'sqrt' or the steps per segment)", owner)


def segment_length(recompute, T: int) -> int:
    """Steps per segment for a sequence of T steps: k, or ceil(sqrt(T)) for ``"sqrt"``."""
    if recompute == "sqrt":
        return 1 + math.isqrt(max(T - 1, 0))  # ceil(sqrt(T)) in integers, 1 for T <= 1
    return int(recompute)


class RecomputeCache(NamedTuple):
    """What the backward of :func:`recompute_ops` needs: the input and the kept states."""

    x: object  # (T, N, I) the layer's input
    starts: tuple  # the first step of each segment
    states: tuple  # per segment, the tuple of states entering it, (N, S_k) each
    weights: tuple  # as the cell's functions take them
    options: dict  # the cell's options


def recompute_ops(ops: SequenceOps, recompute) -> SequenceOps:
    """``ops`` (a cell's sequence functions) with recomputation: same contract, same
    results, the forward keeping only the states entering each segment of k steps."""

    def forward(x, states0, *weights, **options):
        xp = get_array_module(x)
        T = x.shape[0]
        k = segment_length(recompute, T)
        starts = tuple(range(0, T, k))
        kept, seqs = [], None
        states = tuple(states0)
        for s in starts:
            kept.append(tuple(xp.array(st, copy=True) for st in states))
            part, _ = ops.forward(x[s:s + k], states, *weights, **options)  # its cache is dropped here
            if seqs is None:
                seqs = tuple(xp.empty((T,) + tuple(p.shape[1:]), dtype=p.dtype) for p in part)
            for seq, p in zip(seqs, part):
                seq[s:s + len(p)] = p
            states = tuple(seq[s + len(p) - 1] for seq, p in zip(seqs, part))
        return seqs, RecomputeCache(x, starts, tuple(kept), tuple(weights), dict(options))

    def backward(dseqs, cache: RecomputeCache):
        x = cache.x
        xp = get_array_module(x)
        T = x.shape[0]
        dx = xp.empty(x.shape, dtype=dseqs[0].dtype)
        carry, dweights = None, None
        bounds = cache.starts[1:] + (T,)
        for s, e, states in reversed(tuple(zip(cache.starts, bounds, cache.states))):
            _, inner = ops.forward(x[s:e], states, *cache.weights, **cache.options)  # the segment again
            part = tuple(xp.array(d[s:e], copy=True) for d in dseqs)
            if carry is not None:  # what flows back into the segment's last step from the next one
                for p, c in zip(part, carry):
                    p[-1] += c
            dx_seg, carry, *dw = ops.backward(part, inner)
            dx[s:e] = dx_seg
            dweights = list(dw) if dweights is None else [
                a if g is None else a + g for a, g in zip(dweights, dw)]
        return (dx, tuple(carry), *dweights)

    return SequenceOps(forward, backward, ops.name)

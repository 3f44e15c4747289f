"""Layers and directions: the time-major driver of a recurrent stack, for any cell.

What PyTorch's ``nn.RNNBase`` does around the cell, on time-major arrays. With L
layers, D directions (1 or 2), and P the size of h:

    layer input      (T, N, I) for layer 0, (T, N, D*P) above it
    layer output     (T, N, D*P): the directions side by side, forward first
    state h_0, h_n   (L*D, N, P), ordered layer 0 forward, layer 0 reverse, layer 1 ...
    other states     (L*D, N, S) likewise (an LSTM's c, S = H)

For each layer and direction it calls the cell's whole-sequence function (``run_layer``:
the reference, a kernel, or the generic loop over the cell's steps); nothing here knows
a cell's arithmetic.

The reverse direction reads its input back to front. With ``lengths`` each sequence is
reversed within its own length, so the reverse pass starts at its last real step, and
past a sequence's length:

* the input is replaced by zeros before any cell sees it (padding may hold anything,
  NaN included: it never enters a computation that reaches a valid output or a
  gradient), and the outputs and the gradients are exact zeros (selected, not
  multiplied by a mask: NaN * 0 is NaN);
* ``h_n`` is the state at the sequence's own last step, as PyTorch's packed sequences give.

Dropout (inverted, p = ``dropout``) is applied to the output of every layer but the
top one in training mode; the backward reuses the forward's masks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np


class StackCache(NamedTuple):
    """What :func:`stack_backward` needs from :func:`stack_forward`."""

    layers: list  # [layer][direction]: the cell's cache of that layer and direction
    lengths: np.ndarray | None  # (N,) real lengths, or None: all T
    rev: np.ndarray | None  # (T, N) index reversing each sequence within its length
    valid: object  # (T, N, 1) bool on the device: t < length; None without lengths
    masks: tuple  # the dropout mask applied to each layer's output below the top (or ())
    T: int
    N: int
    state_sizes: tuple  # the size S of each state


def reverse_index(lengths: np.ndarray, T: int) -> np.ndarray:
    """(T, N) index that reverses each column within its length: rev[t] = length-1-t.

    Positions past a sequence's length stay where they are. It is its own inverse.
    """
    t = np.arange(T)[:, None]
    return np.where(t < lengths[None, :], lengths[None, :] - 1 - t, t)


def in_direction(a, direction: int, rev, xp):
    """``a`` (T, N, F) in the reading order of ``direction`` (and back again): a new array."""
    if direction == 0:
        return a
    if rev is None:
        return xp.ascontiguousarray(a[::-1])
    return a[xp.asarray(rev), xp.arange(a.shape[1])[None, :]]


def at_last_step(seq, lengths, xp):
    """The state at each sequence's last real step: (T, N, S) -> (N, S)."""
    if lengths is None:
        return seq[-1]
    return seq[xp.asarray(lengths - 1), xp.arange(seq.shape[1])]


def zero_padding(a, valid, xp):
    """``a`` (T, N, F) with every step past its sequence's length set to exactly 0."""
    return a if valid is None else xp.where(valid, a, 0)


def stack_forward(x, states0: tuple, lengths, *, num_layers: int, num_directions: int,
                  weights: Callable, run_layer: Callable, dropout_mask: Callable | None, xp):
    """Run every layer and direction over ``x``.

    Parameters
    ----------
    x : (T, N, I) input on the computing device.
    states0 : tuple of (L*D, N, S) initial states, one per cell state.
    lengths : (N,) ints in [1, T], or None.
    weights : ``(layer, direction) -> tuple`` of that layer's weights on the device.
    run_layer : ``(x, state0 tuple, weights) -> (seqs tuple, cache)``: one layer, one
        direction, x (T, N, F) in reading order, seqs (T, N, S) per state.
    dropout_mask : ``(layer, shape) -> mask`` for the output of ``layer`` (below the
        top), or None without dropout.

    Returns
    -------
    out : (T, N, D*P) the top layer's h at every step;  states_n : tuple of
    (L*D, N, S);  cache : StackCache.
    """
    T, N, _ = x.shape
    rev = None if lengths is None else reverse_index(lengths, T)
    valid = None if lengths is None else xp.asarray((np.arange(T)[:, None] < lengths[None, :])[:, :, None])
    layer_in = zero_padding(x, valid, xp)
    finals = [[] for _ in states0]
    layer_caches, masks = [], []
    for layer in range(num_layers):
        outs, caches = [], []
        for d in range(num_directions):
            idx = layer * num_directions + d
            seqs, cache = run_layer(in_direction(layer_in, d, rev, xp), tuple(s[idx] for s in states0),
                                    weights(layer, d))
            outs.append(in_direction(seqs[0], d, rev, xp))
            for final, seq in zip(finals, seqs):
                final.append(at_last_step(seq, lengths, xp))
            caches.append(cache)
        layer_out = outs[0] if len(outs) == 1 else xp.concatenate(outs, axis=2)  # (T, N, D*P)
        layer_out = zero_padding(layer_out, valid, xp)
        layer_caches.append(caches)
        if dropout_mask is not None and layer < num_layers - 1:
            masks.append(dropout_mask(layer, layer_out.shape))
            layer_in = layer_out * masks[-1]
        else:
            layer_in = layer_out
    out = layer_in
    if num_directions == 1 and valid is None:
        # out is then the cell's own buffer, which its cache still reads: hand the
        # caller a copy, so that writing into out cannot corrupt the backward
        out = out.copy()
    states_n = tuple(xp.stack(f) for f in finals)  # (L*D, N, S) each
    sizes = tuple(int(s.shape[2]) for s in states0)
    return out, states_n, StackCache(layer_caches, lengths, rev, valid, tuple(masks), T, N, sizes)


def stack_backward(dout, dstates_n: tuple, cache: StackCache, *, num_directions: int,
                   run_layer_backward: Callable, accumulate: Callable, xp):
    """Backpropagation through time through every layer and direction.

    Parameters
    ----------
    dout : (T, N, D*P) dL/dout on the device.
    dstates_n : tuple of (L*D, N, S) dL/d(final state), zeros where none was given.
    cache : StackCache of the forward.
    run_layer_backward : ``(dseqs tuple, cell cache) -> (dx, dstate0 tuple, dweights)``.
    accumulate : ``(layer, direction, dweights) -> None``: adds the parameter gradients.

    Returns
    -------
    dx : (T, N, I);  dstates0 : tuple of (L*D, N, S).
    """
    T, N, D = cache.T, cache.N, num_directions
    L = len(cache.layers)
    P = cache.state_sizes[0]
    last = T - 1 if cache.lengths is None else xp.asarray(cache.lengths - 1)
    cols = xp.arange(N)
    dstates0 = [[None] * (L * D) for _ in cache.state_sizes]
    d_layer_out = dout
    for layer in reversed(range(L)):
        d_layer_out = zero_padding(d_layer_out, cache.valid, xp)
        d_layer_in = None
        for d in range(D):
            idx = layer * D + d
            # fresh arrays: dL/d(final state) is added into them below, and dout is the caller's
            dh_seq = xp.array(in_direction(d_layer_out[:, :, d * P:(d + 1) * P], d, cache.rev, xp), copy=True)
            dseqs = [dh_seq] + [xp.zeros((T, N, s), dtype=dout.dtype) for s in cache.state_sizes[1:]]
            for dseq, dfinal in zip(dseqs, dstates_n):
                dseq[last, cols] += dfinal[idx]
            dx, dstate0, dweights = run_layer_backward(tuple(dseqs), cache.layers[layer][d])
            accumulate(layer, d, dweights)
            for i, g in enumerate(dstate0):
                dstates0[i][idx] = g
            dx = in_direction(dx, d, cache.rev, xp)
            d_layer_in = dx if d_layer_in is None else d_layer_in + dx
        if layer > 0 and cache.masks:
            d_layer_in = d_layer_in * cache.masks[layer - 1]
        d_layer_out = d_layer_in
    dx = zero_padding(d_layer_out, cache.valid, xp)
    return dx, tuple(xp.stack(g) for g in dstates0)


__all__ = ["StackCache", "at_last_step", "in_direction", "reverse_index", "stack_backward", "stack_forward",
           "zero_padding"]

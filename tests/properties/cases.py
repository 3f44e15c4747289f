"""Hypothesis strategies shared by the property tests: random recurrent layers and inputs.

A :class:`Case` is everything one forward/backward needs, drawn at random: the cell,
its configuration (layers, directions, layout, bias, projection, dtype), the sizes
(T, N, I, H), variable lengths, the memory layout of the input (contiguous, Fortran
order, strided, reversed) and the seed of every array. Sizes stay small: the point is
the variety of configurations, not the size of any one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st

import numrnn as nr

CELLS = ("rnn_tanh", "rnn_relu", "lstm", "gru")
LAYOUTS = ("contiguous", "fortran", "strided", "reversed")


@dataclass(frozen=True)
class Case:
    cell: str
    layers: int
    bidirectional: bool
    batch_first: bool
    bias: bool
    proj: int
    dtype: type
    T: int
    N: int
    I: int  # noqa: E741 (the letter set)
    H: int
    unbatched: bool
    lengths: tuple | None
    layout: str
    seed: int

    @property
    def D(self) -> int:
        return 2 if self.bidirectional else 1

    @property
    def P(self) -> int:
        return self.proj or self.H

    def module(self, backend: str = "numpy"):
        kw = dict(num_layers=self.layers, bias=self.bias, batch_first=self.batch_first,
                  bidirectional=self.bidirectional, dtype=self.dtype, backend=backend, seed=self.seed)
        if self.cell.startswith("rnn"):
            return nr.RNN(self.I, self.H, nonlinearity=self.cell[4:], **kw)
        if self.cell == "lstm":
            return nr.LSTM(self.I, self.H, proj_size=self.proj, **kw)
        return nr.GRU(self.I, self.H, **kw)

    def n_states(self) -> int:
        return 2 if self.cell == "lstm" else 1

    def arrays(self):
        """(x, states0, dout, dstates_n): the input in this case's layout, the initial
        states, and upstream gradients for the output and the final states."""
        r = np.random.default_rng(self.seed)
        L, D, T, N = self.layers, self.D, self.T, self.N
        lead = (T,) if self.unbatched else ((N, T) if self.batch_first else (T, N))
        state_lead = (L * D,) if self.unbatched else (L * D, N)
        x = lay_out(r.standard_normal((*lead, self.I)).astype(self.dtype), self.layout)
        sizes = (self.P, self.H)[: self.n_states()]
        states = tuple(0.5 * r.standard_normal((*state_lead, s)).astype(self.dtype) for s in sizes)
        dout = r.standard_normal((*lead, D * self.P)).astype(self.dtype)
        dstates = tuple(r.standard_normal((*state_lead, s)).astype(self.dtype) for s in sizes)
        return x, states, dout, dstates


def lay_out(a: np.ndarray, layout: str) -> np.ndarray:
    """The same values as ``a`` in another memory layout (a view where that is possible)."""
    if layout == "fortran":
        return np.asfortranarray(a)
    if layout == "strided":
        big = np.zeros((a.shape[0] * 2, *a.shape[1:-1], a.shape[-1] * 3), a.dtype)
        view = big[::2, ..., 1::3]
        view[...] = a
        return view
    if layout == "reversed":
        return np.ascontiguousarray(a[::-1])[::-1]
    return np.ascontiguousarray(a)


def _pack_state(case: Case, states: tuple):
    return states[0] if case.n_states() == 1 else states


def run(module, case: Case, x, states, dout, dstates, lengths=None):
    """Forward and backward; every result as a NumPy array in a dict."""
    out, finals = module(x, _pack_state(case, states), **({} if lengths is None else {"lengths": lengths}))
    finals = finals if isinstance(finals, tuple) else (finals,)
    dx, dstates0 = module.backward(dout, _pack_state(case, dstates))
    dstates0 = dstates0 if isinstance(dstates0, tuple) else (dstates0,)
    res = {"out": out, "dx": dx}
    res.update({f"final{i}": f for i, f in enumerate(finals)})
    res.update({f"dstate{i}": d for i, d in enumerate(dstates0)})
    res.update({f"grad {k}": g.copy() for k, g in module.grads.items()})
    return res


@st.composite
def cases(draw, dtypes=(np.float64, np.float32), lengths: bool = True, max_layers: int = 2) -> Case:
    cell = draw(st.sampled_from(CELLS))
    T, N, I, H = (draw(st.integers(1, 6)), draw(st.integers(1, 4)), draw(st.integers(1, 5)),
                  draw(st.integers(1, 6)))
    unbatched = draw(st.booleans())
    lens = None
    if lengths and not unbatched and draw(st.booleans()):
        lens = tuple(draw(st.lists(st.integers(1, T), min_size=N, max_size=N)))
    return Case(
        cell=cell, layers=draw(st.integers(1, max_layers)), bidirectional=draw(st.booleans()),
        batch_first=draw(st.booleans()), bias=draw(st.booleans()),
        proj=draw(st.integers(0, H - 1)) if cell == "lstm" and H > 1 else 0,
        dtype=draw(st.sampled_from(dtypes)), T=T, N=N, I=I, H=H, unbatched=unbatched, lengths=lens,
        layout=draw(st.sampled_from(LAYOUTS)), seed=draw(st.integers(0, 2**16)),
    )

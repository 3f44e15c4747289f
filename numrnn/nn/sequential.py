"""``Sequential`` and ``LastStep``: composing a recurrent network with its head.

A network is a chain, e.g. ids -> ``Embedding`` -> ``RNN`` -> ``Linear`` -> scores.
The forward pass runs the chain left to right, the backward pass runs it right to
left, each module turning dL/d(its output) into dL/d(its input)::

    y = f_k(... f_2(f_1(x)))            dx = f_1'(... f_k'(dy))

A recurrent child (RNN, LSTM, GRU) returns ``(out, h_n)``: ``Sequential`` passes
``out`` on and keeps ``h_n`` in :attr:`Sequential.state` (for stateful training,
where the next chunk starts from it); in backward that child gets ``dout`` and a zero
gradient for ``h_n``. Children are registered under "0", "1", ... so the parameters
read ``"1.weight_ih_l0"``, as in ``torch.nn.Sequential``.

``LastStep`` is the many-to-one selector: (T, N, F) -> (N, F), the output at each
sequence's last real step, so that a forecaster is
``Sequential(RNN(1, 64), LastStep(), Linear(64, 1))``.
"""

from __future__ import annotations

import numpy as np

from numrnn._checks import FLOAT_DTYPES, as_array, as_float_array, check_bool, check_lengths, check_shape
from numrnn.backend import get_array_module
from numrnn.errors import UsageTypeError, UsageValueError
from numrnn.nn.module import Module
from numrnn.nn.recurrent import Recurrent


def _is_recurrent(module) -> bool:
    return isinstance(module, Recurrent)


def _takes_lengths(module) -> bool:
    return _is_recurrent(module) or getattr(module, "takes_lengths", False)


class Sequential(Module):
    """Modules applied one after the other; ``backward`` runs them in reverse.

    ``y = seq(x, hx=None, lengths=None)``:

    * ``hx``: the initial state of the recurrent child (or a list, one entry per
      recurrent child, when there are several); ``None`` is zeros.
    * ``lengths``: (N,) real lengths, passed to every child that takes them
      (recurrent modules and ``LastStep``).

    After a forward, :attr:`state` holds the final state of the recurrent child (a
    list when there are several, ``None`` when there are none). ``backward(dy)``
    returns dL/dx (``None`` when the first module is an ``Embedding``) and leaves the
    gradient of the initial state(s) in :attr:`dhx`.
    """

    def __init__(self, *modules: Module):
        super().__init__()
        if not modules:
            raise UsageValueError("Sequential: give at least one module")
        for i, m in enumerate(modules):
            if not isinstance(m, Module):
                raise UsageTypeError(f"Sequential: argument {i} must be a numrnn Module; got "
                                     f"{type(m).__name__}")
            self._add_child(str(i), m)
        # the dtype of the first child that has parameters (Dropout and LastStep have none
        # and report the default float32 whatever they are given)
        self.dtype = next((m.dtype for m in modules if m.params), modules[0].dtype)
        self.state = None
        self.dhx = None

    @property
    def modules(self) -> tuple:
        """The children, in order."""
        return tuple(self._children.values())

    def __len__(self) -> int:
        return len(self._children)

    def __getitem__(self, i: int) -> Module:
        return self.modules[i]

    def __iter__(self):
        return iter(self.modules)

    def __repr__(self) -> str:
        lines = [f"  ({k}): {m!r}" for k, m in self._children.items()]
        return "Sequential(\n" + "\n".join(lines) + "\n)"

    def _recurrent(self) -> list:
        return [m for m in self.modules if _is_recurrent(m)]

    def _split_hx(self, hx) -> list:
        rec = self._recurrent()
        if hx is None:
            return [None] * len(rec)
        if not rec:
            raise UsageValueError("Sequential: hx given but there is no recurrent module to take it")
        if len(rec) == 1:
            return [hx]
        if not isinstance(hx, list) or len(hx) != len(rec):
            raise UsageTypeError(f"Sequential: with {len(rec)} recurrent modules hx must be a list of "
                                 f"{len(rec)} states; got {type(hx).__name__}")
        return list(hx)

    def forward(self, x, hx=None, lengths=None):
        """Run every module in order; returns the last module's output."""
        states0 = iter(self._split_hx(hx))
        states = []
        y = x
        for m in self.modules:
            kwargs = {"lengths": lengths} if lengths is not None and _takes_lengths(m) else {}
            if _is_recurrent(m):
                y, h_n = m(y, next(states0), **kwargs)
                states.append(h_n)
            else:
                y = m(y, **kwargs)
        self.state = None if not states else states[0] if len(states) == 1 else states
        return y

    def backward(self, dy):
        """dL/dy -> dL/dx, every module in reverse; parameter gradients are added."""
        if dy is None:
            raise UsageTypeError("Sequential.backward: dy must be the gradient of the output (an array); "
                                 "got None")
        dhx = []
        d = dy
        modules = self.modules
        for i in reversed(range(len(modules))):
            m = modules[i]
            if d is None:
                raise RuntimeError(f"Sequential: module {i} ({m!r}) needs a gradient but module {i + 1} "
                                   "returned none (an Embedding must come first)")
            if _is_recurrent(m):
                d, dh0 = m.backward(d)  # zero gradient for h_n: nothing above uses it
                dhx.append(dh0)
            else:
                d = m.backward(d)
        dhx.reverse()
        self.dhx = None if not dhx else dhx[0] if len(dhx) == 1 else dhx
        return d

    def astype(self, dtype) -> Sequential:
        super().astype(dtype)
        self.state = None
        return self


class LastStep(Module):
    """Many-to-one: the output at each sequence's last real step.

    ``y = LastStep()(out, lengths=None)``: ``out`` (T, N, F) (or (N, T, F) with
    ``batch_first=True``, or (T, F) for one unbatched sequence) -> ``y`` (N, F) (or (F,)).
    With ``lengths`` sequence n ends at step ``lengths[n] - 1``, as in
    ``out[lengths - 1, arange(N)]``; backward puts ``dy`` back at those steps and
    zeros everywhere else.

    For a bidirectional layer this takes the reverse direction's output at the last
    step too, where it has read only one element; use ``h_n`` for both final states.
    """

    takes_lengths = True

    def __init__(self, batch_first: bool = False):
        super().__init__()
        self.batch_first = check_bool(batch_first, "batch_first", "LastStep")
        self._cache = None

    def __repr__(self) -> str:
        return "LastStep(batch_first=True)" if self.batch_first else "LastStep()"

    def forward(self, x, lengths=None):
        """(T, N, F) -> (N, F): the output at step ``lengths - 1`` (or T - 1)."""
        x = as_array(x, "LastStep")
        xp = get_array_module(x)
        if x.dtype not in FLOAT_DTYPES:
            raise UsageTypeError(f"LastStep: input must be float32 or float64; got dtype {x.dtype}")
        if x.ndim not in (2, 3):
            raise UsageValueError(f"LastStep: input must be 3-D (T, N, F) ((N, T, F) with batch_first) or "
                                  f"2-D (T, F) unbatched; got shape {tuple(x.shape)}")
        if x.ndim == 2:
            if lengths is not None:
                raise UsageValueError("LastStep: lengths needs batched 3-D input; got one unbatched sequence")
            self._cache = (x.shape, x.dtype, None, None)
            return x[-1]
        seq = x.transpose(1, 0, 2) if self.batch_first else x  # (T, N, F)
        T, N, _ = seq.shape
        if lengths is None:
            last = np.full(N, T - 1)
        else:
            last = check_lengths(lengths, T, N, "LastStep") - 1
        self._cache = (x.shape, x.dtype, last, N)
        return seq[xp.asarray(last), xp.arange(N)]  # (N, F)

    def backward(self, dy):
        """dL/dy (N, F) -> dL/dx shaped like the input, nonzero only at the last steps."""
        shape, dtype, last, N = self._saved_cache()  # RuntimeError before a forward or after a backward
        dy = as_float_array(dy, "dy", "LastStep", dtype)
        xp = get_array_module(dy)
        expected = (shape[-1],) if last is None else (N, shape[-1])
        check_shape(dy, expected, "dy", "LastStep", "(the output's)")
        dx = xp.zeros(shape, dtype=dy.dtype)
        if last is None:
            dx[-1] = dy
        else:
            dseq = dx.transpose(1, 0, 2) if self.batch_first else dx  # a view of dx, (T, N, F)
            dseq[xp.asarray(last), xp.arange(N)] = dy
        self._used_cache()
        return dx

"""``nr.summary(model)``: a table of a model's layers, output shapes and parameter counts.

Like Keras's ``model.summary()``, for any numrnn module: a single layer (RNN, LSTM, GRU,
a cell, Linear) is one row; a module made of others (``Module._children``) gets a row
per leaf layer, named by its path (``encoder.lstm``). The table is printed and returned.

Without an example input the output shapes are written with the letters T (time steps)
and N (batch); with ``input=`` (a shape, or an array) a copy of the model runs one
forward pass in eval mode and the shapes are the real ones.

Counts follow PyTorch's convention, which numrnn stores: two bias vectors per gate
(``bias_ih`` and ``bias_hh``). For a 50-unit layer on 1 input feature:

    RNN   1 gate:   50*1 + 50*50 + 50 + 50           =  2,650   (Keras SimpleRNN: 2,600)
    LSTM  4 gates:  4 * (50*1 + 50*50 + 50 + 50)     = 10,600   (Keras LSTM:      10,400)
    GRU   3 gates:  3 * (50*1 + 50*50 + 50 + 50)     =  7,950   (Keras GRU:        7,950)

Keras's SimpleRNN and LSTM keep one bias vector, so they count G*H fewer; its GRU
(``reset_after=True``, the default) keeps two, like PyTorch. docs/lstm_gru.md has more.
"""

from __future__ import annotations

import copy

import numpy as np

from numrnn import training_memory
from numrnn.errors import UsageTypeError, UsageValueError
from numrnn.nn.cell import Cell
from numrnn.nn.embedding import Embedding
from numrnn.nn.module import Module
from numrnn.nn.recurrent import Recurrent


def _symbolic_output(m: Module) -> str:
    """The output shape of ``m`` in letters (T, N), or ``-`` when it is not known."""
    if isinstance(m, Recurrent):
        LD, P = m.num_layers * m.num_directions, m.output_size
        TN = "N, T" if m.batch_first else "T, N"
        sizes = m.cell.state_sizes(m.hidden_size, P)
        return f"out ({TN}, {m.num_directions * P}), " + ", ".join(
            f"{s}_n ({LD}, N, {size})" for s, size in zip(m.cell.states, sizes))
    if isinstance(m, Cell):
        return ", ".join(f"{s} (N, {m.hidden_size})" for s in m.cell.states)
    if hasattr(m, "out_features"):  # Linear and its kind
        return f"(..., {m.out_features})"
    return "-"


def _describe(m: Module) -> str:
    """``repr(m)`` when the class writes one (``LSTM(1, 50)``), else its class name."""
    r = repr(m)
    return type(m).__name__ if r.startswith("<") else r


def _shape_text(obj) -> str:
    """Shapes of a (nested) forward result: ``(5, 2, 50)`` or ``(5, 2, 50), ((1, 2, 50), ...)``."""
    if isinstance(obj, (tuple, list)):
        return "(" + ", ".join(_shape_text(o) for o in obj) + ")"
    shape = getattr(obj, "shape", None)
    return "scalar" if shape is None else str(tuple(int(s) for s in shape))


def _labelled_output(m: Module, result) -> str:
    """A forward result as text, with the names out/h_n/c_n for recurrent layers."""
    if isinstance(m, Recurrent):
        out, states = result
        states = states if isinstance(states, tuple) else (states,)
        parts = [f"out {_shape_text(out)}"] + [
            f"{lab}_n {_shape_text(s)}" for lab, s in zip(m.cell.states, states)
        ]
        return ", ".join(parts)
    if isinstance(m, Cell):
        states = result if isinstance(result, tuple) else (result,)
        return ", ".join(f"{lab} {_shape_text(s)}" for lab, s in zip(m.cell.states, states))
    text = _shape_text(result)
    return text[1:-1] if isinstance(result, tuple) and len(result) == 1 else text


def _leaves(m: Module, prefix: str = ""):
    """(path, module) for every row of the table: leaf layers, and containers with own parameters."""
    if not m._children:
        yield prefix, m
        return
    if m._params:
        yield (prefix or "(own)"), m
    for name, child in m._children.items():
        yield from _leaves(child, f"{prefix}.{name}" if prefix else name)


def _own_count(m: Module) -> int:
    return int(sum(p.size for p in m._params.values()))


def _keras_count(m: Module) -> int | None:
    """The count Keras would show for the same layer, when it differs (None otherwise).

    Keras's SimpleRNN and LSTM have one bias vector per gate, so they count G*H fewer
    parameters per layer and direction than PyTorch; its GRU keeps two (the cell's
    ``KerasLayout.two_biases``).
    """
    keras = getattr(getattr(m, "cell", None), "keras", None)
    if not isinstance(m, (Recurrent, Cell)) or not m.bias or keras is None or keras.two_biases:
        return None
    copies = m.num_layers * m.num_directions if isinstance(m, Recurrent) else 1
    return _own_count(m) - m.cell.gates * m.hidden_size * copies


def _default_input_dtype(model: Module) -> np.dtype:
    """``np.int64`` (token ids) when the first layer is an ``Embedding``, else the model's dtype."""
    first = model
    while first._children:
        first = next(iter(first._children.values()))
    return np.dtype(np.int64) if isinstance(first, Embedding) else model.dtype


def _record_outputs(model: Module, example) -> tuple:
    """Run a copy of ``model`` on ``example`` in eval mode.

    Returns the copy, and a dict: id of each module in it -> the result of its first forward.
    """
    twin = copy.deepcopy(model)
    twin.eval()
    seen: dict = {}

    def wrap(mod):
        forward = mod.forward

        def recording(*args, **kwargs):
            result = forward(*args, **kwargs)
            seen.setdefault(id(mod), result)
            return result

        mod.forward = recording  # an instance attribute: shadows the class's method

    for mod in twin._walk():
        wrap(mod)
    twin(example)
    return twin, seen


def summary(model: Module, input=None, *, input_dtype=None, training: bool = False, print_fn=print) -> str:
    """Print and return a table of ``model``'s layers, output shapes and parameter counts.

    Parameters
    ----------
    model : any numrnn module (a layer, or a module with children).
    input : optional example input: a shape (zeros of ``input_dtype`` are used) or an
        array. A tuple or list whose entries are all integers is always read as a shape:
        ``input=[1, 2, 3]`` means zeros of shape (1, 2, 3), not the ids 1, 2, 3; pass
        ``np.array([1, 2, 3])`` for those. A copy of the model runs one forward on it, in eval mode, so the
        output shapes are concrete; without it they are written with T and N.
    input_dtype : dtype of the zeros made from a shape (default the model's dtype;
        ``np.int64`` for a model that starts with an ``Embedding``).
    training : also run one training step on a copy (needs ``input``) and report the memory
        its forward keeps for the backward, with full storage and with recomputation
        (numrnn/training_memory.py).
    print_fn : called with the table (``None`` to only return it).

    Returns
    -------
    The table as a string.
    """
    if not isinstance(model, Module):
        raise UsageTypeError(f"summary expects a numrnn Module; got {type(model).__name__}")
    if training and input is None:
        raise UsageValueError("summary(training=True) runs a training step: pass input= "
                              "(a shape or an array)")
    rows_of = list(_leaves(model))
    outputs = {}
    if input is not None:
        example = input
        if isinstance(input, (tuple, list)) and all(isinstance(s, (int, np.integer)) for s in input):
            if any(isinstance(s, (bool, np.bool_)) or s < 0 for s in input):
                raise UsageValueError(f"summary: an input shape must hold sizes >= 0; got {tuple(input)}")
            dtype = _default_input_dtype(model) if input_dtype is None else input_dtype
            example = np.zeros(tuple(input), dtype=dtype)
        twin, seen = _record_outputs(model, example)
        twin_rows = dict(_leaves(twin))
        for path, _ in rows_of:
            t = twin_rows[path]
            if id(t) in seen:
                outputs[path] = _labelled_output(t, seen[id(t)])
    rows = [("Layer", "Output shape", "Param #")]
    keras_total, keras_differs = 0, False
    recurrent = [m for _, m in rows_of if isinstance(m, (Recurrent, Cell))]
    projected = any(getattr(m, "proj_size", 0) for m in recurrent)  # Keras has no projection
    for path, m in rows_of:
        label = f"{path}: {_describe(m)}" if path and path != "(own)" else (path or _describe(m))
        own = _own_count(m)
        rows.append((label, outputs.get(path, _symbolic_output(m) if path != "(own)" else "-"), f"{own:,}"))
        k = _keras_count(m)
        keras_differs |= k is not None
        keras_total += own if k is None else k
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    rule = "=" * (sum(widths) + 4)

    def line(r):
        return f"{r[0].ljust(widths[0])}  {r[1].ljust(widths[1])}  {r[2].rjust(widths[2])}"

    total = model.num_parameters()
    nbytes = sum(p.nbytes for p in model.params.values())
    out = [f"Model: {type(model).__name__}", rule, line(rows[0]), rule]
    out += [line(r) for r in rows[1:]]
    out += [rule, f"Total params: {total:,} ({nbytes / 1024:.1f} KiB as {model.dtype.name})"]
    if recurrent:
        out.append("Counted as PyTorch does: two bias vectors per gate (bias_ih and bias_hh).")
    if keras_differs and not projected:
        out.append(f"Keras would show {keras_total:,}: its SimpleRNN and LSTM keep one bias vector per gate.")
    if input is None and any(_symbolic_output(m) != "-" for _, m in rows_of):
        out.append("Output shapes: T time steps, N batch; pass input= for concrete shapes.")
    if training:
        out += training_memory.describe(model, example)
    text = "\n".join(out)
    if print_fn is not None:
        print_fn(text)
    return text

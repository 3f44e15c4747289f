"""Golden values: the forward exercises' inputs and the reference's outputs, shipped in
``golden.npz`` so that a student's forward is graded without PyTorch.

    python -m numrnn.exercises.golden        # (or make golden) rewrites golden.npz

The file holds plain arrays (loaded with ``allow_pickle=False``: loading it runs no
code) and one JSON string, ``__meta__``, that describes each case: for every
positional argument an array key, ``None``, or a plain value (``"tanh"``), and the
keys of the outputs. ``tests/exercises/test_golden.py`` rebuilds the file from the
reference and checks that the shipped one still equals it, so it cannot go stale.
"""

from __future__ import annotations

import importlib
import io
import json
from pathlib import Path

import numpy as np

from numrnn.atomic import atomic_write
from numrnn.errors import UsageValueError
from numrnn.exercises.catalog import EXERCISES, FILES

PATH = Path(__file__).with_name("golden.npz")


def reference(exercise):
    """The library's own function for ``exercise`` (what golden values are made from)."""
    return getattr(importlib.import_module(FILES[exercise.file]), exercise.name)


def _encode(value, key: str, arrays: dict):
    if value is None:
        return {"none": True}
    if isinstance(value, np.ndarray):
        arrays[key] = value
        return {"array": key}
    if isinstance(value, (str, int, float, bool)):
        return {"value": value}
    raise UsageValueError(f"golden: cannot store {type(value).__name__} at {key}")


def outputs_of(exercise, result) -> tuple:
    """The compared outputs of a forward's ``result`` (the cache left out)."""
    if not exercise.returns_cache:
        return (result,)
    return tuple(result[:-1])


def build() -> tuple:
    """``(arrays, meta)``: every forward case run through the reference."""
    arrays, meta = {}, {}
    for ex in EXERCISES:
        if ex.kind != "forward":
            continue
        fn = reference(ex)
        cases = []
        for k, case in enumerate(ex.cases):
            args, kwargs = case.inputs()
            prefix = f"{ex.name}/{k}"
            spec = {"label": case.label,
                    "args": [_encode(a, f"{prefix}/arg{j}", arrays) for j, a in enumerate(args)],
                    "kwargs": {n: _encode(v, f"{prefix}/kw/{n}", arrays) for n, v in kwargs.items()},
                    "outputs": {}}
            for name, out in zip(ex.outputs, outputs_of(ex, fn(*args, **kwargs))):
                key = f"{prefix}/out/{name}"
                arrays[key] = np.asarray(out, dtype=np.float64)
                spec["outputs"][name] = key
            cases.append(spec)
        meta[ex.name] = cases
    return arrays, meta


def write(path=PATH) -> Path:
    """Build the golden values and write them to ``path`` atomically."""
    arrays, meta = build()
    buffer = io.BytesIO()
    np.savez(buffer, __meta__=np.array(json.dumps(meta, sort_keys=True)), **arrays)
    atomic_write(path, lambda f: f.write(buffer.getvalue()))
    return Path(path)


def load(path=PATH) -> tuple:
    """``(arrays, meta)`` from ``path``, as :func:`build` returns them."""
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files if k != "__meta__"}
        meta = json.loads(str(data["__meta__"]))
    return arrays, meta


def _decode(spec, arrays):
    if "none" in spec:
        return None
    if "array" in spec:
        return arrays[spec["array"]].copy()
    return spec["value"]


def cases(name: str, golden=None) -> list:
    """``[(label, args, kwargs, {output name: expected array})]`` of one forward exercise."""
    arrays, meta = golden if golden is not None else load()
    out = []
    for spec in meta[name]:
        args = tuple(_decode(a, arrays) for a in spec["args"])
        kwargs = {n: _decode(v, arrays) for n, v in spec["kwargs"].items()}
        expected = {n: arrays[k] for n, k in spec["outputs"].items()}
        out.append((spec["label"], args, kwargs, expected))
    return out


if __name__ == "__main__":
    print(f"wrote {write()}")

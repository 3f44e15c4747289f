"""Checkpoints: a model's weights and the recipe to rebuild it, in one ``.npz`` file.

A checkpoint holds

* ``param/<name>``: every parameter, under the names of ``model.params``;
* ``__meta__``: JSON (stored as bytes, so loading needs no pickle) with the format
  tag, the model's *config* (class and constructor arguments, children of a
  ``Sequential`` recursively) and any ``extra`` values given to :func:`save`
  (optimizer state, step counter, RNG states...); arrays inside ``extra`` are stored
  as ``extra/<i>`` entries and referenced from the JSON.

The config is recovered generically: for each argument of the class's ``__init__``
the module must keep an attribute of the same name (``RNN(4, 8)`` keeps
``input_size`` and ``hidden_size``); arguments without one, such as ``seed``, keep
their defaults. Writes are atomic: the file is written to a temporary file in the
same directory, flushed to disk (fsync) and renamed over the target with
``os.replace``, so a crash leaves the old checkpoint or the new one, never half of
one (a crash can leave a ``.<name>.*.tmp`` file behind, never a broken target).
"""

from __future__ import annotations

import importlib
import inspect
import io
import json
import os
import zipfile
from typing import NamedTuple

import numpy as np

from numrnn.atomic import atomic_write
from numrnn.backend import is_cupy_array
from numrnn.errors import UsageTypeError, UsageValueError
from numrnn.nn.module import Module

FORMAT = "numrnn-checkpoint/1"
# constructor arguments that do not change the architecture: a file saved with
# another backend or dtype loads into a model all the same (weights are cast)
_NOT_ARCHITECTURE = ("backend", "dtype", "seed")


class Checkpoint(NamedTuple):
    """What :func:`load_checkpoint` returns."""

    model: Module
    extra: dict  # the ``**extra`` given to save, arrays restored
    config: dict  # the model's config, as stored


# -- config: class name + constructor arguments ------------------------------------------
def _encode_arg(value, where: str):
    if isinstance(value, Module):
        return {"__module__": module_config(value)}
    if isinstance(value, np.dtype) or (isinstance(value, type) and issubclass(value, np.generic)):
        return {"__dtype__": np.dtype(value).name}
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [_encode_arg(v, where) for v in value]
    raise UsageTypeError(f"save: cannot record {where} of type {type(value).__name__} in the config")


def _decode_arg(value):
    if isinstance(value, dict) and "__module__" in value:
        return build_module(value["__module__"])
    if isinstance(value, dict) and "__dtype__" in value:
        return np.dtype(value["__dtype__"])
    if isinstance(value, list):
        return [_decode_arg(v) for v in value]
    return value


def module_config(module: Module) -> dict:
    """``{"class", "module", "args", "varargs"}``: how to rebuild ``module``.

    Each argument of ``type(module).__init__`` is read from the attribute of the same
    name (``*modules`` of ``Sequential`` from its ``modules`` property).
    """
    cls = type(module)
    args, varargs = {}, []
    for name, p in list(inspect.signature(cls.__init__).parameters.items())[1:]:
        if p.kind is p.VAR_KEYWORD:
            continue
        if not hasattr(module, name):
            if p.kind is p.VAR_POSITIONAL or p.default is not p.empty:
                continue  # e.g. seed: the default is fine, the weights are loaded anyway
            raise UsageValueError(f"save: cannot record the config of {cls.__name__}: its __init__ takes "
                                  f"'{name}' but the module has no attribute of that name")
        value = getattr(module, name)
        if p.kind is p.VAR_POSITIONAL:
            varargs = [_encode_arg(v, f"{cls.__name__}.{name}") for v in value]
        else:
            args[name] = _encode_arg(value, f"{cls.__name__}.{name}")
    return {"class": cls.__name__, "module": cls.__module__, "args": args, "varargs": varargs}


def build_module(config: dict) -> Module:
    """A new module from :func:`module_config`'s dict (fresh weights)."""
    try:
        cls = getattr(importlib.import_module(config["module"]), config["class"])
    except (ImportError, AttributeError, KeyError, TypeError) as exc:
        raise UsageValueError(f"load: cannot find the model class in config {config!r:.200}: {exc}") from exc
    if not (isinstance(cls, type) and issubclass(cls, Module)):
        raise UsageValueError(f"load: {config['module']}.{config['class']} is not a numrnn Module")
    args = {k: _decode_arg(v) for k, v in config.get("args", {}).items()}
    return cls(*[_decode_arg(v) for v in config.get("varargs", [])], **args)


def _config_differences(stored: dict, current: dict, path: str = "") -> list:
    """Readable differences between two configs, ignoring backend, dtype and seed."""
    out = []
    here = path or "model"
    if stored.get("class") != current.get("class"):
        return [f"{here}: file has {stored.get('class')}, model is {current.get('class')}"]
    sa, ca = stored.get("args", {}), current.get("args", {})
    for k in sorted(set(sa) | set(ca)):
        if k in _NOT_ARCHITECTURE or sa.get(k) == ca.get(k):
            continue
        a, b = sa.get(k), ca.get(k)
        if isinstance(a, dict) and isinstance(b, dict) and "__module__" in a and "__module__" in b:
            out += _config_differences(a["__module__"], b["__module__"], f"{here}.{k}")
        else:
            out.append(f"{here}.{k}: file has {a!r}, model has {b!r}")
    sv, cv = stored.get("varargs", []), current.get("varargs", [])
    if len(sv) != len(cv):
        out.append(f"{here}: file has {len(sv)} modules, model has {len(cv)}")
    else:
        for i, (a, b) in enumerate(zip(sv, cv)):
            if isinstance(a, dict) and isinstance(b, dict) and "__module__" in a and "__module__" in b:
                out += _config_differences(a["__module__"], b["__module__"], f"{here}[{i}]")
            elif a != b:
                out.append(f"{here}[{i}]: file has {a!r}, model has {b!r}")
    return out


# -- extra values: JSON with array references ---------------------------------------------
def _pack(obj, arrays: dict, where: str):
    if hasattr(obj, "state_dict") and callable(obj.state_dict):  # an optimizer, a module
        obj = obj.state_dict()
    if isinstance(obj, dict):
        bad = [k for k in obj if not isinstance(k, str)]
        if bad:
            raise UsageTypeError(f"save: keys of {where} must be strings; got {bad[:3]}")
        return {k: _pack(v, arrays, f"{where}.{k}") for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_pack(v, arrays, f"{where}[{i}]") for i, v in enumerate(obj)]
    if is_cupy_array(obj):
        obj = obj.get()
    if isinstance(obj, np.ndarray):
        key = f"extra/{len(arrays)}"
        arrays[key] = obj
        return {"__array__": key}
    if isinstance(obj, np.generic):
        return obj.item()
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise UsageTypeError(f"save: cannot store {where} of type {type(obj).__name__} "
                         "(use arrays, numbers, strings, lists and dicts)")


def _unpack(obj, arrays: dict):
    if isinstance(obj, dict):
        if set(obj) == {"__array__"}:
            return arrays[obj["__array__"]]
        return {k: _unpack(v, arrays) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_unpack(v, arrays) for v in obj]
    return obj


# -- RNG states -------------------------------------------------------------------------------
def rng_states(model: Module) -> dict:
    """The state of every module's random generator (dropout masks, init), by path."""
    out = {}

    def walk(m, path):
        if isinstance(getattr(m, "rng", None), np.random.Generator):
            out[path or "."] = m.rng.bit_generator.state
        for name, child in m._children.items():
            walk(child, f"{path}.{name}" if path else name)

    walk(model, "")
    return out


def set_rng_states(model: Module, states: dict) -> None:
    """Restore what :func:`rng_states` returned, so random draws continue identically."""
    def walk(m, path):
        key = path or "."
        if key in states:
            m.rng.bit_generator.state = states[key]
        for name, child in m._children.items():
            walk(child, f"{path}.{name}" if path else name)

    walk(model, "")


# -- writing and reading ------------------------------------------------------------------------


def save(model: Module, path, **extra) -> str:
    """Write ``model``'s parameters, its config and ``extra`` to ``path`` (.npz), atomically.

    Parameters
    ----------
    model : any numrnn module (a ``Sequential`` is stored with all its children).
    path : the file to write (``.npz`` by convention; the name is kept as given).
    **extra : values to keep beside the model: arrays, numbers, strings, lists and
        dicts of them, or objects with ``state_dict()`` (an optimizer).

    Returns
    -------
    The path written.
    """
    if not isinstance(model, Module):
        raise UsageTypeError(f"save: model must be a numrnn Module; got {type(model).__name__}")
    arrays = {}
    packed_extra = _pack(extra, arrays, "extra")
    params = model.state_dict()
    for k, v in params.items():
        arrays[f"param/{k}"] = v
    meta = {"format": FORMAT, "config": module_config(model), "params": list(params),
            "extra": packed_extra}
    arrays["__meta__"] = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
    atomic_write(path, lambda f: np.savez(f, **arrays))
    return os.fspath(path)


def _read(path) -> tuple:
    """(meta, arrays) of a checkpoint file, or a ValueError naming what is wrong."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"load: no checkpoint at {path}")
    try:
        with open(path, "rb") as f:
            data = f.read()
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            if "__meta__" not in z.files:
                raise UsageValueError("it has no __meta__ entry (not written by numrnn.save)")
            meta = json.loads(bytes(z["__meta__"]).decode("utf-8"))
            arrays = {k: z[k] for k in z.files if k != "__meta__"}
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, UnicodeDecodeError, KeyError) as exc:
        raise UsageValueError(f"load: {path} is not a readable numrnn checkpoint (corrupt or truncated?): "
                              f"{exc}") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else None
        raise UsageValueError(f"load: {path} has format {found!r}; expected {FORMAT!r}")
    absent = [k for k in ("params", "config", "extra") if k not in meta]
    if absent:
        raise UsageValueError(f"load: {path} is not a complete numrnn checkpoint: its __meta__ "
                              f"lacks {absent}")
    if not isinstance(meta["params"], list) or not isinstance(meta["config"], dict):
        raise UsageValueError(f"load: {path} has a damaged __meta__: params must be a list of names and "
                              "config a dict")
    missing = [k for k in meta["params"] if f"param/{k}" not in arrays]
    if missing:
        raise UsageValueError(f"load: {path} is missing parameter arrays {missing}")
    return meta, arrays


def load_checkpoint(path, model: Module | None = None) -> Checkpoint:
    """Read a checkpoint: the model (rebuilt, or ``model`` filled in place) and the extras.

    With ``model`` given, its config must match the file's (backend, dtype and seed
    aside): otherwise a ValueError lists every difference and nothing is changed.
    """
    meta, arrays = _read(path)
    config = meta["config"]
    if model is None:
        model = build_module(config)
    else:
        diffs = _config_differences(config, module_config(model))
        if diffs:
            raise UsageValueError(f"load: {os.fspath(path)} holds another model: " + "; ".join(diffs))
    model.load_state_dict({k: arrays[f"param/{k}"] for k in meta["params"]})
    return Checkpoint(model, _unpack(meta["extra"], arrays), config)


def load(path, model: Module | None = None) -> Module:
    """The model stored at ``path`` (see :func:`load_checkpoint`)."""
    return load_checkpoint(path, model).model


__all__ = ["Checkpoint", "atomic_write", "build_module", "load", "load_checkpoint", "module_config",
           "rng_states", "save", "set_rng_states"]

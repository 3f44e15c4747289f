"""Checkpoints: a model's weights and the recipe to rebuild it, in one ``.npz`` file.

A checkpoint holds

* ``param/<name>``: every parameter, under the names of ``model.params``;
* ``__meta__``: JSON (stored as bytes, so loading needs no pickle) with the format
  tag, the model's *config* (class and constructor arguments, children of a
  ``Sequential`` recursively) and any ``extra`` values given to :func:`save`
  (optimizer state, step counter, RNG states...); arrays inside ``extra`` are stored
  as ``extra/<i>`` entries and referenced from the JSON as ``{"__array__": "extra/<i>"}``.
  A dict of the user's own that has a key of that form (``"__array__"``,
  ``"__dict__"``) is stored wrapped as ``{"__dict__": {...}}``, so a user value never
  reads back as an internal reference.

The config is recovered generically: for each argument of the class's ``__init__``
the module must keep an attribute of the same name (``RNN(4, 8)`` keeps
``input_size`` and ``hidden_size``); arguments without one, such as ``seed``, keep
their defaults. Writes are atomic: the file is written to a temporary file in the
same directory, flushed to disk (fsync) and renamed over the target with
``os.replace``, so a crash leaves the old checkpoint or the new one, never half of
one (a crash can leave a ``.<name>.*.tmp`` file behind, never a broken target).

Loading treats the file as untrusted
-----------------------------------
* **No code runs.** Nothing is unpickled, and classes are looked up by name in an
  explicit registry: numrnn's own modules, plus the classes given as ``classes=``.
  The module path stored in the file is never imported; a class numrnn does not
  know is an error that says how to pass it. A ``Recurrent`` (or ``Cell``) stores its
  cell by name (``{"__cell__": "mgu"}``): ``load`` finds it among the cells registered
  with ``nr.register_cell(spec)`` or given in ``classes=``, and otherwise says so
  (``nr.load(path, model)`` loads into a model built by hand, with no lookup).
* **Sizes are checked before anything is allocated.** The file's size and every
  array's size as declared in its ``.npy`` header are checked against the
  allocation guard (:mod:`numrnn.memory`) before a byte of them is read, and each
  header against the bytes actually stored. The model is then built under a budget
  of what the stored parameters hold, so a config that asks for more (a 1 KB file
  saying ``hidden_size=10**9``) is refused before its weights are allocated.
* **One error type.** Whatever the damage (not a zip, a plain ``.npy``, truncated,
  bad JSON, nesting too deep, a wrong type or size in the config, arrays missing
  or misshaped), ``load`` raises :class:`numrnn.errors.CheckpointError` (a
  ``ValueError``) naming the file and the reason; a size beyond the bound is a
  :class:`numrnn.errors.CheckpointSizeError`, also a ``MemoryError``. Only a file
  that cannot be opened at all keeps its ``OSError`` (``FileNotFoundError``, ...).
"""

from __future__ import annotations

import inspect
import io
import json
import math
import os
import zipfile
from typing import NamedTuple

import numpy as np

from numrnn import nn
from numrnn.atomic import atomic_write
from numrnn.backend import is_cupy_array
from numrnn.cells import CellSpec, get_cell
from numrnn.errors import CheckpointError, CheckpointSizeError, SizeError, UsageTypeError, UsageValueError
from numrnn.memory import allocation_budget, check_allocation, format_bytes
from numrnn.nn.module import Module

FORMAT = "numrnn-checkpoint/2"
#: Formats :func:`load` reads. Version 1 stored a user's dict with an ``"__array__"``
#: key unescaped (it read back as an array); version 2 wraps such dicts.
READABLE_FORMATS = ("numrnn-checkpoint/1", FORMAT)
# constructor arguments that do not change the architecture: a file saved with
# another backend, dtype or recompute setting loads into a model all the same (weights
# are cast; recompute trades memory for time and keeps every gradient)
_NOT_ARCHITECTURE = ("backend", "dtype", "seed", "recompute")
# keys of the JSON that mean something to numrnn: a user's dict with one of them is wrapped
_RESERVED = ("__array__", "__dict__")
#: Deepest nesting of lists and dicts accepted in ``__meta__`` (a Sequential of
#: Sequentials, an optimizer state...); deeper is a damaged or crafted file.
MAX_DEPTH = 64
#: Most entries (arrays) in one checkpoint file.
MAX_ENTRIES = 100_000


class Checkpoint(NamedTuple):
    """What :func:`load_checkpoint` returns."""

    model: Module
    extra: dict  # the ``**extra`` given to save, arrays restored
    config: dict  # the model's config, as stored


# -- the registry: which classes a file may name ------------------------------------------
def numrnn_classes() -> dict:
    """Name -> class of every module numrnn itself defines that a checkpoint may hold."""
    return {cls.__name__: cls for cls in (
        nn.RNN, nn.LSTM, nn.GRU, nn.RNNCell, nn.LSTMCell, nn.GRUCell, nn.Recurrent, nn.Cell,
        nn.Linear, nn.Embedding, nn.Dropout, nn.Sequential, nn.LastStep,
    )}


class _Known(NamedTuple):
    """What ``classes=`` adds to numrnn's own modules and the registered cells, by name."""

    classes: dict  # name -> Module subclass
    cells: dict  # name -> CellSpec


_CLASSES_KINDS = "a list of Module classes and CellSpecs, or a dict name -> class"


def _known(classes) -> _Known:
    """``classes=`` of :func:`load`: a dict name -> class, or an iterable of Module classes
    and CellSpecs (a cell given here need not be registered)."""
    if classes is None:
        return _Known({}, {})
    if isinstance(classes, dict):
        items = list(classes.items())
    elif isinstance(classes, (type, str, bytes, CellSpec)):
        raise UsageTypeError(f"load: classes must be {_CLASSES_KINDS}; got {classes!r:.60}")
    else:
        try:
            items = [(c.name if isinstance(c, CellSpec) else getattr(c, "__name__", None), c)
                     for c in classes]
        except TypeError as exc:
            raise UsageTypeError(f"load: classes must be {_CLASSES_KINDS}; got "
                                 f"{type(classes).__name__}") from exc
    known = _Known({}, {})
    for name, c in items:
        if isinstance(c, CellSpec) and isinstance(name, str):
            known.cells[name] = c
        elif isinstance(c, type) and issubclass(c, Module) and isinstance(name, str):
            known.classes[name] = c
        else:
            raise UsageTypeError(f"load: classes must hold numrnn Module classes and CellSpecs; got "
                                 f"{c!r:.60}")
    return known


def _find_class(config: dict, known: _Known, where: str):
    """The class a config names: numrnn's own when the file says it is numrnn's, else one of
    ``classes=`` by name. Nothing is imported."""
    name, module = config["class"], config["module"]
    own = numrnn_classes()
    if name in own and (module == "numrnn" or module.startswith("numrnn.")):
        return own[name]
    if name in known.classes:
        return known.classes[name]
    raise CheckpointError(f"{where} is a {module}.{name}, which is not a numrnn module: pass the class "
                          f"to load(..., classes=[{name}]) (numrnn never imports a module named by a file)")


def _find_cell(name: str, known: _Known, where: str) -> CellSpec:
    """The cell a config names: one given in ``classes=``, else the registered one."""
    if name in known.cells:
        return known.cells[name]
    try:
        return get_cell(name)
    except UsageValueError as exc:
        raise CheckpointError(
            f"{where}: the model runs the cell {name!r}, which is not registered: call "
            f"nr.register_cell(spec) (or pass the spec in classes=[spec]) before loading, or build "
            f"the model yourself and load into it with nr.load(path, model)") from exc


# -- config: class name + constructor arguments ------------------------------------------
def _encode_arg(value, where: str):
    if isinstance(value, Module):
        return {"__module__": module_config(value)}
    if isinstance(value, CellSpec):  # stored by name; load finds it in the registry
        return {"__cell__": value.name}
    if isinstance(value, dict):  # a cell's options
        bad = [k for k in value if not isinstance(k, str)]
        if bad:
            raise UsageTypeError(f"save: cannot record {where}: its keys must be strings; got {bad[:3]}")
        return {"__dict__": {k: _encode_arg(v, f"{where}.{k}") for k, v in value.items()}}
    if isinstance(value, np.dtype) or (isinstance(value, type) and issubclass(value, np.generic)):
        return {"__dtype__": np.dtype(value).name}
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [_encode_arg(v, where) for v in value]
    raise UsageTypeError(f"save: cannot record {where} of type {type(value).__name__} in the config")


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


_DTYPES = ("float32", "float64")


def _short(where: str) -> str:
    """A path into the config or the extras, cut to a readable length."""
    return where if len(where) <= 60 else f"{where[:40]}...{where[-15:]}"


def _check_config(config, where: str, depth: int = 0) -> None:
    """CheckpointError unless ``config`` has the shape :func:`module_config` gives, with
    JSON values only where an argument may hold one."""
    if depth > MAX_DEPTH:
        raise CheckpointError(f"{_short(where)}: the config is nested deeper than {MAX_DEPTH} levels")
    if not isinstance(config, dict):
        raise CheckpointError(f"{where}: a module's config must be a JSON object; got "
                              f"{type(config).__name__}")
    unknown = sorted(set(config) - {"class", "module", "args", "varargs"})
    if unknown or not isinstance(config.get("class"), str) or not isinstance(config.get("module"), str):
        raise CheckpointError(f"{where}: a module's config must hold the strings 'class' and 'module' (and "
                              f"'args', 'varargs'); got keys {sorted(config)[:8]}")
    if not config["class"].isidentifier():
        raise CheckpointError(f"{where}: class {config['class']!r:.60} is not a class name")
    args, varargs = config.get("args", {}), config.get("varargs", [])
    if not isinstance(args, dict) or not isinstance(varargs, list):
        raise CheckpointError(f"{where}: 'args' must be an object and 'varargs' a list")
    for name, value in args.items():
        if not name.isidentifier():
            raise CheckpointError(f"{where}: argument name {name!r:.60} is not an identifier")
        _check_arg(value, f"{where}.{name}", depth + 1)
    for i, value in enumerate(varargs):
        _check_arg(value, f"{where}[{i}]", depth + 1)


def _check_arg(value, where: str, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise CheckpointError(f"{_short(where)}: the config is nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 2**63:
        raise CheckpointError(f"{where}: the integer {str(value)[:20]}... ({len(str(value))} digits) is no "
                              "size or count of any model")
    if value is None or isinstance(value, (bool, int, float, str)):
        return
    if isinstance(value, list):
        for i, v in enumerate(value):
            _check_arg(v, f"{where}[{i}]", depth + 1)
        return
    if isinstance(value, dict) and set(value) == {"__module__"}:
        _check_config(value["__module__"], where, depth + 1)
        return
    if isinstance(value, dict) and set(value) == {"__dtype__"}:
        if value["__dtype__"] not in _DTYPES:
            raise CheckpointError(f"{where}: dtype must be one of {_DTYPES}; got {value['__dtype__']!r:.40}")
        return
    if isinstance(value, dict) and set(value) == {"__cell__"}:
        if not (isinstance(value["__cell__"], str) and value["__cell__"].isidentifier()):
            raise CheckpointError(f"{where}: a cell is stored by its name; got {value['__cell__']!r:.40}")
        return
    if isinstance(value, dict) and set(value) == {"__dict__"} and isinstance(value["__dict__"], dict):
        for k, v in value["__dict__"].items():
            _check_arg(v, f"{where}.{k}", depth + 1)
        return
    raise CheckpointError(f"{where}: a config argument must be a number, string, list, dict, dtype, cell "
                          f"or module; got {json.dumps(value)[:80]}")


def _decode_arg(value, known: _Known, where: str):
    if isinstance(value, dict) and "__module__" in value:
        return _build(value["__module__"], known, where)
    if isinstance(value, dict) and "__dtype__" in value:
        return np.dtype(value["__dtype__"])
    if isinstance(value, dict) and "__cell__" in value:
        return _find_cell(value["__cell__"], known, where)
    if isinstance(value, dict) and "__dict__" in value:
        return {k: _decode_arg(v, known, f"{where}.{k}") for k, v in value["__dict__"].items()}
    if isinstance(value, list):
        return [_decode_arg(v, known, f"{where}[{i}]") for i, v in enumerate(value)]
    return value


def _build(config: dict, known: _Known, where: str) -> Module:
    """The module of a checked config; any failure is a CheckpointError naming ``where``."""
    cls = _find_class(config, known, where)
    args = {k: _decode_arg(v, known, f"{where}.{k}") for k, v in config.get("args", {}).items()}
    varargs = [_decode_arg(v, known, f"{where}[{i}]") for i, v in enumerate(config.get("varargs", []))]
    try:
        inspect.signature(cls).bind(*varargs, **args)
    except TypeError as exc:
        raise CheckpointError(f"{where}: the stored arguments do not fit {cls.__name__}: {exc}") from exc
    try:
        return cls(*varargs, **args)
    except SizeError as exc:
        raise CheckpointSizeError(f"{where}: {exc}") from exc
    except CheckpointError:
        raise
    except Exception as exc:  # the constructor refused a damaged argument, in whatever way
        raise CheckpointError(f"{where}: {cls.__name__} refused the stored arguments: "
                              f"{type(exc).__name__}: {exc}") from exc


def build_module(config: dict, classes=None) -> Module:
    """A new module from :func:`module_config`'s dict (fresh weights).

    Classes are found by name among numrnn's own and ``classes`` (a list of Module
    classes and CellSpecs, or a dict name -> class), cells in ``classes`` and the
    registry (:func:`numrnn.register_cell`); nothing is imported. A bad config is a
    :class:`~numrnn.errors.CheckpointError`.
    """
    _check_config(config, "config")
    return _build(config, _known(classes), "model")


def _config_differences(stored: dict, current: dict, path: str = "") -> list:
    """Readable differences between two configs, ignoring the settings of ``_NOT_ARCHITECTURE``."""
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
def _pack(obj, arrays: dict, where: str, depth: int = 0):
    if depth > MAX_DEPTH:
        raise UsageValueError(f"save: {_short(where)} is nested deeper than {MAX_DEPTH} levels")
    if hasattr(obj, "state_dict") and callable(obj.state_dict):  # an optimizer, a module
        obj = obj.state_dict()
    if isinstance(obj, dict):
        bad = [k for k in obj if not isinstance(k, str)]
        if bad:
            raise UsageTypeError(f"save: keys of {where} must be strings; got {bad[:3]}")
        packed = {k: _pack(v, arrays, f"{where}.{k}", depth + 1) for k, v in obj.items()}
        return {"__dict__": packed} if any(k in _RESERVED for k in obj) else packed
    if isinstance(obj, (list, tuple)):
        return [_pack(v, arrays, f"{where}[{i}]", depth + 1) for i, v in enumerate(obj)]
    if is_cupy_array(obj):
        obj = obj.get()
    if isinstance(obj, np.ndarray):
        if obj.dtype.hasobject:
            raise UsageTypeError(f"save: cannot store {where}, an array of Python objects (dtype object): "
                                 "loading it would need pickle")
        key = f"extra/{len(arrays)}"
        arrays[key] = obj
        return {"__array__": key}
    if isinstance(obj, np.generic):
        return obj.item()
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise UsageTypeError(f"save: cannot store {where} of type {type(obj).__name__} "
                         "(use arrays, numbers, strings, lists and dicts)")


def _unpack(obj, arrays: dict, version: int, where: str = "extra", depth: int = 0):
    """The value :func:`_pack` stored, arrays restored (CheckpointError on a bad reference)."""
    if depth > MAX_DEPTH:
        raise CheckpointError(f"{_short(where)}: the extra values are nested deeper than {MAX_DEPTH} levels")
    if isinstance(obj, list):
        return [_unpack(v, arrays, version, f"{where}[{i}]", depth + 1) for i, v in enumerate(obj)]
    if not isinstance(obj, dict):
        return obj
    if set(obj) == {"__array__"}:
        key = obj["__array__"]
        if not (isinstance(key, str) and key.startswith("extra/") and key in arrays):
            raise CheckpointError(f"{where} refers to {key!r:.60}, which is not one of the file's extra "
                                  "arrays")
        return arrays[key]
    if version >= 2 and set(obj) == {"__dict__"} and isinstance(obj["__dict__"], dict):
        obj = obj["__dict__"]  # a user's dict with reserved keys: its own keys mean nothing to us
    return {k: _unpack(v, arrays, version, f"{where}.{k}", depth + 1) for k, v in obj.items()}


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
    if not isinstance(states, dict):
        raise UsageTypeError(f"set_rng_states: states must be the dict rng_states gave; got "
                             f"{type(states).__name__}")

    def walk(m, path):
        key = path or "."
        if key in states:
            try:
                m.rng.bit_generator.state = states[key]
            except (TypeError, ValueError, KeyError, AttributeError) as exc:
                raise UsageValueError(f"set_rng_states: the state for {key!r} does not fit the module's "
                                      f"generator: {exc}") from exc
        for name, child in m._children.items():
            walk(child, f"{path}.{name}" if path else name)

    walk(model, "")


# -- writing ---------------------------------------------------------------------------------------
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


# -- reading: every check before the allocation it guards ----------------------------------------
def _header(f, name: str, size: int) -> tuple:
    """``(shape, fortran_order, dtype, nbytes)`` of the ``.npy`` entry open as ``f``, checked
    against the ``size`` bytes the zip says it holds; nothing past the header is read."""
    try:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
        else:
            raise CheckpointError(f"entry {name} is a .npy of version {version}, which numrnn does not write")
    except CheckpointError:
        raise
    except (ValueError, TypeError, SyntaxError, EOFError, OSError, zipfile.BadZipFile) as exc:
        raise CheckpointError(f"entry {name} does not start with a valid .npy header: {exc}") from exc
    if dtype.hasobject:
        raise CheckpointError(f"entry {name} holds Python objects (dtype {dtype}); loading it would need "
                              "pickle")
    if any(n < 0 for n in shape):
        raise CheckpointError(f"entry {name} declares a negative size in its shape {shape}")
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes != size - f.tell():
        raise CheckpointError(f"entry {name} declares shape {shape} of {dtype} ({format_bytes(nbytes)}) but "
                              f"stores {format_bytes(max(size - f.tell(), 0))}")
    return shape, fortran, dtype, nbytes


def _read_entry(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> np.ndarray:
    with zf.open(info) as f:
        shape, fortran, dtype, nbytes = _header(f, info.filename, info.file_size)
        data = f.read()  # to the end, so that zipfile checks the CRC
    if len(data) != nbytes:
        raise CheckpointError(f"entry {info.filename} is truncated: {len(data)} of {nbytes} bytes")
    return np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran else "C").copy()


def _arrays_of(data: bytes) -> dict:
    """Entry name (without ``.npy``) -> array, every size checked before it is read."""
    if data.startswith(b"\x93NUMPY"):
        raise CheckpointError("it is a plain .npy array, not a checkpoint (an .npz written by numrnn.save)")
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError,
            NotImplementedError) as exc:
        raise CheckpointError(f"it is not a readable .npz (zip) archive (corrupt or truncated?): "
                              f"{exc}") from exc
    if len(infos) > MAX_ENTRIES:
        raise CheckpointError(f"it has {len(infos)} entries, more than the {MAX_ENTRIES} a checkpoint "
                              "may hold")
    names = [i.filename for i in infos]
    odd = [n for n in names if not n.endswith(".npy")]
    if odd or len(set(names)) != len(names):
        raise CheckpointError(f"its entries are not those of an .npz: {(odd or names)[:5]}")
    if "__meta__.npy" not in names:
        raise CheckpointError("it has no __meta__ entry (not written by numrnn.save)")
    try:
        check_allocation(sum(i.file_size for i in infos), "the data it declares")
    except SizeError as exc:
        raise CheckpointSizeError(str(exc)) from exc
    arrays = {}
    for info in infos:
        try:
            arrays[info.filename[:-4]] = _read_entry(zf, info)
        except CheckpointError:
            raise
        except (zipfile.BadZipFile, EOFError, OSError, ValueError, NotImplementedError, RuntimeError) as exc:
            raise CheckpointError(f"entry {info.filename} cannot be read (corrupt or truncated?): "
                                  f"{type(exc).__name__}: {exc}") from exc
    return arrays


def _meta_of(arrays: dict) -> dict:
    raw = arrays.pop("__meta__")
    if raw.dtype != np.uint8 or raw.ndim != 1:
        raise CheckpointError(f"its __meta__ entry is {raw.dtype} of shape {raw.shape}, not the uint8 "
                              "bytes of a JSON text")
    try:
        meta = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise CheckpointError(f"its __meta__ is not valid JSON: {type(exc).__name__}: {exc}"[:300]) from exc
    if not isinstance(meta, dict):
        raise CheckpointError(f"its __meta__ is a JSON {type(meta).__name__}, not an object")
    if meta.get("format") not in READABLE_FORMATS:
        raise CheckpointError(f"it has format {meta.get('format')!r:.60}; expected {FORMAT!r}")
    absent = [k for k in ("params", "config", "extra") if k not in meta]
    if absent:
        raise CheckpointError(f"it is not a complete numrnn checkpoint: its __meta__ lacks {absent}")
    params = meta["params"]
    if not isinstance(params, list) or not all(isinstance(k, str) for k in params) or \
            len(set(params)) != len(params):
        raise CheckpointError("its __meta__ is damaged: params must be a list of distinct names")
    _check_config(meta["config"], "model")
    missing = [k for k in params if f"param/{k}" not in arrays]
    if missing:
        raise CheckpointError(f"it is missing parameter arrays {missing[:10]}")
    listed = {f"param/{k}" for k in params}
    stray = sorted(k for k in arrays if k not in listed and not k.startswith("extra/"))
    if stray:
        raise CheckpointError(f"it holds arrays its __meta__ does not list: {stray[:10]}")
    bad = [k for k in params if arrays[f"param/{k}"].dtype.kind not in "fiu"]
    if bad:
        raise CheckpointError(f"parameters {bad[:5]} are not numbers (dtype "
                              f"{arrays[f'param/{bad[0]}'].dtype})")
    return meta


def _read(path) -> tuple:
    """(meta, arrays, version) of a checkpoint file; CheckpointError naming the file otherwise."""
    if not isinstance(path, (str, bytes, os.PathLike)):  # an int would be read as an open file descriptor
        raise UsageTypeError(f"load: path must be a str or os.PathLike; got {type(path).__name__}")
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"load: no checkpoint at {path}")
    try:
        if os.path.isdir(path):
            raise CheckpointError("it is a folder, not a file")
        size = os.path.getsize(path)
        try:
            check_allocation(size, f"the file ({format_bytes(size)} on disk)")
        except SizeError as exc:
            raise CheckpointSizeError(str(exc)) from exc
        with open(path, "rb") as f:
            data = f.read()
        arrays = _arrays_of(data)
        meta = _meta_of(arrays)
    except CheckpointError as exc:
        raise type(exc)(f"load: {path} is not a readable numrnn checkpoint: {exc}") from exc.__cause__
    return meta, arrays, int(meta["format"].rsplit("/", 1)[1])


def load_checkpoint(path, model: Module | None = None, classes=None) -> Checkpoint:
    """Read a checkpoint: the model (rebuilt, or ``model`` filled in place) and the extras.

    Parameters
    ----------
    path : the ``.npz`` written by :func:`save`.
    model : a model to fill in place. Its config must match the file's (backend, dtype,
        seed and recompute aside); otherwise the error lists every difference and nothing is
        changed. ``None`` rebuilds the model from the file's config.
    classes : module classes of your own that the file may name, and cells that are not
        registered (a list of Module classes and CellSpecs, or a dict name -> class).
        numrnn's own modules and the cells registered with :func:`numrnn.register_cell`
        are always known. Nothing named by the file is ever imported.

    Raises
    ------
    CheckpointError (a ValueError) naming the file and the reason, whatever is wrong
    with it; CheckpointSizeError (also a MemoryError) when it needs more memory than
    the allocation guard allows; FileNotFoundError when there is no file.
    """
    known = _known(classes)
    if model is not None and not isinstance(model, Module):
        raise UsageTypeError(f"load: model must be a numrnn Module or None; got {type(model).__name__}")
    meta, arrays, version = _read(path)
    path = os.fspath(path)
    config = meta["config"]
    params = {k: arrays[f"param/{k}"] for k in meta["params"]}
    try:
        if model is None:
            # the model may need no more than the stored parameters (with their gradients,
            # in float64 at most): a config asking for more is refused before allocating
            stored = sum(a.size for a in params.values())
            budget = f"the {stored} parameter values stored in the file can fill"
            with allocation_budget(2 * 8 * stored, budget):
                model = _build(config, known, "model")
        else:
            diffs = _config_differences(config, module_config(model))
            if diffs:
                raise CheckpointError("it holds another model: " + "; ".join(diffs))
        try:
            model.load_state_dict(params)
        except UsageValueError as exc:
            raise CheckpointError(f"its parameters do not fit the model: {exc}") from exc
        extra = _unpack(meta["extra"], arrays, version)
    except CheckpointError as exc:
        raise type(exc)(f"load: {path}: {exc}") from exc.__cause__
    return Checkpoint(model, extra, config)


def load(path, model: Module | None = None, classes=None) -> Module:
    """The model stored at ``path`` (see :func:`load_checkpoint`)."""
    return load_checkpoint(path, model, classes).model


__all__ = ["FORMAT", "READABLE_FORMATS", "Checkpoint", "atomic_write", "build_module", "load",
           "load_checkpoint", "module_config", "numrnn_classes", "rng_states", "save", "set_rng_states"]

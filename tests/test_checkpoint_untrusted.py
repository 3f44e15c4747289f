"""Loading an untrusted checkpoint (issue 13 items 1, 2, 4, 5): no code runs, hostile sizes
are refused before allocating, every kind of damage is one CheckpointError naming the
file and the reason, and an extra value never reads back as an internal reference."""

import io
import json
import os
import pathlib
import struct
import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import pytest

import numrnn as nr
from numrnn import checkpoint, config
from numrnn.errors import CheckpointError, CheckpointSizeError, SizeError, UsageTypeError


def _model():
    return nr.Sequential(nr.Embedding(5, 3, seed=0), nr.Linear(3, 4, seed=1), nr.Dropout(0.2))


def _contents(path):
    """(meta dict, {entry: array}) of a checkpoint file."""
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    return json.loads(bytes(arrays.pop("__meta__")).decode("utf-8")), arrays


def _write(path, meta, arrays):
    """A checkpoint with this __meta__ (a dict, or raw bytes) and these arrays."""
    raw = meta if isinstance(meta, bytes) else json.dumps(meta).encode("utf-8")
    np.savez(path, __meta__=np.frombuffer(raw, dtype=np.uint8), **arrays)
    return path


@pytest.fixture
def saved(tmp_path):
    path = pathlib.Path(nr.save(_model(), tmp_path / "good.npz", step=3))
    return path, *_contents(path)


def _refused(path, match, cls=CheckpointError, **kw):
    with pytest.raises(cls, match=match) as info:
        nr.load(path, **kw)
    assert str(path) in str(info.value)  # the message names the file
    return info.value


# -- 1: loading runs no code ---------------------------------------------------------------------
def test_a_file_naming_a_module_with_side_effects_imports_nothing(tmp_path):
    """`this` prints the Zen of Python when imported; the old loader imported it."""
    path = tmp_path / "zen.npz"
    _write(path, {"format": checkpoint.FORMAT, "params": [], "extra": {},
                  "config": {"class": "Zen", "module": "this", "args": {}, "varargs": []}}, {})
    script = textwrap.dedent(f"""
        import sys, numrnn as nr
        try:
            nr.load({str(path)!r})
        except nr.load.__globals__["CheckpointError"] as exc:
            print("refused:", exc)
        print("imported this:", "this" in sys.modules)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert "Beautiful is better than ugly" not in out
    assert "imported this: False" in out
    assert "this.Zen, which is not a numrnn module: pass the class to load(..., classes=[Zen])" in out


@pytest.mark.parametrize("cfg", [
    {"class": "system", "module": "os"},
    {"class": "Linear", "module": "evil.nn"},  # a numrnn name from elsewhere is not numrnn's
    {"class": "RNN", "module": "numrnnx.rnn"},
])
def test_classes_come_from_the_registry_only(tmp_path, cfg):
    path = _write(tmp_path / "m.npz", {"format": checkpoint.FORMAT, "params": [], "extra": {},
                                       "config": {**cfg, "args": {}, "varargs": []}}, {})
    _refused(path, "is not a numrnn module: pass the class to load")


class Scaler(nr.Module):
    """A module of the user's own: y = scale * x."""

    def __init__(self, size: int, dtype=np.float32):
        super().__init__(dtype)
        self.size = size
        self._add_param("scale", np.ones(size, self.dtype))

    def forward(self, x):
        return x * self._params["scale"]


def test_a_users_class_is_found_through_classes(tmp_path):
    m = nr.Sequential(nr.Linear(2, 3, seed=0), Scaler(3))
    m.params["1.scale"][...] = [1.0, 2.0, 3.0]
    path = nr.save(m, tmp_path / "own.npz")
    _refused(path, r"tests.test_checkpoint_untrusted.Scaler, which is not a numrnn module: pass the class "
                   r"to load\(\.\.\., classes=\[Scaler\]\)")
    for classes in ([Scaler], {"Scaler": Scaler}, (Scaler,)):
        back = nr.load(path, classes=classes)
        assert isinstance(back[1], Scaler) and back[1].size == 3
        np.testing.assert_array_equal(back.params["1.scale"], [1.0, 2.0, 3.0])
    for bad in ("Scaler", [Scaler, int], {"Scaler": len}, 3):
        with pytest.raises(UsageTypeError, match="classes must"):
            nr.load(path, classes=bad)


def test_a_users_class_never_stands_in_for_numrnns_own(tmp_path):
    class Linear(Scaler):  # a class of the user's that happens to share a numrnn name
        pass

    path = nr.save(nr.Sequential(nr.Linear(2, 3, seed=0), Linear(3)), tmp_path / "two.npz")
    back = nr.load(path, classes=[Linear])
    assert type(back[0]) is nr.Linear and type(back[1]) is Linear


# -- 2: hostile sizes are refused before allocating -------------------------------------------------
def test_a_config_asking_for_more_than_the_stored_arrays_is_refused_before_building(saved, tmp_path):
    path, meta, arrays = saved
    meta["config"]["varargs"][1]["__module__"]["args"]["out_features"] = 10**9  # 1 KB of weights stored
    err = _refused(_write(tmp_path / "big.npz", meta, arrays), r"model\[1\]: Linear\(3, 1000000000\) .* "
                   r"needs 29.8 GiB", CheckpointSizeError)
    assert isinstance(err, MemoryError) and isinstance(err, SizeError)
    meta["config"]["varargs"][1]["__module__"]["args"]["out_features"] = 5000  # 120 KB: small, still refused
    _refused(_write(tmp_path / "bigger.npz", meta, arrays), r"model\[1\]: Linear\(3, 5000\) .* needs .*, "
             r"more than the 31 parameter values stored in the file can fill", CheckpointSizeError)


def _npz_with_entry(header: dict, payload: bytes) -> bytes:
    """An .npz whose one array entry has this .npy header dict and these data bytes."""
    text = repr(header).encode("latin1")
    text += b" " * (63 - (10 + len(text)) % 64) + b"\n"
    npy = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text + payload
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("__meta__.npy", _npy_bytes(np.frombuffer(b"{}", np.uint8)))
        zf.writestr("param/w.npy", npy)
    return buf.getvalue()


def _npy_bytes(a):
    buf = io.BytesIO()
    np.save(buf, a)
    return buf.getvalue()


def test_an_npy_header_declaring_1e11_elements_is_refused_before_reading(tmp_path):
    path = tmp_path / "huge.npz"
    header = {"descr": "<f4", "fortran_order": False, "shape": (10**11,)}
    path.write_bytes(_npz_with_entry(header, b"\0" * 16))
    _refused(path, r"entry param/w.npy declares shape \(100000000000,\) of float32 \(373 GiB .*\) but stores "
                   r"16 bytes")


def test_a_zip_declaring_a_huge_entry_is_refused_before_reading(tmp_path, monkeypatch):
    data = bytearray(_npz_with_entry({"descr": "<f4", "fortran_order": False, "shape": (4,)}, b"\0" * 16))
    central = data.rfind(b"PK\x01\x02")  # the last entry's central directory record
    data[central + 24:central + 28] = struct.pack("<I", 0xFFFFFFF0)  # uncompressed size: 4 GiB
    path = tmp_path / "bomb.npz"
    path.write_bytes(bytes(data))
    monkeypatch.setattr(config, "MAX_ALLOC_BYTES", 2**30)
    _refused(path, r"the data it declares needs 4 GiB \(\d+ bytes\), more than the 1 GiB",
             CheckpointSizeError)


def test_a_file_larger_than_the_bound_is_not_read(saved, monkeypatch):
    path = saved[0]
    monkeypatch.setattr(config, "MAX_ALLOC_BYTES", 100)
    _refused(path, r"the file \(.* on disk\) needs .*, more than the 100 bytes", CheckpointSizeError)


def test_a_crafted_recurrent_config_is_refused_before_building(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "MAX_ALLOC_BYTES", 2**27)  # a failure to refuse costs 100 MB
    path = nr.save(nr.RNN(3, 4), tmp_path / "rnn.npz")
    meta, arrays = _contents(path)
    meta["config"]["args"]["hidden_size"] = 2000
    _refused(_write(tmp_path / "big.npz", meta, arrays), "stored in the file can fill", CheckpointSizeError)


# -- 4: every damage is one CheckpointError naming the file and the reason ----------------------------
def test_plain_npy_empty_and_junk_files(tmp_path):
    np.save(tmp_path / "a.npy", np.arange(3))  # was a TypeError about context managers
    _refused(tmp_path / "a.npy", "a plain .npy array, not a checkpoint")
    (tmp_path / "empty.npz").write_bytes(b"")
    _refused(tmp_path / "empty.npz", "not a readable .npz")
    (tmp_path / "dir.npz").mkdir()
    _refused(tmp_path / "dir.npz", "a folder, not a file")


def test_every_truncation_and_byte_flip_is_refused_or_harmless(saved, tmp_path):
    path, _, _ = saved
    data = path.read_bytes()
    good = nr.load(path)
    for i, cut in enumerate(range(0, len(data), max(1, len(data) // 40))):
        (tmp_path / f"cut{i}.npz").write_bytes(data[:cut])
        with pytest.raises(CheckpointError, match="not a readable numrnn checkpoint"):
            nr.load(tmp_path / f"cut{i}.npz")
    for i, pos in enumerate(range(0, len(data), max(1, len(data) // 150))):
        flipped = bytearray(data)
        flipped[pos] ^= 0x5A
        (tmp_path / f"flip{i}.npz").write_bytes(bytes(flipped))
        try:
            back = nr.load(tmp_path / f"flip{i}.npz")
        except CheckpointError:
            continue
        for k, v in good.params.items():  # a flip the zip format ignores (a timestamp): same model
            np.testing.assert_array_equal(back.params[k], v)


def _damage(meta, arrays, how):
    cfg = meta["config"]
    linear = cfg["varargs"][1]["__module__"]
    if how == "meta-not-json":
        return b"{not json", arrays
    if how == "meta-a-list":
        return b"[1, 2]", arrays
    if how == "meta-deep-json":  # was a RecursionError
        return b"[" * 100_000 + b"]" * 100_000, arrays
    if how == "meta-not-utf8":
        return b"\xff\xfe{}", arrays
    if how == "format":
        meta["format"] = "numrnn-checkpoint/99"
    elif how == "params-not-names":
        meta["params"] = [1, 2]
    elif how == "params-a-dict":
        meta["params"] = {"a": 1}
    elif how == "config-a-list":  # was an AttributeError
        meta["config"] = [1]
    elif how == "class-missing":  # was a KeyError
        del cfg["class"]
    elif how == "class-not-a-name":
        cfg["class"] = "os.system('echo hi')"
    elif how == "args-a-list":
        linear["args"] = [3, 4]
    elif how == "arg-a-dict":
        linear["args"]["in_features"] = {"evil": 1}
    elif how == "arg-a-string":  # the constructor's TypeError
        linear["args"]["in_features"] = "3"
    elif how == "arg-negative":
        linear["args"]["out_features"] = -4
    elif how == "arg-unknown":  # was a TypeError from the call
        linear["args"]["colour"] = "red"
    elif how == "arg-huge-int":
        linear["args"]["in_features"] = 10**400
    elif how == "dtype-object":
        linear["args"]["dtype"] = {"__dtype__": "object"}
    elif how == "varargs-not-modules":  # Sequential(3): the constructor refuses
        cfg["varargs"] = [3]
    elif how == "config-deep":  # a Sequential nested 200 deep
        for _ in range(200):
            cfg = {"class": "Sequential", "module": "numrnn.nn.sequential", "args": {},
                   "varargs": [{"__module__": cfg}]}
        meta["config"] = cfg
    elif how == "param-missing":
        del arrays["param/1.bias"]
    elif how == "param-misshaped":
        arrays["param/1.bias"] = np.zeros(7, np.float32)
    elif how == "param-text":
        arrays["param/1.bias"] = np.array(["a", "b", "c", "d"])
    elif how == "param-stray":
        arrays["param/9.weight"] = np.zeros(2)
    elif how == "stray-entry":
        arrays["other"] = np.zeros(2)
    elif how == "extra-bad-ref":
        meta["extra"]["step"] = {"__array__": "param/1.bias"}
    elif how == "extra-missing-ref":
        meta["extra"]["step"] = {"__array__": "extra/77"}
    elif how == "extra-deep":
        deep = []
        for _ in range(500):
            deep = [deep]
        meta["extra"]["step"] = deep
    elif how == "meta-floats":
        return None, arrays
    return meta, arrays


DAMAGES = ["meta-not-json", "meta-a-list", "meta-deep-json", "meta-not-utf8", "format", "params-not-names",
           "params-a-dict", "config-a-list", "class-missing", "class-not-a-name", "args-a-list",
           "arg-a-dict", "arg-a-string", "arg-negative", "arg-unknown", "arg-huge-int", "dtype-object",
           "varargs-not-modules", "config-deep", "param-missing", "param-misshaped", "param-text",
           "param-stray", "stray-entry", "extra-bad-ref", "extra-missing-ref", "extra-deep", "meta-floats"]


@pytest.mark.parametrize("how", DAMAGES)
def test_each_damage_is_one_checkpoint_error(saved, tmp_path, how):
    _, meta, arrays = saved
    meta, arrays = _damage(meta, dict(arrays), how)
    path = tmp_path / f"{how}.npz"
    if meta is None:  # __meta__ as float64 instead of bytes
        np.savez(path, __meta__=np.zeros(3), **arrays)
    else:
        _write(path, meta, arrays)
    err = _refused(path, ".")
    assert type(err) in (CheckpointError, CheckpointSizeError)
    assert len(str(err)) < 2000  # a message, not a dump


def test_an_unsupported_compression_method_is_a_checkpoint_error(saved, tmp_path):
    """Was a NotImplementedError from zipfile."""
    data = bytearray(saved[0].read_bytes())
    central = data.find(b"PK\x01\x02")
    data[central + 10:central + 12] = struct.pack("<H", 99)  # compression method 99
    (tmp_path / "m.npz").write_bytes(bytes(data))
    _refused(tmp_path / "m.npz", "cannot be read")


def test_loading_into_a_model_of_another_shape_is_a_checkpoint_error(saved):
    err = _refused(saved[0], "another model", model=nr.Linear(2, 2))
    assert isinstance(err, ValueError)


def test_a_damaged_training_state_is_a_checkpoint_error(tmp_path):
    model = nr.Sequential(nr.Linear(2, 1, seed=0))
    trainer = nr.Trainer(model, nr.SGD(model, lr=0.1), checkpoint_path=tmp_path / "ck.npz")
    trainer.save_checkpoint()
    meta, arrays = _contents(tmp_path / "ck.npz")
    meta["extra"]["trainer"]["rng"] = {"0": {"bit_generator": "Nope"}}
    _write(tmp_path / "ck.npz", meta, arrays)
    with pytest.raises(CheckpointError, match="ck.npz holds a damaged training state"):
        nr.Trainer(model, nr.SGD(model, lr=0.1)).resume(tmp_path / "ck.npz")
    meta["extra"]["trainer"] = {"step": "x"}
    _write(tmp_path / "ck.npz", meta, arrays)
    with pytest.raises(CheckpointError, match="damaged training state: KeyError"):
        nr.Trainer(model, nr.SGD(model, lr=0.1)).resume(tmp_path / "ck.npz")
    nr.save(model, tmp_path / "bare.npz")
    with pytest.raises(CheckpointError, match="holds a model but no training state"):
        nr.Trainer(model, nr.SGD(model, lr=0.1)).resume(tmp_path / "bare.npz")


# -- 5: extra values round-trip, whatever their keys -------------------------------------------------
def test_extras_that_look_like_internal_references_round_trip(tmp_path):
    extra = {"ref": {"__array__": "extra/0"}, "wrapped": {"__dict__": {"__array__": 1}},
             "both": {"__array__": [np.arange(3)], "x": 1}, "plain": {"a": np.ones(2)},
             "list": [{"__dict__": 5}]}
    ck = nr.load_checkpoint(nr.save(nr.Linear(1, 1), tmp_path / "m.npz", **extra))
    assert ck.extra["ref"] == {"__array__": "extra/0"}  # came back as an array before
    assert ck.extra["wrapped"] == {"__dict__": {"__array__": 1}}
    assert set(ck.extra["both"]) == {"__array__", "x"} and ck.extra["both"]["x"] == 1
    np.testing.assert_array_equal(ck.extra["both"]["__array__"][0], np.arange(3))
    np.testing.assert_array_equal(ck.extra["plain"]["a"], np.ones(2))
    assert ck.extra["list"] == [{"__dict__": 5}]


def test_version_1_files_still_load(saved, tmp_path):
    _, meta, arrays = saved
    meta["format"] = "numrnn-checkpoint/1"
    back = nr.load_checkpoint(_write(tmp_path / "v1.npz", meta, arrays))
    assert back.extra == {"step": 3} and isinstance(back.model, nr.Sequential)


def test_what_load_would_refuse_is_refused_at_save(tmp_path):
    with pytest.raises(TypeError, match="dtype object"):
        nr.save(nr.Linear(1, 1), tmp_path / "m.npz", bad=np.array([{}, None]))
    deep = []
    for _ in range(100):
        deep = [deep]
    with pytest.raises(ValueError, match="nested deeper than 64 levels"):
        nr.save(nr.Linear(1, 1), tmp_path / "m.npz", deep=deep)


def test_a_path_that_is_not_a_path_is_refused_and_no_descriptor_is_read(tmp_path):
    """load(3) checked os.path.exists(3), true for an open file descriptor, then read and
    closed descriptor 3."""
    r, w = os.pipe()
    try:
        for bad in (r, None, 2.5, ["m.npz"]):
            with pytest.raises(TypeError, match="load: path must be a str or os.PathLike"):
                nr.load(bad)
        os.write(w, b"still open")
        assert os.read(r, 10) == b"still open"
    finally:
        os.close(r)
        os.close(w)

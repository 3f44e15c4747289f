"""Checkpoints: round trips, config checks, corrupt files and crashes mid-write."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import numrnn as nr
from numrnn import checkpoint


def _model(hidden=4, dtype=np.float32):
    return nr.Sequential(nr.Embedding(6, 3, padding_idx=0, dtype=dtype, seed=0),
                         nr.RNN(3, hidden, num_layers=2, nonlinearity="relu", dtype=dtype, seed=1),
                         nr.Dropout(0.1), nr.LastStep(), nr.Linear(hidden, 2, dtype=dtype, seed=2))


def _same_params(a, b):
    assert list(a.params) == list(b.params)
    for k in a.params:
        np.testing.assert_array_equal(a.params[k], b.params[k])


def test_round_trip_rebuilds_the_model(tmp_path):
    m = _model()
    path = nr.save(m, tmp_path / "m.npz")
    back = nr.load(path)
    assert repr(back) == repr(m)
    assert back[1].nonlinearity == "relu" and back[0].padding_idx == 0 and back[2].p == 0.1
    _same_params(m, back)
    ids = np.array([[1, 2], [3, 4], [5, 0]])
    m.eval(), back.eval()
    np.testing.assert_array_equal(m(ids), back(ids))


@pytest.mark.parametrize("make", [
    lambda: nr.RNN(2, 3, bidirectional=True, batch_first=True, dtype=np.float64),
    lambda: nr.LSTM(2, 4, proj_size=2),
    lambda: nr.GRU(2, 3, num_layers=2, bias=False),
    lambda: nr.Linear(3, 2, bias=False),
])
def test_round_trip_single_modules(tmp_path, make):
    m = make()
    back = nr.load(nr.save(m, tmp_path / "m.npz"))
    assert type(back) is type(m) and repr(back) == repr(m) and back.dtype == m.dtype
    _same_params(m, back)


def test_extra_values_and_optimizer_state(tmp_path):
    m = nr.Linear(3, 2, seed=0)
    opt = nr.Adam(m, lr=0.1)
    m(np.ones((2, 3), np.float32))
    m.backward(np.ones((2, 2), np.float32))
    opt.step()
    rngs = checkpoint.rng_states(m)
    nr.save(m, tmp_path / "m.npz", optimizer=opt, step=7, history={"loss": [1.5, 0.5]},
            table=np.arange(4), rng=rngs)
    ck = nr.load_checkpoint(tmp_path / "m.npz")
    assert ck.extra["step"] == 7 and ck.extra["history"] == {"loss": [1.5, 0.5]}
    np.testing.assert_array_equal(ck.extra["table"], np.arange(4))
    assert ck.extra["rng"] == rngs  # 128-bit PCG64 state survives JSON
    opt2 = nr.Adam(ck.model, lr=0.1)
    opt2.load_state_dict(ck.extra["optimizer"])
    assert opt2.steps == 1
    np.testing.assert_array_equal(opt2.state["0.weight"]["exp_avg"], opt.state["0.weight"]["exp_avg"])
    with pytest.raises(TypeError, match="cannot store extra.bad"):
        nr.save(m, tmp_path / "x.npz", bad=object())


def test_load_into_existing_model(tmp_path):
    nr.save(_model(), tmp_path / "m.npz")
    target = _model(dtype=np.float64)  # another dtype is fine: the weights are cast
    nr.load(tmp_path / "m.npz", model=target)
    assert target.dtype == np.float64 and target.params["1.weight_hh_l0"].dtype == np.float64
    _same_params(nr.load(tmp_path / "m.npz").double(), target)


def test_another_config_is_a_clear_error(tmp_path):
    nr.save(_model(hidden=4), tmp_path / "m.npz")
    other = _model(hidden=5)
    before = other.state_dict()
    with pytest.raises(ValueError, match=r"another model: model\[1\]\.hidden_size: file has 4, model has 5"):
        nr.load(tmp_path / "m.npz", model=other)
    for k, v in other.params.items():  # nothing was changed
        np.testing.assert_array_equal(v, before[k])
    with pytest.raises(ValueError, match="file has Sequential, model is Linear"):
        nr.load(tmp_path / "m.npz", model=nr.Linear(2, 2))


def test_corrupt_truncated_and_foreign_files(tmp_path):
    path = tmp_path / "m.npz"
    nr.save(_model(), path)
    data = path.read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])
    flipped = bytearray(data)
    flipped[len(data) // 3] ^= 0xFF  # inside the parameter arrays: the zip CRC catches it
    (tmp_path / "flip.npz").write_bytes(bytes(flipped))
    (tmp_path / "junk.npz").write_bytes(b"not a checkpoint at all")
    np.savez(tmp_path / "plain.npz", a=np.arange(3))
    for name in ("cut.npz", "flip.npz", "junk.npz"):
        with pytest.raises(ValueError, match="not a readable numrnn checkpoint"):
            nr.load(tmp_path / name)
    with pytest.raises(ValueError, match="not written by numrnn.save"):
        nr.load(tmp_path / "plain.npz")
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        nr.load(tmp_path / "missing.npz")


def test_failure_mid_write_leaves_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "m.npz"
    old = _model()
    nr.save(old, path)

    def half_then_fail(f, **arrays):
        f.write(b"PK\x03\x04 half a zip")
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint.np, "savez", half_then_fail)
    with pytest.raises(OSError, match="disk full"):
        nr.save(_model(hidden=7), path)
    monkeypatch.undo()
    _same_params(old, nr.load(path))
    assert sorted(os.listdir(tmp_path)) == ["m.npz"]  # the temporary file is gone


def test_killed_process_mid_write_leaves_the_old_file(tmp_path):
    path = tmp_path / "m.npz"
    old = _model()
    nr.save(old, path)
    script = textwrap.dedent(f"""
        import os, numrnn as nr
        os.replace = lambda *a: os._exit(9)  # killed after writing, before the rename
        nr.save(nr.Linear(2, 2), {str(path)!r})
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True)
    assert proc.returncode == 9
    _same_params(old, nr.load(path))
    leftovers = [n for n in os.listdir(tmp_path) if n != "m.npz"]
    assert len(leftovers) == 1 and leftovers[0].startswith(".m.npz.") and leftovers[0].endswith(".tmp")


def test_rng_states_restore_dropout_draws():
    m = nr.Sequential(nr.Linear(3, 3, seed=0), nr.Dropout(0.5, seed=1))
    x = np.ones((4, 3), np.float32)
    states = checkpoint.rng_states(m)
    assert set(states) == {"0", "1"}
    a = m(x)
    checkpoint.set_rng_states(m, states)
    np.testing.assert_array_equal(m(x), a)


@pytest.mark.parametrize("drop", ["params", "config"])
def test_meta_without_params_or_config_is_a_clear_error(tmp_path, drop):
    import json

    path = tmp_path / "m.npz"
    nr.save(_model(), path)
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(bytes(arrays["__meta__"]).decode("utf-8"))
    del meta[drop]  # was a bare KeyError
    arrays["__meta__"] = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match=rf"__meta__ lacks \['{drop}'\]"):
        nr.load(path)

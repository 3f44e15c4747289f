"""The shipped golden values are what the reference computes today, and load as plain arrays."""

import json

import numpy as np

from numrnn.exercises import golden
from numrnn.exercises.catalog import EXERCISES


def test_shipped_file_equals_the_reference():
    """If this fails, the reference or a case changed: run `make golden` (or
    `python -m numrnn.exercises.golden`) and commit numrnn/exercises/golden.npz."""
    arrays, meta = golden.build()
    shipped_arrays, shipped_meta = golden.load()
    assert json.dumps(shipped_meta, sort_keys=True) == json.dumps(meta, sort_keys=True)
    assert set(shipped_arrays) == set(arrays)
    for key, value in arrays.items():
        if "/out/" in key:
            np.testing.assert_allclose(shipped_arrays[key], value, rtol=1e-12, atol=1e-300, err_msg=key)
        else:
            np.testing.assert_array_equal(shipped_arrays[key], value, err_msg=key)


def test_every_forward_exercise_has_cases_with_its_outputs():
    _, meta = golden.load()
    forwards = [e for e in EXERCISES if e.kind == "forward"]
    assert set(meta) == {e.name for e in forwards}
    for e in forwards:
        cases = golden.cases(e.name)
        assert len(cases) == len(e.cases)
        for *_, expected in cases:
            assert set(expected) == set(e.outputs)
            assert all(np.isfinite(v).all() for v in expected.values())


def test_write_and_load_round_trip(tmp_path):
    path = golden.write(tmp_path / "g.npz")
    arrays, meta = golden.load(path)
    with np.load(path, allow_pickle=False) as data:  # plain arrays: loading runs no code
        assert data["__meta__"].dtype.kind == "U"
    assert meta == golden.load()[1]
    assert golden.cases("rnn_step_forward", (arrays, meta))[0][1][-1] == "tanh"


def test_large_logits_case_needs_the_max_shift():
    """The golden case that catches a softmax without the max shift really overflows without it."""
    label, (z,), _, expected = golden.cases("log_softmax")[2]
    assert label == "large logits" and np.abs(z).max() > 710  # exp(710) overflows float64
    with np.errstate(all="ignore"):
        naive = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
    assert not np.isfinite(naive).all() and np.isfinite(expected["logp"]).all()

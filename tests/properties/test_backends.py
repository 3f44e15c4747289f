"""Random configurations, layouts and lengths: the Numba backend equals the NumPy
reference, the reference equals PyTorch, and the memory layout of the input changes
nothing (issue 13, property-based tests)."""

import importlib.util

import numpy as np
import pytest

pytest.importorskip("hypothesis")
from hypothesis import given  # noqa: E402

from tests.properties.cases import cases, lay_out, run  # noqa: E402
from tests.torch_oracle import max_rel, torch_pass, twin  # noqa: E402

#: max |a - b| / max |b| per array: (forward, gradients), as the parity tests use.
TOL = {np.float64: (1e-10, 1e-9), np.float32: (1e-5, 1e-4)}
HAS_NUMBA = importlib.util.find_spec("numba") is not None


def _assert_match(got: dict, want: dict, dtype, what: str) -> None:
    assert set(got) == set(want), what
    ftol, gtol = TOL[dtype]
    for k, w in want.items():
        g = got[k]
        assert g.shape == w.shape, f"{what}: {k} has shape {g.shape}, expected {w.shape}"
        tol = ftol if k in ("out",) or k.startswith("final") else gtol
        assert max_rel(g, w) <= tol, f"{what}: {k} differs by {max_rel(g, w):.2e}"


@pytest.mark.skipif(not HAS_NUMBA, reason="needs numba")
@given(cases())
def test_numba_equals_the_numpy_reference(case):
    arrays = case.arrays()
    want = run(case.module("numpy"), case, *arrays, lengths=case.lengths)
    got = run(case.module("numba"), case, *arrays, lengths=case.lengths)
    _assert_match(got, want, case.dtype, f"numba vs numpy, {case}")


@given(cases())
def test_the_numpy_reference_equals_pytorch(case):
    pytest.importorskip("torch")
    x, states, dout, dstates = case.arrays()
    m = case.module("numpy")
    got = run(m, case, x, states, dout, dstates, lengths=case.lengths)
    lengths = None if case.lengths is None else np.asarray(case.lengths)
    t_out, t_finals, t_dx, t_dstates, t_grads = torch_pass(twin(m), x.copy(), states, dout, dstates,
                                                           lengths=lengths, batch_first=case.batch_first)
    want = {"out": t_out, "dx": t_dx, **{f"final{i}": f for i, f in enumerate(t_finals)},
            **{f"dstate{i}": d for i, d in enumerate(t_dstates)},
            **{f"grad {k}": g for k, g in t_grads.items()}}
    _assert_match(got, want, case.dtype, f"numpy vs torch, {case}")


@given(cases())
def test_the_input_layout_changes_nothing(case):
    """A Fortran-ordered, strided or reversed view gives the contiguous input's results."""
    x, states, dout, dstates = case.arrays()
    backend = "numba" if HAS_NUMBA else "numpy"
    got = run(case.module(backend), case, x, states, dout, dstates, lengths=case.lengths)
    want = run(case.module(backend), case, lay_out(x, "contiguous"), states, dout, dstates,
               lengths=case.lengths)
    for k, w in want.items():
        np.testing.assert_array_equal(got[k], w, err_msg=f"{k}, layout {case.layout}")

"""numrnn/kernels/numba_math.py: the vectorisable activations against NumPy, over their range.

Accuracy is measured in units in the last place (ulp) of the dtype against a
long-double reference (and against ``np.tanh`` itself). With ``NUMBA_DISABLE_JIT=1``
(tests/kernels/test_numba_jit_disabled.py) the same tests run the bodies as Python on
fewer points.
"""

import numpy as np
import pytest

numba = pytest.importorskip("numba")

from numrnn.kernels import numba_math as nm  # noqa: E402

JIT_OFF = bool(numba.config.DISABLE_JIT)
POINTS = 2001 if JIT_OFF else 400001
DTYPES = [np.float32, np.float64]
MAX_ULP = 3.0  # measured: 2.5 for tanh, 2.0 for sigmoid


def _ulp_error(got, ref, dtype):
    """|got - ref| in ulps of ``dtype`` at ``ref`` (ref in long double)."""
    spacing = np.spacing(np.abs(ref).astype(dtype)).astype(np.longdouble)
    return np.abs(got.astype(np.longdouble) - ref) / spacing


@pytest.mark.parametrize("dtype", DTYPES)
def test_tanh_matches_numpy_over_whole_range(dtype):
    x = np.concatenate([
        np.linspace(-30, 30, POINTS),  # past +-20 tanh is exactly +-1 in both dtypes
        np.geomspace(1e-30, 1e3, POINTS // 4), -np.geomspace(1e-30, 1e3, POINTS // 4),
    ]).astype(dtype)
    got = nm.tanh_inplace(x.copy())
    assert got.dtype == dtype
    ref = np.tanh(x.astype(np.longdouble))
    assert _ulp_error(got, ref, dtype).max() <= MAX_ULP
    # and against NumPy's own float results: at most the sum of both errors
    assert np.max(np.abs(got - np.tanh(x)) / np.spacing(np.abs(np.tanh(x)))) <= MAX_ULP + 1.5


@pytest.mark.parametrize("dtype", DTYPES)
def test_tanh_special_values(dtype):
    tiny = np.finfo(dtype).smallest_subnormal
    x = np.array([np.inf, -np.inf, np.nan, 0.0, -0.0, tiny, -tiny, 1e4, -1e4, 25.0, -25.0], dtype=dtype)
    got = nm.tanh_inplace(x.copy())
    np.testing.assert_array_equal(got, np.tanh(x))  # nan == nan here, exact elsewhere
    assert list(np.signbit(got[3:5])) == [False, True]  # tanh(-0.0) is -0.0


@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_matches_long_double_over_whole_range(dtype):
    top = 110 if dtype == np.float32 else 760  # beyond: 0 or 1 exactly
    x = np.concatenate([np.linspace(-top, top, POINTS), np.linspace(-5, 5, POINTS // 4)]).astype(dtype)
    got = nm.sigmoid_inplace(x.copy())
    assert got.dtype == dtype
    xl = x.astype(np.longdouble)
    ref = 1 / (1 + np.exp(-xl))
    normal = ref >= np.finfo(dtype).tiny
    assert _ulp_error(got[normal], ref[normal], dtype).max() <= MAX_ULP
    # subnormal results: within a few of the smallest step of the dtype
    err = np.abs(got[~normal].astype(np.longdouble) - ref[~normal])
    assert err.max(initial=0) <= 2 * np.finfo(dtype).smallest_subnormal


@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_special_values(dtype):
    x = np.array([np.inf, -np.inf, np.nan, 0.0, -0.0, 1e4, -1e4], dtype=dtype)
    got = nm.sigmoid_inplace(x.copy())
    np.testing.assert_array_equal(got, [1, 0, np.nan, 0.5, 0.5, 1, 0])


@pytest.mark.parametrize("dtype", DTYPES)
def test_gate_sigmoid_is_within_two_ulps_of_one_half_absolute(dtype):
    """gate_sigmoid = 1/2 + 1/2 tanh(x/2): absolute accuracy only (measured 1.73 ulps of 1/2)."""
    x = np.concatenate([np.linspace(-60, 60, POINTS), np.linspace(-5, 5, POINTS // 4)]).astype(dtype)
    got = nm.gate_sigmoid_inplace(x.copy())
    assert got.dtype == dtype
    ref = 1 / (1 + np.exp(-x.astype(np.longdouble)))
    err = np.abs(got.astype(np.longdouble) - ref) / np.spacing(dtype(0.5))
    assert err.max() <= 2.0
    exact = nm.sigmoid_inplace(x.copy()).astype(np.longdouble)  # the full-range one
    assert (np.abs(got - exact) / np.spacing(dtype(0.5))).max() <= 2.0
    # what it gives up: relative accuracy far in the negative tail (the exact one keeps it)
    assert nm.gate_sigmoid(dtype(-60)) == 0 and nm.sigmoid(dtype(-60)) > 0


@pytest.mark.parametrize("dtype", DTYPES)
def test_gate_sigmoid_special_values(dtype):
    x = np.array([np.inf, -np.inf, np.nan, 0.0, -0.0, 1e4, -1e4], dtype=dtype)
    np.testing.assert_array_equal(nm.gate_sigmoid_inplace(x.copy()), [1, 0, np.nan, 0.5, 0.5, 1, 0])


@pytest.mark.parametrize("dtype", DTYPES)
def test_python_side_names_match_compiled(dtype):
    x = np.linspace(-12, 12, 101).astype(dtype)
    for scalar, inplace in ((nm.tanh, nm.tanh_inplace), (nm.sigmoid, nm.sigmoid_inplace),
                            (nm.gate_sigmoid, nm.gate_sigmoid_inplace)):
        np.testing.assert_array_equal(np.array([scalar(v) for v in x], dtype=dtype), inplace(x.copy()))
    np.testing.assert_array_equal([nm.relu(v) for v in x], np.maximum(x, 0))
    y, dy = np.tanh(x), np.cos(x).astype(dtype)
    np.testing.assert_allclose([nm.tanh_grad(a, b) for a, b in zip(dy, y)], dy * (1 - y * y), rtol=1e-6)
    s = 1 / (1 + np.exp(-x))
    np.testing.assert_allclose([nm.sigmoid_grad(a, b) for a, b in zip(dy, s)], dy * s * (1 - s), rtol=1e-6)
    np.testing.assert_array_equal([nm.relu_grad(a, b) for a, b in zip(dy, np.maximum(x, 0))],
                                  np.where(x > 0, dy, 0))


@pytest.mark.skipif(JIT_OFF, reason="compiled types only exist with the JIT on")
@pytest.mark.parametrize("name", ["tanh", "sigmoid", "gate_sigmoid", "relu", "tanh_grad", "sigmoid_grad",
                                  "relu_grad"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_compiled_functions_keep_the_dtype(name, dtype):
    """``1.0 - y*y`` would be float64 for a float32 y in Numba: the overloads keep float32."""
    f = getattr(nm, name)
    if name.endswith("_grad"):
        g = numba.njit(lambda a, b: f(a, b))
        args = (dtype(0.5), dtype(0.25))
        want = {"tanh_grad": 0.5 * (1 - 0.0625), "sigmoid_grad": 0.5 * 0.25 * 0.75, "relu_grad": 0.5}[name]
    else:
        g = numba.njit(lambda a: f(a))
        args = (dtype(0.5),)
        s = 1 / (1 + np.exp(-0.5))
        want = {"tanh": np.tanh(0.5), "sigmoid": s, "gate_sigmoid": s, "relu": 0.5}[name]
    got = g(*args)
    assert g.nopython_signatures[0].return_type == numba.from_dtype(np.dtype(dtype))
    assert got == pytest.approx(want, rel=1e-6)

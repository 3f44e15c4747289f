"""numrnn/kernels/numba_simd.py: the vector operations, compiled and in Python."""

import numpy as np
import pytest

numba = pytest.importorskip("numba")

from numba import njit  # noqa: E402

from numrnn.kernels import numba_simd as simd  # noqa: E402
from tests.kernels.kernel_checks import JIT_OFF  # noqa: E402

DTYPES = [np.float32, np.float64]


@njit
def _all_ops(a, b, c, out, i):
    """out[:L] = a[i:i+L] * b[0] + c[i:i+L]; out[L:2L] = 0; out[2L:3L] = splat(c[0])."""
    L = simd.lanes(a.dtype)
    x = simd.vload(a, i)
    y = simd.vload_splat(b, 0)
    z = simd.vload(c, i)
    simd.vstore(out, 0, simd.vfma(x, y, z))
    simd.vstore(out, L, simd.vzero_like(a))
    simd.vstore(out, 2 * L, simd.vadd(simd.vsplat(c[0]), simd.vzero_like(a)))
    return L


@pytest.mark.parametrize("dtype", DTYPES)
def test_lanes_fill_256_bits(dtype):
    assert simd.lanes(dtype) * np.dtype(dtype).itemsize == 32


@pytest.mark.parametrize("dtype", DTYPES)
def test_operations_match_numpy(rng, dtype):
    L = simd.lanes(dtype)
    a = rng.standard_normal(3 * L).astype(dtype)
    b = rng.standard_normal(1).astype(dtype)
    c = rng.standard_normal(3 * L).astype(dtype)
    out = np.full(3 * L, np.nan, dtype=dtype)
    i = L + 1  # not aligned to a vector
    assert _all_ops(a, b, c, out, i) == L
    # a fused multiply-add rounds once: compare with the product and sum in long double
    want = (a[i:i + L].astype(np.longdouble) * b[0] + c[i:i + L]).astype(dtype)
    np.testing.assert_allclose(out[:L], want, rtol=2 * np.finfo(dtype).eps, atol=0)
    assert np.all(out[L:2 * L] == 0) and np.all(out[2 * L:] == c[0])
    assert out.dtype == dtype


@pytest.mark.skipif(not JIT_OFF, reason="Python mode checks the spans; compiled code does not")
def test_python_mode_refuses_a_vector_past_the_end():
    a = np.zeros(10, np.float64)
    with pytest.raises(IndexError, match="runs past"):
        simd.vload(a, 7)
    with pytest.raises(IndexError, match="outside"):
        simd.vload_splat(a, 10)


def test_python_fallbacks_are_numpy():
    """The names called from Python (what NUMBA_DISABLE_JIT=1 runs) are plain NumPy."""
    a = np.arange(10, dtype=np.float64)
    v = simd.vload(a, 2)
    np.testing.assert_array_equal(v, [2, 3, 4, 5])
    simd.vstore(a, 0, simd.vfma(v, simd.vsplat(np.float64(2)), simd.vzero_like(a)))
    np.testing.assert_array_equal(a[:4], [4, 6, 8, 10])
    with pytest.raises(IndexError):
        simd.vstore(a, 8, v)
    with pytest.raises(TypeError, match="1-D C-contiguous"):
        simd.vload(a.reshape(2, 5), 0)

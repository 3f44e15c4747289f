"""numrnn/kernels/numba_gemm.py: the packed panels and the register-tiled product.

The product must equal NumPy's to rounding for every shape the kernels give it (rows
left over after the 4-row tiles, panels padded with zero columns, K longer than the
tile's K block) and, bitwise, whatever rows and panels one call covers: the threads of
a kernel split the rows between them.
"""

import numpy as np
import pytest

numba = pytest.importorskip("numba")

from numrnn import config  # noqa: E402
from numrnn.kernels import numba_gemm as g  # noqa: E402
from tests.kernels.kernel_checks import JIT_OFF  # noqa: E402

DTYPES = [np.float64, np.float32]
TOL = {np.float64: 1e-13, np.float32: 2e-6}
#: (N, K, M, groups): one row, tiles and leftovers, K past the tile's K block, padded gates
CASES = [(1, 3, 5, 1), (3, 9, 40, 4), (6, 17, 33, 1), (9, 64, 96, 3), (4, 7, 16, 1)]
if not JIT_OFF:
    CASES += [(16, 64, 256, 4), (13, config.NUMBA_TILE_K_BLOCK + 37, 72, 3), (1, 256, 256, 1)]


def _unpad(out, N, M, groups, dtype):
    """The (N, M) product from the tiles' padded (N, groups * U * W) layout."""
    U, W = g.panels_per_group(M // groups, dtype), g.panel_width(dtype)
    return out.reshape(N, groups, U * W)[:, :, :M // groups].reshape(N, M)


def _run(a, wp, out, rows, panels):
    for n0, n1 in rows:
        for p0, p1 in panels:
            g.gemm_panels(a, wp, out, n0, n1, p0, p1)
    return out


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("N, K, M, groups", CASES)
def test_product_matches_numpy(rng, dtype, N, K, M, groups):
    a = rng.standard_normal((N, K)).astype(dtype)
    b = rng.standard_normal((K, M)).astype(dtype)
    wp = g.pack_panels(b, groups)
    W = g.panel_width(dtype)
    assert wp.shape == (groups * g.panels_per_group(M // groups, dtype), K, W) and wp.flags.c_contiguous
    out = np.full((N, wp.shape[0] * W), np.nan, dtype=dtype)
    g.check_gemm(a, wp, out)
    _run(a, wp, out, [(0, N)], [(0, wp.shape[0])])
    assert not np.isnan(out).any()  # every column written, padding included (with zeros)
    want = a.astype(np.float64) @ b.astype(np.float64)
    got = _unpad(out, N, M, groups, dtype)
    assert np.max(np.abs(got - want)) <= TOL[dtype] * np.max(np.abs(want)) * max(1, K / 16)


@pytest.mark.parametrize("dtype", DTYPES)
def test_padding_columns_are_zero(rng, dtype):
    b = rng.standard_normal((3, 10)).astype(dtype)
    wp = g.pack_panels(b, 2)  # two groups of 5 columns, each padded to one panel
    W = g.panel_width(dtype)
    flat = wp.transpose(1, 0, 2).reshape(3, 2, W)
    np.testing.assert_array_equal(flat[:, :, :5], b.reshape(3, 2, 5))
    assert np.all(flat[:, :, 5:] == 0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_result_does_not_depend_on_the_split(rng, dtype):
    """Rows split between calls at multiples of 4 (as numba_layer.row_ranges splits them
    between threads) give the same bits; so do panels split anywhere for the rows of whole
    4-row tiles (the rows left over group their panels by four, two and one)."""
    N, K, M = (13, 40, 112) if JIT_OFF else (23, config.NUMBA_TILE_K_BLOCK + 9, 112)
    a = rng.standard_normal((N, K)).astype(dtype)
    wp = g.pack_panels(rng.standard_normal((K, M)).astype(dtype))
    P = wp.shape[0]
    W = g.panel_width(dtype)
    whole = _run(a, wp, np.empty((N, P * W), dtype), [(0, N)], [(0, P)])
    for rows in ([(0, 4), (4, N)], [(0, 8), (8, 12), (12, N)], [(0, 12), (12, N)]):
        np.testing.assert_array_equal(_run(a, wp, np.empty_like(whole), rows, [(0, P)]), whole)
    n4 = N // 4 * 4
    for panels in ([(0, 2), (2, P)], [(0, 1), (1, 6), (6, P)], [(p, p + 1) for p in range(P)]):
        got = _run(a, wp, np.empty_like(whole), [(0, n4)], panels)
        np.testing.assert_array_equal(got[:n4], whole[:n4])


def test_check_gemm_refuses_what_would_index_past_an_end():
    a, wp = np.zeros((3, 5)), g.pack_panels(np.zeros((5, 12)))
    g.check_gemm(a, wp, np.zeros((3, 16)))
    for bad in [(np.zeros((3, 4)), wp, np.zeros((3, 16))), (a, wp, np.zeros((3, 15))),
                (a, wp, np.zeros((2, 16))), (a.astype(np.float32), wp, np.zeros((3, 16))),
                (np.zeros((5, 3)).T, wp, np.zeros((3, 16)))]:
        with pytest.raises(ValueError, match="gemm_panels"):
            g.check_gemm(*bad)

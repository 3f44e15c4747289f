"""numrnn/kernels/numba_threads.py: listing and limiting the two OpenBLAS pools."""

import pytest

pytest.importorskip("threadpoolctl")
pytest.importorskip("scipy")

from numrnn.kernels import numba_threads as nt  # noqa: E402


def _threads(owner):
    return [p["num_threads"] for p in nt.blas_pools() if p["owner"] == owner and p["user_api"] == "blas"]


def test_pools_name_their_owner():
    pools = nt.blas_pools()
    owners = {p["owner"] for p in pools if p["user_api"] == "blas"}
    assert owners & {"numpy", "scipy (numba's np.dot)"}, pools
    assert all({"owner", "internal_api", "num_threads", "filepath"} <= set(p) for p in pools)
    assert "threads=" in nt.describe_pools()


@pytest.mark.parametrize("which,owner", [("numpy", "numpy"), ("numba", "scipy (numba's np.dot)")])
def test_limit_blas_pins_one_pool_and_restores_it(which, owner):
    before = _threads(owner)
    if not before:
        pytest.skip(f"no separate {owner} BLAS library in this install")
    other = "scipy (numba's np.dot)" if owner == "numpy" else "numpy"
    other_before = _threads(other)
    with nt.limit_blas(**{which: 1}):
        assert _threads(owner) == [1] * len(before)
        assert _threads(other) == other_before  # the other pool is left alone
    assert _threads(owner) == before

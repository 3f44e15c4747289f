"""Clipping against torch.nn.utils.clip_grad_norm_ / clip_grad_value_."""

import math

import numpy as np
import pytest

import numrnn as nr


def _grads(scale, seed=0):
    r = np.random.default_rng(seed)
    return {"a": scale * r.standard_normal((3, 4)), "b": scale * r.standard_normal(5)}


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf])
@pytest.mark.parametrize("scale", [0.01, 10.0])
def test_clip_grad_norm_matches_torch(norm_type, scale):
    torch = pytest.importorskip("torch")
    grads = _grads(scale)
    tparams = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads.values()]
    for p, g in zip(tparams, grads.values()):
        p.grad = torch.tensor(g)
    total = nr.clip_grad_norm(grads, 1.0, norm_type=norm_type)
    ttotal = torch.nn.utils.clip_grad_norm_(tparams, 1.0, norm_type=norm_type)
    assert total == pytest.approx(ttotal.item(), rel=1e-12)
    for p, g in zip(tparams, grads.values()):
        np.testing.assert_allclose(g, p.grad.numpy(), rtol=1e-12)


def test_clip_grad_value_matches_torch():
    torch = pytest.importorskip("torch")
    grads = _grads(1.0)
    tparams = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads.values()]
    for p, g in zip(tparams, grads.values()):
        p.grad = torch.tensor(g)
    nr.clip_grad_value(grads, 0.5)
    torch.nn.utils.clip_grad_value_(tparams, 0.5)
    for p, g in zip(tparams, grads.values()):
        np.testing.assert_array_equal(g, p.grad.numpy())


def test_module_and_list_of_modules_are_one_global_norm():
    a, b = nr.Linear(3, 2, seed=0), nr.Linear(2, 2, seed=1)
    for m in (a, b):
        for g in m.grads.values():
            g[...] = 3.0
    expected = math.sqrt(9.0 * (6 + 2 + 4 + 2))
    assert nr.clip_grad_norm([a, b], 1.0) == pytest.approx(expected, rel=1e-6)
    assert nr.grad_norm([a, b]) == pytest.approx(1.0, rel=1e-5)  # scaled in place
    assert nr.clip_grad_norm(a, 10.0) < 10.0  # below the limit: untouched
    nr.clip_grad_value(a, 0.01)
    assert max(np.abs(g).max() for g in a.grads.values()) <= 0.01


def test_bad_arguments():
    with pytest.raises(ValueError, match="max_norm"):
        nr.clip_grad_norm({}, 0)
    with pytest.raises(ValueError, match="norm_type"):
        nr.clip_grad_norm({"a": np.ones(2)}, 1.0, norm_type=0)
    with pytest.raises(ValueError, match="clip must be"):
        nr.clip_grad_value({}, -1)
    with pytest.raises(TypeError, match="target must be"):
        nr.clip_grad_norm([np.ones(3)], 1.0)


def test_non_finite_norm_is_reported_not_spread():
    grads = {"a": np.array([1.0, np.nan]), "b": np.array([2.0])}
    assert math.isnan(nr.clip_grad_norm(grads, 1.0))
    assert grads["b"][0] == 2.0
    grads = {"a": np.array([1.0, np.inf]), "b": np.array([2.0])}
    assert nr.clip_grad_norm(grads, 1.0) == math.inf
    assert grads["b"][0] == 2.0


def test_numpy_scalar_limits_and_bad_types():
    g = {"a": np.array([3.0, 4.0])}
    assert nr.clip_grad_norm(g, np.float32(1.0)) == pytest.approx(5.0)
    np.testing.assert_allclose(g["a"], [0.6, 0.8], rtol=1e-6)
    nr.clip_grad_value(g, np.float64(0.7))
    np.testing.assert_allclose(g["a"], [0.6, 0.7], rtol=1e-6)
    with pytest.raises(TypeError, match="max_norm must be a number > 0; got '1'"):
        nr.clip_grad_norm(g, "1")
    with pytest.raises(TypeError, match="clip must be a number > 0; got None"):
        nr.clip_grad_value(g, None)


def test_a_dict_of_lists_or_of_integer_arrays_is_refused():
    """Issue 13 item 6: a dict of lists was an AttributeError ('list' object has no attribute 'size')."""
    for bad, match in [({"w": [1.0, 2.0]}, "'w' is a list"), ({"w": np.arange(3)}, "'w' has dtype int64")]:
        for fn in (lambda g: nr.clip_grad_norm(g, 1.0), lambda g: nr.clip_grad_value(g, 1.0), nr.grad_norm):
            with pytest.raises(TypeError, match=match):
                fn(bad)
    with pytest.raises(TypeError, match="grads must map names to arrays"):
        nr.clip_grad_norm(({"w": np.ones(2)}, {"w": [0.5, 0.5]}), 1.0)


def test_norm_type_must_be_a_number():
    with pytest.raises(TypeError, match="norm_type must be a number > 0; got 'two'"):
        nr.grad_norm({"w": np.ones(2)}, "two")
    assert nr.grad_norm({"w": np.array([3.0, -4.0])}, float("inf")) == 4.0

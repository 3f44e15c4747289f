"""The two exercise sources outside numrnn.functional: one is the library's own
numerical_gradient, the other agrees with the library's clip_grad_norm."""

import numpy as np
import pytest

import numrnn as nr
from numrnn.exercises.sources import clip, gradcheck


def test_numerical_gradient_is_written_once():
    assert nr.numerical_gradient is gradcheck.numerical_gradient


@pytest.mark.parametrize("max_norm", [0.5, 3.0, 1e3])
def test_clip_exercise_agrees_with_the_library(max_norm):
    rng = np.random.default_rng(0)
    grads = [rng.standard_normal(s) for s in ((4, 3), (5,), (2, 2, 2))]
    mine = [g.copy() for g in grads]
    theirs = {str(k): g.copy() for k, g in enumerate(grads)}
    assert clip.clip_grad_norm(mine, max_norm) == pytest.approx(nr.clip_grad_norm(theirs, max_norm),
                                                                 rel=1e-14)
    for a, b in zip(mine, theirs.values()):
        np.testing.assert_allclose(a, b, rtol=1e-14)
    assert (max_norm > 10) == all(np.array_equal(a, g) for a, g in zip(mine, grads))


def test_numerical_gradient_restores_x_and_is_central():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3))
    x0 = x.copy()
    grad = nr.numerical_gradient(lambda a: a**3, x, np.ones((2, 3)))
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_allclose(grad, 3 * x0**2, rtol=1e-9)  # a one-sided difference is off by ~3*x*eps

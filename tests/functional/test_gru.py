"""The textbook GRU (numrnn/functional/gru.py): step vs sequence, numerical gradients of
the sequence functions, the contract (None without bias, inputs untouched, dtype kept),
and one layer against torch.nn.GRU (where b_hn sits inside the reset gate's product)."""

import numpy as np
import pytest

from numrnn.functional.gru import gru_backward, gru_forward, gru_step_backward, gru_step_forward
from numrnn.gradcheck import numerical_gradient, rel_error

T, N, I, H = 4, 3, 5, 4
WEIGHTS = ("w_ih", "w_hh", "b_ih", "b_hh")


def make(bias=True, dtype=np.float64, seed=0):
    """x, h0 and the weights (w_ih, w_hh, b_ih, b_hh) of one layer."""
    rng = np.random.default_rng(seed)
    arrays = dict(
        x=rng.standard_normal((T, N, I)), h0=rng.standard_normal((N, H)),
        w_ih=0.5 * rng.standard_normal((3 * H, I)), w_hh=0.5 * rng.standard_normal((3 * H, H)),
        b_ih=0.5 * rng.standard_normal(3 * H) if bias else None,
        b_hh=0.5 * rng.standard_normal(3 * H) if bias else None,
    )
    return {k: (None if v is None else v.astype(dtype)) for k, v in arrays.items()}


def run(a):
    return gru_forward(a["x"], a["h0"], *(a[k] for k in WEIGHTS))


@pytest.mark.parametrize("bias", [True, False])
def test_sequence_equals_steps(bias):
    a = make(bias)
    h, cache = run(a)
    dh = np.random.default_rng(1).standard_normal(h.shape)
    got = gru_backward(dh, cache)

    h_t, steps = a["h0"], []
    for t in range(T):
        h_t, s = gru_step_forward(a["x"][t], h_t, *(a[k] for k in WEIGHTS))
        np.testing.assert_array_equal(h[t], h_t)
        steps.append(s)
    dh_carry, sums = np.zeros_like(a["h0"]), None
    for t in reversed(range(T)):
        dx_t, dh_carry, *dw = gru_step_backward(dh[t] + dh_carry, steps[t])
        np.testing.assert_allclose(got[0][t], dx_t, rtol=1e-12, atol=1e-12)
        sums = dw if sums is None else [None if s is None else s + w for s, w in zip(sums, dw)]
    np.testing.assert_allclose(got[1], dh_carry, rtol=1e-12, atol=1e-12)
    for g, s in zip(got[2:], sums):
        assert (g is None) == (s is None)
        if g is not None:
            np.testing.assert_allclose(g, s, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("bias", [True, False])
def test_backward_matches_numerical_gradient(bias):
    a = make(bias)
    h, cache = run(a)
    dh = np.random.default_rng(2).standard_normal(h.shape)
    dx, dh0, dw_ih, dw_hh, db_ih, db_hh = gru_backward(dh, cache)
    assert (db_ih is None) == (db_hh is None) == (not bias)
    analytic = dict(x=dx, h0=dh0, w_ih=dw_ih, w_hh=dw_hh, b_ih=db_ih, b_hh=db_hh)
    for name, g in analytic.items():
        if g is None:
            continue
        num = numerical_gradient(lambda _: run(a)[0], a[name], dh, eps=1e-5)
        assert rel_error(g, num).max() < 1e-6, name
    if bias:  # the two biases differ in the candidate block: b_hn is scaled by r
        assert not np.allclose(db_ih[2 * H:], db_hh[2 * H:])
        np.testing.assert_array_equal(db_ih[:2 * H], db_hh[:2 * H])


def test_inputs_untouched_and_dtype_kept():
    a = make(dtype=np.float32)
    before = {k: v.copy() for k, v in a.items()}
    h, cache = run(a)
    assert h.dtype == np.float32 and h.shape == (T, N, H)
    dh = np.ones_like(h)
    grads = gru_backward(dh, cache)
    assert all(g.dtype == np.float32 for g in grads)
    for k, v in before.items():
        np.testing.assert_array_equal(a[k], v)
    np.testing.assert_array_equal(dh, 1)


def test_one_layer_matches_torch():
    torch = pytest.importorskip("torch")
    a = make(True)
    h, cache = run(a)
    dh = np.random.default_rng(3).standard_normal(h.shape)
    got = gru_backward(dh, cache)

    gru = torch.nn.GRU(I, H, dtype=torch.float64)
    with torch.no_grad():
        for name, key in (("weight_ih_l0", "w_ih"), ("weight_hh_l0", "w_hh"), ("bias_ih_l0", "b_ih"),
                          ("bias_hh_l0", "b_hh")):
            getattr(gru, name).copy_(torch.from_numpy(a[key]))
    x = torch.tensor(a["x"], requires_grad=True)
    h0 = torch.tensor(a["h0"][None], requires_grad=True)
    out, _ = gru(x, h0)
    (out * torch.from_numpy(dh)).sum().backward()
    np.testing.assert_allclose(h, out.detach().numpy(), rtol=0, atol=1e-12)
    expected = [x.grad, h0.grad[0], gru.weight_ih_l0.grad, gru.weight_hh_l0.grad, gru.bias_ih_l0.grad,
                gru.bias_hh_l0.grad]
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e.numpy(), rtol=0, atol=1e-11)

"""The textbook LSTM (numrnn/functional/lstm.py): step vs sequence, numerical gradients of
the sequence functions (with upstream gradients on h and c at every step), the contract
(None for absent bias/projection, inputs untouched, dtype kept), and one layer against
torch.nn.LSTM."""

import numpy as np
import pytest

from numrnn.functional.lstm import (
    lstm_backward,
    lstm_forward,
    lstm_step_backward,
    lstm_step_forward,
)
from numrnn.gradcheck import numerical_gradient, rel_error

T, N, I, H, P = 4, 3, 5, 4, 2


def make(bias=True, proj=False, dtype=np.float64, seed=0):
    """x, h0, c0 and the weights (w_ih, w_hh, b_ih, b_hh, w_hr) of one layer."""
    rng = np.random.default_rng(seed)
    Ph = P if proj else H
    arrays = dict(
        x=rng.standard_normal((T, N, I)), h0=rng.standard_normal((N, Ph)),
        c0=rng.standard_normal((N, H)), w_ih=0.5 * rng.standard_normal((4 * H, I)),
        w_hh=0.5 * rng.standard_normal((4 * H, Ph)),
        b_ih=0.5 * rng.standard_normal(4 * H) if bias else None,
        b_hh=0.5 * rng.standard_normal(4 * H) if bias else None,
        w_hr=0.5 * rng.standard_normal((P, H)) if proj else None,
    )
    return {k: (None if v is None else v.astype(dtype)) for k, v in arrays.items()}


WEIGHTS = ("w_ih", "w_hh", "b_ih", "b_hh", "w_hr")


def run(a):
    return lstm_forward(a["x"], a["h0"], a["c0"], *(a[k] for k in WEIGHTS))


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("proj", [False, True])
def test_sequence_equals_steps(bias, proj):
    a = make(bias, proj)
    h, c, cache = run(a)
    rng = np.random.default_rng(1)
    dh, dc = rng.standard_normal(h.shape), rng.standard_normal(c.shape)
    got = lstm_backward(dh, dc, cache)

    h_t, c_t, steps = a["h0"], a["c0"], []
    for t in range(T):
        h_t, c_t, s = lstm_step_forward(a["x"][t], h_t, c_t, *(a[k] for k in WEIGHTS))
        np.testing.assert_array_equal(h[t], h_t)
        np.testing.assert_array_equal(c[t], c_t)
        steps.append(s)
    dh_carry, dc_carry = np.zeros_like(a["h0"]), np.zeros_like(a["c0"])
    sums = None
    for t in reversed(range(T)):
        dx_t, dh_carry, dc_carry, *dw = lstm_step_backward(dh[t] + dh_carry, dc[t] + dc_carry, steps[t])
        np.testing.assert_allclose(got[0][t], dx_t, rtol=1e-12, atol=1e-12)
        sums = dw if sums is None else [None if s is None else s + w for s, w in zip(sums, dw)]
    np.testing.assert_allclose(got[1], dh_carry, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(got[2], dc_carry, rtol=1e-12, atol=1e-12)
    for g, s in zip(got[3:], sums):
        assert (g is None) == (s is None)
        if g is not None:
            np.testing.assert_allclose(g, s, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("proj", [False, True])
def test_backward_matches_numerical_gradient(bias, proj):
    """Upstream gradients on every h_t and every c_t: the dc argument is exercised
    at every step, not only at the last one as the modules use it."""
    a = make(bias, proj)
    h, c, cache = run(a)
    rng = np.random.default_rng(2)
    dh, dc = rng.standard_normal(h.shape), rng.standard_normal(c.shape)
    dx, dh0, dc0, dw_ih, dw_hh, db_ih, db_hh, dw_hr = lstm_backward(dh, dc, cache)
    analytic = dict(x=dx, h0=dh0, c0=dc0, w_ih=dw_ih, w_hh=dw_hh, b_ih=db_ih, b_hh=db_hh, w_hr=dw_hr)
    assert (db_ih is None) == (not bias) and (dw_hr is None) == (not proj)

    def f(_):
        h, c, _ = run(a)
        return np.concatenate([h.ravel(), c.ravel()])

    upstream = np.concatenate([dh.ravel(), dc.ravel()])
    for name, g in analytic.items():
        if g is None:
            continue
        num = numerical_gradient(f, a[name], upstream, eps=1e-5)
        assert rel_error(g, num).max() < 1e-6, name


def test_inputs_untouched_and_dtype_kept():
    a = make(proj=True, dtype=np.float32)
    before = {k: v.copy() for k, v in a.items() if v is not None}
    h, c, cache = run(a)
    assert h.dtype == c.dtype == np.float32 and h.shape == (T, N, P) and c.shape == (T, N, H)
    dh, dc = np.ones_like(h), np.ones_like(c)
    grads = lstm_backward(dh, dc, cache)
    assert all(g.dtype == np.float32 for g in grads)
    for k, v in before.items():
        np.testing.assert_array_equal(a[k], v)
    np.testing.assert_array_equal(dh, 1)
    np.testing.assert_array_equal(dc, 1)


@pytest.mark.parametrize("proj", [False, True])
def test_one_layer_matches_torch(proj):
    torch = pytest.importorskip("torch")
    a = make(True, proj)
    h, c, cache = run(a)
    rng = np.random.default_rng(3)
    dh, dc_n = rng.standard_normal(h.shape), rng.standard_normal((N, H))
    dc = np.zeros_like(c)
    dc[-1] = dc_n
    got = lstm_backward(dh, dc, cache)

    lstm = torch.nn.LSTM(I, H, proj_size=P if proj else 0, dtype=torch.float64)
    with torch.no_grad():
        for name, key in (("weight_ih_l0", "w_ih"), ("weight_hh_l0", "w_hh"), ("bias_ih_l0", "b_ih"),
                          ("bias_hh_l0", "b_hh")) + ((("weight_hr_l0", "w_hr"),) if proj else ()):
            getattr(lstm, name).copy_(torch.from_numpy(a[key]))
    x = torch.tensor(a["x"], requires_grad=True)
    h0 = torch.tensor(a["h0"][None], requires_grad=True)
    c0 = torch.tensor(a["c0"][None], requires_grad=True)
    out, (h_n, c_n) = lstm(x, (h0, c0))
    ((out * torch.from_numpy(dh)).sum() + (c_n[0] * torch.from_numpy(dc_n)).sum()).backward()
    np.testing.assert_allclose(h, out.detach().numpy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(c[-1], c_n[0].detach().numpy(), rtol=0, atol=1e-12)
    expected = [x.grad, h0.grad[0], c0.grad[0], lstm.weight_ih_l0.grad, lstm.weight_hh_l0.grad,
                lstm.bias_ih_l0.grad, lstm.bias_hh_l0.grad] + ([lstm.weight_hr_l0.grad] if proj else [None])
    for g, e in zip(got, expected):
        if e is None:
            assert g is None
        else:
            np.testing.assert_allclose(g, e.numpy(), rtol=0, atol=1e-11)

"""Linear against torch.nn.Linear, numerically, and on bad input."""

import numpy as np
import pytest

import numrnn as nr

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("shape", [(4, 3), (5, 2, 3), (3,)])
@pytest.mark.parametrize("bias", [True, False])
def test_parity_with_torch(shape, bias, rng):
    lin = nr.Linear(3, 6, bias=bias, dtype=np.float64, seed=0)
    twin = torch.nn.Linear(3, 6, bias=bias).double()
    twin.load_state_dict({k: torch.from_numpy(v) for k, v in lin.state_dict().items()})
    x = rng.standard_normal(shape)
    dy = rng.standard_normal((*shape[:-1], 6))
    y = lin(x)
    dx = lin.backward(dy)
    xt = torch.tensor(x, requires_grad=True)
    yt = twin(xt)
    (yt * torch.tensor(dy)).sum().backward()
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-12, atol=1e-12)
    for k, p in twin.named_parameters():
        np.testing.assert_allclose(lin.grads[k], p.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_check_gradients(rng):
    assert nr.check_gradients(nr.Linear(3, 4), rng.standard_normal((5, 2, 3))).ok


def test_bad_input():
    lin = nr.Linear(3, 4)
    with pytest.raises(ValueError, match="in_features=3 .* got shape \\(2, 5\\)"):
        lin(np.zeros((2, 5), dtype=np.float32))
    with pytest.raises(RuntimeError, match="before forward"):
        nr.Linear(3, 4).backward(np.zeros((2, 4), dtype=np.float32))
    lin(np.zeros((2, 3), dtype=np.float32))
    with pytest.raises(ValueError, match="dy must have shape \\(2, 4\\)"):
        lin.backward(np.zeros((2, 3), dtype=np.float32))


def test_junk_flags_and_dtypes_are_usage_errors():
    """Found by tests/properties/test_junk.py: bool(array) and np.dtype((None, False)) were
    NumPy's ValueErrors."""
    with pytest.raises(TypeError, match="Linear: bias must be True or False"):
        nr.Linear(2, 2, bias=np.array([]))
    with pytest.raises(TypeError, match="dtype must be np.float32 or np.float64"):
        nr.Linear(2, 2, dtype=(None, False))

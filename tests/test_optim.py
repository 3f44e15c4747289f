"""Every optimizer against torch.optim, step by step on the same gradients (float64)."""

import numpy as np
import pytest

import numrnn as nr

torch = pytest.importorskip("torch")

CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.2)),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("SGD", dict(lr=0.1, weight_decay=0.05)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, betas=(0.8, 0.9), eps=1e-6, weight_decay=0.1)),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.05, weight_decay=0.01, initial_accumulator_value=0.3, eps=1e-6)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, alpha=0.9, eps=1e-6, weight_decay=0.01)),
    ("RMSprop", dict(lr=0.01, centered=True)),
    ("RMSprop", dict(lr=0.01, momentum=0.9, centered=True)),
    ("RMSprop", dict(lr=0.01, momentum=0.5)),
]


@pytest.mark.parametrize("name, kwargs", CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_matches_torch_step_by_step(name, kwargs):
    r = np.random.default_rng(0)
    params = {"w": r.standard_normal((3, 4)), "b": r.standard_normal(4)}
    grads = {k: np.zeros_like(v) for k, v in params.items()}
    tparams = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    ours = getattr(nr, name)((params, grads), **kwargs)
    theirs = getattr(torch.optim, name)(list(tparams.values()), **kwargs)
    for _ in range(6):
        for k in params:
            g = r.standard_normal(params[k].shape)
            grads[k][...] = g
            tparams[k].grad = torch.tensor(g)
        ours.step()
        theirs.step()
        for k in params:
            np.testing.assert_allclose(params[k], tparams[k].detach().numpy(), rtol=1e-12, atol=1e-14)


def test_module_target_and_state_dict_round_trip():
    lin = nr.Linear(3, 2, dtype=np.float64, seed=0)
    twin = nr.Linear(3, 2, dtype=np.float64, seed=0)
    opt, opt2 = nr.Adam(lin, lr=0.1), nr.Adam(twin, lr=0.1)
    x = np.ones((4, 3))
    for _ in range(2):
        for m, o in ((lin, opt), (twin, opt2)):
            o.zero_grad()
            m(x)
            m.backward(np.ones((4, 2)))
            o.step()
    sd = opt.state_dict()
    assert sd["steps"] == 2 and set(sd["state"]) == {"0.weight", "0.bias"}
    assert set(sd["state"]["0.weight"]) == {"exp_avg", "exp_avg_sq"}
    fresh = nr.Adam(twin, lr=0.1)
    fresh.load_state_dict(sd)
    for m, o in ((lin, opt), (twin, fresh)):
        o.zero_grad()
        m(x)
        m.backward(np.ones((4, 2)))
        o.step()
    np.testing.assert_array_equal(lin.params["weight"], twin.params["weight"])


def test_bad_arguments():
    lin = nr.Linear(2, 2)
    with pytest.raises(ValueError, match="lr must be"):
        nr.SGD(lin, lr=0)
    with pytest.raises(ValueError, match="nesterov"):
        nr.SGD(lin, nesterov=True)
    with pytest.raises(ValueError, match="momentum must be"):
        nr.RMSprop(lin, momentum=-1)
    with pytest.raises(ValueError, match="betas"):
        nr.Adam(lin, betas=(1.0, 0.9))
    with pytest.raises(TypeError, match="optimizer target"):
        nr.Adagrad(["not a module"])
    with pytest.raises(ValueError, match="saved by Adam, not SGD"):
        nr.SGD(lin).load_state_dict(nr.Adam(lin).state_dict())
    sd = nr.SGD(lin, momentum=0.9).state_dict()
    sd["state"] = {"0.weight": {"momentum_buffer": np.zeros((3, 3))}}
    with pytest.raises(ValueError, match="has shape"):
        nr.SGD(lin, momentum=0.9).load_state_dict(sd)


def test_numpy_scalars_are_numbers_and_bad_betas_are_clear():
    lin = nr.Linear(2, 2)
    opt = nr.Adam(lin, lr=np.float32(0.01), betas=(np.float64(0.8), 0.9), eps=np.float32(1e-6))
    assert opt.lr == pytest.approx(0.01) and (opt.b1, opt.b2) == (0.8, 0.9)
    assert nr.SGD(lin, lr=np.int64(1), momentum=np.float32(0.5)).momentum == 0.5
    with pytest.raises(TypeError, match=r"betas must be a pair \(beta1, beta2\); got 0.9"):
        nr.Adam(lin, betas=0.9)
    with pytest.raises(ValueError, match="betas must be a pair .* got 3 values"):
        nr.Adam(lin, betas=(0.9, 0.99, 0.999))
    with pytest.raises(TypeError, match="SGD: lr must be a number > 0; got '0.1'"):
        nr.SGD(lin, lr="0.1")
    with pytest.raises(ValueError, match="RMSprop: alpha must be a number >= 0; got nan"):
        nr.RMSprop(lin, alpha=float("nan"))


def test_target_may_be_a_params_grads_pair_and_clip_takes_the_same():
    lin = nr.Linear(2, 2, dtype=np.float64, seed=0)
    lin.grads["weight"][...] = 3.0
    lin.grads["bias"][...] = 4.0
    pair = (lin.params, lin.grads)
    before = lin.params["weight"].copy()
    assert nr.clip_grad_norm(pair, 1.0) == pytest.approx(np.sqrt(4 * 9 + 2 * 16))  # was a TypeError
    nr.SGD(pair, lr=1.0).step()
    np.testing.assert_allclose(lin.params["weight"], before - lin.grads["weight"])
    with pytest.raises(TypeError, match=r"optimizer target must be .*pass \(params, grads\)"):
        nr.SGD(lin.params)
    with pytest.raises(ValueError, match=r"same keys; only in params \['bias'\]"):
        nr.SGD((lin.params, {"weight": lin.grads["weight"]}))


def test_a_pair_of_dicts_must_hold_float_arrays():
    """A list in the pair failed at the first step ('list' -= float) instead of at construction."""
    with pytest.raises(TypeError, match=r"params must map names to arrays .*; .w. is a list"):
        nr.SGD(({"w": [1.0, 2.0]}, {"w": np.zeros(2)}))
    with pytest.raises(TypeError, match="params must hold float arrays; 'w' has dtype int64"):
        nr.Adam(({"w": np.arange(2)}, {"w": np.zeros(2)}))


def test_flags_must_be_booleans():
    m = nr.Linear(2, 2)
    with pytest.raises(TypeError, match="SGD: nesterov must be True or False"):
        nr.SGD(m, momentum=0.9, nesterov=np.array([1, 2]))
    with pytest.raises(TypeError, match="RMSprop: centered must be True or False"):
        nr.RMSprop(m, centered="yes")

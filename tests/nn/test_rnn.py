"""nn.RNN and nn.RNNCell against torch.nn.RNN / RNNCell, and numerically.

Parity: same weights through state_dict, same inputs and upstream gradients; out,
h_n, dx, dh0 and every parameter gradient agree within 1e-10 / 1e-9 (float64) and
1e-5 / 1e-4 (float32), relative to the largest entry of the torch result.
"""

import itertools

import numpy as np
import pytest

import numrnn as nr
from tests.torch_oracle import max_rel, torch_pass, twin

torch = pytest.importorskip("torch")

GRID = list(itertools.product(("tanh", "relu"), (1, 2, 3), (False, True), (False, True), (True, False)))
TOL = {np.float64: (1e-10, 1e-9), np.float32: (1e-5, 1e-4)}


def make_inputs(rnn, rng, T=5, N=3, batched=True):
    D = rnn.num_directions
    if not batched:
        x = rng.standard_normal((T, rnn.input_size))
        h0 = rng.standard_normal((rnn.num_layers * D, rnn.hidden_size))
    else:
        x = rng.standard_normal((N, T, rnn.input_size) if rnn.batch_first else (T, N, rnn.input_size))
        h0 = rng.standard_normal((rnn.num_layers * D, N, rnn.hidden_size))
    return x.astype(rnn.dtype), h0.astype(rnn.dtype)


def assert_parity(rnn, x, h0, rng, tol_fwd, tol_grad):
    out, h_n = rnn(x, h0)
    dout = rng.standard_normal(out.shape).astype(rnn.dtype)
    dh_n = rng.standard_normal(h_n.shape).astype(rnn.dtype)
    rnn.zero_grad()
    dx, dh0 = rnn.backward(dout, dh_n)
    t_out, (t_hn,), t_dx, (t_dh0,), t_grads = torch_pass(twin(rnn), x, (h0,), dout, (dh_n,))
    assert out.dtype == rnn.dtype and dx.dtype == rnn.dtype
    assert max_rel(out, t_out) < tol_fwd
    assert max_rel(h_n, t_hn) < tol_fwd
    assert max_rel(dx, t_dx) < tol_grad
    assert max_rel(dh0, t_dh0) < tol_grad
    assert set(rnn.grads) == set(t_grads)
    for name, g in t_grads.items():
        assert max_rel(rnn.grads[name], g) < tol_grad, name


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("nonlinearity,layers,bidirectional,batch_first,bias", GRID)
def test_parity_with_torch(nonlinearity, layers, bidirectional, batch_first, bias, dtype, rng):
    rnn = nr.RNN(4, 5, num_layers=layers, nonlinearity=nonlinearity, bias=bias, batch_first=batch_first,
                 bidirectional=bidirectional, dtype=dtype, backend="numpy", seed=0)
    x, h0 = make_inputs(rnn, rng)
    assert_parity(rnn, x, h0, rng, *TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("layers,bidirectional", [(1, False), (2, True), (3, False)])
def test_parity_unbatched(layers, bidirectional, dtype, rng):
    rnn = nr.RNN(4, 5, num_layers=layers, bidirectional=bidirectional, dtype=dtype, backend="numpy", seed=1)
    x, h0 = make_inputs(rnn, rng, batched=False)
    out, h_n = rnn(x, h0)
    assert out.shape == (5, 5 * rnn.num_directions) and h_n.shape == h0.shape
    assert_parity(rnn, x, h0, rng, *TOL[dtype])


@pytest.mark.parametrize("nonlinearity,layers,bidirectional,batch_first,bias", GRID)
def test_check_gradients_passes(nonlinearity, layers, bidirectional, batch_first, bias, rng):
    rnn = nr.RNN(3, 4, num_layers=layers, nonlinearity=nonlinearity, bias=bias, batch_first=batch_first,
                 bidirectional=bidirectional, dtype=np.float64, backend="numpy", seed=2)
    x = rng.standard_normal((2, 4, 3) if batch_first else (4, 2, 3))
    report = nr.check_gradients(rnn, x)
    assert report.ok, str(report)
    expected = set(rnn.state_dict()) | {"input x", "h0"}
    assert set(report.errors) == expected


def test_h0_none_is_zeros(rng):
    rnn = nr.RNN(3, 4, num_layers=2, bidirectional=True, dtype=np.float64, seed=0)
    x = rng.standard_normal((5, 2, 3))
    out_none, hn_none = rnn(x)
    out_zero, hn_zero = rnn(x, np.zeros((4, 2, 4)))
    np.testing.assert_array_equal(out_none, out_zero)
    np.testing.assert_array_equal(hn_none, hn_zero)


def test_h_n_order_and_out_halves(rng):
    """h_n is ordered layer 0 fwd, layer 0 rev, layer 1 fwd, ...; out is [fwd | rev]."""
    rnn = nr.RNN(3, 4, num_layers=2, bidirectional=True, dtype=np.float64, seed=0)
    x = rng.standard_normal((6, 2, 3))
    out, h_n = rnn(x)
    np.testing.assert_array_equal(out[-1, :, :4], h_n[2])  # top layer forward: last step
    np.testing.assert_array_equal(out[0, :, 4:], h_n[3])  # top layer reverse: first step


def test_backward_adds_into_grads(rng):
    rnn = nr.RNN(3, 4, dtype=np.float64, seed=0)
    x = rng.standard_normal((5, 2, 3))
    out, h_n = rnn(x, keep_cache=True)  # two backward passes through one forward
    dout = rng.standard_normal(out.shape)
    rnn.backward(dout)
    once = {k: v.copy() for k, v in rnn.grads.items()}
    rnn.backward(dout)
    for k in once:
        np.testing.assert_allclose(rnn.grads[k], 2 * once[k])
    rnn.zero_grad()
    assert all(not g.any() for g in rnn.grads.values())


def test_dh_n_none_equals_zeros(rng):
    rnn = nr.RNN(3, 4, num_layers=2, dtype=np.float64, seed=0)
    x = rng.standard_normal((5, 2, 3))
    out, h_n = rnn(x, keep_cache=True)  # two backward passes through one forward
    dout = rng.standard_normal(out.shape)
    dx1, dh01 = rnn.backward(dout)
    dx2, dh02 = rnn.backward(dout, np.zeros_like(h_n))
    np.testing.assert_array_equal(dx1, dx2)
    np.testing.assert_array_equal(dh01, dh02)


def test_backward_leaves_dout_untouched(rng):
    rnn = nr.RNN(3, 4, dtype=np.float64, seed=0)
    out, h_n = rnn(rng.standard_normal((5, 2, 3)))
    dout, dh_n = rng.standard_normal(out.shape), rng.standard_normal(h_n.shape)
    before = dout.copy(), dh_n.copy()
    rnn.backward(dout, dh_n)
    np.testing.assert_array_equal(dout, before[0])
    np.testing.assert_array_equal(dh_n, before[1])


class TestDropout:
    def make(self, **kw):
        return nr.RNN(3, 6, num_layers=3, dropout=0.5, dtype=np.float64, seed=7, **kw)

    def test_eval_mode_matches_torch_and_is_deterministic(self, rng):
        rnn = self.make().eval()
        x, h0 = make_inputs(rnn, rng)
        assert_parity(rnn, x, h0, rng, 1e-10, 1e-9)

    def test_train_mode_draws_masks_from_seeded_generator(self, rng):
        x = rng.standard_normal((5, 2, 3))
        a, b = self.make(), self.make()
        np.testing.assert_array_equal(a(x)[0], b(x)[0])  # same seed, same masks
        first = a(x)[0]
        assert not np.allclose(first, a(x)[0])  # a new draw per forward
        no_drop = self.make().eval()(x)[0]
        assert not np.allclose(first, no_drop)

    def test_masks_between_layers_only_and_scaled(self, rng):
        rnn = self.make()
        rnn(rng.standard_normal((5, 2, 3)))
        assert len(rnn._masks) == 2  # between 3 layers
        for m in rnn._masks:
            assert set(np.unique(m)) <= {0.0, 2.0}

    def test_gradients_checked_with_masks_held(self, rng):
        report = nr.check_gradients(self.make(bidirectional=True), rng.standard_normal((4, 2, 3)))
        assert report.ok, str(report)


class TestStateDict:
    def test_names_shapes_like_torch(self):
        rnn = nr.RNN(3, 4, num_layers=2, bidirectional=True, seed=0)
        twin = torch.nn.RNN(3, 4, num_layers=2, bidirectional=True)
        sd = rnn.state_dict()
        assert list(sd) == list(twin.state_dict())
        for k, v in twin.state_dict().items():
            assert sd[k].shape == tuple(v.shape)
            assert sd[k].dtype == np.float32

    def test_init_range_and_seed(self):
        rnn = nr.RNN(3, 16, num_layers=2, seed=3)
        k = 1 / np.sqrt(16)
        for v in rnn.state_dict().values():
            assert np.abs(v).max() <= k and np.abs(v).max() > 0.8 * k
        again = nr.RNN(3, 16, num_layers=2, seed=3).state_dict()
        for name, v in rnn.state_dict().items():
            np.testing.assert_array_equal(v, again[name])

    def test_round_trip_and_copy_semantics(self):
        a, b = nr.RNN(3, 4, seed=0), nr.RNN(3, 4, seed=1)
        b.load_state_dict(a.state_dict())
        for k, v in a.state_dict().items():
            np.testing.assert_array_equal(b.params[k], v)
        sd = a.state_dict()
        sd["weight_hh_l0"][...] = 0
        assert a.params["weight_hh_l0"].any()  # state_dict returns copies

    def test_loads_torch_tensors_and_lists(self):
        twin = torch.nn.RNN(3, 4)
        rnn = nr.RNN(3, 4, dtype=np.float64)
        rnn.load_state_dict(twin.state_dict())
        np.testing.assert_allclose(rnn.params["weight_ih_l0"], twin.weight_ih_l0.detach().numpy())
        rnn.load_state_dict({k: v.tolist() for k, v in rnn.state_dict().items()})

    def test_bias_false_has_no_bias(self):
        assert set(nr.RNN(3, 4, bias=False).state_dict()) == {"weight_ih_l0", "weight_hh_l0"}


class TestRNNCell:
    @pytest.mark.parametrize("dtype", [np.float64, np.float32])
    @pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
    @pytest.mark.parametrize("bias", [True, False])
    @pytest.mark.parametrize("batched", [True, False])
    def test_parity_with_torch(self, nonlinearity, bias, batched, dtype, rng):
        cell = nr.RNNCell(3, 4, bias=bias, nonlinearity=nonlinearity, dtype=dtype, seed=0)
        shape = (2,) if batched else ()
        x = rng.standard_normal((*shape, 3)).astype(dtype)
        h = rng.standard_normal((*shape, 4)).astype(dtype)
        dh1 = rng.standard_normal((*shape, 4)).astype(dtype)
        h1 = cell(x, h)
        dx, dh = cell.backward(dh1)
        _, (t_h1,), t_dx, (t_dh,), t_grads = torch_pass(twin(cell), x, (h,), None, (dh1,))
        tol_f, tol_g = TOL[dtype]
        assert max_rel(h1, t_h1) < tol_f
        assert max_rel(dx, t_dx) < tol_g
        assert max_rel(dh, t_dh) < tol_g
        for k, g in t_grads.items():
            assert max_rel(cell.grads[k], g) < tol_g

    def test_check_gradients(self, rng):
        for nl in ("tanh", "relu"):
            cell = nr.RNNCell(3, 4, nonlinearity=nl, seed=0)
            assert nr.check_gradients(cell, rng.standard_normal((2, 3))).ok
            assert nr.check_gradients(cell, rng.standard_normal(3)).ok

    def test_cell_unrolled_equals_rnn(self, rng):
        rnn = nr.RNN(3, 4, dtype=np.float64, seed=0)
        cell = nr.RNNCell(3, 4, dtype=np.float64)
        cell.load_state_dict({k[:-3]: v for k, v in rnn.state_dict().items()})  # drop "_l0"
        x = rng.standard_normal((5, 2, 3))
        out, _ = rnn(x)
        h = None
        for t in range(5):
            h = cell(x[t], h)
            np.testing.assert_allclose(h, out[t], rtol=1e-14, atol=1e-14)


def test_repr():
    rnn = nr.RNN(3, 4, num_layers=2, bidirectional=True)
    assert repr(rnn) == "RNN(3, 4, num_layers=2, bidirectional=True)"
    assert repr(nr.RNNCell(3, 4, bias=False)) == "RNNCell(3, 4, bias=False)"


@pytest.mark.parametrize("cls", [nr.RNN, nr.LSTM, nr.GRU])
@pytest.mark.parametrize("backend", ["numpy", "auto"])
@pytest.mark.parametrize("batched", [True, False])
def test_writing_into_out_does_not_change_the_backward(cls, backend, batched, rng):
    """The caller owns ``out``: scaling it in place must not corrupt the saved states."""
    m = cls(3, 4, dtype=np.float64, backend=backend, seed=0)
    x = rng.standard_normal((5, 2, 3) if batched else (5, 3))
    dout = rng.standard_normal((5, 2, 4) if batched else (5, 4))
    out, _ = m(x)
    clean = [g.copy() for g in m.backward(dout)[:1]] + [v.copy() for v in m.grads.values()]
    m.zero_grad()
    out, _ = m(x)
    out *= 100.0
    dirty = list(m.backward(dout)[:1]) + list(m.grads.values())
    for a, b in zip(clean, dirty):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("cls", [nr.RNNCell, nr.GRUCell])
def test_writing_into_a_cells_output_does_not_change_its_backward(cls, rng):
    cell = cls(3, 4, dtype=np.float64, seed=0)
    x, dh1 = rng.standard_normal((2, 3)), rng.standard_normal((2, 4))
    cell(x)
    clean = cell.backward(dh1)
    h1 = cell(x)
    h1 *= 100.0
    dirty = cell.backward(dh1)
    for a, b in zip(clean, dirty):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("make", [
    lambda: nr.RNN(3, 4, num_layers=2, dtype=np.float64, seed=0),
    lambda: nr.LSTM(3, 4, dtype=np.float64, seed=0),
    lambda: nr.RNN(3, 4, dtype=np.float64, backend="numpy", seed=0),
])
def test_writing_into_x_or_h0_after_forward_does_not_change_the_backward(make, rng):
    """The stateful-loop pattern ``h0[...] = h_n`` and refilled input buffers are safe."""
    m = make()
    x = rng.standard_normal((5, 2, 3))
    state = rng.standard_normal((m.num_layers, 2, 4))
    hx = (state, state.copy()) if isinstance(m, nr.LSTM) else state
    out, _ = m(x, hx)
    dout = rng.standard_normal(out.shape)
    clean = m.backward(dout)[0].copy(), {k: v.copy() for k, v in m.grads.items()}
    m.zero_grad()
    out, h_n = m(x, hx)
    x[...] = 0
    state[...] = 7.0
    dirty = m.backward(dout)[0], m.grads
    np.testing.assert_array_equal(clean[0], dirty[0])
    for k in clean[1]:
        np.testing.assert_array_equal(clean[1][k], dirty[1][k])


def test_writing_into_inputs_of_a_cell_or_linear_after_forward(rng):
    for m in (nr.RNNCell(3, 4, dtype=np.float64), nr.Linear(3, 4, dtype=np.float64)):
        x = rng.standard_normal((2, 3))
        dy = rng.standard_normal(np.shape(m(x)))
        m.backward(dy)
        clean = {k: v.copy() for k, v in m.grads.items()}
        m.zero_grad()
        m(x)
        x[...] = 0
        m.backward(dy)
        for k in clean:
            np.testing.assert_array_equal(clean[k], m.grads[k])

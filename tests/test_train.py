"""The training loop: learning, exact resume, non-finite guards, progress bar, misuse."""

import sys

import numpy as np
import pytest

import numrnn as nr
from numrnn.errors import UsageError, UsageTypeError, UsageValueError


def _data(n_batches=3, seed=0):
    """Tiny many-to-one task: predict the mean of a (T=4, N=5, 1) sequence."""
    r = np.random.default_rng(seed)
    out = []
    for _ in range(n_batches):
        x = r.standard_normal((4, 5, 1)).astype(np.float32)
        out.append((x, x.mean(axis=0)))
    return out


def _setup(model_seed=0, tmp=None, every=0, **kw):
    model = nr.Sequential(nr.RNN(1, 6, seed=model_seed), nr.Dropout(0.2, seed=model_seed + 1),
                          nr.LastStep(), nr.Linear(6, 1, seed=model_seed + 2))
    opt = nr.Adam(model, lr=0.02)
    return nr.Trainer(model, opt, nr.mse_loss, clip_norm=1.0, checkpoint_path=tmp,
                      checkpoint_every=every, seed=5, **kw)


def test_fit_learns_and_records_history():
    tr = _setup()
    data = _data()
    hist = tr.fit(data, epochs=12, val=data)
    assert len(hist.loss) == 36 and len(hist.grad_norm) == 36
    assert len(hist.epoch_loss) == 12 and len(hist.val_loss) == 12
    assert hist.val_loss[-1] < 0.5 * hist.val_loss[0]
    assert tr.step == 36 and tr.epoch == 12


@pytest.mark.parametrize("stop_at", [3, 4])  # at an epoch boundary and inside an epoch
def test_resume_gives_the_uninterrupted_run(tmp_path, stop_at):
    data = _data()
    full = _setup()
    full.fit(data, epochs=3)

    first = _setup(tmp=tmp_path / "ck.npz", every=2)
    first.fit(data, epochs=3, max_steps=stop_at)
    assert first.step == stop_at

    second = _setup(model_seed=42, tmp=tmp_path / "ck.npz", every=2)  # other initial weights
    second.resume()
    assert second.step == stop_at
    second.fit(data, epochs=3)
    for k, v in full.model.params.items():
        np.testing.assert_array_equal(second.model.params[k], v, err_msg=k)
    assert second.history == full.history


def test_non_finite_loss_stops_and_keeps_the_last_checkpoint(tmp_path):
    path = tmp_path / "ck.npz"
    tr = _setup(tmp=path, every=2)
    kept = {}

    def loss_fn(pred, y):
        if tr.step + 1 == 5:
            return float("nan"), pred * 0
        return nr.mse_loss(pred, y)

    tr.loss_fn = loss_fn
    tr.fit(_data(), epochs=1)  # steps 1-3, checkpoint at step 2 and at the end (3)
    with pytest.raises(nr.NonFiniteError, match="step 5: loss is not finite") as info:
        tr.fit(_data(), epochs=3,
               on_step=lambda t, loss: kept.update(t.model.state_dict()) if t.step == 4 else None)
    assert info.value.step == 5 and info.value.tensor == "loss"
    ck = nr.load_checkpoint(path)
    assert ck.extra["trainer"]["step"] == 4
    for k, v in kept.items():
        np.testing.assert_array_equal(ck.model.params[k], v)


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
def test_non_finite_gradient_names_the_tensor(tmp_path):
    tr = _setup(tmp=tmp_path / "ck.npz", every=1)

    def loss_fn(pred, y):
        loss, d = nr.mse_loss(pred, y)
        if tr.step + 1 == 3:
            d = d * np.inf
        return loss, d

    tr.loss_fn = loss_fn
    with pytest.raises(nr.NonFiniteError, match=r"step 3: grad \S+ is not finite") as info:
        tr.fit(_data(), epochs=2)
    assert info.value.tensor.startswith("grad ")
    assert nr.load_checkpoint(tmp_path / "ck.npz").extra["trainer"]["step"] == 2


def test_progress_bar_with_and_without_tqdm(monkeypatch, capsys):
    pytest.importorskip("tqdm")
    _setup(progress=True).fit(_data(), epochs=1)
    assert "epoch 1/1" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)  # import tqdm.auto now fails
    hist = _setup(progress=True).fit(_data(), epochs=1)
    captured = capsys.readouterr()
    assert len(hist.loss) == 3 and "epoch" not in captured.err
    assert "epoch 1/1: step 3/3" in captured.out  # the one Progress helper's fallback: lines


def test_no_progress_prints_nothing(capsys):
    _setup().fit(_data(), epochs=1)
    assert capsys.readouterr().out == ""


def test_fit_function_and_stop_flag():
    model = nr.Sequential(nr.RNN(1, 3, seed=0), nr.LastStep(), nr.Linear(3, 1, seed=1))
    hist = nr.fit(model, nr.SGD(model, lr=0.1), _data(), epochs=2, shuffle=False)
    assert len(hist.epoch_loss) == 2
    tr = _setup()

    def stop(t, loss):
        t.stop = t.step == 2

    tr.fit(_data(), epochs=5, on_step=stop)
    assert tr.step == 2


def test_misuse():
    tr = _setup()
    with pytest.raises(TypeError, match="a batch must be a tuple"):
        tr.fit([np.zeros((4, 5, 1))], epochs=1)
    rnn = nr.RNN(1, 2)
    with pytest.raises(TypeError, match="wrap it with its head"):
        nr.Trainer(rnn, nr.SGD(rnn)).fit(_data(1), epochs=1)
    with pytest.raises(ValueError, match="checkpoint_every needs a checkpoint_path"):
        _setup(every=3)
    with pytest.raises(ValueError, match="no batches"):
        tr.fit([], epochs=1)
    with pytest.raises(ValueError, match="clip_norm"):
        nr.Trainer(rnn, nr.SGD(rnn), clip_norm=0)


def test_trainer_refuses_a_non_module_a_string_optimizer_and_a_non_callable_loss():
    """Issue 13 item 6: these were AttributeErrors from deep inside the first step."""
    model = nr.Sequential(nr.RNN(1, 2), nr.LastStep())
    with pytest.raises(TypeError, match="Trainer: model must be a numrnn Module .*got dict"):
        nr.Trainer({"w": np.zeros(2)}, nr.SGD(model))
    with pytest.raises(TypeError, match=r"optimizer must be an optimizer .*got 'adam' \(pass an optimizer"):
        nr.Trainer(model, "adam")
    with pytest.raises(TypeError, match="loss_fn must be a function"):
        nr.Trainer(model, nr.SGD(model), "mse")
    with pytest.raises(UsageError):
        nr.fit(model, "sgd", _data(1))


def test_numeric_options_accept_numpy_scalars_and_refuse_strings():
    rnn = nr.Sequential(nr.RNN(1, 2), nr.LastStep())
    tr = nr.Trainer(rnn, nr.SGD(rnn), clip_norm=np.float32(1.0), checkpoint_every=np.int64(2),
                    checkpoint_path="unused.npz")
    assert tr.clip_norm == 1.0 and tr.checkpoint_every == 2
    with pytest.raises(TypeError, match="Trainer: clip_norm must be a number > 0; got '1'"):
        nr.Trainer(rnn, nr.SGD(rnn), clip_norm="1")


def test_seed_and_checkpoint_every_refuse_a_bad_value_and_a_wrong_type_apart():
    """A negative seed or checkpoint_every is a ValueError; a non-integer one a TypeError."""
    model = nr.Sequential(nr.RNN(1, 2, seed=0), nr.LastStep())
    opt = nr.SGD(model)
    with pytest.raises(UsageValueError, match="Trainer: seed must be >= 0; got -1"):
        nr.Trainer(model, opt, seed=-1)
    for bad in (1.5, "3", True):
        with pytest.raises(UsageTypeError, match="Trainer: seed must be an integer"):
            nr.Trainer(model, opt, seed=bad)
    with pytest.raises(UsageValueError, match="Trainer: checkpoint_every must be >= 0; got -2"):
        nr.Trainer(model, opt, checkpoint_every=-2, checkpoint_path="unused.npz")
    for bad in (1.5, "3", True):
        with pytest.raises(UsageTypeError, match="Trainer: checkpoint_every must be an integer"):
            nr.Trainer(model, opt, checkpoint_every=bad, checkpoint_path="unused.npz")
    assert nr.Trainer(model, opt, seed=np.int64(3)).seed == 3


def test_fit_and_trainer_arguments_of_the_wrong_kind():
    """Found by tests/properties/test_junk.py: len(None), '<' between int and str, ..."""
    model = nr.Sequential(nr.RNN(1, 2, seed=0), nr.LastStep(), nr.Linear(2, 1, seed=1))
    tr = nr.Trainer(model, nr.SGD(model))
    with pytest.raises(TypeError, match="batches must be a sequence"):
        tr.fit(None)
    with pytest.raises(TypeError, match="batches must be a sequence"):
        tr.fit("xy")
    with pytest.raises(TypeError, match="epochs must be an integer"):
        tr.fit(_data(1), epochs="2")
    with pytest.raises(TypeError, match="on_step must be a function"):
        tr.fit(_data(1), on_step=3)
    with pytest.raises(TypeError, match="seed must be an integer"):
        nr.Trainer(model, nr.SGD(model), seed="x")
    with pytest.raises(TypeError, match="checkpoint_path must be a path"):
        nr.Trainer(model, nr.SGD(model), checkpoint_path=3)
    with pytest.raises(TypeError, match="shuffle must be True or False"):
        nr.Trainer(model, nr.SGD(model), shuffle=np.array([]))

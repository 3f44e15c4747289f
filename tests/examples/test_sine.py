"""python -m numrnn train sine: test MSE below 1e-3, plots and a checkpoint that reloads."""

import re

import numpy as np
import pytest

from numrnn.__main__ import main
from numrnn.checkpoint import load
from numrnn.examples.sine import as_sequence, sine_windows


def test_sine_reaches_its_target(tmp_path, capsys):
    assert main(["train", "sine", "--out", str(tmp_path), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "TARGET REACHED" in out and "predictions identical" in out
    assert "which code ran: RNN ran numrnn/" in out
    mse = float(re.search(r"test MSE (\S+) \(target", out).group(1))
    assert mse < 1e-3
    model = load(tmp_path / "model.npz")  # the checkpoint forecasts as well as the printout says
    x, y = sine_windows(20)
    split = int(0.8 * len(x))
    pred = model(as_sequence(x[split:]))[:, 0]
    assert np.mean((pred - y[split:]) ** 2) == pytest.approx(mse, rel=0.01)  # printed to 3 digits
    for png in ("loss.png", "prediction.png"):
        assert (tmp_path / png).exists() or "matplotlib is not installed" in out


def test_sine_windows():
    x, y = sine_windows(5, samples=12, dt=0.5)
    assert x.shape == (7, 5) and y.shape == (7,)
    np.testing.assert_allclose(x[2], np.sin(0.5 * np.arange(2, 7)), rtol=1e-6)
    np.testing.assert_allclose(y[2], np.sin(0.5 * 7), rtol=1e-6)
    assert as_sequence(x).shape == (5, 7, 1)


def test_too_few_steps_misses_the_target(tmp_path, capsys):
    assert main(["train", "sine", "--out", str(tmp_path), "--steps", "2", "--no-progress"]) == 1
    assert "TARGET MISSED" in capsys.readouterr().out

"""python -m numrnn: the demo learns "ohlol"; gradcheck prints its table and exit code."""

import re
import subprocess
import sys

import pytest

from numrnn.__main__ import main


def test_demo_learns_ohlol(capsys):
    assert main(["demo", "--backend", "numpy"]) == 0
    out = capsys.readouterr().out
    assert 'learned prediction: "ohlol"' in out
    assert "PASSED" in out
    assert "||dL/dh_t||" in out and "shrank by a factor" in out


def test_gradcheck_command_passes(capsys):
    assert main(["gradcheck", "--layers", "2", "--bidirectional", "--nonlinearity", "relu"]) == 0
    out = capsys.readouterr().out
    assert "weight_hh_l1_reverse" in out and "PASSED" in out


def test_gradcheck_command_fails_with_tiny_tolerance(capsys):
    assert main(["gradcheck", "--tol", "1e-30"]) == 1
    assert "FAILED" in capsys.readouterr().out


def test_module_entry_point():
    out = subprocess.run([sys.executable, "-m", "numrnn", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "demo" in out.stdout and "gradcheck" in out.stdout


def test_gradcheck_command_builds_lstm_and_gru(capsys):
    assert main(["gradcheck", "--cell", "lstm", "--proj-size", "2", "--seq-len", "3"]) == 0
    assert "weight_hr_l0" in capsys.readouterr().out
    assert main(["gradcheck", "--cell", "gru", "--seq-len", "3"]) == 0
    assert "PASSED" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["gradcheck", "--layers", "0"], "argument --layers: must be an integer >= 1; got '0'"),
    (["gradcheck", "--cell", "lstm", "--proj-size", "9"], "proj_size must be smaller than hidden_size"),
    (["gradcheck", "--layers", "2", "--dropout", "2"], r"dropout must be a number in \[0, 1\)"),
    (["train", "classify", "--max-len", "4"], "argument --max-len: must be an integer >= 6; got '4'"),
    (["train", "hello", "--steps", "0"], "argument --steps: must be an integer >= 1"),
    (["train", "chars", "--temperatures", "0"], "argument --temperatures: must be a finite number > 0"),
    (["train", "chars", "--batch", "0"], "argument --batch: must be an integer >= 1"),
    (["train", "sine", "--lr", "-1"], "argument --lr: must be a finite number > 0"),
])
def test_misuse_is_a_usage_error_not_a_traceback(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert re.search(message, err) and "Traceback" not in err

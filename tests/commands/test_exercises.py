"""python -m numrnn exercises: the student's whole flow in a temporary folder."""

import pytest

from numrnn.__main__ import main
from numrnn.exercises.catalog import EXERCISES


def test_student_flow(tmp_path, capsys):
    folder = str(tmp_path / "hw")
    assert main(["exercises", "make", folder]) == 0
    assert "rnn.py" in capsys.readouterr().out

    assert main(["exercises", "grade", folder]) == 1  # nothing written yet
    out = capsys.readouterr().out
    failed = out.splitlines()[-1]
    assert failed.startswith(f"FAILED {len(EXERCISES)} of {len(EXERCISES)} functions")
    for e in EXERCISES:
        assert e.name in failed
    assert "NotImplementedError" in out

    assert main(["exercises", "make", folder, "--solutions", "--force"]) == 0
    capsys.readouterr()
    assert main(["exercises", "grade", folder]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == f"PASSED: all {len(EXERCISES)} functions"

    assert main(["exercises", "grade", folder, "--only", "rnn_backward"]) == 0
    assert "rnn_step_forward" not in capsys.readouterr().out

    assert main(["exercises", "train", folder]) == 0
    assert 'TARGET REACHED: your RNN predicts "ohlol"' in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["exercises", "make", "{dir}"], "is not empty; choose an empty or new folder, or pass --force"),
    (["exercises", "grade", "{dir}/nowhere"], "is not a folder"),
    (["exercises", "grade", "{dir}"], "holds none of the exercise files"),
    (["exercises", "grade", "{dir}", "--only", "nope"], "no exercise or file 'nope'"),
    (["exercises", "train", "{dir}"], "rnn.py does not exist"),
    (["exercises", "train", "{dir}", "--steps", "0"], "argument --steps: must be an integer >= 1"),
])
def test_misuse_is_a_usage_error(argv, message, tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("")
    with pytest.raises(SystemExit) as exit_info:
        main([a.format(dir=tmp_path) for a in argv])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_train_learns_ohlol_after_the_solutions(tmp_path, capsys):
    """The end of the student's flow: make, the stubs fail to train, the solutions learn."""
    folder = str(tmp_path / "hw")
    assert main(["exercises", "make", folder]) == 0
    assert main(["exercises", "train", folder]) == 1
    out = capsys.readouterr().out
    assert "your rnn.py raised during training: NotImplementedError (rnn.py line" in out
    assert main(["exercises", "make", folder, "--solutions", "--force"]) == 0
    assert main(["exercises", "train", folder]) == 0
    out = capsys.readouterr().out
    assert 'your RNN: "hello" -> "ohlol"' in out and 'TARGET REACHED: your RNN predicts "ohlol"' in out
    assert f"rnn_forward/rnn_backward of {tmp_path.resolve() / 'hw' / 'rnn.py'}" in out


def test_train_reports_a_file_that_does_not_compile(tmp_path, capsys):
    main(["exercises", "make", str(tmp_path), "--solutions"])
    path = tmp_path / "rnn.py"
    path.write_text(path.read_text().replace("def rnn_forward(", "def rnn_forward(("))
    assert main(["exercises", "train", str(tmp_path)]) == 1
    assert "rnn.py did not import: SyntaxError in rnn.py line" in capsys.readouterr().out

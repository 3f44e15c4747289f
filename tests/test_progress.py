"""The one progress display: tqdm's bar, or a line every tenth of the run, or nothing."""

import sys

import pytest

from numrnn.progress import Progress


def test_lines_every_tenth_without_a_bar(capsys):
    with Progress(20, "run", bar=False) as p:
        for i in range(20):
            p.update(loss=float(i))
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "run: step  2/20  loss 1" and lines[-1] == "run: step 20/20  loss 19"
    assert len(lines) == 10


def test_silent_when_lines_are_off(capsys):
    with Progress(5, "quiet", bar=False, lines=False) as p:
        for _ in range(5):
            p.update(loss=1.0)
    assert capsys.readouterr().out == ""


def test_tqdm_bar_and_the_fallback_when_tqdm_is_missing(monkeypatch, capsys):
    pytest.importorskip("tqdm")
    with Progress(4, "barred", bar=True, initial=1) as p:
        assert p.bar is not None and p.bar.n == 1
        p.update(loss=0.5)
    assert "barred" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)  # import tqdm.auto now fails
    with Progress(4, "lined", bar=True) as p:
        assert p.bar is None
        for _ in range(4):
            p.update()
    assert "lined: step 4/4" in capsys.readouterr().out


def test_default_wants_a_bar_only_on_a_terminal(monkeypatch):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False)
    assert Progress(3, "x").bar is None

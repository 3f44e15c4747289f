"""python -m numrnn trace: the tables, the verdicts and the PNGs."""

import re

import pytest

from numrnn.__main__ import main


def summary_rows(out: str) -> dict:
    """network label -> (radius, ratio, verdict) from the summary table."""
    rows = {}
    for line in out.splitlines():
        m = re.match(r"^(\S+(?: \S+=\S+)?)\s+(\d+\.\d+)\s+(\S+)\s+"
                     r"(vanishing|exploding|growing|carried)", line)
        if m:
            rows[m.group(1)] = (float(m.group(2)), float(m.group(3)), m.group(4))
    return rows


def test_trace_shows_vanishing_and_exploding(tmp_path, capsys):
    assert main(["trace", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "||dL/dh_t||" in out and "||dh_49/dh_t||_2" in out
    rows = summary_rows(out)
    assert set(rows) == {"tanh", "relu", "tanh r=2", "relu r=2", "lstm", "lstm bf=2", "gru"}
    assert rows["tanh"][2] == "vanishing" and rows["relu"][2] == "vanishing"
    assert rows["relu r=2"][2] == "exploding" and rows["relu r=2"][0] == pytest.approx(2.0)
    assert rows["lstm bf=2"][1] > 1e3 * rows["lstm"][1]  # the forget gate keeps the gradient
    if any("matplotlib" in line and "skipping" in line for line in out.splitlines()):
        pytest.skip("matplotlib is not installed")
    for name in ("heatmaps.png", "grad_norms.png", "jacobian_norms.png"):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"


def test_trace_subset_and_sizes(tmp_path, capsys):
    assert main(["trace", "--networks", "tanh", "gru", "--seq-len", "7", "--hidden-size", "5",
                 "--every", "3", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert set(summary_rows(out)) == {"tanh", "gru"}
    steps = [int(line.split()[0]) for line in out.splitlines() if re.match(r"^\s+\d+\s+\d\.\d+e", line)]
    assert steps == [6, 3, 0, 6, 3, 0]  # both tables, every third step from the last


def test_trace_rejects_bad_sizes(tmp_path):
    with pytest.raises(SystemExit):
        main(["trace", "--seq-len", "0", "--out", str(tmp_path)])

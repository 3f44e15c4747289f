"""python -m numrnn train chars: validation loss well below ln V, samples, perplexity."""

import math
import re

import numpy as np

from numrnn.__main__ import main
from numrnn.examples.chars import streams


def test_chars_loss_falls_well_below_uniform(tmp_path, capsys):
    assert main(["train", "chars", "--out", str(tmp_path), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "TARGET REACHED" in out
    assert "which code ran: RNN ran numrnn/" in out
    V = int(re.search(r"V = (\d+)", out).group(1))
    val, ppl = map(float, re.search(r"validation: (\S+) nats/char, perplexity (\S+)", out).groups())
    assert val < 0.5 * math.log(V)
    assert abs(ppl - math.exp(val)) < 0.02  # both printed rounded
    assert "sample at temperature 0.5" in out and "sample at temperature 1" in out
    assert "samples identical" in out
    assert (tmp_path / "model.npz").exists()


def test_chars_reads_a_given_text(tmp_path, capsys):
    text = tmp_path / "tiny.txt"
    text.write_text("abcab" * 400, encoding="utf-8")
    code = main(["train", "chars", "--text", str(text), "--out", str(tmp_path), "--steps", "60",
                 "--batch", "8", "--hidden-size", "16", "--sample-len", "10", "--no-progress"])
    out = capsys.readouterr().out
    assert f"2000 characters from {text}; V = 3" in out
    assert code == 0 and "TARGET REACHED" in out  # "abcab..." is nearly deterministic


def test_streams_are_contiguous():
    s = streams(np.arange(10), 3)
    np.testing.assert_array_equal(s, [[0, 1, 2], [3, 4, 5], [6, 7, 8]])

"""python -m numrnn train classify: test accuracy above 95% on variable-length reviews."""

import re

import numpy as np

from numrnn.__main__ import main
from numrnn.examples.classify import VOCAB, make_reviews, review


def test_classify_accuracy_above_95(tmp_path, capsys):
    assert main(["train", "classify", "--out", str(tmp_path), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "TARGET REACHED" in out
    assert "which code ran: GRU ran numrnn/" in out
    acc = float(re.search(r"test accuracy (\S+)% \(target", out).group(1))
    assert acc > 95
    assert f"reloaded: test accuracy {acc:.1f}%" in out
    assert (tmp_path / "model.npz").exists()


def test_reviews_are_labelled_by_the_negated_majority():
    rng = np.random.default_rng(0)
    for _ in range(200):
        words, label = review(rng, 20)
        assert 1 <= len(words) <= 20
        score, sign = 0, 1
        for w in words:
            if w == "not":
                sign = -1
                continue
            if w in ("good", "great", "fun", "superb", "loved"):
                score += sign
            elif w in ("bad", "awful", "boring", "dull", "hated"):
                score -= sign
            sign = 1
        assert score != 0 and label == int(score > 0)
    ids, lengths, labels, texts = make_reviews(5, 20, rng)
    assert ids.shape == (20, 5) and (ids[lengths[0]:, 0] == 0).all()
    assert " ".join(VOCAB[i] for i in ids[:lengths[0], 0]) == texts[0]

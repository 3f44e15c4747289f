"""python -m numrnn train hello: both variants predict "ohlol"."""

from numrnn.__main__ import main
from numrnn.checkpoint import load
from numrnn.data import HELLO_VOCAB, encode
from numrnn.examples.hello import predict


def test_hello_predicts_ohlol(tmp_path, capsys):
    assert main(["train", "hello", "--out", str(tmp_path), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "TARGET REACHED" in out
    assert out.count('"hello" -> "ohlol"') == 2
    assert 'reloaded predicts "ohlol"' in out
    ids = encode("hello", HELLO_VOCAB)[:, None]
    assert predict(load(tmp_path / "embedding.npz"), ids) == "ohlol"


def test_hello_with_one_step_misses(tmp_path, capsys):
    assert main(["train", "hello", "--out", str(tmp_path), "--steps", "1", "--no-progress"]) == 1
    assert "TARGET MISSED" in capsys.readouterr().out

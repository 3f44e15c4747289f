"""nr.summary: layers, output shapes and parameter counts, for single layers, cells,
Sequential and a user's Module with children."""

import numpy as np
import pytest

import numrnn as nr


def total(text: str) -> int:
    line = next(s for s in text.splitlines() if s.startswith("Total params:"))
    return int(line.split()[2].replace(",", ""))


@pytest.mark.parametrize("cls,expected,keras", [(nr.RNN, 2650, 2600), (nr.LSTM, 10600, 10400),
                                                (nr.GRU, 7950, None)])
def test_counts_for_50_units_on_one_feature(cls, expected, keras, capsys):
    text = nr.summary(cls(1, 50))
    assert capsys.readouterr().out.strip() == text.strip()  # printed and returned
    assert total(text) == expected == cls(1, 50).num_parameters()
    if keras is None:
        assert "Keras would show" not in text
    else:
        assert f"Keras would show {keras:,}" in text


def test_counts_equal_torch():
    torch = pytest.importorskip("torch")
    for ours, theirs in ((nr.LSTM(3, 8, num_layers=2, bidirectional=True, proj_size=4),
                          torch.nn.LSTM(3, 8, num_layers=2, bidirectional=True, proj_size=4)),
                         (nr.GRU(3, 8, bias=False), torch.nn.GRU(3, 8, bias=False)),
                         (nr.GRUCell(3, 8), torch.nn.GRUCell(3, 8))):
        text = nr.summary(ours, print_fn=None)
        assert total(text) == sum(p.numel() for p in theirs.parameters())
    assert "Keras" not in nr.summary(nr.LSTM(3, 8, proj_size=4), print_fn=None)  # Keras has no projection


def test_symbolic_and_concrete_output_shapes():
    m = nr.LSTM(1, 50, num_layers=2, bidirectional=True, batch_first=True)
    text = nr.summary(m, print_fn=None)
    assert "out (N, T, 100), h_n (4, N, 50), c_n (4, N, 50)" in text
    text = nr.summary(m, (2, 7, 1), print_fn=None)
    assert "out (2, 7, 100), h_n (4, 2, 50), c_n (4, 2, 50)" in text
    assert "h (N, 5), c (N, 5)" in nr.summary(nr.LSTMCell(2, 5), print_fn=None)
    assert "h (3, 5)" in nr.summary(nr.GRUCell(2, 5), (3, 2), print_fn=None)


def test_summary_leaves_the_model_alone():
    m = nr.GRU(2, 3, dropout=0.5, num_layers=2, seed=0)
    state = m.state_dict()
    nr.summary(m, (4, 2, 2), print_fn=None)
    assert m.training and m._cache is None
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(v, state[k])


def test_sequential_rows():
    model = nr.Sequential(nr.Embedding(10, 4), nr.LSTM(4, 8), nr.LastStep(), nr.Linear(8, 10))
    text = nr.summary(model, (5, 2), input_dtype=np.int64, print_fn=None)
    rows = {line.split(":")[0]: line for line in text.splitlines() if line[:2] in ("0:", "1:", "2:", "3:")}
    assert set(rows) == {"0", "1", "2", "3"}
    assert rows["0"].split()[-1] == "40" and "(5, 2, 4)" in rows["0"]
    assert rows["1"].split()[-1] == f"{4 * (8 * 4 + 8 * 8 + 16):,}" and "out (5, 2, 8)" in rows["1"]
    assert "(2, 8)" in rows["2"] and "(2, 10)" in rows["3"] and rows["3"].split()[-1] == "90"
    assert total(text) == model.num_parameters() == 40 + 448 + 90


class Encoder(nr.Module):
    """A user's module: a child GRU, a child Linear, and a parameter of its own."""

    def __init__(self):
        super().__init__(np.float64)
        self.rnn = self._add_child("rnn", nr.GRU(2, 6, dtype=np.float64, seed=0))
        self.head = self._add_child("head", nr.Linear(6, 3, dtype=np.float64, seed=0))
        self._add_param("scale", np.ones(3))

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.head(out) * self._params["scale"]


def test_user_module_with_children_and_own_parameters():
    text = nr.summary(Encoder(), (4, 1, 2), print_fn=None)
    assert "(own)" in text and "rnn: GRU(2, 6, dtype=float64)" in text and "head: Linear(6, 3)" in text
    assert "out (4, 1, 6), h_n (1, 1, 6)" in text and "(4, 1, 3)" in text
    assert total(text) == 3 * (2 * 6 + 6 * 6 + 12) + 21 + 3


def test_bad_input():
    with pytest.raises(TypeError, match="numrnn Module"):
        nr.summary(object())
    with pytest.raises(ValueError, match="input_size=1"):
        nr.summary(nr.LSTM(1, 4), (3, 2, 5), print_fn=None)


def test_a_shape_for_a_model_that_starts_with_an_embedding_gives_int_ids():
    model = nr.Sequential(nr.Embedding(10, 4), nr.RNN(4, 8), nr.Linear(8, 10))
    text = nr.summary(model, input=(5, 2), print_fn=None)
    assert "(5, 2, 4)" in text and "out (5, 2, 8)" in text and "(5, 2, 10)" in text
    assert "(5, 3, 4)" in nr.summary(nr.Embedding(10, 4), input=[5, 3], print_fn=None)
    with pytest.raises(TypeError, match="integer token ids"):  # an explicit dtype still wins
        nr.summary(model, input=(5, 2), input_dtype=np.float32, print_fn=None)

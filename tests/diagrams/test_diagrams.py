"""numrnn.diagrams: every diagram draws, carries the labels the docs cite, and saves reproducibly."""

import matplotlib
import pytest

matplotlib.use("Agg")

from numrnn.diagrams import DIAGRAMS, gru_cell, lstm_cell, save_all, unrolled_rnn  # noqa: E402
from numrnn.diagrams.__main__ import main  # noqa: E402
from numrnn.errors import UsageValueError  # noqa: E402


def labels(fig) -> str:
    """Every text drawn on the figure, joined."""
    return "\n".join(t.get_text() for ax in fig.axes for t in ax.texts + [ax.title])


def close(fig):
    import matplotlib.pyplot as plt

    plt.close(fig)


@pytest.mark.parametrize("T", [2, 4, 6])
def test_unrolled_rnn_has_one_column_per_step(T):
    fig = unrolled_rnn(T)
    text = labels(fig)
    close(fig)
    for t in range(1, T + 1):
        assert f"step {t}" in text and f"x[{t - 1}]" in text and f"dh[{t - 1}]" in text
    assert f"step {T + 1}" not in text
    assert text.count("dh_carry\n(5)") == T - 1  # between steps; the left end gets dh0
    assert "dh0" in text and "(10)" in text and "(9)" in text


@pytest.mark.parametrize("T", [1, 7])
def test_unrolled_rnn_refuses_sizes_it_cannot_draw(T):
    with pytest.raises(UsageValueError, match="2 to 6 steps"):
        unrolled_rnn(T)


def test_cells_carry_the_equation_labels_of_lstm_gru_md():
    fig = lstm_cell()
    text = labels(fig)
    close(fig)
    assert all(f"(L{k})" in text for k in range(1, 6))
    assert "gradient highway" in text
    fig = gru_cell()
    text = labels(fig)
    close(fig)
    assert all(f"(G{k})" in text for k in range(1, 5))
    assert "direct path" in text


def test_save_all_writes_the_same_bytes_twice(tmp_path):
    first = save_all(tmp_path / "a")
    second = save_all(tmp_path / "b")
    assert [p.name for p in first] == [f"{name}.png" for name in DIAGRAMS]
    for a, b in zip(first, second):
        assert a.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert a.read_bytes() == b.read_bytes()


def test_command_line_writes_into_the_folder(tmp_path, capsys):
    assert main([str(tmp_path)]) == 0
    assert capsys.readouterr().out.count("wrote ") == len(DIAGRAMS)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"{n}.png" for n in DIAGRAMS)

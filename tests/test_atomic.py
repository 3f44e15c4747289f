"""Atomic writes: the old file survives a failure mid-write; no temporary is left."""

import pytest

from numrnn.atomic import atomic_write, atomic_write_text


def test_writes_and_replaces(tmp_path):
    p = tmp_path / "a.txt"
    atomic_write_text(p, "one")
    atomic_write_text(p, "two")
    assert p.read_text() == "two"
    assert [f.name for f in tmp_path.iterdir()] == ["a.txt"]


def test_failure_leaves_old_file_and_no_temporary(tmp_path):
    p = tmp_path / "a.txt"
    atomic_write_text(p, "old")

    def half_then_fail(f):
        f.write(b"ne")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(p, half_then_fail)
    assert p.read_text() == "old"
    assert [f.name for f in tmp_path.iterdir()] == ["a.txt"]


def test_savefig_is_atomic(tmp_path):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from numrnn.atomic import atomic_savefig

    fig, ax = plt.subplots()
    ax.plot([0, 1])
    atomic_savefig(fig, tmp_path / "f.png", dpi=50)
    plt.close(fig)
    assert (tmp_path / "f.png").read_bytes()[:4] == b"\x89PNG"

"""A solutions folder made once per test session, and a way to plant a bug in a copy of it."""

import shutil

import pytest

from numrnn.exercises.student import make


@pytest.fixture(scope="session")
def solutions_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("solutions")
    make(folder, solutions=True, force=True)
    return folder


@pytest.fixture
def solutions(solutions_dir, tmp_path):
    """A fresh copy of the solutions folder, for one test to break."""
    folder = tmp_path / "work"
    shutil.copytree(solutions_dir, folder)
    return folder


def plant(folder, file, old, new):
    """Replace the line(s) ``old`` by ``new`` in ``folder/file``; ``old`` must be there once."""
    path = folder / file
    text = path.read_text()
    assert text.count(old) == 1, f"{old!r} is not in {file} exactly once"
    path.write_text(text.replace(old, new))

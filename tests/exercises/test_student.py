"""exercises make: the student's files and the solutions, written from the marked sources."""

import ast
import os

import numpy as np
import pytest

from numrnn.exercises.catalog import EXERCISES, FILES
from numrnn.exercises.grader import load_file
from numrnn.exercises.markers import solution_regions
from numrnn.exercises.student import README, make, source_path

ALLOWED_IMPORTS = {"__future__", "typing", "numpy", "numrnn.backend", "numrnn.errors",
                   "numrnn.functional.activations"}


def test_files_and_readme(tmp_path):
    written = make(tmp_path)
    assert [p.name for p in written] == [*FILES, README]
    assert sorted(os.listdir(tmp_path)) == sorted([*FILES, README])
    readme = (tmp_path / README).read_text()
    assert all(e.name in readme for e in EXERCISES)


def test_student_files_keep_the_scaffold_and_stub_every_exercise(tmp_path):
    make(tmp_path)
    for file, module in FILES.items():
        assert solution_regions((tmp_path / file).read_text()) == []
        mod = load_file(tmp_path / file, tmp_path)
        reference = __import__(module, fromlist=["x"])
        for e in (e for e in EXERCISES if e.file == file):
            fn = getattr(mod, e.name)
            ref = getattr(reference, e.name)
            assert fn.__doc__ == ref.__doc__  # the docstring and the signature are kept
            assert fn.__code__.co_varnames[:fn.__code__.co_argcount] == \
                ref.__code__.co_varnames[:ref.__code__.co_argcount]
            args = [None] * fn.__code__.co_argcount
            if e.name == "numerical_gradient":  # its float64 check comes before the exercise
                args = [np.tanh, np.zeros(2), np.ones(2), 1e-5]
            with pytest.raises(NotImplementedError):
                fn(*args)
        # the cache types stay importable from the student's file
        for name in dir(reference):
            if name.endswith("Cache"):
                assert getattr(mod, name)._fields == getattr(reference, name)._fields


def test_student_files_import_only_numpy_and_leaf_helpers(tmp_path):
    make(tmp_path)
    for file in FILES:
        tree = ast.parse((tmp_path / file).read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                assert node.module in ALLOWED_IMPORTS, f"{file} imports {node.module}"
            elif isinstance(node, ast.Import):
                assert all(a.name in ALLOWED_IMPORTS for a in node.names), f"{file} imports {node.names}"


def test_solutions_are_the_sources_with_a_header(tmp_path):
    make(tmp_path, solutions=True)
    for file, module in FILES.items():
        text = (tmp_path / file).read_text()
        source = source_path(module).read_text()
        assert text.endswith(source) and text[: -len(source)].startswith("# Solutions:")


def test_non_empty_folder_is_refused_without_force(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="is not empty.*--force"):
        make(tmp_path)
    make(tmp_path, force=True)
    assert (tmp_path / "notes.txt").read_text() == "mine"  # --force leaves other files alone
    (tmp_path / "rnn.py").write_text("# my work")
    make(tmp_path, solutions=True, force=True)
    assert solution_regions((tmp_path / "rnn.py").read_text())


def test_a_file_is_not_a_folder(tmp_path):
    (tmp_path / "f").write_text("")
    with pytest.raises(ValueError, match="is a file"):
        make(tmp_path / "f")


def test_new_nested_folder_is_made(tmp_path):
    make(tmp_path / "a" / "b")
    assert (tmp_path / "a" / "b" / "rnn.py").is_file()

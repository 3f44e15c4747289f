"""``exercises make``: write the student folder (or the solutions) from the marked sources.

Each file of :data:`numrnn.exercises.catalog.FILES` is the text of its numrnn module,
with a two-line header; in the student's version every ``### BEGIN SOLUTION`` ..
``### END SOLUTION`` region is replaced by ``raise NotImplementedError()``
(:mod:`numrnn.exercises.markers`). The solutions keep the markers, so an instructor
who uses nbgrader can take them as they are. A README.md lists the exercises.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from numrnn.atomic import atomic_write_text
from numrnn.errors import UsageValueError
from numrnn.exercises.catalog import EXERCISES, FILES
from numrnn.exercises.markers import student_version

README = "README.md"


def source_path(module: str) -> Path:
    """The file of a numrnn module, found without importing it."""
    return Path(importlib.util.find_spec(module).origin)


def file_text(name: str, solutions: bool) -> str:
    """The text of student file ``name`` (``"rnn.py"``), stubbed unless ``solutions``."""
    module = FILES[name]
    text = source_path(module).read_text(encoding="utf-8")
    where = module.replace(".", "/") + ".py"
    if solutions:
        head = (f"# Solutions: {where}, as numrnn ships it (nbgrader's solution markers kept).\n"
                f"# Written by `python -m numrnn exercises make --solutions`.\n")
        return head + text
    head = (f"# Exercise made from numrnn's {where} by `python -m numrnn exercises make`.\n"
            f"# Replace each `raise NotImplementedError()` with your code; grade it with\n"
            f"# `python -m numrnn exercises grade <this folder>`.\n")
    return head + student_version(text, where)


def readme(solutions: bool) -> str:
    lines = ["# numrnn exercises" + (" (solutions)" if solutions else ""), "",
             "Write each function below in its file, in this order, and grade your work with",
             "", "    python -m numrnn exercises grade .            # every function",
             "    python -m numrnn exercises grade . --only rnn_step_backward", "",
             "then train your RNN on \"hello\" -> \"ohlol\" with `python -m numrnn exercises train .`.",
             "Shapes use one letter set: T time steps, N batch, I input features, H hidden units,",
             "P size of h, G gates. In the maths steps are t = 1..T and h_0 is the initial state;",
             "arrays count from 0, so step t lives at index t-1. The derivations are in numrnn's",
             "docs/bptt.md and docs/lstm_gru.md.", "",
             "| file | function |", "|---|---|"]
    lines += [f"| {e.file} | `{e.name}` |" for e in EXERCISES]
    return "\n".join(lines) + "\n"


def make(folder, solutions: bool = False, force: bool = False) -> list:
    """Write the exercise files into ``folder``; returns the paths written.

    A folder that exists and is not empty is refused unless ``force`` (which
    overwrites the exercise files and leaves any other file alone).
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise UsageValueError(f"exercises make: {folder} is a file, not a folder")
    if folder.is_dir() and any(folder.iterdir()) and not force:
        raise UsageValueError(f"exercises make: {folder} is not empty; choose an empty or new folder, "
                              f"or pass --force to overwrite the exercise files in it")
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name in FILES:
        atomic_write_text(folder / name, file_text(name, solutions))
        written.append(folder / name)
    atomic_write_text(folder / README, readme(solutions))
    written.append(folder / README)
    return written


def workspace(folder) -> tuple:
    """The exercise folder a notebook works in, and a function that loads a file of it.

    ``folder`` is written fresh (the student's version) when it does not exist yet.
    Returns ``(folder, load)``: the resolved path, and ``load(name)``, which imports the
    student's file ``name`` afresh (run it again after every edit).
    """
    from numrnn.exercises.grader import load_file  # the grader imports this module

    folder = Path(folder).resolve()
    if not folder.exists():
        make(folder)  # every exercise raises NotImplementedError until it is written
        print(f"wrote a fresh exercise folder: {folder}")

    def load(name):
        """Your file ``name`` as a fresh module."""
        return load_file(folder / name, folder)

    return folder, load

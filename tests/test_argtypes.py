"""argparse types, and the import rule that keeps them out of a cycle."""

import argparse
import ast
import pathlib

import pytest

import numrnn
from numrnn.argtypes import int_at_least, nonnegative_int, positive_float, positive_int


def test_types_accept_and_refuse():
    assert positive_int("3") == 3 and nonnegative_int("0") == 0 and int_at_least(2)("2") == 2
    assert positive_float("0.5") == 0.5
    for parse, text in [(positive_int, "0"), (positive_int, "x"), (positive_float, "0"),
                        (positive_float, "inf"), (positive_float, "nan"), (int_at_least(2), "1")]:
        with pytest.raises(argparse.ArgumentTypeError, match=f"got '{text}'"):
            parse(text)


def test_examples_import_nothing_from_commands():
    """The commands import the examples; the reverse would make a cycle (issue 9)."""
    folder = pathlib.Path(numrnn.__file__).parent / "examples"
    offenders = []
    for path in sorted(folder.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            offenders += [f"{path.name}: {n}" for n in names if n.startswith("numrnn.commands")]
    assert not offenders

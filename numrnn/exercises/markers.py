"""nbgrader's solution markers: find the marked regions, write the student's version.

A solution region is the lines between a ``### BEGIN SOLUTION`` line and the next
``### END SOLUTION`` line, both markers included. In the student's version each region
becomes nbgrader's stub, indented like the ``### BEGIN SOLUTION`` line::

    # YOUR CODE HERE
    raise NotImplementedError()

Everything outside the regions (imports, cache types, signatures, docstrings) is kept
as it is. Regions must not nest, and each must lie inside one function.
"""

from __future__ import annotations

import ast

from numrnn.errors import UsageValueError

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
STUB = ("# YOUR CODE HERE", "raise NotImplementedError()")


def solution_regions(text: str, where: str = "source") -> list:
    """``[(begin, end), ...]``: 0-based line numbers of each region's two markers."""
    regions, begin = [], None
    for k, line in enumerate(text.splitlines()):
        mark = line.strip()
        if mark == BEGIN:
            if begin is not None:
                raise UsageValueError(f"{where} line {k + 1}: {BEGIN} inside the region opened at "
                                      f"line {begin + 1}")
            begin = k
        elif mark == END:
            if begin is None:
                raise UsageValueError(f"{where} line {k + 1}: {END} without a {BEGIN}")
            regions.append((begin, k))
            begin = None
    if begin is not None:
        raise UsageValueError(f"{where} line {begin + 1}: {BEGIN} is never closed by {END}")
    return regions


def student_version(text: str, where: str = "source") -> str:
    """``text`` with every solution region replaced by nbgrader's stub."""
    lines = text.splitlines(keepends=True)
    out, last = [], 0
    for begin, end in solution_regions(text, where):
        out += lines[last:begin]
        indent = lines[begin][: len(lines[begin]) - len(lines[begin].lstrip())]
        out += [f"{indent}{s}\n" for s in STUB]
        last = end + 1
    out += lines[last:]
    return "".join(out)


def marked_functions(text: str, where: str = "source") -> list:
    """Names of the functions that hold a solution region, in the order of the file
    (the innermost function around each ``### BEGIN SOLUTION`` line)."""
    functions = [(node.lineno - 1, node.end_lineno - 1, node.name) for node in ast.walk(ast.parse(text))
                 if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))]
    names = []
    for begin, _ in solution_regions(text, where):
        # the END marker may follow the function's last statement: a comment is no node
        around = [(first, name) for first, last, name in functions if first < begin <= last]
        if not around:
            raise UsageValueError(f"{where} line {begin + 1}: a solution region outside any function")
        name = max(around)[1]
        if name in names:
            raise UsageValueError(f"{where}: function {name} holds two solution regions; keep one")
        names.append(name)
    return names

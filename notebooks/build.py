"""Build the notebooks from their jupytext sources, and run them.

The notebooks are kept as jupytext "percent" files (``notebooks/*.py`` with ``# %%``
cells), so that a change reads as a diff; the ``.ipynb`` files are built from them and
not committed.

    python notebooks/build.py            # write notebooks/<name>.ipynb (no outputs)
    python notebooks/build.py --run      # ... and run the tutorials, outputs saved (make notebooks)
    python notebooks/build.py --run --solutions   # ... and the exercises on the solutions
    python notebooks/build.py --run tutorial_hello diagnostics   # some of them

A notebook runs in a fresh kernel of *this* Python (the one running this script, so
the virtual environment's), with ``notebooks/`` as its working folder. ``--run``
exits with status 1 when a notebook raises, after running the others.

The exercise notebooks (``exercises_*.py``, cells tagged "exercise") hold no solution:
they run the student's files from the folder ``FOLDER`` (their "parameters" cell),
written by ``python -m numrnn exercises make``. Run on a student's folder they stop at
the first exercise cell with NotImplementedError; on one written with ``--solutions``
they run top to bottom. Those are their student and solution versions; ``--run``
builds them without outputs unless ``--solutions`` is given.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
KERNEL_NAME = "python3"


def sources(names=()) -> list:
    """The notebook sources: ``notebooks/*.py`` with a jupytext header, or the named ones."""
    found = sorted(p for p in HERE.glob("*.py") if "jupytext:" in p.read_text(encoding="utf-8")[:400])
    if not names:
        return found
    by_name = {p.stem: p for p in found}
    missing = [n for n in names if n not in by_name]
    if missing:
        raise SystemExit(f"no notebook source named {', '.join(missing)}; there are: {', '.join(by_name)}")
    return [by_name[n] for n in names]


def is_exercise(nb) -> bool:
    """Whether ``nb`` is an exercise notebook (a cell tagged "exercise")."""
    return any("exercise" in c.metadata.get("tags", []) for c in nb.cells)


def read(path):
    """The notebook of a percent-format source (nbformat's NotebookNode)."""
    import jupytext

    nb = jupytext.read(path)
    nb.metadata["kernelspec"] = {"name": KERNEL_NAME, "display_name": "Python 3", "language": "python"}
    return nb


def _kernel_manager():
    """A kernel manager that starts ipykernel with ``sys.executable``, whatever kernel specs
    are installed on the machine (a user's "python3" could point at another Python)."""
    from jupyter_client.kernelspec import KernelSpec
    from jupyter_client.manager import KernelManager

    class ThisPython(KernelManager):
        @property
        def kernel_spec(self):
            return KernelSpec(argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                              display_name="Python 3", language="python")

    return ThisPython(kernel_name=KERNEL_NAME)


def inject(nb, parameters: dict):
    """Set ``parameters`` (name -> value) in ``nb``: a cell of assignments is inserted after
    the cell tagged "parameters" (papermill's convention), which keeps the defaults."""
    import nbformat

    tagged = [i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])]
    if not tagged:
        raise ValueError("the notebook has no cell tagged 'parameters' to set values after")
    code = "\n".join(f"{name} = {value!r}" for name, value in parameters.items())
    cell = nbformat.v4.new_code_cell(code, metadata={"tags": ["injected-parameters"]})
    nb.cells.insert(tagged[0] + 1, cell)
    return nb


def execute(nb, cwd=HERE, timeout: int = 300, parameters: dict | None = None):
    """Run every cell of ``nb`` in a fresh kernel of this Python; returns ``nb`` with outputs.

    ``parameters`` are set after the cell tagged "parameters" (:func:`inject`). Raises
    nbclient's ``CellExecutionError`` at the first cell that raises; the cells before it
    keep their outputs, and the failing cell its error output.
    """
    from nbclient import NotebookClient

    if parameters:
        inject(nb, parameters)

    client = NotebookClient(nb, km=_kernel_manager(), timeout=timeout,
                            resources={"metadata": {"path": str(cwd)}})
    client.execute()
    return nb


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python notebooks/build.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help="notebooks to build (default: all)")
    parser.add_argument("--run", action="store_true", help="execute them and save the outputs")
    parser.add_argument("--solutions", action="store_true",
                        help="with --run, also run the exercise notebooks, on a fresh solutions folder")
    args = parser.parse_args(argv)
    import tempfile

    import nbformat
    from nbclient.exceptions import CellExecutionError

    from numrnn.exercises.student import make

    failed = []
    for src in sources(args.names):
        nb = read(src)
        target = src.with_suffix(".ipynb")
        exercise = is_exercise(nb)
        if args.run and (args.solutions or not exercise):
            start = time.perf_counter()
            try:
                if exercise:
                    with tempfile.TemporaryDirectory() as tmp:
                        make(Path(tmp) / "solutions", solutions=True)
                        execute(nb, parameters={"FOLDER": str(Path(tmp) / "solutions")})
                else:
                    execute(nb)
                print(f"ran {src.name} in {time.perf_counter() - start:.1f} s")
            except CellExecutionError as exc:
                failed.append(src.name)
                print(f"FAILED {src.name}:\n{exc}", file=sys.stderr)
        nbformat.write(nb, target)
        print(f"wrote {target.relative_to(HERE.parent)}")
    if failed:
        print(f"notebooks that raised: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

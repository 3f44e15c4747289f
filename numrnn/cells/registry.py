"""The registry of cells: name -> :class:`~numrnn.cells.spec.CellSpec`.

``nr.register_cell(spec)`` is how a cell becomes known by name: to ``nr.load``, which
rebuilds a saved ``Recurrent`` from the cell name in the file (it never imports code
named by a file), and to the command line (``python -m numrnn gradcheck --cell NAME``).
The built-in cells register themselves through the same function when ``numrnn.cells``
is imported.
"""

from __future__ import annotations

import threading

from numrnn.cells.spec import CellSpec
from numrnn.errors import UsageTypeError, UsageValueError

_CELLS: dict = {}
_LOCK = threading.Lock()


def register_cell(spec: CellSpec, *, replace: bool = False) -> CellSpec:
    """Make ``spec`` known under ``spec.name``; returns it (usable as a decorator target).

    Registering the same spec again is a no-op. Another spec under a name already taken
    is refused unless ``replace=True`` (a built-in cell can be replaced only that way).
    """
    if not isinstance(spec, CellSpec):
        raise UsageTypeError(f"register_cell expects a numrnn.CellSpec; got {type(spec).__name__}")
    with _LOCK:
        old = _CELLS.get(spec.name)
        if old is not None and old is not spec and not replace:
            raise UsageValueError(f"register_cell: a different cell is already registered as "
                                  f"{spec.name!r}; choose another name or pass replace=True")
        _CELLS[spec.name] = spec
    return spec


def unregister_cell(name: str) -> None:
    """Forget the cell registered as ``name`` (a KeyError-free no-op when there is none)."""
    with _LOCK:
        _CELLS.pop(name, None)


def get_cell(name, owner: str | None = None) -> CellSpec:
    """The spec registered as ``name`` (a spec is returned as it is); ``owner`` (a
    class name) starts the message of a wrong type."""
    if isinstance(name, CellSpec):
        return name
    if not isinstance(name, str):
        start = f"{owner}: cell must be" if owner else "a cell is"
        raise UsageTypeError(f"{start} a numrnn.CellSpec or the name of a registered one; got "
                             f"{type(name).__name__}")
    spec = _CELLS.get(name)
    if spec is None:
        raise UsageValueError(f"no cell is registered as {name!r} (registered: "
                              f"{', '.join(sorted(_CELLS))}); call nr.register_cell(spec) first")
    return spec


def registered_cells() -> tuple:
    """The names of the registered cells, sorted."""
    return tuple(sorted(_CELLS))


__all__ = ["get_cell", "register_cell", "registered_cells", "unregister_cell"]

"""Which code ran: the textbook in ``numrnn/functional/`` or a compiled kernel?

With ``backend="auto"`` a recurrent layer runs the Numba kernels whenever Numba is
installed, so a breakpoint set in ``numrnn/functional/rnn.py`` never fires. After a
forward, each recurrent module records what it called (``last_backend``,
``last_kernels``); :func:`which_code` turns that into one line for a person, and the
demo, the ``train`` examples, ``gradcheck`` and the notebooks print it.
``backend="numpy"`` (``--backend numpy`` on the command line) runs the textbook.
"""

from __future__ import annotations

REFERENCE = "numrnn.functional"  # the textbook
GENERIC = "numrnn.cells.generic"  # a user's CellSpec, stepped by the generic loop


def _describe(kernels: str, backend: str | None) -> str:
    name, _, path = kernels.partition(" (")  # "numrnn.kernels.cupy_rnn (reference)": a kernel's own path
    file = name.replace(".", "/") + ".py" if name.startswith("numrnn.") else name
    if name.startswith(REFERENCE):
        return f"{file}, the NumPy reference (the textbook)"
    if name.startswith(GENERIC):
        return f"{file}, the generic BPTT loop over the cell's own step functions"
    kind = {"numba": "the Numba kernel (compiled)", "cupy": "the CuPy/CUDA kernel"}.get(backend, "a kernel")
    if path:
        kind += f", path: {path.rstrip(')')}"
    return f"{file}, {kind}; backend='numpy' runs the textbook in numrnn/functional/ instead"


def which_code(model, probe=None) -> str:
    """One line per recurrent layer in ``model`` naming the code its last forward ran.

    Parameters
    ----------
    model : a numrnn module, or a module made of others (``nr.Sequential``).
    probe : an input to run one forward on first, for a model that has not run yet
        (``check_gradients`` runs a float64 copy, so the model itself has not).

    Returns
    -------
    str, e.g. ``"RNN ran numrnn/functional/rnn.py, the NumPy reference (the textbook)"``.
    """
    if probe is not None:
        model(probe)
    walk = getattr(model, "_walk", None)
    modules = list(walk()) if walk is not None else [model]
    lines = []
    for m in modules:
        if not hasattr(m, "last_kernels"):
            continue  # not a recurrent layer: Linear, Embedding, ... have one implementation
        name = type(m).__name__
        if name == "Recurrent" and hasattr(m, "cell"):  # nr.Recurrent over a CellSpec
            name = f"Recurrent({m.cell.name})"
        if m.last_kernels is None:
            lines.append(f"{name} has not run a forward yet")
        else:
            lines.append(f"{name} ran {_describe(str(m.last_kernels), m.last_backend)}")
    return "\n".join(lines) if lines else f"{type(model).__name__} has no recurrent layer"

"""Backend choice: argument > NUMRNN_BACKEND > automatic; clear errors when missing."""

import numpy as np
import pytest

import numrnn as nr
from numrnn import backend


def test_auto_prefers_numba_when_installed(monkeypatch):
    monkeypatch.delenv("NUMRNN_BACKEND", raising=False)
    monkeypatch.setattr(backend, "numba_available", lambda: True)
    assert backend.resolve_backend("auto", np.zeros(1)) == "numba"
    monkeypatch.setattr(backend, "numba_available", lambda: False)
    assert backend.resolve_backend("auto", np.zeros(1)) == "numpy"


def test_environment_overrides_auto_not_argument(monkeypatch):
    monkeypatch.setenv("NUMRNN_BACKEND", "numpy")
    assert backend.resolve_backend("auto") == "numpy"
    monkeypatch.setattr(backend, "numba_available", lambda: True)
    assert backend.resolve_backend("numba") == "numba"


def test_bad_environment_value(monkeypatch):
    monkeypatch.setenv("NUMRNN_BACKEND", "fortran")
    with pytest.raises(ValueError, match="NUMRNN_BACKEND must be one of .* got 'fortran'"):
        backend.resolve_backend("auto")


def test_numba_asked_for_but_missing(monkeypatch):
    monkeypatch.setattr(backend, "numba_available", lambda: False)
    with pytest.raises(RuntimeError, match=r"backend 'numba' needs Numba.*numrnn\[jit\]"):
        nr.RNN(3, 4, backend="numba")(np.zeros((2, 1, 3), dtype=np.float32))


def test_cupy_asked_for_but_missing(monkeypatch):
    monkeypatch.setattr(backend, "_cupy", None)
    monkeypatch.setattr(backend, "_cupy_error", ImportError("No module named 'cupy'"))
    with pytest.raises(RuntimeError, match=r"backend 'cupy' needs CuPy and an NVIDIA GPU.*No module named"):
        nr.RNN(3, 4, backend="cupy")(np.zeros((2, 1, 3), dtype=np.float32))


def test_numpy_backend_runs_the_reference(rng):
    rnn = nr.RNN(3, 4, backend="numpy")
    rnn(rng.standard_normal((2, 1, 3)).astype(np.float32))
    assert rnn.last_backend == "numpy" and rnn.last_kernels == "numrnn.functional.rnn"


def test_importing_numrnn_loads_neither_numba_nor_cupy():
    import subprocess
    import sys

    code = "import sys, numrnn; print('numba' in sys.modules, 'cupy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]

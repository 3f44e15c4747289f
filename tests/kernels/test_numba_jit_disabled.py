"""The Numba kernels' tests again, with ``NUMBA_DISABLE_JIT=1``: the kernel bodies in
numrnn/kernels/numba_*.py run as plain Python (how they are traced, debugged and
covered), and must give the same numbers. The tests shrink their grids in that mode.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("numba")

ROOT = Path(__file__).resolve().parents[2]
FILES = ["tests/kernels/test_numba_math.py", "tests/kernels/test_numba_rnn.py",
         "tests/kernels/test_numba_lstm.py", "tests/kernels/test_numba_gru.py",
         "tests/kernels/test_workspace.py", "tests/kernels/test_numba_simd.py",
         "tests/kernels/test_numba_gemm.py", "tests/kernels/test_numba_layer.py",
         "tests/kernels/test_numba_threads_invariance.py"]


def test_kernel_tests_pass_with_the_jit_disabled():
    env = dict(os.environ, NUMBA_DISABLE_JIT="1")
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *FILES],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout

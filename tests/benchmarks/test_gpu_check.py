"""benchmarks/gpu_check.sh on a machine without a GPU: its no-GPU exit, and its plumbing.

Without a GPU the script must say so in one line, write its summary and exit with
status 3 within 30 s. With a stand-in ``nvidia-smi`` that claims an H200, every stage
runs for real and fails or times out the way it would on a GPU machine without CuPy,
which checks the plumbing: limits, the order of stages, the summary, the 8-file bound.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from numrnn import backend

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "gpu_check.sh"
STAGES = ("env", "probe", "tests", "bench", "sanitizer")

pytestmark = [
    pytest.mark.skipif(os.environ.get("NUMBA_ENABLE_CUDASIM") == "1", reason="runs in the main test process"),
    pytest.mark.skipif(shutil.which("bash") is None or shutil.which("timeout") is None,
                       reason="needs bash and coreutils' timeout"),
    pytest.mark.skipif(backend.cupy_or_none() is not None, reason="this machine has a GPU: run the script"),
]


def stub(directory: Path, name: str, body: str) -> None:
    path = directory / name
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)


def path_without(tool: str) -> str:
    """$PATH minus every directory that holds ``tool``."""
    return os.pathsep.join(d for d in os.environ["PATH"].split(os.pathsep)
                           if d and not os.path.exists(os.path.join(d, tool)))


def run(outdir: Path, path: str, timeout: float, **env) -> tuple:
    env = {**os.environ, "PATH": path, "PYTHON": sys.executable, **env}
    env.pop("NUMBA_ENABLE_CUDASIM", None)
    start = time.monotonic()
    done = subprocess.run(["bash", str(SCRIPT), str(outdir)], capture_output=True, text=True, env=env,
                          timeout=timeout, cwd=ROOT)
    return done, time.monotonic() - start


def summary_rows(outdir: Path) -> dict:
    lines = (outdir / "summary.txt").read_text().splitlines()
    return {line.split()[0]: line.split()[1] for line in lines if line.split() and line.split()[0] in STAGES}


@pytest.mark.parametrize("driver", ["missing", "broken"])
def test_without_a_gpu_one_line_a_summary_and_exit_3_within_30s(tmp_path, driver):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    path = path_without("nvidia-smi")
    if driver == "broken":  # nvidia-smi installed, no driver answering it
        stub(bin_dir, "nvidia-smi", 'echo "NVIDIA-SMI has failed because it couldn\'t communicate with the '
                                     'NVIDIA driver."; exit 9')
        path = f"{bin_dir}{os.pathsep}{path}"
    out = tmp_path / "out"
    done, seconds = run(out, path, timeout=60)
    assert done.returncode == 3, done.stdout + done.stderr
    assert seconds < 30
    assert len(done.stdout.splitlines()) == 1 and done.stdout.startswith("gpu_check: no NVIDIA GPU here")
    assert ("couldn't communicate" if driver == "broken" else "no nvidia-smi") in done.stdout
    summary = (out / "summary.txt").read_text()
    assert "status: NO-GPU" in summary
    assert summary_rows(out) == dict.fromkeys(STAGES, "SKIPPED")
    assert [p.name for p in out.iterdir()] == ["summary.txt"]


@pytest.mark.slow
def test_every_stage_runs_and_reports_with_a_stand_in_gpu(tmp_path):
    """A stand-in nvidia-smi says H200; CuPy is missing here, so the probe and the benchmark
    fail, the tests stage is cut by its 3 s limit, and each later stage still runs."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    stub(bin_dir, "nvidia-smi", '\n'.join([
        'case "$*" in',
        '  -L) echo "GPU 0: NVIDIA H200 (UUID: GPU-stand-in)";;',
        '  *noheader*) echo "NVIDIA H200, 580.00, 9.0";;',
        '  *) echo "stand-in nvidia-smi: NVIDIA H200, CUDA Version: 13.0";;',
        'esac']))
    path = f"{bin_dir}{os.pathsep}{path_without('compute-sanitizer')}"
    out = tmp_path / "out"
    out.mkdir()
    (out / "bench.md").write_text("stale, from an earlier run")
    done, _ = run(out, path, timeout=300, GPU_CHECK_T_TESTS="3", GPU_CHECK_MIN_STAGE="1")
    assert done.returncode == 1, done.stdout + done.stderr
    rows = summary_rows(out)
    assert list(rows) == list(STAGES)
    assert rows == {"env": "PASS", "probe": "FAIL(exit", "tests": "TIMEOUT", "bench": "FAIL(exit",
                    "sanitizer": "SKIPPED"}
    summary = (out / "summary.txt").read_text()
    assert "status: FAILED (3 stage(s) did not pass)" in summary
    assert "no CuPy/GPU" in summary and "no GPU benchmark possible" in summary
    assert "no compute-sanitizer" in summary
    files = sorted(p.name for p in out.iterdir())
    assert files == ["bench.txt", "env.txt", "probe.txt", "summary.txt", "tests.txt"]  # the stale one went
    assert len(files) <= 8
    assert "stopped after 3s" in (out / "tests.txt").read_text()
    assert "NVIDIA H200" in (out / "env.txt").read_text()

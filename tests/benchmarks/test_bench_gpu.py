"""benchmarks/bench_gpu.py without a GPU: the TF32 switch, and a dry run of the whole table.

The TF32 switch runs against the PyTorch installed here (2.9 and later: the
``fp32_precision`` API, where touching the old ``allow_tf32`` flags too can raise) and
against stand-ins for the old API and for a PyTorch that refuses a switch. The dry run
stands CuPy and CUDA PyTorch in (NumPy arrays, a CPU torch.nn.RNN, wall-clock "events"):
in the main process, with no CUDA kernels here, ``auto`` takes the reference and every
forced kernel path fails, which is what the benchmark must survive and say; under Numba's
simulator every kernel path runs (stage 1 through the stand-in's stream capture).
"""

from __future__ import annotations

import os
import sys
import time
import types
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import bench_gpu  # noqa: E402

from numrnn.kernels import cupy_rnn  # noqa: E402

SIM = os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"
main_process = pytest.mark.skipif(SIM, reason="runs in the main test process")
simulated = pytest.mark.skipif(not SIM, reason="needs NUMBA_ENABLE_CUDASIM=1 (make test-gpu-sim)")
torch = pytest.importorskip("torch")


# -- TF32 ----------------------------------------------------------------------------------------------
@main_process
def test_tf32_uses_only_the_new_api_and_restores_it():
    if not hasattr(torch.backends.cuda.matmul, "fp32_precision"):
        pytest.skip("this PyTorch predates fp32_precision")
    before = bench_gpu.read_tf32(torch)
    assert set(before) == {("cuda.matmul", "fp32_precision"), ("cudnn.rnn", "fp32_precision")}
    try:
        assert bench_gpu.set_tf32(torch, None) == []
        assert torch.backends.cuda.matmul.fp32_precision == "ieee"
        assert torch.backends.cudnn.rnn.fp32_precision == "ieee"
    finally:
        assert bench_gpu.set_tf32(torch, before) == []
    assert bench_gpu.read_tf32(torch) == before


def _old_torch():
    ns = types.SimpleNamespace
    return ns(backends=ns(cuda=ns(matmul=ns(allow_tf32=False)), cudnn=ns(allow_tf32=True)))


@main_process
def test_tf32_on_an_old_pytorch_uses_allow_tf32():
    old = _old_torch()
    before = bench_gpu.read_tf32(old)
    assert before == {("cuda.matmul", "allow_tf32"): False, ("cudnn", "allow_tf32"): True}
    assert bench_gpu.set_tf32(old, None) == []
    assert old.backends.cudnn.allow_tf32 is False
    assert bench_gpu.set_tf32(old, before) == [] and old.backends.cudnn.allow_tf32 is True


@main_process
def test_tf32_never_raises():
    class Refusing:
        def __getattr__(self, name):
            raise RuntimeError("a mix of the legacy and new APIs")

        def __setattr__(self, name, value):
            raise RuntimeError("a mix of the legacy and new APIs")

    ns = types.SimpleNamespace
    odd = ns(backends=ns(cuda=ns(matmul=ns(fp32_precision="none")),
                         cudnn=ns(rnn=Refusing(), allow_tf32=True)))
    settings = bench_gpu.read_tf32(odd)  # cudnn.rnn cannot be read: the old API then
    problems = bench_gpu.set_tf32(odd, None)
    assert bench_gpu.set_tf32(odd, settings) == []
    assert isinstance(problems, list)
    strict = ns(backends=ns(cuda=ns(matmul=Refusing()), cudnn=ns(rnn=Refusing())))
    assert bench_gpu.read_tf32(strict) == {}
    assert bench_gpu.set_tf32(strict, None) == []  # nothing it can touch: nothing done, no raise


# -- a dry run with CuPy and CUDA PyTorch stood in for -----------------------------------------------
class WallEvent:
    """A CUDA event with the wall clock (the arrays are NumPy: work is done when called)."""

    def record(self):
        self.t = time.perf_counter()

    def synchronize(self):
        pass

    def elapsed_time(self, end):
        return (end.t - self.t) * 1e3


@pytest.fixture
def fake_gpu(monkeypatch, tmp_path):
    from tests.kernels import fake_cuda_streams

    cp = fake_cuda_streams.install(monkeypatch)
    cp.__version__ = "stand-in"
    cp.cuda.Event = WallEvent
    cp.cuda.get_elapsed_time = lambda start, end: start.elapsed_time(end)
    cp.cuda.runtime.getDeviceProperties = lambda i: dict(name=b"Stand-in GPU", major=9, minor=0,
                                                         multiProcessorCount=132)
    cp.cuda.runtime.runtimeGetVersion = lambda: 13000
    cp.cuda.runtime.driverGetVersion = lambda: 13000
    monkeypatch.setattr(cupy_rnn, "_WARNED", set())
    monkeypatch.setitem(bench_gpu.SHAPES, "T1", (2, 5, 3, 8))
    monkeypatch.setattr(bench_gpu, "GOALS", {"T1": 1.0})
    # CPU PyTorch with a CUDA face: .cuda() is the identity, events are the wall clock
    monkeypatch.setattr(torch.Tensor, "cuda", lambda self, *a, **k: self)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *a: "Stand-in GPU")
    monkeypatch.setattr(torch.cuda, "Event", lambda enable_timing=True: WallEvent())
    monkeypatch.setattr(torch.cuda, "synchronize", lambda *a: None)
    monkeypatch.setattr(bench_gpu, "require_gpu", lambda: (cp, torch))
    return tmp_path / "bench.md"


@main_process
def test_without_kernels_the_reference_is_timed_and_the_table_says_so(fake_gpu, capsys):
    before = bench_gpu.read_tf32(torch)
    with pytest.warns(cupy_rnn.GpuKernelsWarning):
        rc = bench_gpu.main(["--shapes", "T1", "--out", str(fake_gpu)])
    assert rc == 0
    table = fake_gpu.read_text()
    assert "| T1 | 2, 5, 3, 8 | auto -> reference | train |" in table
    assert "auto ran the reference path" in table and "CANNOT RUN" in table
    for path in ("persistent", "multiblock", "steps"):  # forced: an error, reported, not fatal
        assert f"path {path} FAILED: RuntimeError" in table
    assert "T1: no kernel path ran" in table and "NOT MET" in table
    assert "Incomplete" not in table
    assert bench_gpu.read_tf32(torch) == before  # PyTorch's switches are as they were
    result = capsys.readouterr().out.splitlines()[-1]
    assert result.startswith("RESULT: 2 rows over 1 shapes; kernels timed on 0/1 shapes; 3 path(s) failed")


@simulated
@pytest.mark.cudasim
def test_every_kernel_path_is_timed_under_the_simulator(fake_gpu, monkeypatch, capsys):
    from numrnn import config

    monkeypatch.setattr(config, "CUDA_ELEMENTWISE_THREADS", 32)
    monkeypatch.setattr(config, "PERSISTENT_ROWS_PER_BLOCK", 2)
    monkeypatch.setattr(config, "MULTIBLOCK_THREADS", 8)
    monkeypatch.setattr(config, "CUDA_GRAPHS", True)
    monkeypatch.setattr(bench_gpu, "WARMUP", 1)  # the simulator is slow: the plumbing, not figures
    monkeypatch.setattr(bench_gpu, "MIN_REPEATS", 1)
    cupy_rnn.clear_captured_loops()
    assert bench_gpu.main(["--shapes", "T1", "--repeats", "1", "--out", str(fake_gpu)]) == 0
    table = fake_gpu.read_text()
    for path in ("auto -> persistent", "persistent", "multiblock", "steps"):
        assert f"| T1 | 2, 5, 3, 8 | {path} | train |" in table
    assert "FAILED" not in table and "reference" not in table
    assert "- T1: best " in table
    assert capsys.readouterr().out.splitlines()[-1].endswith("kernels timed on 1/1 shapes; 0 path(s) failed")
    cupy_rnn.clear_captured_loops()

# numrnn: every command a newcomer needs. Each target makes its own virtual
# environment (.venv) and installs what it needs, so a fresh clone needs only
# Python 3.11 and a package index.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check -q
# On 2 cores NumPy's and SciPy's OpenBLAS pools fight for the same cores: one
# thread each for tests, benchmarks pin their own (see benchmarks/README.md).
TEST_ENV := OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1

.PHONY: help demo test test-fast test-gpu-sim test-gpu lint format gradcheck golden bench bench-gpu gpu-check \
        clean notebooks diagrams

help:
	@echo "make demo        run the main job: gradient check, 'hello' -> 'ohlol', BPTT gradient norms"
	@echo "make test        the whole test suite (makes .venv with the test extras)"
	@echo "make lint        ruff"
	@echo "make gradcheck   gradient-check table of a 2-layer bidirectional RNN"
	@echo "make golden      rewrite the exercises' golden values (numrnn/exercises/golden.npz) from the reference"
	@echo "make notebooks   build notebooks/*.ipynb from their jupytext sources and run them (make test runs them too)"
	@echo "make diagrams    redraw the diagrams of docs/img (unrolled RNN, LSTM and GRU cells)"
	@echo "make bench       CPU benchmarks against PyTorch, and memory against T (writes benchmarks/results/)"
	@echo "make test-gpu-sim  the CUDA kernels' tests in Numba's CUDA simulator (no GPU needed)"
	@echo "make test-gpu    the cupy backend's parity grid on a real NVIDIA GPU"
	@echo "make bench-gpu   numrnn cupy vs torch.nn.RNN (cuDNN) on a GPU (writes benchmarks/results/gpu.md)"
	@echo "make gpu-check   the whole GPU proof in one run, with the machine's own python3 (no install):"
	@echo "                 env, probe, tests, benchmark, sanitizer -> runs/gpu_check/summary.txt"
	@echo "                 (NUMRNN_NO_INSTALL=1 makes test-gpu and bench-gpu skip the install too)"
	@echo "make clean       remove .venv, caches and Numba's cache files"

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip setuptools wheel

# The runtime install: numrnn with Numba (the compiled backend) and the plotting extra.
$(VENV)/.stamp-run: setup.cfg pyproject.toml | $(VENV)/bin/python
	$(PIP) install -e ".[jit,plot,progress]"
	touch $@

# The test install adds the PyTorch oracle and the dev tools.
$(VENV)/.stamp-test: setup.cfg pyproject.toml $(VENV)/.stamp-run
	$(PIP) install -e ".[jit,plot,progress,torch,dev]"
	touch $@

demo: $(VENV)/.stamp-run
	$(TEST_ENV) $(PY) -m numrnn demo

# The CUDA kernels' tests run twice: compiled to PTX in the main process, and executed
# in Numba's CUDA simulator in a process of their own (the switch must be set before
# Numba is imported). The gpu-marked tests skip themselves without a GPU.
test: $(VENV)/.stamp-test
	$(TEST_ENV) $(PY) -m pytest -q tests
	$(MAKE) --no-print-directory test-gpu-sim

SIM_TESTS := tests/kernels/test_cuda_rnn.py tests/kernels/test_cupy_rnn.py tests/benchmarks/test_bench_gpu.py

# -- the GPU targets ---------------------------------------------------------------------------------
# With a package index they install into .venv: the test extras plus GPU_EXTRA, `gpu`
# (CuPy and numba-cuda for CUDA 13, driver >= 580) or `gpu-cuda12` (an older driver).
# NUMRNN_NO_INSTALL=1 runs them with $(PYTHON) and the packages the machine already has
# (a GPU machine without an index), the checkout on PYTHONPATH; so does gpu-check, always.
GPU_EXTRA ?= gpu
ifeq ($(NUMRNN_NO_INSTALL),1)
GPU_PY    := PYTHONPATH=$(CURDIR)$${PYTHONPATH:+:$$PYTHONPATH} $(PYTHON)
GPU_DEPS  :=
SIM_DEPS  :=
else
GPU_PY    := $(PY)
GPU_DEPS  := $(VENV)/.stamp-gpu
SIM_DEPS  := $(VENV)/.stamp-test
endif

test-gpu-sim: $(SIM_DEPS)
	$(TEST_ENV) NUMBA_ENABLE_CUDASIM=1 $(GPU_PY) -m pytest -q -m cudasim $(SIM_TESTS)

# The GPU install on top of the test extras. PyTorch must be a CUDA build for bench-gpu
# (bench_gpu.py says so when it is not).
$(VENV)/.stamp-gpu: setup.cfg pyproject.toml $(VENV)/.stamp-test
	$(PIP) install -e ".[jit,plot,progress,torch,dev,$(GPU_EXTRA)]"
	touch $@

GPU_PROBE := $(GPU_PY) -c "from numrnn.backend import require_cupy; require_cupy().cuda.runtime.getDeviceCount()"

test-gpu: $(GPU_DEPS)
	@$(GPU_PROBE) || { echo "make test-gpu: no usable NVIDIA GPU with CuPy here (see the error above); nothing was tested"; exit 1; }
	$(GPU_PY) -m pytest -q -m "gpu or ptx" tests/kernels

bench-gpu: $(GPU_DEPS)
	$(GPU_PY) benchmarks/bench_gpu.py

# One run that proves the GPU backend (benchmarks/gpu_check.sh): at most 6 minutes, at most
# 8 files in GPU_CHECK_OUT; exit 3 and one line where there is no GPU.
GPU_CHECK_OUT ?= runs/gpu_check
gpu-check:
	PYTHON=$(PYTHON) bash benchmarks/gpu_check.sh $(GPU_CHECK_OUT)

test-fast: $(VENV)/.stamp-test
	$(TEST_ENV) $(PY) -m pytest -q -x tests -m "not slow"

lint: $(VENV)/.stamp-test
	$(VENV)/bin/ruff check .

format: $(VENV)/.stamp-test
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

gradcheck: $(VENV)/.stamp-run
	$(TEST_ENV) $(PY) -m numrnn gradcheck --layers 2 --bidirectional

# tests/exercises/test_golden.py fails when the shipped file no longer equals the reference.
golden: $(VENV)/.stamp-run
	$(TEST_ENV) $(PY) -m numrnn.exercises.golden

# notebooks/*.py are jupytext sources; the .ipynb built here (with outputs) are not committed.
notebooks: $(VENV)/.stamp-test
	$(TEST_ENV) $(PY) notebooks/build.py --run

diagrams: $(VENV)/.stamp-run
	$(PY) -m numrnn.diagrams docs/img

# Thread counts are set inside the script (torch.set_num_threads, threadpoolctl); the
# OpenBLAS overrides of this environment are dropped so OpenBLAS picks its own kernel
# (the table records which one ran).
BENCH_ENV := env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE -u OPENBLAS_NUM_THREADS -u OMP_NUM_THREADS \
	    -u MKL_NUM_THREADS -u NUMRNN_THREADS

bench: $(VENV)/.stamp-test
	$(BENCH_ENV) $(PY) benchmarks/bench_cpu.py
	$(BENCH_ENV) $(PY) benchmarks/bench_memory.py

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache notebooks/*.ipynb
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
	find . \( -name '*.nbi' -o -name '*.nbc' \) -delete

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

.PHONY: help demo test test-fast test-gpu-sim test-gpu lint format gradcheck bench bench-gpu clean

help:
	@echo "make demo        run the main job: gradient check, 'hello' -> 'ohlol', BPTT gradient norms"
	@echo "make test        the whole test suite (makes .venv with the test extras)"
	@echo "make lint        ruff"
	@echo "make gradcheck   gradient-check table of a 2-layer bidirectional RNN"
	@echo "make bench       CPU benchmarks against PyTorch (writes benchmarks/results/)"
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

test: $(VENV)/.stamp-test
	$(TEST_ENV) $(PY) -m pytest -q tests

test-fast: $(VENV)/.stamp-test
	$(TEST_ENV) $(PY) -m pytest -q -x tests -m "not slow"

lint: $(VENV)/.stamp-test
	$(VENV)/bin/ruff check .

format: $(VENV)/.stamp-test
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

gradcheck: $(VENV)/.stamp-run
	$(TEST_ENV) $(PY) -m numrnn gradcheck --layers 2 --bidirectional

bench: $(VENV)/.stamp-test
	@echo "not yet: the benchmark suite lands with the Numba backend"

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
	find . \( -name '*.nbi' -o -name '*.nbc' \) -delete

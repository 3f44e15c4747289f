"""The allocation guard: sizes are refused before anything is allocated, with the size named."""

import threading

import numpy as np
import pytest

import numrnn as nr
from numrnn import config, memory
from numrnn.errors import SizeError, UsageValueError


def test_parameter_bytes_counts_params_and_grads_without_overflow():
    assert memory.parameter_bytes([(3, 4), (3,)], np.float32) == 2 * 4 * 15
    assert memory.parameter_bytes([(10**9, 10**9)], np.float64) == 2 * 8 * 10**18  # a Python int


@pytest.mark.parametrize("n, text", [(5, "5 bytes"), (2048, "2 KiB (2048 bytes)"),
                                     (16 * 2**30, "16 GiB (17179869184 bytes)"),
                                     (2**2000, "about 2**2000 bytes")])
def test_format_bytes(n, text):
    assert memory.format_bytes(n) == text


def test_size_error_is_a_value_and_memory_error_naming_the_size():
    with pytest.raises(SizeError, match=r"thing needs 32 GiB \(34359738368 bytes\), more than the 16 GiB"):
        memory.check_allocation(32 * 2**30, "big thing")
    assert issubclass(SizeError, ValueError) and issubclass(SizeError, MemoryError)
    assert memory.check_allocation(1000, "small") == 1000


def test_the_bound_is_settable_in_config_and_in_the_environment(monkeypatch):
    monkeypatch.setattr(config, "MAX_ALLOC_BYTES", 1000)
    with pytest.raises(SizeError, match="1001 bytes, more than the 1000 bytes"):
        memory.check_allocation(1001, "x")
    monkeypatch.setattr(config, "MAX_ALLOC_BYTES", None)
    monkeypatch.setenv("NUMRNN_MAX_ALLOC_BYTES", "2K")
    assert config.max_alloc_bytes() == 2048
    monkeypatch.setenv("NUMRNN_MAX_ALLOC_BYTES", "3GiB")
    assert config.max_alloc_bytes() == 3 * 2**30
    monkeypatch.setenv("NUMRNN_MAX_ALLOC_BYTES", "lots")
    with pytest.raises(UsageValueError, match="NUMRNN_MAX_ALLOC_BYTES must be a positive number"):
        config.max_alloc_bytes()
    monkeypatch.delenv("NUMRNN_MAX_ALLOC_BYTES")
    assert config.max_alloc_bytes() == config.DEFAULT_MAX_ALLOC_BYTES
    monkeypatch.setattr(config, "MAX_ALLOC_BYTES", "1G")
    with pytest.raises(UsageValueError, match="MAX_ALLOC_BYTES must be a positive int"):
        config.max_alloc_bytes()


def test_more_than_the_machine_holds_is_refused(monkeypatch):
    monkeypatch.setattr(config, "MAX_ALLOC_BYTES", 2**62)
    monkeypatch.setattr(memory, "machine_memory", lambda: 4 * 2**30)
    with pytest.raises(SizeError, match=r"more than this machine's memory \(4 GiB"):
        memory.check_allocation(5 * 2**30, "x")


def test_a_budget_adds_up_the_checks_of_its_thread_only():
    with memory.allocation_budget(100, "the file allows") as budget:
        memory.check_allocation(60, "first")
        with pytest.raises(SizeError, match="second needs 50 bytes, more than the file allows "
                                            r"\(100 bytes, of which 60 bytes already taken\)"):
            memory.check_allocation(50, "second")
        other = []
        t = threading.Thread(target=lambda: other.append(memory.check_allocation(500, "elsewhere")))
        t.start()
        t.join()
        assert other == [500] and budget.used == 60
    memory.check_allocation(500, "after")  # the budget is gone


@pytest.mark.parametrize("make, what", [
    (lambda: nr.Linear(10**6, 10**6), r"Linear\(1000000, 1000000\)"),
    (lambda: nr.Embedding(10**9, 100), r"Embedding\(1000000000, 100\)"),
    (lambda: nr.Linear(10**5, 10**5, dtype=np.float64), r"Linear\(100000, 100000\)"),
])
def test_constructors_refuse_at_once(make, what):
    with pytest.raises(SizeError, match=what + r".* needs .*bytes\)"):
        make()


def test_constructors_within_a_tight_bound(monkeypatch):
    monkeypatch.setattr(config, "MAX_ALLOC_BYTES", 2 * 4 * (6 * 4 + 6))  # Linear(4, 6): weight, bias, grads
    nr.Linear(4, 6)
    with pytest.raises(SizeError):
        nr.Linear(4, 7)
    with pytest.raises(SizeError):
        nr.Linear(4, 6, dtype=np.float64)
    nr.Linear(4, 7, bias=False)


@pytest.mark.parametrize("cls", [nr.RNN, nr.LSTM, nr.GRU])
def test_recurrent_constructors_refuse_at_once(cls, monkeypatch):
    monkeypatch.setattr(config, "MAX_ALLOC_BYTES", 2**20)  # a failure to refuse costs 16 MB
    with pytest.raises(SizeError, match=rf"{cls.__name__}.* needs "):
        cls(3, 1000)

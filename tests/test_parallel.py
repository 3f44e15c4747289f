"""numrnn/parallel.py: one pool of threads, sized by one knob, BLAS on one thread inside."""

import threading

import numpy as np
import pytest

from numrnn import config, parallel
from numrnn.errors import UsageValueError


def test_results_in_order_first_task_in_the_calling_thread():
    me = threading.get_ident()
    with parallel.limited_threads(2):
        got = parallel.run([lambda i=i: (i, threading.get_ident()) for i in range(2)])
    assert [i for i, _ in got] == [0, 1]
    assert got[0][1] == me and got[1][1] != me


def test_more_tasks_than_threads_are_grouped():
    seen = set()
    lock = threading.Lock()

    def task(i):
        with lock:
            seen.add(threading.get_ident())
        return i * i

    with parallel.limited_threads(2):
        assert parallel.run([lambda i=i: task(i) for i in range(7)]) == [i * i for i in range(7)]
    assert len(seen) <= 2


def test_one_thread_runs_everything_here():
    me = threading.get_ident()
    with parallel.limited_threads(1):
        assert parallel.run([threading.get_ident] * 3) == [me] * 3


def test_a_task_runs_its_own_tasks_inline():
    def outer():
        assert parallel.inside_task()
        return parallel.run([threading.get_ident, threading.get_ident])

    with parallel.limited_threads(2):
        a, b = parallel.run([outer, outer])
    assert a[0] == a[1] and b[0] == b[1] and a[0] != b[0]
    assert not parallel.inside_task()


def test_the_first_error_is_raised_after_every_task_finished():
    done = []

    def slow():
        threading.Event().wait(0.05)
        done.append(1)

    def bad():
        raise KeyError("boom")

    with parallel.limited_threads(2), pytest.raises(KeyError, match="boom"):
        parallel.run([bad, slow])
    assert done == [1]


def test_every_task_runs_when_one_raises_even_in_a_group():
    """Four tasks on two threads: [bad, slow] on one, [ok, ok] on the other. The task after
    the one that raised still runs, and the error is the first task's in the list's order."""
    done = []

    def slow():
        threading.Event().wait(0.05)
        done.append("slow")

    def bad():
        raise KeyError("boom")

    def worse():
        raise ValueError("second")

    with parallel.limited_threads(2), pytest.raises(KeyError, match="boom"):
        parallel.run([bad, lambda: done.append("a"), slow, lambda: done.append("b")])
    assert sorted(done) == ["a", "b", "slow"]
    done.clear()
    with parallel.limited_threads(2), pytest.raises(KeyError, match="boom"):
        parallel.run([lambda: done.append("a"), bad, worse])  # groups [a, worse] and [bad]
    assert done == ["a"]
    done.clear()
    with parallel.limited_threads(1), pytest.raises(KeyError, match="boom"):
        parallel.run([bad, slow])  # one after the other, in this thread
    assert done == ["slow"]


def test_limited_threads_takes_an_integer_only():
    for bad in (2.7, "3", None, True):
        with pytest.raises(TypeError, match="limited_threads: n must be an integer"):
            with parallel.limited_threads(bad):
                pass
    with parallel.limited_threads(np.int64(2)):
        assert parallel.threads() == 2


def test_directions_in_turn_under_the_cuda_simulator(monkeypatch):
    from numrnn.kernels import cuda_toolchain

    with parallel.limited_threads(2):
        side_by_side = parallel.run_directions(lambda d: threading.get_ident(), 2, np)
        monkeypatch.setattr(cuda_toolchain, "simulated", lambda: True)
        in_turn = parallel.run_directions(lambda d: threading.get_ident(), 2, np)
    assert side_by_side[0] != side_by_side[1]
    assert in_turn == [threading.get_ident()] * 2


def test_blas_on_one_thread_while_tasks_run_and_restored_after():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    pytest.importorskip("scipy.linalg")  # loaded now, so that every BLAS is listed below

    def blas_threads():
        return sorted(lib["num_threads"] for lib in threadpoolctl.threadpool_info()
                      if lib["user_api"] == "blas")

    with threadpoolctl.threadpool_limits(2, user_api="blas"):
        before = blas_threads()
        if max(before, default=1) < 2:
            pytest.skip("no multi-threaded BLAS here")
        with parallel.limited_threads(2):
            inside = parallel.run([blas_threads, blas_threads])
        assert inside == [[1] * len(before)] * 2
        assert blas_threads() == before


def test_numrnn_threads_knob(monkeypatch):
    monkeypatch.setenv("NUMRNN_THREADS", "3")
    assert config.threads() == 3 and parallel.threads() == 3
    with parallel.limited_threads(1):
        assert parallel.threads() == 1
    assert parallel.threads() == 3
    monkeypatch.delenv("NUMRNN_THREADS")
    assert config.threads() >= 1
    for bad in ("0", "two", "-1"):
        monkeypatch.setenv("NUMRNN_THREADS", bad)
        with pytest.raises(UsageValueError, match="NUMRNN_THREADS"):
            config.threads()
    with pytest.raises(UsageValueError):
        with parallel.limited_threads(0):
            pass


def test_blas_limit_nests_and_restores():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    pytest.importorskip("scipy.linalg")  # loaded now, so that every BLAS is listed below

    def blas_threads():
        return {lib["num_threads"] for lib in threadpoolctl.threadpool_info() if lib["user_api"] == "blas"}

    with threadpoolctl.threadpool_limits(2, user_api="blas"):
        if blas_threads() != {2}:
            pytest.skip("no multi-threaded BLAS here")
        with parallel.blas_limit(2):
            assert blas_threads() == {2}  # nothing to change
            with parallel.blas_limit(1):
                assert blas_threads() == {1}
                with parallel.blas_limit(2):
                    assert blas_threads() == {1}  # the least limit in force
                assert blas_threads() == {1}
            assert blas_threads() == {2}
        with parallel.limited_threads(1), parallel.blas_limit():
            assert blas_threads() == {1}  # NUMRNN_THREADS=1 holds BLAS to one thread too
        assert blas_threads() == {2}


def test_blas_limits_hold_from_any_thread():
    """threadpoolctl's own setter obeys only the first thread that used it; numrnn's works
    from every thread (a program may call numrnn from several)."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    pytest.importorskip("scipy.linalg")

    def blas_threads():
        return {lib["num_threads"] for lib in threadpoolctl.threadpool_info() if lib["user_api"] == "blas"}

    with threadpoolctl.threadpool_limits(2, user_api="blas"):  # this thread now controls OpenBLAS
        if blas_threads() != {2}:
            pytest.skip("no multi-threaded BLAS here")
        seen = []

        def elsewhere():
            with parallel.blas_limit(1):
                seen.append(blas_threads())
            seen.append(blas_threads())

        t = threading.Thread(target=elsewhere)
        t.start()
        t.join()
        assert seen == [{1}, {2}]


def test_a_thread_that_leaves_first_takes_only_its_own_limit():
    """BLAS at 2 threads; thread A holds it to 1, thread B to 2, then A leaves while B is
    still inside: B's limit (2) must be the one in force. (Before, A's exit popped the top
    of one shared stack, B's 2, and left A's 1 in force for B.)"""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    pytest.importorskip("scipy.linalg")

    def blas_threads():
        return {lib["num_threads"] for lib in threadpoolctl.threadpool_info() if lib["user_api"] == "blas"}

    with threadpoolctl.threadpool_limits(2, user_api="blas"):
        if blas_threads() != {2}:
            pytest.skip("no multi-threaded BLAS here")
        a_in, b_in, a_out, b_checked = (threading.Event() for _ in range(4))
        seen = {}

        def a():
            with parallel.blas_limit(1):
                a_in.set()
                b_in.wait()
            a_out.set()
            b_checked.wait()

        def b():
            a_in.wait()
            with parallel.blas_limit(2):
                seen["both"] = blas_threads()
                b_in.set()
                a_out.wait()
                seen["b alone"] = blas_threads()
            b_checked.set()

        threads = [threading.Thread(target=a), threading.Thread(target=b)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert seen == {"both": {1}, "b alone": {2}}
        assert blas_threads() == {2}


def test_a_limit_on_one_library_leaves_the_others():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    pytest.importorskip("scipy.linalg")

    def blas_threads():
        return {lib["filepath"]: lib["num_threads"] for lib in threadpoolctl.threadpool_info()
                if lib["user_api"] == "blas"}

    with threadpoolctl.threadpool_limits(2, user_api="blas"):
        before = blas_threads()
        if len(before) < 2 or set(before.values()) != {2}:
            pytest.skip("needs two BLAS libraries that take 2 threads")
        one = next(iter(before)).replace("\\", "/")
        with parallel.blas_limit(1, only=one):
            inside = blas_threads()
        assert inside == {path: 1 if path.replace("\\", "/") == one else 2 for path in before}
        assert blas_threads() == before

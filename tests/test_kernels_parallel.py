"""The kernels' thread pool: every tile once, nested loops inline, errors raised, the thread
count as a context setting, BLAS held at one thread while kernels run."""

from __future__ import annotations

import gc
import os
import threading
import warnings
import weakref

import numpy as np
import pytest

from trtdsl import kernels
from trtdsl.kernels import parallel, workers


def test_parallel_for_calls_every_index_once_on_several_threads() -> None:
    seen: list[int] = []
    names: set[str] = set()
    lock = threading.Lock()
    barrier = threading.Barrier(3, timeout=10)

    def body(i: int) -> None:
        if i < 3:
            barrier.wait()  # three calls at once: three threads
        with lock:
            seen.append(i)
            names.add(threading.current_thread().name)

    with kernels.threads(3):
        parallel.parallel_for(50, body)
    assert sorted(seen) == list(range(50))
    assert len(names) == 3


def test_nested_loops_run_inline_and_one_thread_is_a_plain_loop() -> None:
    inner_threads: set[str] = set()

    def inner(i: int) -> None:
        inner_threads.add(threading.current_thread().name)

    def outer(i: int) -> None:
        before = set(inner_threads)
        parallel.parallel_for(4, inner)
        assert inner_threads - before <= {threading.current_thread().name}

    with kernels.threads(2):
        parallel.parallel_for(6, outer)
    order: list[int] = []
    with kernels.threads(1):
        parallel.parallel_for(5, order.append)
    assert order == [0, 1, 2, 3, 4]


def test_the_first_error_is_raised_after_the_others_finish() -> None:
    finished: list[int] = []

    def body(i: int) -> None:
        if i == 3:
            raise ValueError("tile 3")
        finished.append(i)

    with kernels.threads(2), pytest.raises(ValueError, match="tile 3"):
        parallel.parallel_for(8, body)
    with kernels.threads(2):
        parallel.parallel_for(4, lambda i: None)  # the pool still works


def test_callers_on_several_threads_each_get_every_tile_once() -> None:
    results: dict[int, list[int]] = {}
    lock = threading.Lock()

    def caller(who: int) -> None:
        seen: list[int] = []

        def body(i: int) -> None:
            with lock:
                seen.append(i)

        with kernels.threads(4):
            for _ in range(20):
                parallel.parallel_for(37, body)
        results[who] = sorted(seen)

    callers = [threading.Thread(target=caller, args=(who,)) for who in range(4)]
    for thread in callers:
        thread.start()
    for thread in callers:
        thread.join(timeout=60)
    assert results == {who: sorted(list(range(37)) * 20) for who in range(4)}


class _Tiles:
    """What a tile body writes to (weakly referenceable, unlike a list)."""

    def __init__(self) -> None:
        self.seen: list[int] = []

    def add(self, index: int) -> None:
        self.seen.append(index)


def test_a_caller_does_not_wait_for_workers_busy_with_another_call() -> None:
    # A call whose tiles hold every worker the team has (and its own caller) until released.
    n = max(2, workers._started + 1)
    release, all_in, lock, entered = threading.Event(), threading.Event(), threading.Lock(), [0]

    def slow(i: int) -> None:
        with lock:
            entered[0] += 1
            if entered[0] == n:
                all_in.set()
        assert release.wait(timeout=30)

    def hold() -> None:
        with kernels.threads(n):
            parallel.parallel_for(n, slow)

    blocked = threading.Thread(target=hold)
    blocked.start()
    try:
        assert all_in.wait(timeout=30)
        with kernels.threads(2):  # its one job waits behind the held workers
            done = _Tiles()
            parallel.parallel_for(8, done.add)
            assert sorted(done.seen) == list(range(8))
            kept = weakref.ref(done)
            del done
            gc.collect()
            assert kept() is None  # the queued job does not keep the tiles' data alive
    finally:
        release.set()
    blocked.join(timeout=30)
    assert not blocked.is_alive()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX only")
def test_a_forked_child_starts_its_own_workers() -> None:
    with kernels.threads(3):
        parallel.parallel_for(6, lambda i: None)  # the parent's workers exist before the fork
    barrier = threading.Barrier(3, timeout=20)

    def body(i: int) -> None:
        if i < 3:
            barrier.wait()  # three tiles at once: needs two live workers in the child

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads running
        pid = os.fork()
    if pid == 0:  # the child
        code = 1
        try:
            with kernels.threads(3):
                parallel.parallel_for(9, body)
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_thread_count_is_a_context_setting() -> None:
    assert kernels.thread_count() == kernels.available_cores() >= 1
    with kernels.threads(3) as count:
        assert count == kernels.thread_count() == 3
        with kernels.threads(None) as inner:  # None keeps the current count
            assert inner == 3
        with kernels.threads(1):
            assert kernels.thread_count() == 1
        assert kernels.thread_count() == 3
    assert kernels.thread_count() == kernels.available_cores()
    with pytest.raises(ValueError, match="at least 1"):
        with kernels.threads(0):
            pass


def test_workers_see_the_callers_numpy_errstate() -> None:
    states: list[str] = []

    def body(i: int) -> None:
        states.append(np.geterr()["over"])

    with np.errstate(over="raise"), kernels.threads(2):
        parallel.parallel_for(6, body)
    assert states == ["raise"] * 6


def test_blas_is_held_at_one_thread_while_kernels_run() -> None:
    threadpoolctl = pytest.importorskip("threadpoolctl")
    controller = parallel._blas_controller()
    controlled = {lib.filepath for lib in controller.lib_controllers if lib.user_api == "blas"}
    if not controlled:
        pytest.skip("NumPy's BLAS is not visible to threadpoolctl")

    def blas_threads() -> list[int]:  # of the libraries loaded when kernels first ran (NumPy's)
        info = threadpoolctl.threadpool_info()
        return [i["num_threads"] for i in info if i["filepath"] in controlled]

    before = blas_threads()
    with kernels.threads(2):
        assert blas_threads() == [1] * len(before)
        with kernels.threads(3):  # nested: still one
            assert blas_threads() == [1] * len(before)
        assert blas_threads() == [1] * len(before)
    assert blas_threads() == before

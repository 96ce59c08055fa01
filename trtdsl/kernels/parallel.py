"""The kernels' thread pool: how many threads the kernels use, and ``parallel_for`` over tiles.

Results never depend on the number of threads. Kernels cut their work into tiles chosen from
the shapes alone (batch items, output-row, output-channel or row blocks, each computed whole:
one GEMM over the full reduction, one reduction over a whole row), and threads only decide who
computes which tile. While kernels run, NumPy's BLAS (OpenBLAS) is held at one thread, so a GEMM
is computed the same way on every machine and BLAS's threads never compete with the pool's.

NumPy's GEMM, ufuncs and copies release the GIL, so tiles run in parallel; the Python between
them does not, which is why tiles are sized to a fraction of a millisecond of work or more.
"""

from __future__ import annotations

import contextvars
import functools
import importlib
import itertools
import logging
import os
import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from trtdsl.kernels import workers as _workers

__all__ = ["MAX_THREADS", "available_cores", "parallel_for", "thread_count", "threads"]

_LOG = logging.getLogger("trtdsl")

MAX_THREADS = 1024
"""The most threads or worker processes a command takes (--threads, --workers): each is an OS
thread or process, so more than this is a typo, not a machine."""

_THREADS: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "trtdsl_kernel_threads", default=None
)
_IN_TILE = threading.local()


def available_cores() -> int:
    """The CPU cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def thread_count() -> int:
    """The threads kernels use here: the innermost ``threads(n)``, else ``available_cores()``."""
    count = _THREADS.get()
    return available_cores() if count is None else count


@contextmanager
def threads(count: int | None = None) -> Iterator[int]:
    """Run the kernels inside the block on ``count`` threads (None: keep the current count).

    Also holds NumPy's BLAS at one thread for the block (the pool is the parallelism). The
    setting is a context variable: it follows the block in this thread (and in tasks run
    with ``contextvars.copy_context()``), and other threads keep theirs.

    Yields:
        the thread count in force.
    Raises:
        ValueError: ``count`` below 1.
    """
    if count is not None and count < 1:
        raise ValueError(f"threads must be at least 1, got {count}")
    token = _THREADS.set(thread_count() if count is None else count)
    try:
        with single_blas_thread():
            yield thread_count()
    finally:
        _THREADS.reset(token)


def parallel_for(count: int, body: Callable[[int], None]) -> None:
    """Call ``body(i)`` for every ``i`` in ``range(count)``, on up to ``thread_count()`` threads.

    The calling thread takes part; the others (``workers``) run in copies of its context
    (NumPy's ``errstate`` included). Every ``body(i)`` must write only its own part of the
    outputs. Called from inside a tile (nested), it runs the loop on the calling thread. A
    worker still busy with other callers when the calling thread has taken the last tile is
    not waited for. The first exception is re-raised after every started call has finished.
    """
    workers = min(thread_count(), count)
    if workers <= 1 or getattr(_IN_TILE, "active", False):
        for i in range(count):
            body(i)
        return
    with single_blas_thread():
        call = _Call(body, count)
        _workers.start(workers - 1)
        for _ in range(workers - 1):
            _workers.post(functools.partial(call.join, contextvars.copy_context()))
        error: BaseException | None = None
        try:
            call.drain()
        except BaseException as e:  # noqa: BLE001  (re-raised below, after the others)
            error = e
        with call.lock:
            call.closed = True  # workers that have not joined yet return at once
            wait = call.running > 0
        if wait:
            call.finished.get()
        # Jobs still queued behind other callers' tiles hold the call: not its tiles' arrays.
        call.body = _finished_body
        error = error or call.error
        if error is not None:
            raise error


def _finished_body(index: int) -> None:
    raise AssertionError("internal: a tile of a finished parallel_for")


class _Call:
    """One ``parallel_for``: its tiles, handed out in order, and the workers that joined it."""

    __slots__ = ("body", "count", "indices", "failed", "lock", "running", "closed", "finished",
                 "error")  # fmt: skip

    def __init__(self, body: Callable[[int], None], count: int) -> None:
        self.body, self.count = body, count
        self.indices = itertools.count()  # next() on it is atomic under the GIL
        self.failed = False
        self.lock = threading.Lock()
        self.running = 0
        self.closed = False
        self.finished: queue.SimpleQueue[None] = queue.SimpleQueue()
        self.error: BaseException | None = None

    def drain(self) -> None:
        """Compute tiles until none is left (or one has failed)."""
        _IN_TILE.active = True
        try:
            while not self.failed:
                i = next(self.indices)
                if i >= self.count:
                    return
                try:
                    self.body(i)
                except BaseException:
                    self.failed = True
                    raise
        finally:
            _IN_TILE.active = False

    def join(self, context: contextvars.Context) -> None:
        """A worker's part: ``drain`` in the caller's context, unless the call is over."""
        with self.lock:
            if self.closed:
                return
            self.running += 1
        try:
            context.run(self.drain)
        except BaseException as e:  # noqa: BLE001  (the caller re-raises it)
            if self.error is None:
                self.error = e
        finally:
            with self.lock:
                self.running -= 1
                last = self.closed and self.running == 0
            if last:
                self.finished.put(None)


_BLAS_LOCK = threading.Lock()
_BLAS_USERS = 0
_BLAS_LIMIT: Any = None
_BLAS_CONTROLLER: Any = None


@contextmanager
def single_blas_thread() -> Iterator[None]:
    """NumPy's BLAS on one thread until the last of the nested or concurrent blocks ends.

    Through threadpoolctl (a dependency of trtdsl); where it is missing, BLAS keeps its
    threads (set ``OPENBLAS_NUM_THREADS=1`` to avoid oversubscription).
    """
    global _BLAS_USERS, _BLAS_LIMIT
    with _BLAS_LOCK:
        _BLAS_USERS += 1
        if _BLAS_USERS == 1:
            controller = _blas_controller()
            if controller is not None:
                _BLAS_LIMIT = controller.limit(limits=1, user_api="blas")
    try:
        yield
    finally:
        with _BLAS_LOCK:
            _BLAS_USERS -= 1
            if _BLAS_USERS == 0 and _BLAS_LIMIT is not None:
                _BLAS_LIMIT.restore_original_limits()
                _BLAS_LIMIT = None


def _blas_controller() -> Any:
    """threadpoolctl's controller of the BLAS libraries loaded now (None without it)."""
    global _BLAS_CONTROLLER
    if _BLAS_CONTROLLER is None:
        try:
            threadpoolctl = importlib.import_module("threadpoolctl")
        except ImportError:
            _LOG.debug("threadpoolctl is not installed: BLAS keeps its own threads")
            _BLAS_CONTROLLER = False
        else:
            _BLAS_CONTROLLER = threadpoolctl.ThreadpoolController()
    return _BLAS_CONTROLLER or None

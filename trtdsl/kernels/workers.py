"""The kernels' worker threads: daemon threads, started on demand and kept, that run the jobs
``parallel_for`` posts to one queue.

A plain ``SimpleQueue`` (C) rather than a ``ThreadPoolExecutor``: a post is one C call, with
no Future, lock or condition made per job, so a ``parallel_for`` on 16 threads holds Python's
lock for a few microseconds before the calling thread starts its own tiles (the executor took
about 150 us, every call). A forked child starts its own threads on first use.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable

__all__ = ["post", "start"]

_jobs: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
_started = 0
_lock = threading.Lock()


def start(count: int) -> None:
    """At least ``count`` worker threads (they are never stopped)."""
    global _started
    if _started >= count:
        return
    with _lock:
        while _started < count:
            threading.Thread(
                target=_work, args=(_jobs,), name=f"trtdsl-kernel-{_started}", daemon=True
            ).start()
            _started += 1


def post(job: Callable[[], None]) -> None:
    """Queue ``job`` for the next idle worker. A job must not raise (it keeps its errors)."""
    _jobs.put(job)


def _work(jobs: queue.SimpleQueue[Callable[[], None]]) -> None:
    while True:
        jobs.get()()


def _forget_threads() -> None:
    """In a forked child: the parent's workers do not exist here; start afresh."""
    global _jobs, _started, _lock
    _jobs, _started, _lock = queue.SimpleQueue(), 0, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_threads)

"""Data-parallel calibration in forked worker processes, for the NumPy reference executor.

The reference spends about a sixth of its time (ResNet-50, one image a batch) in Python
between NumPy calls, which holds Python's lock: threads would stop scaling at a few cores.
Forked processes share the weights and the executor copy-on-write, take batches in order from
a queue (reading random-access data themselves; an .npz's batches are read by the parent and
sent), report progress, and send back their histograms, which merge exactly as the threads'
do. Errors are raised for the earliest failing batch. Used where the ``fork`` start method
exists (Linux, macOS); elsewhere the workers are threads.
"""

from __future__ import annotations

import multiprocessing
import pickle
import queue
from collections.abc import Sequence
from typing import Any

import numpy as np

from trtdsl.calibration.data import CalibrationData
from trtdsl.calibration.executors.base import Executor
from trtdsl.calibration.histogram import TensorHistogram
from trtdsl.errors import BackendError, TrtdslError

_POLL_SECONDS = 0.2


def fork_available() -> bool:
    """Whether worker processes can be forked here."""
    return "fork" in multiprocessing.get_all_start_methods()


def run_processes(
    executor: Executor,
    data: CalibrationData,
    batch_size: int,
    values: Sequence[str],
    workers: int,
    progress: Any = None,
) -> list[dict[str, TensorHistogram]]:
    """Every batch of ``data`` through ``executor`` in ``workers`` forked processes.

    Returns:
        each process's histograms (value name -> TensorHistogram), to be merged.
    Raises:
        whatever the earliest failing batch raised; BackendError if a process died.
    """
    from trtdsl.calibration.workers import in_batch  # (workers imports this module)

    context = multiprocessing.get_context("fork")
    tasks: Any = context.Queue(maxsize=2 * workers)
    results: Any = context.Queue()
    stop = context.Event()

    def work() -> None:
        histograms = {v: TensorHistogram() for v in values}
        while True:
            task = tasks.get()
            if task is None:
                break
            if stop.is_set():
                continue
            start, stop_at, arrays = task
            try:
                inputs = arrays if arrays is not None else data.read_batch(start, stop_at)
                try:
                    stats = executor.run(inputs)
                except TrtdslError as e:
                    raise in_batch(e, data, start, stop_at - start) from None
                for v, histogram in histograms.items():
                    histogram.add(stats[v])
            except BaseException as e:  # noqa: BLE001  (sent to the parent, raised there)
                results.put(("error", start, _picklable(e)))
                stop.set()
                continue
            results.put(("progress", stop_at - start, None))
        results.put(("done", 0, histograms))

    processes = [context.Process(target=work, daemon=True) for _ in range(workers)]
    for process in processes:
        process.start()
    collected: list[dict[str, TensorHistogram]] = []
    errors: list[tuple[int, BaseException]] = []
    done = [0]

    def drain(block: bool) -> None:
        """Handle the messages waiting (``block``: wait for one, checking the processes)."""
        while len(collected) < workers:
            try:
                kind, number, payload = results.get(timeout=_POLL_SECONDS if block else 0)
            except queue.Empty:
                if block and any(p.exitcode not in (None, 0) for p in processes):
                    raise BackendError("a calibration worker process died") from None
                if block:
                    continue
                return
            if kind == "progress":
                done[0] += number
                if progress is not None:
                    progress(done[0], data.samples)
            elif kind == "error":
                errors.append((number, payload))
            else:
                collected.append(payload)

    try:
        feed = _tasks(data, batch_size)
        next_start = 0
        while not stop.is_set():
            try:
                task = next(feed)
            except StopIteration:
                break
            except TrtdslError as e:  # the parent's read of a streamed (.npz) batch
                errors.append((next_start, e))
                stop.set()
                break
            next_start = task[1]
            while True:
                try:
                    tasks.put(task, timeout=_POLL_SECONDS)
                    break
                except queue.Full:
                    drain(block=False)
            # Report the batches finished meanwhile now, not when feeding stops: a put into
            # a queue that workers keep emptying rarely times out, and the progress calls
            # (a progress bar's images/s) came in one burst at the end.
            drain(block=False)
        for _ in processes:
            tasks.put(None)
        drain(block=True)
    except BaseException:
        stop.set()
        for process in processes:
            process.terminate()
        raise
    finally:
        for process in processes:
            process.join(timeout=10)
    if errors:
        raise min(errors, key=lambda item: item[0])[1]
    return collected


def _tasks(data: CalibrationData, batch_size: int) -> Any:
    """``(start, stop, arrays)`` per batch: arrays None where a worker reads them itself."""
    if data.random_access:
        for start in range(0, data.samples, batch_size):
            yield start, min(start + batch_size, data.samples), None
        return
    for start, arrays in data.batches(batch_size):
        count = next(iter(arrays.values())).shape[0]
        yield start, start + count, {k: np.ascontiguousarray(a) for k, a in arrays.items()}


def _picklable(error: BaseException) -> BaseException:
    """``error``, or a RuntimeError with its text when it cannot cross a process boundary."""
    try:
        pickle.dumps(error)
    except Exception:  # noqa: BLE001
        return RuntimeError(f"{type(error).__name__}: {error}")
    return error

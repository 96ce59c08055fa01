"""Data-parallel calibration: workers take whole batches in order, run them through one
executor and bin them into their own histograms, which merge exactly at the end.

Threads for onnxruntime and the engine: they spend their time where Python's lock is released
(onnxruntime's ``run``, the engine, the binning's NumPy loops, Pillow and zlib when reading
data), and share one session or engine. Forked processes for the NumPy reference, whose Python
between kernels would serialize threads (``processes``). The batches are the same whatever
the number of workers (the same ``batch_size`` slices of the data), every batch is computed
single-threaded (BLAS and the reference's kernels on one thread while calibrating, onnxruntime
with one intra-op thread) and histograms merge exactly, so ``workers=1`` and ``workers=N`` give
the same scales, bit for bit. Errors are raised for the earliest failing batch, as one worker
would.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from trtdsl.calibration.data import CalibrationData
from trtdsl.calibration.executors.base import Executor
from trtdsl.calibration.histogram import TensorHistogram
from trtdsl.calibration.processes import fork_available
from trtdsl.errors import CalibrationError, TrtdslError
from trtdsl.kernels import threads as kernel_threads
from trtdsl.kernels.parallel import available_cores, single_blas_thread

Progress = Callable[[int, int], None]
"""``progress(samples_done, samples_total)``, called after every batch (from the worker thread
that finished it)."""


def default_workers() -> int:
    """The CPU cores this process may run on."""
    return available_cores()


@dataclass
class _Batches:
    """Hands out batches in order, to any thread: random-access data is read by the thread
    that takes the batch, streamed data (.npz) under the lock."""

    data: CalibrationData
    batch_size: int
    lock: threading.Lock = field(default_factory=threading.Lock)
    next_start: int = 0
    stream: Iterator[tuple[int, dict[str, np.ndarray]]] | None = None

    def take(self) -> tuple[int, Callable[[], dict[str, np.ndarray]]] | None:
        """``(first sample, read)`` of the next batch, or None when all are taken."""
        with self.lock:
            start = self.next_start
            if start >= self.data.samples:
                return None
            stop = min(start + self.batch_size, self.data.samples)
            self.next_start = stop
            if self.data.random_access:
                return start, lambda: self.data.read_batch(start, stop)
            if self.stream is None:
                self.stream = self.data.batches(self.batch_size)
            try:
                first, arrays = next(self.stream)
            except StopIteration:  # only after a failed read ended the stream
                return None
            except Exception as e:  # noqa: BLE001  (raised by the thread that took the batch)
                return start, _raiser(e)
            assert first == start, (first, start)
            return start, lambda: arrays


def _raiser(error: Exception) -> Callable[[], dict[str, np.ndarray]]:
    def read() -> dict[str, np.ndarray]:
        raise error

    return read


@dataclass
class _Failures:
    """The first failure by batch, and the signal for the other workers to stop taking any."""

    stop: threading.Event = field(default_factory=threading.Event)
    found: list[tuple[int, BaseException]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, start: int, error: BaseException) -> None:
        with self.lock:
            self.found.append((start, error))
        self.stop.set()

    def raise_first(self) -> None:
        if self.found:
            raise min(self.found, key=lambda item: item[0])[1]


def run_workers(
    executor: Executor,
    data: CalibrationData,
    batch_size: int,
    values: Sequence[str],
    workers: int,
    progress: Progress | None = None,
) -> dict[str, TensorHistogram]:
    """Every batch of ``data`` through ``executor``, binned by ``workers`` threads.

    Returns:
        value name -> its histogram over every sample, in ``values``' order.
    Raises:
        whatever the earliest failing batch raised (reading the data or running it).
    """
    batches = _Batches(data, batch_size)
    failures = _Failures()
    done = [0]
    done_lock = threading.Lock()
    count = max(1, min(workers, -(-data.samples // batch_size)))
    results: list[dict[str, TensorHistogram]] = [
        {v: TensorHistogram() for v in values} for _ in range(count)
    ]

    def work(histograms: Mapping[str, TensorHistogram]) -> None:
        while not failures.stop.is_set():
            start = -1
            try:
                taken = batches.take()
                if taken is None:
                    return
                start, read = taken
                inputs = read()
                samples = next(iter(inputs.values())).shape[0]
                try:
                    stats = executor.run(inputs)
                except TrtdslError as e:
                    raise in_batch(e, data, start, samples) from None
                for v, histogram in histograms.items():
                    histogram.add(stats[v])
                with done_lock:
                    done[0] += samples
                    if progress is not None:
                        progress(done[0], data.samples)
            except BaseException as e:  # noqa: BLE001  (re-raised by the calling thread)
                failures.add(start, e)
                return

    # Every batch single-threaded (the workers are the parallelism); worker threads inherit
    # the kernels' setting through their copied context.
    with single_blas_thread(), kernel_threads(1):
        if count > 1 and executor.name == "reference" and fork_available():
            from trtdsl.calibration.processes import run_processes

            results = run_processes(executor, data, batch_size, values, count, progress)
        elif count == 1:
            work(results[0])
        else:
            threads = [
                threading.Thread(
                    target=contextvars.copy_context().run,  # NumPy's errstate, the file scope
                    args=(work, results[i]),
                    name=f"trtdsl-calibrate-{i}",
                    daemon=True,
                )
                for i in range(count)
            ]
            for thread in threads:
                thread.start()
            try:
                for thread in threads:
                    thread.join()
            except BaseException:
                failures.stop.set()
                for thread in threads:
                    thread.join()
                raise
    failures.raise_first()
    merged = results[0]
    for other in results[1:]:
        for v, histogram in other.items():
            merged[v].merge(histogram)
    return merged


def in_batch(error: TrtdslError, data: CalibrationData, start: int, count: int) -> TrtdslError:
    """``error`` with the batch it happened in (and, for NaN or inf, where to look)."""
    hint = "; check the weights" if isinstance(error, CalibrationError) else ""
    where = f"calibrating on {data.path}, samples {start}..{start + count - 1}{hint}"
    return type(error)(f"{error} ({where})")

"""Benchmarking in the manner of trtexec: warm-up, timed iterations, latency statistics, the
host-to-device / compute / device-to-host split, and per-layer times mapped to DSL nodes.

Timings of the emulated engine are timings of NumPy on the CPU, never of TensorRT; every
result carries ``emulated`` and the formatted output says so.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from trtdsl.errors import UsageError
from trtdsl.runtime.layers import engine_layers, node_names
from trtdsl.runtime.runner import EngineRunner, StageTimes

EMULATED_WARNING = (
    "EMULATED: these are timings of trtdsl's CPU emulator of TensorRT (NumPy), "
    "not of a TensorRT engine"
)


@dataclass(frozen=True)
class LatencyStats:
    """Summary of a list of milliseconds."""

    min: float
    mean: float
    median: float
    p90: float
    p95: float
    p99: float
    max: float

    @classmethod
    def of(cls, samples: Iterable[float]) -> LatencyStats:
        values = np.asarray(list(samples), dtype=np.float64)
        if values.size == 0:
            raise ValueError("no samples")
        p90, p95, p99 = np.percentile(values, [90, 95, 99])
        return cls(
            float(values.min()),
            float(values.mean()),
            float(np.median(values)),
            float(p90),
            float(p95),
            float(p99),
            float(values.max()),
        )


@dataclass(frozen=True)
class BenchResult:
    """What ``benchmark`` measured.

    Attributes:
        engine: ``"TensorRT 11.4.0"`` or the emulator's description.
        emulated: True when the engine is trtdsl's emulator (CPU timings, not TensorRT's).
        memory: ``"device"`` (CUDA events) or ``"host"`` (wall clock).
        cuda_graph: whether iterations replayed a CUDA graph (no per-stage split then).
        shapes: input name -> shape.
        batch: the leading dimension of the first input (for throughput in samples/s).
        warmup: warm-up iterations run before timing.
        iterations: timed iterations.
        wall_s: wall time of the timed iterations, seconds.
        latency: per-iteration total (H2D + compute + D2H), ms.
        h2d, compute, d2h: per-stage ms, or None under a CUDA graph.
    """

    engine: str
    emulated: bool
    memory: str
    cuda_graph: bool
    shapes: dict[str, tuple[int, ...]]
    batch: int
    warmup: int
    iterations: int
    wall_s: float
    latency: LatencyStats
    h2d: LatencyStats | None
    compute: LatencyStats | None
    d2h: LatencyStats | None

    @property
    def throughput(self) -> float:
        """Inferences per second over the timed wall time."""
        return self.iterations / self.wall_s if self.wall_s > 0 else float("inf")

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["shapes"] = {k: list(v) for k, v in self.shapes.items()}
        data["throughput_per_s"] = self.throughput
        data["samples_per_s"] = self.throughput * self.batch
        if self.emulated:
            data["warning"] = EMULATED_WARNING
        return data


@dataclass(frozen=True)
class LayerTime:
    """Time spent in one engine layer, averaged over profiled runs.

    Attributes:
        layer: the engine layer name; ``nodes``: the DSL nodes it implements.
        ms: mean milliseconds per run; ``percent``: share of the sum over all layers.
    """

    layer: str
    nodes: tuple[str, ...]
    ms: float
    percent: float


def benchmark(
    runner: EngineRunner,
    feed: Mapping[str, np.ndarray],
    warmup: int = 10,
    iterations: int | None = None,
    duration_s: float | None = None,
    engine: str = "",
    progress: Callable[[int], None] | None = None,
) -> BenchResult:
    """Time ``runner`` on ``feed``.

    Args:
        warmup: untimed iterations first (>= 0).
        iterations: timed iterations; default 100 unless ``duration_s`` is given.
        duration_s: run for at least this long (and at least ``iterations`` if both given).
        engine: a description of the engine for the report.
        progress: called with the number of finished timed iterations.
    """
    if warmup < 0:
        raise UsageError(f"--warmup must be >= 0, got {warmup}")
    if iterations is not None and iterations < 1:
        raise UsageError(f"--iterations must be >= 1, got {iterations}")
    if duration_s is not None and duration_s <= 0:
        raise UsageError(f"--duration must be > 0, got {duration_s}")
    if iterations is None and duration_s is None:
        iterations = 100
    runner.set_inputs(feed)
    for _ in range(warmup):
        runner.execute()
    samples: list[StageTimes] = []
    start = time.perf_counter()
    deadline = start + duration_s if duration_s is not None else None
    while True:
        samples.append(runner.execute_timed())
        if progress is not None:
            progress(len(samples))
        enough = iterations is None or len(samples) >= iterations
        in_time = deadline is not None and time.perf_counter() < deadline
        if enough and not in_time:
            break
    wall = time.perf_counter() - start
    shapes = {t.name: runner.shapes()[t.name] for t in runner.inputs}
    first = next(iter(shapes.values()), ())
    split = [s for s in samples if s.h2d is not None]
    return BenchResult(
        engine=engine or ("emulated engine" if runner.emulated else "TensorRT engine"),
        emulated=runner.emulated,
        memory=runner.memory.kind,
        cuda_graph=runner.cuda_graph,
        shapes=shapes,
        batch=int(first[0]) if first else 1,
        warmup=warmup,
        iterations=len(samples),
        wall_s=wall,
        latency=LatencyStats.of(s.total for s in samples),
        h2d=LatencyStats.of(s.h2d for s in split) if split else None,  # type: ignore[misc]
        compute=LatencyStats.of(s.compute for s in split) if split else None,  # type: ignore[misc]
        d2h=LatencyStats.of(s.d2h for s in split) if split else None,  # type: ignore[misc]
    )


def profile_layers(
    runner: EngineRunner,
    feed: Mapping[str, np.ndarray],
    iterations: int = 10,
    known: Iterable[str] | None = None,
) -> list[LayerTime]:
    """Per-layer times from TensorRT's IProfiler, mapped to DSL nodes, slowest first.

    The profiler slows execution (TensorRT synchronizes after each layer), so run it apart from
    the latency measurement. ``known``: the graph's node names, if the model is at hand.
    """
    trt = runner.trt
    known_list = list(known) if known is not None else None
    recorder = make_profiler(trt)
    context = runner.context
    runner.set_inputs(feed)
    runner.execute()  # warm-up without the profiler
    context.profiler = recorder
    try:
        for _ in range(max(iterations, 1)):
            runner.execute()
    finally:
        context.profiler = None
    metadata = {}
    try:
        for layer in engine_layers(runner.engine, trt, context, known_list):
            metadata[layer.name] = layer.nodes
    except Exception:  # the inspector is optional for profiling; fall back to layer names
        metadata = {}
    runs = max(iterations, 1)
    total = sum(recorder.times.values()) or 1.0
    rows = [
        LayerTime(
            name,
            metadata.get(name) or node_names(name, known_list),
            ms / runs,
            100.0 * ms / total,
        )
        for name, ms in recorder.times.items()
    ]
    rows.sort(key=lambda r: r.ms, reverse=True)
    return rows


def make_profiler(trt: Any) -> Any:
    """An ``IProfiler`` of module ``trt`` summing ``report_layer_time`` per layer name."""

    class LayerTimeRecorder(trt.IProfiler):  # type: ignore[misc]
        def __init__(self) -> None:
            trt.IProfiler.__init__(self)
            self.times: dict[str, float] = {}

        def report_layer_time(self, layer_name: str, ms: float) -> None:
            self.times[layer_name] = self.times.get(layer_name, 0.0) + float(ms)

    return LayerTimeRecorder()


def format_bench(result: BenchResult) -> str:
    """A plain-text report in the manner of trtexec's performance summary."""
    lines = []
    if result.emulated:
        lines.append(f"!! {EMULATED_WARNING}")
    shapes = ", ".join(f"{k}={'x'.join(map(str, v))}" for k, v in result.shapes.items())
    lines.append(f"engine: {result.engine}")
    graph = ", CUDA graph" if result.cuda_graph else ""
    lines.append(f"memory: {result.memory}{graph}; inputs: {shapes}")
    lines.append(
        f"iterations: {result.iterations} timed after {result.warmup} warm-up, "
        f"wall {result.wall_s:.3f} s"
    )
    lines.append(
        f"throughput: {result.throughput:.2f} inferences/s "
        f"({result.throughput * result.batch:.2f} samples/s at batch {result.batch})"
    )
    lines.append(_stats_line("latency (total)", result.latency))
    for label, stats in (("H2D", result.h2d), ("compute", result.compute), ("D2H", result.d2h)):
        if stats is not None:
            lines.append(_stats_line(label, stats))
    if result.cuda_graph:
        lines.append("(a CUDA graph runs copies and compute as one launch: no per-stage split)")
    return "\n".join(lines)


def format_layer_times(rows: list[LayerTime], emulated: bool, limit: int | None = None) -> str:
    """A plain-text table of per-layer times, slowest first."""
    lines = [f"!! {EMULATED_WARNING}"] if emulated else []
    lines.append(f"{'ms':>10}  {'%':>6}  layer -> nodes")
    for row in rows[:limit] if limit else rows:
        nodes = ", ".join(row.nodes) if row.nodes else "-"
        lines.append(f"{row.ms:10.4f}  {row.percent:6.2f}  {row.layer} -> {nodes}")
    total = sum(r.ms for r in rows)
    lines.append(f"{total:10.4f}  {100.0 if rows else 0.0:6.2f}  total ({len(rows)} layers)")
    return "\n".join(lines)


def _stats_line(label: str, s: LatencyStats) -> str:
    return (
        f"{label:>16}: min {s.min:.4f}  mean {s.mean:.4f}  median {s.median:.4f}  "
        f"p90 {s.p90:.4f}  p95 {s.p95:.4f}  p99 {s.p99:.4f}  max {s.max:.4f} ms"
    )

"""Building and serializing the engine: BuildConfig and build_engine.

The build is a logged, timed stage that fails loudly: the configuration is logged, progress is
reported through an optional callback (TensorRT's IProgressMonitor), and a failed build raises
BackendError quoting the errors TensorRT logged.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from trtdsl.backends.trt.emit import EmittedNetwork
from trtdsl.backends.trt.files import write_atomic
from trtdsl.backends.trt.module import progress_monitor_base
from trtdsl.errors import BackendError, UsageError
from trtdsl.ir.graph import Graph
from trtdsl.ir.types import Precision

_log = logging.getLogger("trtdsl")

Shape = tuple[int, ...]


@dataclass(frozen=True)
class ShapeRange:
    """The min, opt and max shapes of one input in an optimization profile."""

    min: Shape
    opt: Shape
    max: Shape

    def __post_init__(self) -> None:
        shapes = (tuple(self.min), tuple(self.opt), tuple(self.max))
        if not len(shapes[0]) == len(shapes[1]) == len(shapes[2]):
            raise UsageError(f"min/opt/max shapes {list(shapes)} have different ranks")
        for lo, mid, hi in zip(*shapes, strict=True):
            if not 0 <= lo <= mid <= hi:
                raise UsageError(f"shapes {list(shapes)}: expected min <= opt <= max per axis")
        object.__setattr__(self, "min", shapes[0])
        object.__setattr__(self, "opt", shapes[1])
        object.__setattr__(self, "max", shapes[2])

    def format(self) -> str:
        return ":".join("x".join(map(str, s)) for s in (self.min, self.opt, self.max))


@dataclass(frozen=True)
class BuildProgress:
    """One progress report from the builder: ``step`` of ``total`` in ``phase``."""

    phase: str
    parent: str | None
    step: int
    total: int
    finished: bool = False


ProgressCallback = Callable[[BuildProgress], None]


@dataclass(frozen=True)
class BuildConfig:
    """How to build an engine.

    Attributes:
        precision: ``fp32`` (exact: TF32 off), ``tf32``, ``fp16`` or ``bf16``.
        keep_fp32: glob patterns over node names that stay float32.
        workspace: the WORKSPACE memory-pool limit in bytes (None: TensorRT's default, the
            whole device memory).
        shapes: optimization-profile shapes per input name; inputs with symbolic dimensions
            that are not listed take the model's declared min/opt/max.
        optimization_level: the builder optimization level 0..5 (None: TensorRT's default 3).
        timing_cache: a timing-cache file loaded before the build (if it exists) and saved
            after it.
        detailed_profiling: ProfilingVerbosity.DETAILED (layer details in the engine
            inspector) instead of LAYER_NAMES_ONLY.
        refittable: build with BuilderFlag.REFIT (weights can be replaced by name later).
    """

    precision: Precision = Precision.FP32
    keep_fp32: tuple[str, ...] = ()
    workspace: int | None = None
    shapes: Mapping[str, ShapeRange] = field(default_factory=dict)
    optimization_level: int | None = None
    timing_cache: str | None = None
    detailed_profiling: bool = True
    refittable: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "precision", Precision.parse(self.precision))
        object.__setattr__(self, "keep_fp32", tuple(self.keep_fp32))
        object.__setattr__(self, "shapes", dict(self.shapes))
        if self.workspace is not None and self.workspace <= 0:
            raise UsageError(f"workspace must be a positive number of bytes, got {self.workspace}")
        level = self.optimization_level
        if level is not None and not 0 <= level <= 5:
            raise UsageError(f"builder optimization level must be 0..5, got {level}")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description (for the engine's sidecar and logs)."""
        return {
            "precision": self.precision.value,
            "tf32": self.precision.allows_tf32,
            "keep_fp32": list(self.keep_fp32),
            "workspace": self.workspace,
            "shapes": {name: r.format() for name, r in self.shapes.items()},
            "optimization_level": self.optimization_level,
            "timing_cache": self.timing_cache,
            "detailed_profiling": self.detailed_profiling,
            "refittable": self.refittable,
        }

    def describe(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.to_dict().items() if v not in (None, [], {}))


def parse_shapes(specs: list[str] | tuple[str, ...]) -> dict[str, ShapeRange]:
    """Parse ``--shapes`` items ``NAME=MIN:OPT:MAX`` (each ``AxBxC``) or ``NAME=SHAPE`` (fixed).

    Example: ``x=1x3x224x224:8x3x224x224:32x3x224x224``.
    """
    result: dict[str, ShapeRange] = {}
    for spec in specs:
        name, sep, rest = spec.partition("=")
        parts = rest.split(":") if sep else []
        if not name or len(parts) not in (1, 3):
            raise UsageError(
                f"--shapes {spec!r}: expected NAME=MINxCxHxW:OPTxCxHxW:MAXxCxHxW or NAME=SHAPE"
            )
        try:
            shapes = [tuple(int(d) for d in re.split(r"[x,]", p)) for p in parts]
        except ValueError:
            raise UsageError(f"--shapes {spec!r}: dimensions must be integers") from None
        if len(shapes) == 1:
            shapes *= 3
        if name in result:
            raise UsageError(f"--shapes: input {name!r} given twice")
        result[name] = ShapeRange(*shapes)
    return result


def profile_shapes(graph: Graph, config: BuildConfig) -> dict[str, ShapeRange]:
    """The optimization-profile shapes of every input that has symbolic dimensions.

    Raises:
        UsageError: ``config.shapes`` names an unknown input, or a shape disagrees with the
            input's rank or static dimensions.
    """
    unknown = [n for n in config.shapes if n not in graph.inputs]
    if unknown:
        raise UsageError(
            f"--shapes: unknown input(s) {', '.join(map(repr, unknown))} "
            f"(model inputs: {', '.join(graph.inputs)})"
        )
    result: dict[str, ShapeRange] = {}
    for name in graph.inputs:
        t = graph.types[name]
        given = config.shapes.get(name)
        if given is None:
            if t.is_static:
                continue
            given = ShapeRange(*(t.concrete(graph.sizes(w)) for w in ("min", "opt", "max")))
        for which in ("min", "opt", "max"):
            shape = getattr(given, which)
            if len(shape) != t.rank or any(
                isinstance(d, int) and d != s for d, s in zip(t.shape, shape, strict=True)
            ):
                raise UsageError(
                    f"--shapes: {which} shape {'x'.join(map(str, shape))} of input {name!r} "
                    f"does not fit its declared shape {t.format_shape()}"
                )
        result[name] = given
    return result


def build_engine(
    emitted: EmittedNetwork,
    config: BuildConfig | None = None,
    progress: ProgressCallback | None = None,
) -> bytes:
    """Build and serialize the engine of an emitted network.

    Args:
        emitted: from ``emit_network``; its weight buffers stay alive until this returns.
        config: build options (default: exact fp32).
        progress: called with each BuildProgress the builder reports (the CLI draws a bar).
    Returns:
        the serialized engine (plan) bytes.
    Raises:
        BackendError with TensorRT's logged errors when the build fails.
    """
    config = config or BuildConfig()
    trt = emitted.trt
    builder = emitted.builder
    trt_config = builder.create_builder_config()
    if config.workspace is not None:
        trt_config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, config.workspace)
    # NOTE: TF32 is on by default in TensorRT; exact fp32 comparisons need it off.
    if config.precision.allows_tf32:
        trt_config.set_flag(trt.BuilderFlag.TF32)
    else:
        trt_config.clear_flag(trt.BuilderFlag.TF32)
    if config.refittable:
        trt_config.set_flag(trt.BuilderFlag.REFIT)
    if config.optimization_level is not None:
        trt_config.builder_optimization_level = config.optimization_level
    trt_config.profiling_verbosity = (
        trt.ProfilingVerbosity.DETAILED
        if config.detailed_profiling
        else trt.ProfilingVerbosity.LAYER_NAMES_ONLY
    )
    shapes = profile_shapes(emitted.graph, config)
    if shapes:
        profile = builder.create_optimization_profile()
        for name, r in shapes.items():
            try:
                profile.set_shape(name, r.min, r.opt, r.max)
            except Exception as e:  # TensorRT raises RuntimeError though it documents ValueError
                raise BackendError(f"optimization profile for {name!r} ({r.format()}): {e}") from e
        if trt_config.add_optimization_profile(profile) < 0:
            raise BackendError(f"TensorRT rejected the optimization profile {shapes}")
    cache = _load_timing_cache(trt_config, config.timing_cache)
    monitor = _make_monitor(trt, progress)
    if monitor is not None:
        trt_config.progress_monitor = monitor
    since = emitted.logger.mark()
    _log.info("building engine for %s: %s", emitted.graph.name, config.describe())
    start = time.perf_counter()
    plan = builder.build_serialized_network(emitted.network, trt_config)
    seconds = time.perf_counter() - start
    if monitor is not None and monitor.error is not None:
        raise monitor.error
    if plan is None:
        errors = emitted.logger.errors_text(since) or "no error was logged"
        raise BackendError(f"TensorRT failed to build {emitted.graph.name!r}: {errors}")
    data = bytes(plan)
    _log.info("built %s in %.2f s (%d bytes)", emitted.graph.name, seconds, len(data))
    if config.timing_cache and cache is not None:
        write_atomic(config.timing_cache, bytes(trt_config.get_timing_cache().serialize()))
    return data


def _load_timing_cache(trt_config: Any, path: str | None) -> Any:
    if not path:
        return None
    blob = b""
    if os.path.exists(path):
        with open(path, "rb") as f:
            blob = f.read()
    cache = trt_config.create_timing_cache(blob)
    if not trt_config.set_timing_cache(cache, ignore_mismatch=False):
        raise BackendError(f"{path}: TensorRT rejected the timing cache (another GPU or version?)")
    return cache


def _make_monitor(trt: Any, progress: ProgressCallback | None) -> Any:
    """An IProgressMonitor forwarding to ``progress`` (None without a callback)."""
    base = progress_monitor_base(trt)
    if progress is None or base is None:
        return None

    class _Monitor(base):  # type: ignore[misc, valid-type]
        def __init__(self) -> None:
            base.__init__(self)
            self.totals: dict[str, tuple[str | None, int]] = {}
            self.error: BaseException | None = None

        def phase_start(self, phase_name: str, parent_phase: str | None, num_steps: int) -> None:
            self.totals[phase_name] = (parent_phase, num_steps)
            self._report(BuildProgress(phase_name, parent_phase, 0, num_steps))

        def step_complete(self, phase_name: str, step: int) -> bool:
            parent, total = self.totals.get(phase_name, (None, 0))
            self._report(BuildProgress(phase_name, parent, step + 1, total))
            return self.error is None  # False cancels the build

        def phase_finish(self, phase_name: str) -> None:
            parent, total = self.totals.get(phase_name, (None, 0))
            self._report(BuildProgress(phase_name, parent, total, total, finished=True))

        def _report(self, event: BuildProgress) -> None:
            if self.error is not None:
                return
            try:
                assert progress is not None
                progress(event)
            except BaseException as e:  # noqa: BLE001  (re-raised after the build returns)
                self.error = e

    return _Monitor()

"""Building and serializing the engine: BuildConfig and build_engine.

The build is a logged, timed stage that fails loudly: the configuration is logged, progress is
reported through an optional callback (TensorRT's IProgressMonitor), and a failed build raises
BackendError quoting the errors TensorRT logged.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from trtdsl.backends.trt.emit import EmittedNetwork
from trtdsl.backends.trt.module import (
    describe_version,
    has_timing_cache,
    progress_monitor_base,
    set_compute_capabilities,
)
from trtdsl.errors import BackendError, UsageError
from trtdsl.files import read_bytes, write_file
from trtdsl.ir.graph import Graph
from trtdsl.ir.types import Precision, ShapeRange

_log = logging.getLogger("trtdsl")


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
        compute_capabilities: TensorRT-RTX ahead-of-time targets (``86`` = sm_86); empty:
            the product's default (TensorRT-RTX: its portable set; TensorRT: this GPU).
        calibration: for int8/fp8: the scales file ``trtdsl calibrate`` wrote (read by
            ``prepare_graph``; its scales reach the network as weights).
        keep_fp16: for int8/fp8: glob patterns over node names left unquantized, in the
            fallback precision (fp16).
    """

    precision: Precision = Precision.FP32
    keep_fp32: tuple[str, ...] = ()
    workspace: int | None = None
    shapes: Mapping[str, ShapeRange] = field(default_factory=dict)
    optimization_level: int | None = None
    timing_cache: str | None = None
    detailed_profiling: bool = True
    refittable: bool = False
    compute_capabilities: tuple[int, ...] = ()
    calibration: str | None = None
    keep_fp16: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "precision", Precision.parse(self.precision))
        object.__setattr__(self, "keep_fp32", tuple(self.keep_fp32))
        object.__setattr__(self, "keep_fp16", tuple(self.keep_fp16))
        object.__setattr__(self, "shapes", dict(self.shapes))
        object.__setattr__(self, "compute_capabilities", tuple(self.compute_capabilities))
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
            "compute_capabilities": list(self.compute_capabilities),
            "calibration": self.calibration,
            "keep_fp16": list(self.keep_fp16),
        }

    def for_emulator(self) -> BuildConfig:
        """The same build for trtdsl's emulator: the network, precision and profiles, without
        TensorRT-RTX's ahead-of-time targets or a timing cache."""
        return dataclasses.replace(self, compute_capabilities=(), timing_cache=None)

    def describe(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.to_dict().items() if v not in (None, [], {}))


def profile_shapes(graph: Graph, config: BuildConfig) -> dict[str, ShapeRange]:
    """The optimization-profile shapes of every input that has symbolic dimensions.

    Raises:
        UsageError: ``config.shapes`` names an unknown input, or a shape disagrees with the
            input's rank or static dimensions. (The CLI also keeps a ``--shape`` profile inside
            the model's declared ranges: ``trtdsl.cli.args.load_graph``.)
    """
    unknown = [n for n in config.shapes if n not in graph.inputs]
    if unknown:
        raise UsageError(
            f"--shape: unknown input(s) {', '.join(map(repr, unknown))} "
            f"(model inputs: {', '.join(graph.inputs)})"
        )
    result: dict[str, ShapeRange] = {}
    shared = _symbol_sizes(graph, config.shapes)
    for name in graph.inputs:
        t = graph.types[name]
        given = config.shapes.get(name)
        if given is None:
            if t.is_static:
                continue
            given = ShapeRange(
                *(t.concrete({**graph.sizes(w), **shared[w]}) for w in ("min", "opt", "max"))
            )
        for which in ("min", "opt", "max"):
            shape = getattr(given, which)
            if len(shape) != t.rank or any(
                isinstance(d, int) and d != s for d, s in zip(t.shape, shape, strict=True)
            ):
                raise UsageError(
                    f"--shape: {which} shape {'x'.join(map(str, shape))} of input {name!r} "
                    f"does not fit its declared shape {t.format_shape()}"
                )
        result[name] = given
    return result


def _symbol_sizes(graph: Graph, shapes: Mapping[str, ShapeRange]) -> dict[str, dict[str, int]]:
    """``{"min"|"opt"|"max": {symbol: size}}`` for the symbols of the inputs given a profile:
    an input not given one takes those sizes for the symbols it shares (a BERT's
    ``attention_mask`` follows ``input_ids``' B and L), the declared ones for the rest."""
    sizes: dict[str, dict[str, int]] = {"min": {}, "opt": {}, "max": {}}
    for name, given in shapes.items():
        t = graph.types.get(name)
        if t is None:
            continue
        for which, found in sizes.items():
            shape = getattr(given, which)
            if len(shape) == t.rank:
                found.update(
                    (d, s) for d, s in zip(t.shape, shape, strict=True) if isinstance(d, str)
                )
    return sizes


@dataclass(frozen=True)
class BuildResult:
    """What one build produced.

    Attributes:
        plan: the serialized engine.
        seconds: wall time of ``build_serialized_network``.
        layer_information: the builder's own description of the engine's layers (one line
            per engine layer: name, type, tensors, tactic, metadata), as TensorRT logs it at
            VERBOSE severity with DETAILED profiling; empty where the product logs none.
        notes: one-line remarks for the user (e.g. a timing cache left untouched, and why).
    """

    plan: bytes
    seconds: float
    layer_information: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


def build_engine(
    emitted: EmittedNetwork,
    config: BuildConfig | None = None,
    progress: ProgressCallback | None = None,
) -> bytes:
    """Build and serialize the engine of an emitted network; ``build_network(...).plan``."""
    return build_network(emitted, config, progress).plan


def build_network(
    emitted: EmittedNetwork,
    config: BuildConfig | None = None,
    progress: ProgressCallback | None = None,
) -> BuildResult:
    """Build and serialize the engine of an emitted network.

    Args:
        emitted: from ``emit_network``; its weight buffers stay alive until this returns.
        config: build options (default: exact fp32).
        progress: called with each BuildProgress the builder reports (the CLI draws a bar).
    Returns:
        the plan, the build time, the builder's layer information and notes.
    Raises:
        BackendError with TensorRT's logged errors when the build fails (e.g. TensorRT-RTX
        refusing FP8 for sm_86); UsageError for compute capabilities the product lacks.
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
    set_compute_capabilities(trt, trt_config, config.compute_capabilities)
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
    notes: list[str] = []
    cache = _load_timing_cache(trt, trt_config, config.timing_cache, emitted.logger, notes)
    monitor = _make_monitor(trt, progress)
    if monitor is not None:
        trt_config.progress_monitor = monitor
    since = emitted.logger.mark()
    _log.info("building engine for %s: %s", emitted.graph.name, config.describe())
    start = time.perf_counter()
    with emitted.logger.keeping(LAYER_INFORMATION_PREFIX) as reports:
        plan = builder.build_serialized_network(emitted.network, trt_config)
    seconds = time.perf_counter() - start
    if monitor is not None and monitor.error is not None:
        raise monitor.error
    if plan is None:
        errors = emitted.logger.errors_text(since) or "no error was logged"
        raise BackendError(f"TensorRT failed to build {emitted.graph.name!r}: {errors}")
    data = bytes(plan)
    _log.info("built %s in %.2f s (%d bytes)", emitted.graph.name, seconds, len(data))
    if cache is not None and config.timing_cache:
        data = bytes(trt_config.get_timing_cache().serialize())
        write_file(config.timing_cache, data, "--timing-cache")
    information = _layer_lines(reports[-1] if reports else "")
    return BuildResult(data, seconds, information, tuple(notes))


LAYER_INFORMATION_PREFIX = "Layers:"
"""How the builder's VERBOSE message with the engine's layer information starts."""


def _layer_lines(report: str) -> tuple[str, ...]:
    """The ``Name: ...`` line of each engine layer in the builder's report (the sections after
    the layers, such as ``I/O Tensors:``, repeat what the sidecar already holds)."""
    lines = []
    for line in report.splitlines()[1:]:
        if not line.startswith("Name: "):
            break
        lines.append(line)
    return tuple(lines)


def _load_timing_cache(
    trt: Any, trt_config: Any, path: str | None, logger: Any, notes: list[str]
) -> Any:
    """The timing cache to save after the build, or None when ``path`` must not be written.

    A cache file that TensorRT could not read is never overwritten: TensorRT would otherwise
    hand back an empty cache and the next save would replace the user's file with it.
    """
    if not path:
        return None
    if not has_timing_cache(trt):
        notes.append(
            f"{path}: not read or written: {describe_version(trt)} has no timing cache (its "
            "timing-cache calls are no-ops)"
        )
        return None
    blob = b""
    if os.path.lexists(path):
        # Read to be rewritten after the build (so not an input that writes must avoid).
        blob = read_bytes(path, "--timing-cache " + path, updated=True)
    since = logger.mark()
    cache = trt_config.create_timing_cache(blob)
    accepted = cache is not None and trt_config.set_timing_cache(cache, ignore_mismatch=False)
    errors = logger.errors_text(since)
    if not accepted or errors:
        if not blob:
            raise BackendError(f"{path}: TensorRT cannot create a timing cache: {errors}")
        notes.append(
            f"{path}: TensorRT could not read this timing cache (another GPU or version?); "
            f"built without it and left the file untouched: {errors or 'rejected'}"
        )
        return None
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

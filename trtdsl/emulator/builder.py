"""Emulated Builder, IBuilderConfig, IOptimizationProfile, ITimingCache and IHostMemory."""

from __future__ import annotations

from typing import Any

from trtdsl.emulator.engine import Runtime
from trtdsl.emulator.enums import (
    BuilderFlag,
    MemoryPoolType,
    PreviewFeature,
    ProfilingVerbosity,
    Severity,
    TacticSource,
)
from trtdsl.emulator.logger import ILogger
from trtdsl.emulator.network import INetworkDefinition
from trtdsl.emulator.profiling import IProgressMonitor
from trtdsl.emulator.types import Dims, EmulatorRuntimeError, IHostMemory, check_type, to_dims

# NOTE: TensorRT's WORKSPACE default is the device's total memory; the emulator has no device
# to ask, so it reports this fixed figure (80 GiB).
_DEFAULT_WORKSPACE = 80 << 30


class ITimingCache:
    """A timing cache; the emulator times nothing, so it only round-trips its bytes."""

    _MAGIC = b"TRTDSL-EMULATED-TIMING-CACHE\n"

    def __init__(self, _blob: bytes = b"") -> None:
        self._entries: dict[bytes, bytes] = {}
        if _blob and not bytes(_blob).startswith(self._MAGIC):
            raise EmulatorRuntimeError("timing cache: not an emulated timing cache blob")

    def serialize(self) -> IHostMemory:
        """The cache as bytes (an emulated blob)."""
        return IHostMemory(self._MAGIC)

    def combine(self, input_cache: ITimingCache, ignore_mismatch: bool) -> bool:
        """Merge another cache (nothing to merge in the emulator)."""
        check_type(input_cache, ITimingCache, "combine.input_cache")
        check_type(ignore_mismatch, bool, "combine.ignore_mismatch")
        return True

    def reset(self) -> bool:
        """Empty the cache."""
        self._entries.clear()
        return True


class IOptimizationProfile:
    """Min/opt/max shapes per dynamic input.

    As TensorRT-RTX (and as TensorRT 11.4 documents: "inputs can be validated only partially;
    a full validation is performed at engine build time"), ``set_shape`` refuses only negative
    dimensions; ranks and the order min <= opt <= max are checked when the profile is added to
    a config (``add_optimization_profile`` then returns -1) and by the build.
    """

    def __init__(self, _logger: ILogger | None = None) -> None:
        self._logger = _logger
        self._shapes: dict[str, tuple[Dims, Dims, Dims]] = {}
        self.extra_memory_target = 1.0

    def _log(self, message: str) -> None:
        if self._logger is not None:
            self._logger.log(Severity.ERROR, message)

    def set_shape(self, input: str, min: Any, opt: Any, max: Any) -> None:
        """Set the shape range of ``input``; RuntimeError for a negative dimension."""
        check_type(input, str, "set_shape.input")
        dims = [to_dims(d, f"set_shape.{k}") for d, k in ((min, "min"), (opt, "opt"), (max, "max"))]
        for which, shape in zip(("min", "opt", "max"), dims, strict=True):
            if any(d < 0 for d in shape):
                self._log(
                    f"IOptimizationProfile::setDimensions: API Usage Error ({which} shape "
                    f"{shape} of {input!r}: every dimension must be >= 0)"
                )
                raise EmulatorRuntimeError(
                    f"Shape provided for {which} is inconsistent with other shapes."
                )
        self._shapes[input] = (dims[0], dims[1], dims[2])

    def get_shape(self, input: str) -> list[Dims]:
        """[min, opt, max] of ``input``, or [] when unset."""
        return list(self._shapes.get(check_type(input, str, "get_shape.input"), ()))

    def _invalid_inputs(self) -> list[str]:
        """Inputs whose ranks differ or whose shapes break 0 <= min <= opt <= max."""
        return [
            name
            for name, (lo, mid, hi) in self._shapes.items()
            if not len(lo) == len(mid) == len(hi)
            or not all(0 <= a <= b <= c for a, b, c in zip(lo, mid, hi, strict=True))
        ]

    def __bool__(self) -> bool:
        """Whether the profile is valid (``IOptimizationProfile::isValid``)."""
        return not self._invalid_inputs()


class IBuilderConfig:
    """Build options; the emulator records them (TF32 is on by default as in TensorRT)."""

    def __init__(self, _logger: ILogger | None = None) -> None:
        self._logger = _logger
        self._pools: dict[MemoryPoolType, int] = {MemoryPoolType.WORKSPACE: _DEFAULT_WORKSPACE}
        self.flags = 1 << int(BuilderFlag.TF32)
        self._profiling_verbosity = ProfilingVerbosity.LAYER_NAMES_ONLY
        self._profiles: list[IOptimizationProfile] = []
        self._timing_cache: ITimingCache | None = None
        self._builder_optimization_level = 3
        self._preview: set[PreviewFeature] = set()
        self.avg_timing_iterations = 1
        self.max_aux_streams = -1
        self._tactic_sources = (1 << len(TacticSource)) - 1
        self._progress_monitor: IProgressMonitor | None = None

    @property
    def progress_monitor(self) -> IProgressMonitor | None:
        """Build-progress callback, or None."""
        return self._progress_monitor

    @progress_monitor.setter
    def progress_monitor(self, value: IProgressMonitor | None) -> None:
        if value is not None:
            check_type(value, IProgressMonitor, "IBuilderConfig.progress_monitor")
        self._progress_monitor = value

    @property
    def flags(self) -> int:
        """BuilderFlag bitmask."""
        return self._flags

    @flags.setter
    def flags(self, value: int) -> None:
        self._flags: int = check_type(value, int, "IBuilderConfig.flags")

    def set_flag(self, flag: BuilderFlag) -> None:
        """Set one BuilderFlag."""
        self._flags |= 1 << int(check_type(flag, BuilderFlag, "set_flag.flag"))

    def clear_flag(self, flag: BuilderFlag) -> None:
        """Clear one BuilderFlag."""
        self._flags &= ~(1 << int(check_type(flag, BuilderFlag, "clear_flag.flag")))

    def get_flag(self, flag: BuilderFlag) -> bool:
        """Whether a BuilderFlag is set."""
        return bool(self._flags >> int(check_type(flag, BuilderFlag, "get_flag.flag")) & 1)

    def set_memory_pool_limit(self, pool: MemoryPoolType, pool_size: int) -> None:
        """Limit a memory pool (bytes)."""
        check_type(pool, MemoryPoolType, "set_memory_pool_limit.pool")
        self._pools[pool] = check_type(pool_size, int, "set_memory_pool_limit.pool_size")

    def get_memory_pool_limit(self, pool: MemoryPoolType) -> int:
        """A memory pool's limit (bytes)."""
        return self._pools.get(check_type(pool, MemoryPoolType, "get_memory_pool_limit.pool"), 0)

    @property
    def profiling_verbosity(self) -> ProfilingVerbosity:
        """Inspector detail; default LAYER_NAMES_ONLY."""
        return self._profiling_verbosity

    @profiling_verbosity.setter
    def profiling_verbosity(self, value: ProfilingVerbosity) -> None:
        self._profiling_verbosity = check_type(value, ProfilingVerbosity, "profiling_verbosity")

    @property
    def builder_optimization_level(self) -> int:
        """0..5, default 3 (recorded only)."""
        return self._builder_optimization_level

    @builder_optimization_level.setter
    def builder_optimization_level(self, value: int) -> None:
        self._builder_optimization_level = check_type(value, int, "builder_optimization_level")

    @property
    def num_optimization_profiles(self) -> int:
        """The number of profiles added."""
        return len(self._profiles)

    def add_optimization_profile(self, profile: IOptimizationProfile) -> int:
        """Add a profile; returns its index, or -1 (logged) for an invalid profile."""
        check_type(profile, IOptimizationProfile, "profile")
        invalid = profile._invalid_inputs()
        if invalid:
            if self._logger is not None:
                self._logger.log(
                    Severity.ERROR,
                    f"IOptimizationProfile::isValid: API Usage Error (invalid optimization "
                    f"profile for input tensors {', '.join(invalid)}: the shapes must have "
                    "equal ranks and satisfy 0 <= MIN <= OPT <= MAX)",
                )
                self._logger.log(
                    Severity.ERROR,
                    "IBuilderConfig::addOptimizationProfile: API Usage Error (the profile is "
                    "not valid)",
                )
            return -1
        self._profiles.append(profile)
        return len(self._profiles) - 1

    def create_timing_cache(self, serialized_timing_cache: bytes) -> ITimingCache:
        """A timing cache from bytes (b"" for a new one)."""
        return ITimingCache(bytes(serialized_timing_cache))

    def set_timing_cache(self, cache: ITimingCache, ignore_mismatch: bool) -> bool:
        """Use ``cache`` for the build."""
        self._timing_cache = check_type(cache, ITimingCache, "set_timing_cache.cache")
        check_type(ignore_mismatch, bool, "set_timing_cache.ignore_mismatch")
        return True

    def get_timing_cache(self) -> ITimingCache | None:
        """The cache set with ``set_timing_cache``."""
        return self._timing_cache

    def set_preview_feature(self, feature: PreviewFeature, enable: bool) -> None:
        """Enable or disable a preview feature (recorded only)."""
        check_type(feature, PreviewFeature, "set_preview_feature.feature")
        if check_type(enable, bool, "set_preview_feature.enable"):
            self._preview.add(feature)
        else:
            self._preview.discard(feature)

    def get_preview_feature(self, feature: PreviewFeature) -> bool:
        """Whether a preview feature is enabled."""
        return check_type(feature, PreviewFeature, "get_preview_feature.feature") in self._preview

    def set_tactic_sources(self, tactic_sources: int) -> bool:
        """Tactic-source bitmask (recorded only)."""
        self._tactic_sources = check_type(tactic_sources, int, "tactic_sources")
        return True

    def get_tactic_sources(self) -> int:
        """Tactic-source bitmask."""
        return self._tactic_sources


class Builder:
    """Creates networks, configs and profiles, and builds emulated plans."""

    def __init__(self, logger: ILogger) -> None:
        self._logger = check_type(logger, ILogger, "Builder.logger")

    def __repr__(self) -> str:
        return "<emulated Builder (trtdsl CPU emulator, not TensorRT)>"

    def create_network(self, flags: int = 0) -> INetworkDefinition:
        """A new network; STRONGLY_TYPED is accepted and ignored (always strongly typed)."""
        return INetworkDefinition(self, check_type(flags, int, "create_network.flags"))

    def create_builder_config(self) -> IBuilderConfig:
        """A new build configuration."""
        return IBuilderConfig(self._logger)

    def create_optimization_profile(self) -> IOptimizationProfile:
        """A new optimization profile."""
        return IOptimizationProfile(self._logger)

    def build_serialized_network(
        self, network: INetworkDefinition, config: IBuilderConfig
    ) -> IHostMemory | None:
        """An emulated plan (network + weight copies), or None after logging the errors."""
        from trtdsl.emulator.plan import PlanError, serialize_network

        check_type(network, INetworkDefinition, "build_serialized_network.network")
        check_type(config, IBuilderConfig, "build_serialized_network.config")
        monitor = config.progress_monitor
        if monitor is not None:
            phase = "Building emulated engine"
            monitor.phase_start(phase, None, network.num_layers)
            for step in range(network.num_layers):
                if not monitor.step_complete(phase, step):
                    monitor.phase_finish(phase)
                    self._logger.log(Severity.ERROR, "build canceled by the progress monitor")
                    return None
            monitor.phase_finish(phase)
        try:
            blob = serialize_network(network, config)
        except PlanError as error:
            self._logger.log(Severity.ERROR, f"build_serialized_network: {error}")
            return None
        self._logger.log(Severity.INFO, f"built an EMULATED plan of {len(blob)} bytes")
        return IHostMemory(blob)

    def build_engine_with_config(self, network: INetworkDefinition, config: IBuilderConfig) -> Any:
        """An emulated ICudaEngine built directly, or None after logging the errors."""
        plan = self.build_serialized_network(network, config)
        return None if plan is None else Runtime(self._logger).deserialize_cuda_engine(plan)

    def is_network_supported(self, network: INetworkDefinition, config: IBuilderConfig) -> bool:
        """Whether ``build_serialized_network`` would succeed."""
        from trtdsl.emulator.plan import PlanError, serialize_network

        try:
            serialize_network(network, config)
        except PlanError:
            return False
        return True

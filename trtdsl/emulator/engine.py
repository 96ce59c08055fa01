"""Emulated Runtime, ICudaEngine and IExecutionContext (the name-based I/O-tensor API).

``execute_async_v3`` decides per address whether it is device memory: with cuda-python importable
and a CUDA device present it asks ``cudaPointerGetAttributes`` (device or managed memory is
copied with ``cudaMemcpyAsync`` on the caller's stream, each followed by
``cudaStreamSynchronize(stream)``); otherwise, or for host
memory, it reads and writes through the pointer directly. Outputs are fully written before it
returns. Under CUDA graph capture it raises EmulatorUnsupportedError (it never synchronizes a
capturing stream).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from trtdsl.emulator import memory
from trtdsl.emulator.enums import (
    DataType,
    ExecutionContextAllocationStrategy,
    ProfilingVerbosity,
    Severity,
    TensorFormat,
    TensorIOMode,
    TensorLocation,
)
from trtdsl.emulator.execute import Schedules, run_plan
from trtdsl.emulator.logger import ILogger
from trtdsl.emulator.plan import (
    IOTensor,
    Plan,
    PlanError,
    load_plan,
    nptype_or_raise,
)
from trtdsl.emulator.profiling import IProfiler
from trtdsl.emulator.types import (
    Dims,
    EmulatorRuntimeError,
    EmulatorUnsupportedError,
    IHostMemory,
    bf16_to_float32,
    check_type,
    float32_to_bf16,
    to_dims,
)


class Runtime:
    """Deserializes emulated plans (and refuses anything else)."""

    def __init__(self, logger: ILogger) -> None:
        self._logger: ILogger = check_type(logger, ILogger, "Runtime.logger")

    @property
    def logger(self) -> ILogger:
        """The logger."""
        return self._logger

    def deserialize_cuda_engine(self, serialized_engine: Any) -> ICudaEngine | None:
        """An engine from emulated plan bytes, or None (logged) for anything else."""
        try:
            blob = bytes(memoryview(serialized_engine))
            plan = load_plan(blob)
        except (PlanError, TypeError, ValueError) as error:
            self._logger.log(Severity.ERROR, f"deserialize_cuda_engine: {error}")
            return None
        return ICudaEngine(plan, self._logger, blob)


class ICudaEngine:
    """An emulated engine: the plan's network, run on the CPU with NumPy."""

    def __init__(self, _plan: Plan, _logger: ILogger, _blob: bytes) -> None:
        self._plan = _plan
        self._schedules = Schedules(_plan)  # by input shapes, shared by its contexts
        self._blob = _blob
        self._logger = _logger
        self._io = {t.name: t for t in _plan.io}

    def __repr__(self) -> str:
        return f"<EMULATED ICudaEngine {self._plan.name!r} (trtdsl CPU emulator, not TensorRT)>"

    def _tensor(self, name: str, what: str) -> IOTensor | None:
        check_type(name, str, f"{what}.name")
        tensor = self._io.get(name)
        if tensor is None:
            self._logger.log(Severity.ERROR, f"{what}: no I/O tensor named {name!r}")
        return tensor

    @property
    def name(self) -> str:
        """The network's name."""
        return self._plan.name

    @property
    def num_io_tensors(self) -> int:
        """Number of inputs plus outputs."""
        return len(self._plan.io)

    @property
    def num_layers(self) -> int:
        """Number of (emulated, unfused) layers."""
        return len(self._plan.layers)

    @property
    def num_optimization_profiles(self) -> int:
        """Number of optimization profiles (at least 1)."""
        return self._plan.num_profiles

    @property
    def refittable(self) -> bool:
        """Whether the plan was built with BuilderFlag.REFIT (see ``Refitter``)."""
        return self._plan.refittable

    @property
    def profiling_verbosity(self) -> ProfilingVerbosity:
        """The verbosity the plan was built with."""
        return self._plan.profiling_verbosity

    def __getitem__(self, index: int) -> str:
        return self.get_tensor_name(index)

    def get_tensor_name(self, index: int) -> str:
        """Name of I/O tensor ``index`` (inputs first here; do not rely on the order)."""
        check_type(index, int, "get_tensor_name.index")
        if not 0 <= index < len(self._plan.io):
            raise IndexError(f"get_tensor_name: index {index} out of range")
        return self._plan.io[index].name

    def get_tensor_mode(self, name: str) -> TensorIOMode:
        """INPUT, OUTPUT, or NONE for an unknown name."""
        tensor = self._io.get(check_type(name, str, "get_tensor_mode.name"))
        if tensor is None:
            return TensorIOMode.NONE
        return TensorIOMode.INPUT if tensor.is_input else TensorIOMode.OUTPUT

    def get_tensor_shape(self, name: str) -> Dims:
        """Build-time shape (-1 for dynamic dims)."""
        tensor = self._tensor(name, "get_tensor_shape")
        return tensor.shape if tensor else Dims(())

    def get_tensor_dtype(self, name: str) -> DataType:
        """The tensor's DataType."""
        tensor = self._tensor(name, "get_tensor_dtype")
        return tensor.dtype if tensor else DataType.FLOAT

    def get_tensor_location(self, name: str) -> TensorLocation:
        """Always DEVICE (the emulator has no shape tensors)."""
        self._tensor(name, "get_tensor_location")
        return TensorLocation.DEVICE

    def get_tensor_format(self, name: str, profile_index: int | None = None) -> TensorFormat:
        """Always LINEAR."""
        self._tensor(name, "get_tensor_format")
        return TensorFormat.LINEAR

    def is_shape_inference_io(self, name: str) -> bool:
        """Always False."""
        self._tensor(name, "is_shape_inference_io")
        return False

    def get_tensor_profile_shape(self, name: str, profile_index: int) -> list[Dims]:
        """[min, opt, max] of an input in a profile (logged error and empty Dims otherwise)."""
        tensor = self._tensor(name, "get_tensor_profile_shape")
        check_type(profile_index, int, "get_tensor_profile_shape.profile_index")
        if tensor is None or not tensor.is_input or not 0 <= profile_index < len(tensor.profiles):
            self._logger.log(
                Severity.ERROR,
                f"get_tensor_profile_shape({name!r}, {profile_index})"
                ": not an input or no such profile",
            )
            return [Dims(()), Dims(()), Dims(())]
        return list(tensor.profiles[profile_index])

    @property
    def device_memory_size_v2(self) -> int:
        """Always 0: the emulator keeps activations in host memory."""
        return 0

    def get_device_memory_size_for_profile_v2(self, profile_index: int) -> int:
        """Always 0."""
        return 0

    def create_execution_context(
        self,
        strategy: ExecutionContextAllocationStrategy = ExecutionContextAllocationStrategy.STATIC,
    ) -> IExecutionContext:
        """A new execution context."""
        check_type(strategy, ExecutionContextAllocationStrategy, "strategy")
        return IExecutionContext(self)

    def create_engine_inspector(self) -> Any:
        """An EngineInspector over the emulated layers."""
        from trtdsl.emulator.inspector import EngineInspector

        return EngineInspector(self)

    def serialize(self) -> Any:
        """The emulated plan bytes (an IHostMemory that still carries the emulated header)."""
        return IHostMemory(self._blob)


class IExecutionContext:
    """Input shapes, tensor addresses and execution of an emulated engine."""

    def __init__(self, engine: ICudaEngine) -> None:
        self._engine = engine
        self._shapes: dict[str, Dims] = {
            t.name: t.shape for t in engine._plan.io if t.is_input and -1 not in t.shape
        }
        self._addresses: dict[str, int] = {}
        self._profile = 0
        self.name = ""
        self.debug_sync = False
        self._profiler: IProfiler | None = None
        self.enqueue_emits_profile = True
        self._pending_times: list[tuple[str, float]] = []

    @property
    def profiler(self) -> IProfiler | None:
        """Receives each layer's NumPy wall time per execution (not GPU time)."""
        return self._profiler

    @profiler.setter
    def profiler(self, value: IProfiler | None) -> None:
        if value is not None:
            check_type(value, IProfiler, "IExecutionContext.profiler")
        self._profiler = value

    def report_to_profiler(self) -> bool:
        """Report the times of the last execution (when ``enqueue_emits_profile`` is False)."""
        if self._profiler is None:
            return False
        for name, ms in self._pending_times:
            self._profiler.report_layer_time(name, ms)
        self._pending_times = []
        return True

    def _on_layer_time(self, name: str, ms: float) -> None:
        if self._profiler is None:
            return
        if self.enqueue_emits_profile:
            self._profiler.report_layer_time(name, ms)
        else:
            self._pending_times.append((name, ms))

    def __repr__(self) -> str:
        return "<EMULATED IExecutionContext (trtdsl CPU emulator, not TensorRT)>"

    def _log(self, msg: str) -> None:
        self._engine._logger.log(Severity.ERROR, msg)

    @property
    def engine(self) -> ICudaEngine:
        """The engine."""
        return self._engine

    @property
    def active_optimization_profile(self) -> int:
        """The selected profile index."""
        return self._profile

    def set_optimization_profile_async(self, profile_index: int, stream_handle: int) -> bool:
        """Select a profile."""
        check_type(profile_index, int, "profile_index")
        if not 0 <= profile_index < self._engine.num_optimization_profiles:
            self._log(f"set_optimization_profile_async: no profile {profile_index}")
            return False
        self._profile = profile_index
        return True

    def set_input_shape(self, name: str, shape: Any) -> bool:
        """Set a dynamic input's shape; False (logged) if outside the active profile."""
        dims = to_dims(shape, "set_input_shape.shape")
        tensor = self._engine._tensor(name, "set_input_shape")
        if tensor is None or not tensor.is_input:
            self._log(f"set_input_shape: {name!r} is not an input")
            return False
        lo, _, hi = tensor.profiles[self._profile]
        if len(dims) != len(tensor.shape) or not all(
            a <= d <= b for a, d, b in zip(lo, dims, hi, strict=True)
        ):
            self._log(
                f"set_input_shape({name!r}, {dims}): outside profile {self._profile} [{lo}, {hi}]"
            )
            return False
        self._shapes[name] = dims
        return True

    def _missing_inputs(self) -> list[str]:
        return [t.name for t in self._engine._plan.io if t.is_input and t.name not in self._shapes]

    def infer_shapes(self) -> list[str]:
        """Names of inputs whose shapes are still unknown ([] when all output shapes are known)."""
        missing = self._missing_inputs()
        if not missing:
            try:
                self._engine._schedules.at(self._shapes)
            except PlanError as error:
                raise EmulatorRuntimeError(f"infer_shapes: {error}") from None
        return missing

    def get_tensor_shape(self, name: str) -> Dims:
        """Concrete shape once all inputs are set (build-time shape with -1 before)."""
        tensor = self._engine._tensor(name, "get_tensor_shape")
        if tensor is None:
            return Dims(())
        if tensor.is_input:
            return self._shapes.get(name, tensor.shape)
        if self._missing_inputs():
            return tensor.shape
        try:
            shapes = self._engine._schedules.at(self._shapes).expected
        except PlanError as error:
            self._log(f"get_tensor_shape: {error}")
            return tensor.shape
        return Dims(shapes[tensor.tensor_id][0])

    def set_tensor_address(self, name: str, memory: int) -> bool:
        """Bind a tensor to a host or device address (a Python int)."""
        check_type(memory, int, "set_tensor_address.memory")
        if self._engine._tensor(name, "set_tensor_address") is None:
            return False
        self._addresses[name] = int(memory)
        return True

    def get_tensor_address(self, name: str) -> int:
        """The bound address, or 0."""
        return self._addresses.get(check_type(name, str, "get_tensor_address.name"), 0)

    def execute_async_v3(self, stream_handle: Any) -> bool:
        """Run the plan: read inputs at their addresses, compute with NumPy, write outputs.

        Device addresses go through cuda-python (stream synchronized first, then synchronous
        copies); host addresses are read and written directly. Returns False (logged) on error.
        """
        handle = memory.native_handle(stream_handle)
        plan = self._engine._plan
        missing = self._missing_inputs()
        unbound = [t.name for t in plan.io if self._addresses.get(t.name, 0) == 0]
        if missing or unbound:
            self._log(f"execute_async_v3: shapes missing for {missing}, no address for {unbound}")
            return False
        if memory.is_capturing(handle):
            raise EmulatorUnsupportedError(
                "execute_async_v3: CUDA graph capture is not supported by the emulated engine "
                "(its NumPy computation cannot be captured)"
            )
        self._pending_times = []
        try:
            memory.synchronize(handle)
            inputs = {
                t.name: _read_io(
                    self._addresses[t.name], tuple(self._shapes[t.name]), t.dtype, handle
                )
                for t in plan.io
                if t.is_input
            }
            outputs = run_plan(plan, inputs, self._on_layer_time, self._engine._schedules)
            for tensor in plan.io:
                if not tensor.is_input:
                    address = self._addresses[tensor.name]
                    _write_io(address, outputs[tensor.name], tensor.dtype, handle)
        except PlanError as error:
            self._log(f"execute_async_v3: {error}")
            return False
        return True

    def execute_v2(self, bindings: list[int]) -> bool:
        """Synchronous execution; ``bindings`` are addresses in I/O-tensor index order."""
        plan = self._engine._plan
        if len(bindings) != len(plan.io):
            self._log(f"execute_v2: {len(bindings)} bindings for {len(plan.io)} I/O tensors")
            return False
        for tensor, address in zip(plan.io, bindings, strict=True):
            self.set_tensor_address(tensor.name, int(address))
        return self.execute_async_v3(0)


def _read_io(address: int, shape: tuple[int, ...], dtype: DataType, stream: int) -> np.ndarray:
    """An input tensor from memory, in its compute dtype (BF16 bits decoded to float32)."""
    if dtype == DataType.BF16:
        return bf16_to_float32(memory.read_tensor(address, shape, np.dtype(np.uint16), stream))
    return memory.read_tensor(address, shape, np.dtype(nptype_or_raise(dtype)), stream)


def _write_io(address: int, array: np.ndarray, dtype: DataType, stream: int) -> None:
    """Store an output tensor (BF16 as bfloat16 bit patterns)."""
    data = float32_to_bf16(array) if dtype == DataType.BF16 else array
    memory.write_tensor(address, data, stream)

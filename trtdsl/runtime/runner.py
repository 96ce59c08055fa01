"""EngineRunner: runs a deserialized TensorRT (or emulated) engine through cuda-python.

One execution context, one stream, device buffers sized from the context's shapes (grown only
when a larger shape arrives), pinned host staging buffers, async copies, ``execute_async_v3``,
optional CUDA-graph replay for repeated fixed shapes. ``close()`` (or leaving the ``with``
block) frees everything in a fixed order.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

from trtdsl.backends.trt.context import TRT_DTYPES, bfloat16_bits, trt_dtype_key
from trtdsl.errors import BackendError, UsageError
from trtdsl.runtime import cuda
from trtdsl.runtime.memory import Buffer, DeviceMemory, HostMemory, open_memory

_LOG = logging.getLogger("trtdsl")


@dataclass(frozen=True)
class IOTensor:
    """One engine I/O tensor.

    Attributes:
        name: the tensor name (graph input or output port name).
        is_input: True for inputs.
        dtype: its NumPy dtype.
        shape: the engine shape; -1 marks a dynamic dimension.
        profile: (min, opt, max) shapes of optimization profile 0 for dynamic inputs, else None.
    """

    name: str
    is_input: bool
    dtype: np.dtype
    shape: tuple[int, ...]
    profile: tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]] | None = None
    bfloat16: bool = False


@dataclass(frozen=True)
class StageTimes:
    """Milliseconds of one timed execution. ``h2d``/``compute``/``d2h`` are None under a
    CUDA graph, which runs the three stages as one launch."""

    total: float
    h2d: float | None
    compute: float | None
    d2h: float | None


def engine_io(engine: Any) -> list[IOTensor]:
    """The I/O tensors of ``engine`` in engine order (inputs are not assumed to come first)."""
    tensors = []
    for index in range(engine.num_io_tensors):
        name = engine.get_tensor_name(index)
        is_input = _mode_name(engine.get_tensor_mode(name)) == "INPUT"
        shape = tuple(int(d) for d in engine.get_tensor_shape(name))
        profile = None
        if is_input and any(d < 0 for d in shape) and engine.num_optimization_profiles > 0:
            lo, opt, hi = engine.get_tensor_profile_shape(name, 0)
            profile = (_dims(lo), _dims(opt), _dims(hi))
        dtype = _numpy_dtype(engine, name)
        bf16 = trt_dtype_key(engine.get_tensor_dtype(name)) == "BF16"
        tensors.append(IOTensor(name, is_input, dtype, shape, profile, bf16))
    return tensors


class EngineRunner:
    """Runs one engine: ``with EngineRunner(engine, trt) as r: outputs = r.infer(inputs)``.

    Args:
        engine: a deserialized ``ICudaEngine`` (real TensorRT or ``trtdsl.emulator``).
        trt: the module it came from (``tensorrt`` or ``trtdsl.emulator``).
        memory: ``"device"`` (cuda-python; the only choice for real TensorRT), ``"host"``
            (NumPy buffers; emulated engine only, no cuda-python needed) or ``"auto"``
            (device when a CUDA device is visible, else host for the emulated engine).
        cuda_graph: capture copies + ``execute_async_v3`` into a CUDA graph on the first run of
            each new shape, and replay it afterwards (device memory only).
    """

    def __init__(
        self, engine: Any, trt: ModuleType, memory: str = "auto", cuda_graph: bool = False
    ) -> None:
        self.engine = engine
        self.trt = trt
        self.emulated = trt.__name__.startswith("trtdsl.emulator")
        self.io = engine_io(engine)
        self.memory: DeviceMemory | HostMemory = open_memory(self._choose_memory(memory))
        if cuda_graph and self.memory.kind != "device":
            self.memory.close()
            raise UsageError("CUDA graphs need device memory (memory='device')")
        self.cuda_graph = cuda_graph
        self._context: Any = engine.create_execution_context()
        if self._context is None:
            self.memory.close()
            raise BackendError("create_execution_context() returned None")
        self._buffers: dict[str, Buffer] = {}
        self._staging: dict[str, Buffer] = {}
        self._shapes: dict[str, tuple[int, ...]] = {}
        self._graph: cuda.GraphCapture | None = None
        self._graph_key: tuple[Any, ...] | None = None
        self._closed = False

    # -- lifetime -------------------------------------------------------------------------

    def __enter__(self) -> EngineRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Free the CUDA graph, the context, every buffer and the stream (idempotent)."""
        if self._closed:
            return
        self._closed = True
        try:
            self.memory.synchronize()
        finally:
            self._drop_graph()
            self._context = None
            for buffers in (self._buffers, self._staging):
                for buf in buffers.values():
                    self.memory.free(buf)
                buffers.clear()
            self.memory.close()

    @property
    def context(self) -> Any:
        """The execution context (for profilers and the inspector)."""
        self._check_open()
        return self._context

    @property
    def inputs(self) -> list[IOTensor]:
        return [t for t in self.io if t.is_input]

    @property
    def outputs(self) -> list[IOTensor]:
        return [t for t in self.io if not t.is_input]

    def shapes(self) -> dict[str, tuple[int, ...]]:
        """The concrete shapes of every I/O tensor after the last ``set_inputs``."""
        return dict(self._shapes)

    # -- running --------------------------------------------------------------------------

    def infer(self, feed: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run once. ``feed`` maps every input name to an array; returns every output, by name."""
        self.set_inputs(feed)
        self.execute()
        return self.fetch_outputs()

    def set_inputs(self, feed: Mapping[str, np.ndarray]) -> None:
        """Set input shapes (``set_input_shape``), size buffers, and stage the input data."""
        self._check_open()
        arrays = self._check_feed(feed)
        self._resize({name: a.shape for name, a in arrays.items()})
        for name, array in arrays.items():
            staging = self._staging[name]
            assert staging.array is not None
            staging.array[: array.nbytes] = np.ascontiguousarray(array).reshape(-1).view(np.uint8)

    def execute(self) -> None:
        """Copy staged inputs in, run, copy outputs out, and wait for the stream."""
        self._check_open()
        if not self._shapes:
            raise UsageError("set_inputs() must be called before execute()")
        if self.cuda_graph:
            self._ensure_graph()
            assert self._graph is not None
            self._graph.launch()
        else:
            self._enqueue()
        self.memory.synchronize()

    def execute_timed(self) -> StageTimes:
        """``execute`` with time marks (CUDA events, or wall clock for host memory)."""
        self._check_open()
        if not self._shapes:
            raise UsageError("set_inputs() must be called before execute_timed()")
        if self.cuda_graph:
            self._ensure_graph()
            assert self._graph is not None
            self.memory.reset_marks()
            start = self.memory.mark()
            self._graph.launch()
            end = self.memory.mark()
            self.memory.synchronize()
            return StageTimes(self.memory.elapsed_ms(start, end), None, None, None)
        self.memory.reset_marks()
        m0 = self.memory.mark()
        self._copy_inputs()
        m1 = self.memory.mark()
        self._execute_async()
        m2 = self.memory.mark()
        self._copy_outputs()
        m3 = self.memory.mark()
        self.memory.synchronize()
        elapsed = self.memory.elapsed_ms
        return StageTimes(elapsed(m0, m3), elapsed(m0, m1), elapsed(m1, m2), elapsed(m2, m3))

    def fetch_outputs(self) -> dict[str, np.ndarray]:
        """Copies of the outputs of the last execution, as NumPy arrays of the output shapes."""
        self._check_open()
        results = {}
        for t in self.outputs:
            shape = self._shapes[t.name]
            nbytes = math.prod(shape) * t.dtype.itemsize
            staging = self._staging[t.name]
            assert staging.array is not None
            data = staging.array[:nbytes].view(t.dtype).reshape(shape)
            if t.bfloat16:  # bit patterns -> float32 values, like the reference's bfloat16
                results[t.name] = (data.astype(np.uint32) << np.uint32(16)).view(np.float32)
            else:
                results[t.name] = data.copy()
        return results

    # -- internals ------------------------------------------------------------------------

    def _choose_memory(self, memory: str) -> str:
        if memory == "auto":
            if cuda.device_count() > 0:
                return "device"
            if not self.emulated:
                raise BackendError("TensorRT engines need a CUDA device; none is visible")
            return "host"
        if memory == "host" and not self.emulated:
            raise UsageError(
                "memory='host' only drives the emulated engine; TensorRT needs 'device'"
            )
        if memory not in ("device", "host"):
            raise UsageError(f"memory must be 'device', 'host' or 'auto', got {memory!r}")
        return memory

    def _check_open(self) -> None:
        if self._closed:
            raise UsageError("this EngineRunner is closed")

    def _check_feed(self, feed: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        names = [t.name for t in self.inputs]
        unknown = sorted(set(feed) - set(names))
        missing = [n for n in names if n not in feed]
        if unknown or missing:
            raise UsageError(
                f"engine inputs are {names}; "
                + (f"missing {missing}" if missing else "")
                + ("; " if missing and unknown else "")
                + (f"unknown {unknown}" if unknown else "")
            )
        arrays = {}
        for t in self.inputs:
            array = np.asarray(feed[t.name])
            if t.bfloat16 and array.dtype.kind == "f":
                array = bfloat16_bits(array)
            if array.dtype != t.dtype:
                # float64 -> float32 is fine (NumPy's default); a change of kind is a mistake
                if array.dtype.kind != t.dtype.kind:
                    raise UsageError(f"input {t.name}: expected dtype {t.dtype}, got {array.dtype}")
                array = array.astype(t.dtype)
            if array.ndim != len(t.shape) or any(
                d >= 0 and d != a for d, a in zip(t.shape, array.shape, strict=True)
            ):
                raise UsageError(
                    f"input {t.name}: expected shape {_fmt(t.shape)}, got {_fmt(array.shape)}"
                )
            arrays[t.name] = array
        return arrays

    def _resize(self, input_shapes: Mapping[str, tuple[int, ...]]) -> None:
        try:
            self._resize_unchecked(input_shapes)
        except Exception:
            self._shapes.clear()  # the context may hold some new shapes: set all next time
            self._drop_graph()
            raise

    def _resize_unchecked(self, input_shapes: Mapping[str, tuple[int, ...]]) -> None:
        context = self._context
        changed = False
        for t in self.inputs:
            shape = tuple(int(d) for d in input_shapes[t.name])
            if self._shapes.get(t.name) == shape:
                continue
            changed = True
            if any(d < 0 for d in t.shape) and not context.set_input_shape(t.name, shape):
                where = ""
                if t.profile:
                    lo, _, hi = t.profile
                    where = f" (profile 0 allows {_fmt(lo)} to {_fmt(hi)})"
                raise UsageError(f"input {t.name}: shape {_fmt(shape)} rejected{where}")
        if not changed:
            return
        missing = list(context.infer_shapes())
        if missing:
            raise BackendError(f"shapes still unknown after set_input_shape: {missing}")
        for t in self.io:
            shape = tuple(int(d) for d in context.get_tensor_shape(t.name))
            if any(d < 0 for d in shape):
                raise BackendError(f"tensor {t.name}: shape {_fmt(shape)} is not concrete")
            self._shapes[t.name] = shape
            nbytes = math.prod(shape) * t.dtype.itemsize
            buf = self._buffers.get(t.name)
            if buf is None or buf.nbytes < nbytes:
                self._reallocate(t.name, nbytes)
        self._drop_graph()

    def _reallocate(self, name: str, nbytes: int) -> None:
        """Replace the buffers of ``name`` by ones of ``nbytes`` and rebind its address."""
        self.memory.synchronize()
        for buffers in (self._buffers, self._staging):
            old = buffers.pop(name, None)
            if old is not None:
                self.memory.free(old)
        _LOG.debug("runtime: allocating %d bytes for %s", nbytes, name)
        self._buffers[name] = self.memory.allocate(nbytes)
        self._staging[name] = self.memory.allocate_staging(nbytes)
        if not self._context.set_tensor_address(name, self._buffers[name].ptr):
            raise BackendError(f"set_tensor_address({name!r}) failed")

    def _nbytes(self, t: IOTensor) -> int:
        return math.prod(self._shapes[t.name]) * t.dtype.itemsize

    def _copy_inputs(self) -> None:
        for t in self.inputs:
            self.memory.copy_to_engine(
                self._buffers[t.name], self._staging[t.name], self._nbytes(t)
            )

    def _execute_async(self) -> None:
        if not self._context.execute_async_v3(self.memory.stream_handle):
            raise BackendError("execute_async_v3 returned False (see the TensorRT log)")

    def _copy_outputs(self) -> None:
        for t in self.outputs:
            self.memory.copy_from_engine(
                self._staging[t.name], self._buffers[t.name], self._nbytes(t)
            )

    def _enqueue(self) -> None:
        self._copy_inputs()
        self._execute_async()
        self._copy_outputs()

    def _ensure_graph(self) -> None:
        key = tuple(sorted(self._shapes.items()))
        if self._graph is not None and self._graph_key == key:
            return
        assert isinstance(self.memory, DeviceMemory)
        self._drop_graph()
        # NOTE: TensorRT needs one enqueue after a shape change before capture (it may allocate
        # lazily): https://docs.nvidia.com/deeplearning/tensorrt/latest/inference-library/work-with-cuda-graphs.html
        self._enqueue()
        self.memory.synchronize()
        graph = cuda.GraphCapture(self.memory.stream)
        graph.begin()
        try:
            self._enqueue()
        except Exception as e:
            graph.abort()
            label = "the emulated engine" if self.emulated else "TensorRT"
            raise BackendError(f"CUDA graph capture failed inside {label}: {e}") from e
        graph.end()
        self._graph, self._graph_key = graph, key

    def _drop_graph(self) -> None:
        if self._graph is not None:
            graph, self._graph, self._graph_key = self._graph, None, None
            graph.destroy()


def _mode_name(mode: Any) -> str:
    return str(getattr(mode, "name", mode)).rsplit(".", 1)[-1].upper()


def _numpy_dtype(engine: Any, name: str) -> np.dtype:
    """The NumPy dtype of an I/O tensor's buffers (bfloat16 as uint16 bit patterns)."""
    key = trt_dtype_key(engine.get_tensor_dtype(name))
    if key not in TRT_DTYPES or key == "FP8":
        raise BackendError(f"tensor {name}: dtype {key} has no NumPy equivalent in the runner")
    return np.dtype(TRT_DTYPES[key][1])


def _dims(dims: Any) -> tuple[int, ...]:
    return tuple(int(d) for d in dims)


def _fmt(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(str(d) for d in shape) + ")"

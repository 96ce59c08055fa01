"""A thin layer over cuda-python's runtime API: named errors, buffers, streams, events, graphs.

Every cuda-python call returns a tuple whose first element is a ``cudaError_t``; ``check``
unpacks it and raises ``CudaError`` carrying the error's name (``cudaGetErrorName``). Nothing
here is imported until a device-memory runner is created, so CPU-only machines never need
cuda-python.
"""

from __future__ import annotations

import ctypes
from types import ModuleType
from typing import Any

import numpy as np

from trtdsl.errors import BackendError

_CUDART: ModuleType | None = None


class CudaError(BackendError):
    """A CUDA runtime call failed; the message names the call and the CUDA error."""


def cudart() -> ModuleType:
    """The ``cuda.bindings.runtime`` module, or BackendError saying how to get it."""
    global _CUDART
    if _CUDART is None:
        try:
            from cuda.bindings import runtime
        except ImportError as e:
            raise BackendError(
                "device memory needs cuda-python (pip install 'cuda-python>=12.6'); "
                f"import failed: {e}; use memory='host' with the emulated engine instead"
            ) from None
        _CUDART = runtime
    return _CUDART


def error_name(err: Any) -> str:
    """``cudaGetErrorName`` of ``err`` (e.g. ``"cudaErrorMemoryAllocation"``)."""
    rt = cudart()
    status, name = rt.cudaGetErrorName(err)
    if int(status) != 0 or name is None:
        return f"cudaError {int(err)}"
    return name.decode() if isinstance(name, bytes) else str(name)


def check(result: tuple[Any, ...], call: str) -> Any:
    """Unpack a cuda-python result tuple: raise CudaError on failure, else return the value(s).

    Args:
        result: ``(err, *values)`` as every cuda-python call returns.
        call: the call's name for the message (``"cudaMalloc(1024)"``).
    Returns:
        None for no values, the value for one, the tuple of values otherwise.
    """
    err, values = result[0], result[1:]
    if int(err) != 0:
        raise CudaError(f"{call} failed: {error_name(err)} ({int(err)})")
    if not values:
        return None
    return values[0] if len(values) == 1 else values


def native_handle(obj: Any) -> int:
    """The integer value of a cuda-python handle (stream, event), for TensorRT's ``size_t``."""
    if isinstance(obj, int):
        return obj
    try:
        from cuda.bindings.utils import get_cuda_native_handle
    except ImportError:  # cuda-bindings < 12.9.1
        return int(obj)
    return int(get_cuda_native_handle(obj))


def device_count() -> int:
    """Number of visible CUDA devices (0 when the driver is missing or cuda-python is)."""
    try:
        rt = cudart()
    except BackendError:
        return 0
    err, count = rt.cudaGetDeviceCount()
    return int(count) if int(err) == 0 else 0


def gpu_compute_capability(device: int = 0) -> tuple[int | None, str]:
    """``(86, "NVIDIA GeForce RTX 3090, compute capability 8.6")`` for ``device``, or
    ``(None, why not)`` when this machine has no usable CUDA GPU (no cuda-python, no driver,
    no device)."""
    try:
        rt = cudart()
    except BackendError:
        return None, "cuda-python is not installed, so no GPU is usable"
    err, count = rt.cudaGetDeviceCount()
    if int(err) != 0:
        return None, f"no usable CUDA GPU ({error_name(err)})"
    if count <= device:
        return None, "no CUDA GPU"
    err, props = rt.cudaGetDeviceProperties(device)
    if int(err) != 0:
        return None, f"cannot read GPU {device}'s properties ({error_name(err)})"
    name = props.name.decode() if isinstance(props.name, bytes) else str(props.name)
    cc = int(props.major) * 10 + int(props.minor)
    return cc, f"{name.rstrip(chr(0))}, compute capability {props.major}.{props.minor}"


class DeviceBuffer:
    """``nbytes`` of device memory from ``cudaMalloc``; ``ptr`` is a plain int."""

    def __init__(self, nbytes: int) -> None:
        self.nbytes = max(int(nbytes), 1)
        self.ptr: int = int(check(cudart().cudaMalloc(self.nbytes), f"cudaMalloc({self.nbytes})"))

    def free(self) -> None:
        if self.ptr:
            ptr, self.ptr = self.ptr, 0
            check(cudart().cudaFree(ptr), "cudaFree")


class PinnedBuffer:
    """``nbytes`` of page-locked host memory (``cudaMallocHost``) with a uint8 NumPy view."""

    def __init__(self, nbytes: int) -> None:
        self.nbytes = max(int(nbytes), 1)
        self.ptr: int = int(
            check(cudart().cudaMallocHost(self.nbytes), f"cudaMallocHost({self.nbytes})")
        )
        pointer = ctypes.cast(ctypes.c_void_p(self.ptr), ctypes.POINTER(ctypes.c_ubyte))
        self.array: np.ndarray = np.ctypeslib.as_array(pointer, (self.nbytes,))

    def free(self) -> None:
        if self.ptr:
            ptr, self.ptr = self.ptr, 0
            self.array = np.empty(0, np.uint8)
            check(cudart().cudaFreeHost(ptr), "cudaFreeHost")


class Stream:
    """One non-default CUDA stream (TensorRT advises against the default stream).

    NOTE: a blocking stream (``cudaStreamCreate``, as TensorRT's samples use), not
    ``cudaStreamNonBlocking``: it orders after work on the legacy default stream, where
    synchronous ``cudaMemcpy`` calls (the emulated engine's) may still be transferring.
    https://docs.nvidia.com/cuda/cuda-runtime-api/api-sync-behavior.html
    """

    def __init__(self) -> None:
        self.raw = check(cudart().cudaStreamCreate(), "cudaStreamCreate")
        self.handle: int = native_handle(self.raw)

    def synchronize(self) -> None:
        check(cudart().cudaStreamSynchronize(self.raw), "cudaStreamSynchronize")

    def destroy(self) -> None:
        if self.raw is not None:
            raw, self.raw = self.raw, None
            check(cudart().cudaStreamDestroy(raw), "cudaStreamDestroy")


class Event:
    """A CUDA event for timing work on a stream."""

    def __init__(self) -> None:
        self.raw = check(cudart().cudaEventCreate(), "cudaEventCreate")

    def record(self, stream: Stream) -> None:
        check(cudart().cudaEventRecord(self.raw, stream.raw), "cudaEventRecord")

    def elapsed_ms(self, since: Event) -> float:
        """Milliseconds between ``since`` and this event (both must have completed)."""
        return float(
            check(cudart().cudaEventElapsedTime(since.raw, self.raw), "cudaEventElapsedTime")
        )

    def destroy(self) -> None:
        if self.raw is not None:
            raw, self.raw = self.raw, None
            check(cudart().cudaEventDestroy(raw), "cudaEventDestroy")


def memcpy_async(dst: int, src: int, nbytes: int, to_device: bool, stream: Stream) -> None:
    """Enqueue a host-to-device (``to_device``) or device-to-host copy on ``stream``."""
    rt = cudart()
    kind = (
        rt.cudaMemcpyKind.cudaMemcpyHostToDevice
        if to_device
        else rt.cudaMemcpyKind.cudaMemcpyDeviceToHost
    )
    name = "cudaMemcpyAsync(H2D)" if to_device else "cudaMemcpyAsync(D2H)"
    check(rt.cudaMemcpyAsync(dst, src, nbytes, kind, stream.raw), name)


class GraphCapture:
    """Records what is enqueued on a stream between ``begin`` and ``end`` into a CUDA graph.

    ``launch`` replays it; ``destroy`` frees the graph and its executable instance.
    """

    def __init__(self, stream: Stream) -> None:
        self.stream = stream
        self.graph: Any = None
        self.exec: Any = None

    def begin(self) -> None:
        rt = cudart()
        mode = rt.cudaStreamCaptureMode.cudaStreamCaptureModeThreadLocal
        check(rt.cudaStreamBeginCapture(self.stream.raw, mode), "cudaStreamBeginCapture")

    def end(self) -> None:
        rt = cudart()
        self.graph = check(rt.cudaStreamEndCapture(self.stream.raw), "cudaStreamEndCapture")
        self.exec = check(rt.cudaGraphInstantiate(self.graph, 0), "cudaGraphInstantiate")

    def abort(self) -> None:
        """End a capture that failed half-way, ignoring errors (the capture is invalid)."""
        rt = cudart()
        result = rt.cudaStreamEndCapture(self.stream.raw)
        if int(result[0]) == 0 and result[1] is not None:
            rt.cudaGraphDestroy(result[1])

    def launch(self) -> None:
        check(cudart().cudaGraphLaunch(self.exec, self.stream.raw), "cudaGraphLaunch")

    def destroy(self) -> None:
        rt = cudart()
        if self.exec is not None:
            graph_exec, self.exec = self.exec, None
            check(rt.cudaGraphExecDestroy(graph_exec), "cudaGraphExecDestroy")
        if self.graph is not None:
            graph, self.graph = self.graph, None
            check(rt.cudaGraphDestroy(graph), "cudaGraphDestroy")

"""Where a runner's buffers live: CUDA device memory, or host memory for the emulated engine.

Both memories offer the same operations (allocate engine-side and staging buffers, copy, mark
time points, synchronize), so ``EngineRunner`` has one code path. ``HostMemory`` needs no
cuda-python: its "device" buffers are NumPy arrays whose addresses go to
``set_tensor_address``; only the emulated engine can read them.
"""

from __future__ import annotations

import ctypes
import time
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from trtdsl.runtime import cuda

MEMORY_KINDS = ("device", "host")


@dataclass
class Buffer:
    """A block of memory: ``ptr`` for TensorRT, ``array`` (uint8 view) when host-visible."""

    ptr: int
    nbytes: int
    array: np.ndarray | None = None
    _owner: object = field(default=None, repr=False)


class Memory(Protocol):
    """What a runner needs from its memory; see DeviceMemory and HostMemory."""

    kind: str
    stream_handle: int

    def allocate(self, nbytes: int) -> Buffer: ...
    def allocate_staging(self, nbytes: int) -> Buffer: ...
    def free(self, buffer: Buffer) -> None: ...
    def copy_to_engine(self, dst: Buffer, src: Buffer, nbytes: int) -> None: ...
    def copy_from_engine(self, dst: Buffer, src: Buffer, nbytes: int) -> None: ...
    def mark(self) -> object: ...
    def elapsed_ms(self, start: object, end: object) -> float: ...
    def synchronize(self) -> None: ...
    def close(self) -> None: ...


class DeviceMemory:
    """CUDA device buffers, pinned staging buffers, one stream and CUDA events for timing."""

    kind = "device"

    def __init__(self) -> None:
        cuda.cudart()  # BackendError saying how to install cuda-python when it is missing
        if cuda.device_count() < 1:
            raise cuda.CudaError(
                "no CUDA device is visible (cudaGetDeviceCount); "
                "use memory='host' with the emulated engine instead"
            )
        self.stream = cuda.Stream()
        self.stream_handle = self.stream.handle
        self._events: list[cuda.Event] = []
        self._event_index = 0

    def allocate(self, nbytes: int) -> Buffer:
        buf = cuda.DeviceBuffer(nbytes)
        return Buffer(buf.ptr, buf.nbytes, None, buf)

    def allocate_staging(self, nbytes: int) -> Buffer:
        buf = cuda.PinnedBuffer(nbytes)
        return Buffer(buf.ptr, buf.nbytes, buf.array, buf)

    def free(self, buffer: Buffer) -> None:
        owner = buffer._owner
        if isinstance(owner, (cuda.DeviceBuffer, cuda.PinnedBuffer)):
            owner.free()
        buffer.ptr, buffer.array = 0, None

    def copy_to_engine(self, dst: Buffer, src: Buffer, nbytes: int) -> None:
        if nbytes:
            cuda.memcpy_async(dst.ptr, src.ptr, nbytes, True, self.stream)

    def copy_from_engine(self, dst: Buffer, src: Buffer, nbytes: int) -> None:
        if nbytes:
            cuda.memcpy_async(dst.ptr, src.ptr, nbytes, False, self.stream)

    def mark(self) -> object:
        """Record a CUDA event on the stream (events are reused round-robin per iteration)."""
        if self._event_index == len(self._events):
            self._events.append(cuda.Event())
        event = self._events[self._event_index]
        self._event_index += 1
        event.record(self.stream)
        return event

    def reset_marks(self) -> None:
        self._event_index = 0

    def elapsed_ms(self, start: object, end: object) -> float:
        assert isinstance(start, cuda.Event) and isinstance(end, cuda.Event)
        return end.elapsed_ms(start)

    def synchronize(self) -> None:
        self.stream.synchronize()

    def close(self) -> None:
        for event in self._events:
            event.destroy()
        self._events.clear()
        self.stream.destroy()


class HostMemory:
    """Host-only memory: NumPy buffers, synchronous copies, wall-clock marks; no cuda-python."""

    kind = "host"
    stream_handle = 0

    def allocate(self, nbytes: int) -> Buffer:
        # Align to 256 bytes, as cudaMalloc does, so the engine sees the same alignment.
        raw = np.empty(max(int(nbytes), 1) + 256, np.uint8)
        offset = (-raw.ctypes.data) % 256
        view = raw[offset : offset + max(int(nbytes), 1)]
        return Buffer(view.ctypes.data, view.nbytes, view, raw)

    def allocate_staging(self, nbytes: int) -> Buffer:
        return self.allocate(nbytes)

    def free(self, buffer: Buffer) -> None:
        buffer.ptr, buffer.array, buffer._owner = 0, None, None

    def copy_to_engine(self, dst: Buffer, src: Buffer, nbytes: int) -> None:
        if nbytes:
            ctypes.memmove(dst.ptr, src.ptr, nbytes)

    def copy_from_engine(self, dst: Buffer, src: Buffer, nbytes: int) -> None:
        if nbytes:
            ctypes.memmove(dst.ptr, src.ptr, nbytes)

    def mark(self) -> object:
        return time.perf_counter()

    def reset_marks(self) -> None:
        return None

    def elapsed_ms(self, start: object, end: object) -> float:
        assert isinstance(start, float) and isinstance(end, float)
        return (end - start) * 1e3

    def synchronize(self) -> None:
        return None

    def close(self) -> None:
        return None


def open_memory(kind: str) -> DeviceMemory | HostMemory:
    """A new memory of ``kind`` (``"device"`` or ``"host"``)."""
    if kind == "device":
        return DeviceMemory()
    if kind == "host":
        return HostMemory()
    raise ValueError(f"memory kind must be one of {MEMORY_KINDS}, got {kind!r}")

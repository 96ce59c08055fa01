"""Reading and writing tensors at raw addresses: host memory through ctypes, device memory
through cuda-python (``cuda.bindings.runtime``) when it is importable and a device exists."""

from __future__ import annotations

import ctypes
import functools
from typing import Any

import numpy as np

from trtdsl.emulator.types import EmulatorRuntimeError


@functools.cache
def _cudart() -> Any:
    """The cuda-python runtime module if importable and a CUDA device exists, else None."""
    try:
        from cuda.bindings import runtime as cudart
    except ImportError:
        return None
    err, count = cudart.cudaGetDeviceCount()
    if int(err) != 0 or count == 0:
        return None
    return cudart


def _check(result: tuple[Any, ...], what: str) -> Any:
    err = result[0]
    if int(err) != 0:
        raise EmulatorRuntimeError(f"{what} failed: CUDA error {int(err)} ({err})")
    return result[1] if len(result) == 2 else result[1:]


def is_device_pointer(address: int) -> bool:
    """Whether ``address`` is device (or managed) memory; False without cuda-python/a GPU."""
    cudart = _cudart()
    if cudart is None:
        return False
    err, attributes = cudart.cudaPointerGetAttributes(address)
    if int(err) != 0:
        cudart.cudaGetLastError()  # plain host memory may report an error: clear it
        return False
    kind = attributes.type
    return kind in (
        cudart.cudaMemoryType.cudaMemoryTypeDevice,
        cudart.cudaMemoryType.cudaMemoryTypeManaged,
    )


def native_handle(stream: Any) -> int:
    """A stream handle as an int: ints pass through; cuda-python objects are converted with
    ``get_cuda_native_handle`` where it exists (``int(obj)`` is deprecated), else ``int``."""
    if stream is None:
        return 0
    if isinstance(stream, int):
        return stream
    try:
        from cuda.bindings.utils import get_cuda_native_handle
    except ImportError:
        return int(stream)
    return int(get_cuda_native_handle(stream))


def is_capturing(stream_handle: int) -> bool:
    """Whether the stream is being captured into a CUDA graph (False without cuda-python/GPU)."""
    cudart = _cudart()
    if cudart is None:
        return False
    status = _check(cudart.cudaStreamIsCapturing(stream_handle), "cudaStreamIsCapturing")
    return bool(status != cudart.cudaStreamCaptureStatus.cudaStreamCaptureStatusNone)


def synchronize(stream_handle: int) -> None:
    """Wait for work already queued on the stream (no-op without cuda-python/a GPU)."""
    cudart = _cudart()
    if cudart is not None:
        _check(cudart.cudaStreamSynchronize(stream_handle), "cudaStreamSynchronize")


def _copy_on_stream(dst: int, src: int, nbytes: int, kind: Any, stream_handle: int) -> None:
    """``cudaMemcpyAsync`` on the caller's stream, then wait for it (ordered with its work)."""
    cudart = _cudart()
    _check(cudart.cudaMemcpyAsync(dst, src, nbytes, kind, stream_handle), "cudaMemcpyAsync")
    _check(cudart.cudaStreamSynchronize(stream_handle), "cudaStreamSynchronize")


def read_tensor(
    address: int, shape: tuple[int, ...], dtype: np.dtype, stream_handle: int = 0
) -> np.ndarray:
    """A copy of the C-contiguous tensor of ``shape`` and ``dtype`` stored at ``address``."""
    out = np.empty(shape, dtype=dtype)
    if out.nbytes == 0:
        return out
    if is_device_pointer(address):
        kind = _cudart().cudaMemcpyKind.cudaMemcpyDeviceToHost
        _copy_on_stream(out.ctypes.data, address, out.nbytes, kind, stream_handle)
    else:
        ctypes.memmove(out.ctypes.data, address, out.nbytes)
    return out


def write_tensor(address: int, array: np.ndarray, stream_handle: int = 0) -> None:
    """Store ``array`` (made C-contiguous) at ``address``; device copies are complete on return."""
    array = np.ascontiguousarray(array)
    if array.nbytes == 0:
        return
    if is_device_pointer(address):
        kind = _cudart().cudaMemcpyKind.cudaMemcpyHostToDevice
        _copy_on_stream(address, array.ctypes.data, array.nbytes, kind, stream_handle)
    else:
        ctypes.memmove(address, array.ctypes.data, array.nbytes)

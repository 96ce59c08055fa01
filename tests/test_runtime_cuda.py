"""The cuda-python layer without a GPU: error tuples unpacked, errors named by cudaGetErrorName.

A stand-in ``cuda.bindings.runtime`` module returns the same tuples the real one does, so the
unpacking and naming logic is checked here; the real calls run in tests/gpu.
"""

from __future__ import annotations

import enum
import types

import pytest

from trtdsl.errors import BackendError
from trtdsl.runtime import cuda


class _Error(enum.IntEnum):
    cudaSuccess = 0
    cudaErrorMemoryAllocation = 2
    cudaErrorNoDevice = 100


def _fake_cudart(device_count: int = 1) -> types.ModuleType:
    rt = types.ModuleType("cuda.bindings.runtime")

    def get_error_name(err: _Error) -> tuple[_Error, bytes]:
        return _Error.cudaSuccess, _Error(err).name.encode()

    rt.cudaGetErrorName = get_error_name  # type: ignore[attr-defined]
    rt.cudaMalloc = lambda n: (_Error.cudaErrorMemoryAllocation, 0)  # type: ignore[attr-defined]
    rt.cudaGetDeviceCount = lambda: (  # type: ignore[attr-defined]
        (_Error.cudaSuccess, device_count) if device_count else (_Error.cudaErrorNoDevice, 0)
    )
    return rt


@pytest.fixture
def fake_cudart(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    rt = _fake_cudart()
    monkeypatch.setattr(cuda, "_CUDART", rt)
    return rt


def test_check_unpacks_result_tuples(fake_cudart) -> None:
    assert cuda.check((_Error.cudaSuccess,), "cudaFree") is None
    assert cuda.check((_Error.cudaSuccess, 42), "cudaMalloc") == 42
    assert cuda.check((_Error.cudaSuccess, 1, 2), "x") == (1, 2)


def test_failures_are_named(fake_cudart) -> None:
    with pytest.raises(
        cuda.CudaError, match=r"^cudaMalloc\(64\) failed: cudaErrorMemoryAllocation \(2\)$"
    ):
        cuda.DeviceBuffer(64)
    assert issubclass(cuda.CudaError, BackendError)


def test_device_count_is_zero_without_devices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cuda, "_CUDART", _fake_cudart(device_count=0))
    assert cuda.device_count() == 0
    with pytest.raises(cuda.CudaError, match="no CUDA device is visible"):
        from trtdsl.runtime.memory import DeviceMemory

        DeviceMemory()


def test_native_handle_of_ints() -> None:
    assert cuda.native_handle(0) == 0 and cuda.native_handle(1234) == 1234

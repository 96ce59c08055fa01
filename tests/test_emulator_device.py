"""The emulated engine through real device memory (cuda-python, no TensorRT): ``gpu`` marked."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

import trtdsl.emulator as trt
from trtdsl.emulator import memory
from trtdsl.emulator.types import EmulatorUnsupportedError

pytestmark = pytest.mark.gpu


@pytest.fixture(scope="module")
def cudart() -> Any:
    from cuda.bindings import runtime

    return runtime


def _ok(result: tuple[Any, ...]) -> Any:
    assert int(result[0]) == 0, result[0]
    return result[1] if len(result) == 2 else result[1:]


def _handle(stream: Any) -> int:
    try:
        from cuda.bindings.utils import get_cuda_native_handle
    except ImportError:
        return int(stream)
    return int(get_cuda_native_handle(stream))


@pytest.fixture()
def engine() -> trt.ICudaEngine:
    """x (-1, 3, 8, 8) -> conv 3x3 pad 1 -> relu -> y; batch 1..4."""
    logger = trt.Logger(trt.Logger.ERROR)
    builder = trt.Builder(logger)
    network = builder.create_network(0)
    x = network.add_input("x", trt.float32, (-1, 3, 8, 8))
    w = np.random.default_rng(0).standard_normal((4, 3, 3, 3)).astype(np.float32)
    conv = network.add_convolution_nd(x, 4, (3, 3), w)
    conv.padding_nd = (1, 1)
    y = network.add_activation(conv.get_output(0), trt.ActivationType.RELU).get_output(0)
    y.name = "y"
    network.mark_output(y)
    config = builder.create_builder_config()
    profile = builder.create_optimization_profile()
    profile.set_shape("x", (1, 3, 8, 8), (2, 3, 8, 8), (4, 3, 8, 8))
    config.add_optimization_profile(profile)
    return trt.Runtime(logger).deserialize_cuda_engine(
        builder.build_serialized_network(network, config)
    )


def _host_result(engine: trt.ICudaEngine, x: np.ndarray) -> np.ndarray:
    context = engine.create_execution_context()
    context.set_input_shape("x", x.shape)
    y = np.zeros(tuple(context.get_tensor_shape("y")), np.float32)
    assert context.execute_v2([x.ctypes.data, y.ctypes.data])
    return y


@pytest.fixture()
def stream(cudart: Any) -> Iterator[Any]:
    created = _ok(cudart.cudaStreamCreateWithFlags(cudart.cudaStreamNonBlocking))
    yield created
    _ok(cudart.cudaStreamDestroy(created))


def test_device_pointers_on_a_non_blocking_stream(
    cudart: Any, engine: trt.ICudaEngine, stream: Any
) -> None:
    x = np.random.default_rng(1).standard_normal((3, 3, 8, 8)).astype(np.float32)
    y = np.zeros((3, 4, 8, 8), np.float32)
    d_x, d_y = _ok(cudart.cudaMalloc(x.nbytes)), _ok(cudart.cudaMalloc(y.nbytes))
    try:
        assert memory.is_device_pointer(d_x) and not memory.is_device_pointer(x.ctypes.data)
        context = engine.create_execution_context()
        context.set_input_shape("x", x.shape)
        context.set_tensor_address("x", d_x)
        context.set_tensor_address("y", d_y)
        h2d = cudart.cudaMemcpyKind.cudaMemcpyHostToDevice
        d2h = cudart.cudaMemcpyKind.cudaMemcpyDeviceToHost
        _ok(cudart.cudaMemcpyAsync(d_x, x.ctypes.data, x.nbytes, h2d, stream))
        assert context.execute_async_v3(_handle(stream))
        _ok(cudart.cudaMemcpyAsync(y.ctypes.data, d_y, y.nbytes, d2h, stream))
        _ok(cudart.cudaStreamSynchronize(stream))
    finally:
        _ok(cudart.cudaFree(d_x))
        _ok(cudart.cudaFree(d_y))
    np.testing.assert_array_equal(y, _host_result(engine, x))
    assert y.max() > 0


def test_pinned_host_memory_is_read_directly(cudart: Any, engine: trt.ICudaEngine) -> None:
    x = np.random.default_rng(2).standard_normal((1, 3, 8, 8)).astype(np.float32)
    pinned = _ok(cudart.cudaMallocHost(x.nbytes))
    try:
        view = np.ctypeslib.as_array((np.ctypeslib.ctypes.c_float * x.size).from_address(pinned))
        view[:] = x.ravel()
        assert not memory.is_device_pointer(pinned)
        y = np.zeros((1, 4, 8, 8), np.float32)
        context = engine.create_execution_context()
        context.set_input_shape("x", x.shape)
        assert context.execute_v2([pinned, y.ctypes.data])
    finally:
        _ok(cudart.cudaFreeHost(pinned))
    np.testing.assert_array_equal(y, _host_result(engine, x))


def test_graph_capture_is_refused_without_breaking_the_capture(
    cudart: Any, engine: trt.ICudaEngine, stream: Any
) -> None:
    x = np.zeros((1, 3, 8, 8), np.float32)
    y = np.zeros((1, 4, 8, 8), np.float32)
    context = engine.create_execution_context()
    context.set_input_shape("x", x.shape)
    context.set_tensor_address("x", x.ctypes.data)
    context.set_tensor_address("y", y.ctypes.data)
    mode = cudart.cudaStreamCaptureMode.cudaStreamCaptureModeThreadLocal
    _ok(cudart.cudaStreamBeginCapture(stream, mode))
    try:
        with pytest.raises(EmulatorUnsupportedError, match="CUDA graph capture"):
            context.execute_async_v3(stream)  # the cudaStream_t object, as NVIDIA's samples pass
    finally:
        graph = _ok(cudart.cudaStreamEndCapture(stream))
    _ok(cudart.cudaGraphDestroy(graph))

"""Build, plan, engine I/O API, execution contexts, profiler and inspector of the emulator."""

from __future__ import annotations

import json

import numpy as np
import pytest

import trtdsl.emulator as trt
from trtdsl.emulator.plan import MAGIC, is_emulated_plan
from trtdsl.emulator.types import EmulatorUnsupportedError, float32_to_bf16


def _dynamic_relu_plan(
    logger: trt.Logger, config_hook: object = None, weights: np.ndarray | None = None
) -> trt.IHostMemory:
    """x (-1, 2) -> x * w (per column) -> relu -> "y"; batch 1..4, opt 2."""
    builder = trt.Builder(logger)
    network = builder.create_network(0)
    x = network.add_input("x", trt.float32, (-1, 2))
    w = weights if weights is not None else np.array([[1.0, -1.0]], np.float32)
    scaled = network.add_elementwise(
        x, network.add_constant((1, 2), w).get_output(0), trt.ElementWiseOperation.PROD
    )
    relu = network.add_activation(scaled.get_output(0), trt.ActivationType.RELU)
    relu.name, relu.metadata = "act", "dsl:act"
    y = relu.get_output(0)
    y.name = "y"
    network.mark_output(y)
    config = builder.create_builder_config()
    profile = builder.create_optimization_profile()
    profile.set_shape("x", (1, 2), (2, 2), (4, 2))
    assert config.add_optimization_profile(profile) == 0
    if config_hook is not None:
        config_hook(config)  # type: ignore[operator]
    plan = builder.build_serialized_network(network, config)
    assert plan is not None, logger._messages
    return plan


def _run(context: trt.IExecutionContext, x: np.ndarray) -> np.ndarray:
    assert context.set_input_shape("x", x.shape)
    assert context.infer_shapes() == []
    y = np.zeros(tuple(context.get_tensor_shape("y")), np.float32)
    context.set_tensor_address("x", x.ctypes.data)
    context.set_tensor_address("y", y.ctypes.data)
    assert context.execute_async_v3(0)
    return y


def test_plan_is_marked_as_emulated() -> None:
    plan = _dynamic_relu_plan(trt.Logger())
    assert isinstance(plan, bytes) and plan.nbytes == len(plan) and plan.dtype == trt.uint8
    assert bytes(plan).startswith(MAGIC) and b"NOT a TensorRT engine" in bytes(plan)[:100]
    assert is_emulated_plan(plan) and not is_emulated_plan(b"ftrt" + bytes(100))
    assert "EMULATED" in repr(plan)


def test_runtime_refuses_bytes_that_are_not_an_emulated_plan() -> None:
    logger = trt.Logger(trt.Logger.INTERNAL_ERROR)
    assert trt.Runtime(logger).deserialize_cuda_engine(b"\x00" * 64) is None
    assert "not an emulated plan" in logger._messages[-1][1]


def test_engine_io_tensor_api() -> None:
    logger = trt.Logger()
    engine = trt.Runtime(logger).deserialize_cuda_engine(_dynamic_relu_plan(logger))
    assert "EMULATED" in repr(engine)
    assert engine.num_io_tensors == 2 and engine.num_optimization_profiles == 1
    names = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]
    assert names == ["x", "y"] and engine[1] == "y"
    assert engine.get_tensor_mode("x") == trt.TensorIOMode.INPUT
    assert engine.get_tensor_mode("y") == trt.TensorIOMode.OUTPUT
    assert engine.get_tensor_mode("nope") == trt.TensorIOMode.NONE
    assert engine.get_tensor_shape("x") == (-1, 2) and engine.get_tensor_shape("y") == (-1, 2)
    assert engine.get_tensor_dtype("y") == trt.float32
    assert engine.get_tensor_location("x") == trt.TensorLocation.DEVICE
    assert engine.get_tensor_profile_shape("x", 0) == [(1, 2), (2, 2), (4, 2)]
    assert engine.num_layers == 3


def test_dynamic_shapes_and_execution_on_host_pointers() -> None:
    logger = trt.Logger()
    engine = trt.Runtime(logger).deserialize_cuda_engine(_dynamic_relu_plan(logger))
    context = engine.create_execution_context()
    assert context.infer_shapes() == ["x"]
    assert context.get_tensor_shape("y") == (-1, 2)
    x = np.array([[1, 2], [-3, -4], [5, -6]], np.float32)
    np.testing.assert_array_equal(_run(context, x), [[1, 0], [0, 4], [5, 6]])
    np.testing.assert_array_equal(_run(context, x[:1].copy()), [[1, 0]])


def test_input_shape_outside_the_profile_is_refused() -> None:
    logger = trt.Logger(trt.Logger.INTERNAL_ERROR)
    engine = trt.Runtime(logger).deserialize_cuda_engine(_dynamic_relu_plan(logger))
    context = engine.create_execution_context()
    assert not context.set_input_shape("x", (5, 2))
    assert "outside profile" in logger._messages[-1][1]
    assert not context.execute_async_v3(0)


def test_execute_v2_takes_bindings_in_io_order() -> None:
    logger = trt.Logger()
    engine = trt.Runtime(logger).deserialize_cuda_engine(_dynamic_relu_plan(logger))
    context = engine.create_execution_context()
    x = np.array([[2, 3]], np.float32)
    y = np.zeros((1, 2), np.float32)
    assert context.set_input_shape("x", (1, 2))
    assert context.execute_v2([x.ctypes.data, y.ctypes.data])
    assert y.tolist() == [[2, 0]]


def test_weights_are_held_by_reference_until_the_build_then_copied() -> None:
    logger = trt.Logger()
    w = np.array([[1.0, 1.0]], np.float32)
    builder = trt.Builder(logger)
    network = builder.create_network(0)
    x = network.add_input("x", trt.float32, (1, 2))
    product = network.add_elementwise(
        x, network.add_constant((1, 2), w).get_output(0), trt.ElementWiseOperation.PROD
    ).get_output(0)
    product.name = "y"
    network.mark_output(product)
    w[0, 0] = 3.0  # before the build: seen (TensorRT does not copy weights before building)
    plan = builder.build_serialized_network(network, builder.create_builder_config())
    w[0, 1] = 5.0  # after the build: not seen (the plan owns a copy)
    context = trt.Runtime(logger).deserialize_cuda_engine(plan).create_execution_context()
    xs = np.ones((1, 2), np.float32)
    y = np.zeros((1, 2), np.float32)
    assert context.execute_v2([xs.ctypes.data, y.ctypes.data])
    assert y.tolist() == [[3.0, 1.0]]


def test_engine_serialize_round_trips() -> None:
    logger = trt.Logger()
    runtime = trt.Runtime(logger)
    engine = runtime.deserialize_cuda_engine(_dynamic_relu_plan(logger))
    again = runtime.deserialize_cuda_engine(engine.serialize())
    x = np.array([[-1, -2]], np.float32)
    np.testing.assert_array_equal(_run(again.create_execution_context(), x), [[0, 2]])


def test_profiler_gets_each_layer_per_execution() -> None:
    class Recorder(trt.IProfiler):
        def __init__(self) -> None:
            trt.IProfiler.__init__(self)
            self.layers: list[str] = []

        def report_layer_time(self, layer_name: str, ms: float) -> None:
            assert ms >= 0
            self.layers.append(layer_name)

    logger = trt.Logger()
    context = trt.Runtime(logger).deserialize_cuda_engine(_dynamic_relu_plan(logger))
    context = context.create_execution_context()
    context.profiler = Recorder()
    _run(context, np.ones((2, 2), np.float32))
    assert len(context.profiler.layers) == 3 and context.profiler.layers[-1] == "act"
    context.enqueue_emits_profile = False
    _run(context, np.ones((2, 2), np.float32))
    assert len(context.profiler.layers) == 3
    assert context.report_to_profiler() and len(context.profiler.layers) == 6


def test_progress_monitor_can_cancel_the_build() -> None:
    class Monitor(trt.IProgressMonitor):
        def __init__(self, stop_at: int) -> None:
            trt.IProgressMonitor.__init__(self)
            self.stop_at, self.events = stop_at, []

        def phase_start(self, phase_name: str, parent_phase: str | None, num_steps: int) -> None:
            self.events.append(("start", parent_phase, num_steps))

        def step_complete(self, phase_name: str, step: int) -> bool:
            self.events.append(step)
            return step != self.stop_at

        def phase_finish(self, phase_name: str) -> None:
            self.events.append("finish")

    monitor = Monitor(stop_at=-1)
    _dynamic_relu_plan(trt.Logger(), lambda c: setattr(c, "progress_monitor", monitor))
    assert monitor.events == [("start", None, 3), 0, 1, 2, "finish"]
    with pytest.raises(AssertionError):
        quiet = trt.Logger(trt.Logger.INTERNAL_ERROR)
        _dynamic_relu_plan(quiet, lambda c: setattr(c, "progress_monitor", Monitor(stop_at=1)))


def test_inspector_json_detailed_and_names_only() -> None:
    logger = trt.Logger()

    def detailed(config: trt.IBuilderConfig) -> None:
        config.profiling_verbosity = trt.ProfilingVerbosity.DETAILED

    engine = trt.Runtime(logger).deserialize_cuda_engine(_dynamic_relu_plan(logger, detailed))
    inspector = engine.create_engine_inspector()
    layer = json.loads(inspector.get_layer_information(2, trt.LayerInformationFormat.JSON))
    assert layer["Name"] == "act" and layer["Metadata"] == "dsl:act"
    assert layer["Outputs"][0]["Dimensions"] == [-1, 2]
    context = engine.create_execution_context()
    context.set_input_shape("x", (3, 2))
    inspector.execution_context = context
    layer = json.loads(inspector.get_layer_information(2, trt.LayerInformationFormat.JSON))
    assert layer["Outputs"][0]["Dimensions"] == [3, 2]
    whole = json.loads(inspector.get_engine_information(trt.LayerInformationFormat.JSON))
    assert whole["Emulated"] is True and len(whole["Layers"]) == 3
    assert whole["I/O Tensors"][0]["ProfileInfo"][0]["MaxShape"] == [4, 2]
    names_only = trt.Runtime(logger).deserialize_cuda_engine(_dynamic_relu_plan(logger))
    info = names_only.create_engine_inspector().get_layer_information(
        2, trt.LayerInformationFormat.JSON
    )
    assert json.loads(info) == "act"


def test_bf16_io_is_bfloat16_bit_patterns() -> None:
    logger = trt.Logger()
    builder = trt.Builder(logger)
    network = builder.create_network(0)
    x = network.add_input("x", trt.bfloat16, (1, 3))
    y = network.add_activation(x, trt.ActivationType.RELU).get_output(0)
    y.name = "y"
    network.mark_output(y)
    plan = builder.build_serialized_network(network, builder.create_builder_config())
    context = trt.Runtime(logger).deserialize_cuda_engine(plan).create_execution_context()
    x_bits = float32_to_bf16(np.array([[-1.0, 1.5, 3.0]], np.float32))
    y_bits = np.zeros((1, 3), np.uint16)
    assert context.execute_v2([x_bits.ctypes.data, y_bits.ctypes.data])
    assert y_bits.tolist() == float32_to_bf16(np.array([[0.0, 1.5, 3.0]], np.float32)).tolist()


def test_timing_cache_round_trip_and_config_options() -> None:
    config = trt.Builder(trt.Logger()).create_builder_config()
    cache = config.create_timing_cache(b"")
    assert config.set_timing_cache(cache, ignore_mismatch=False)
    blob = bytes(config.get_timing_cache().serialize())
    assert config.create_timing_cache(blob) is not None
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, 1 << 30)
    assert config.get_memory_pool_limit(trt.MemoryPoolType.WORKSPACE) == 1 << 30
    config.clear_flag(trt.BuilderFlag.TF32)
    assert not config.get_flag(trt.BuilderFlag.TF32)
    config.set_flag(trt.BuilderFlag.REFIT)
    assert config.flags == 1 << int(trt.BuilderFlag.REFIT)


def test_dtype_helpers() -> None:
    assert trt.nptype(trt.float16) is np.float16 and trt.nptype(trt.int64) is np.int64
    with pytest.raises(TypeError):
        trt.nptype(trt.bfloat16)
    assert trt.float32.itemsize == 4 and trt.int4.itemsize == 0.5 and trt.e8m0.itemsize is None
    assert trt.volume((2, 3, 4)) == 24 and trt.volume(()) == 1


def test_capturing_stream_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from trtdsl.emulator import memory

    monkeypatch.setattr(memory, "is_capturing", lambda handle: True)
    logger = trt.Logger()
    context = trt.Runtime(logger).deserialize_cuda_engine(_dynamic_relu_plan(logger))
    with pytest.raises(EmulatorUnsupportedError, match="CUDA graph capture"):
        _run(context.create_execution_context(), np.ones((1, 2), np.float32))


def test_build_engine_with_config() -> None:
    logger = trt.Logger()
    builder = trt.Builder(logger)
    network = builder.create_network(0)
    y = network.add_identity(network.add_input("x", trt.float32, (1, 2))).get_output(0)
    y.name = "y"
    network.mark_output(y)
    config = builder.create_builder_config()
    engine = builder.build_engine_with_config(network, config)
    assert isinstance(engine, trt.ICudaEngine) and engine.num_io_tensors == 2
    assert builder.is_network_supported(network, config)

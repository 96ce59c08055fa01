"""API misuse is refused as TensorRT(-RTX) refuses it: a layer whose shape cannot be computed
(RuntimeError from ``ITensor.shape``, the cause logged) and a failed build, logged errors and
None from the few ``add_*`` argument checks, or TypeError/ValueError."""

from __future__ import annotations

import numpy as np
import pytest

import trtdsl.emulator as trt
from trtdsl.emulator.types import EmulatorTypeError, EmulatorValueError
from trtdsl.errors import BackendError

W = np.zeros((1, 1, 1, 1), np.float32)


def _setup() -> tuple[trt.Logger, trt.Builder, trt.INetworkDefinition]:
    logger = trt.Logger(trt.Logger.INTERNAL_ERROR)  # keep test output quiet; _messages has all
    builder = trt.Builder(logger)
    return logger, builder, builder.create_network(0)


def _last_error(logger: trt.Logger) -> str:
    errors = [m for s, m in logger._messages if s == trt.Logger.ERROR]
    assert errors, "expected a logged error"
    return errors[-1]


def _build(builder: trt.Builder, network: trt.INetworkDefinition, out: trt.ITensor) -> object:
    network.mark_output(out)
    return builder.build_serialized_network(network, builder.create_builder_config())


def _shape_error(logger: trt.Logger, layer: trt.ILayer) -> str:
    """The logged cause of the RuntimeError that reading the layer's output shape raises."""
    with pytest.raises(RuntimeError, match=r"^Could not get tensor shape\.$"):
        layer.get_output(0).shape  # noqa: B018
    return _last_error(logger)


def test_conv_on_wrong_rank_returns_a_layer_whose_shape_fails() -> None:
    logger, builder, network = _setup()
    x = network.add_input("x", trt.float32, (1, 3, 8))
    layer = network.add_convolution_nd(x, 1, (1, 1), W)
    assert layer is not None and network.num_layers == 1
    assert "Only 2D or 3D convolution" in _shape_error(logger, layer)
    assert layer.get_output(0).dtype == trt.float32  # the dtype is still known
    assert _build(builder, network, layer.get_output(0)) is None


def test_mixed_dtype_elementwise_is_an_error() -> None:
    logger, _, network = _setup()
    a = network.add_input("a", trt.float32, (1, 2))
    b = network.add_input("b", trt.float16, (1, 2))
    layer = network.add_elementwise(a, b, trt.ElementWiseOperation.SUM)
    assert "different types" in _shape_error(logger, layer)


def test_elementwise_needs_equal_ranks() -> None:
    logger, _, network = _setup()
    a = network.add_input("a", trt.float32, (2, 3))
    b = network.add_input("b", trt.float32, (3,))
    layer = network.add_elementwise(a, b, trt.ElementWiseOperation.SUM)
    assert "same rank" in _shape_error(logger, layer)


def test_wrong_kernel_count_fails_at_shape_inference_and_build() -> None:
    logger, builder, network = _setup()
    x = network.add_input("x", trt.float32, (1, 2, 4, 4))
    layer = network.add_convolution_nd(x, 3, (3, 3), np.zeros(10, np.float32))
    assert layer is not None  # counts are checked later (num_groups may still change)
    assert "kernel weights has count 10 but 54 was expected" in _shape_error(logger, layer)
    assert _build(builder, network, layer.get_output(0)) is None
    assert "build_serialized_network" in _last_error(logger)


def test_groups_set_after_creation_fix_the_kernel_count() -> None:
    _, _, network = _setup()
    x = network.add_input("x", trt.float32, (1, 6, 4, 4))
    layer = network.add_convolution_nd(x, 6, (3, 3), np.zeros((6, 1, 3, 3), np.float32))
    layer.num_groups = 6
    assert layer.get_output(0).shape == (1, 6, 2, 2)


def test_weight_dtype_must_match_input() -> None:
    logger, builder, network = _setup()
    x = network.add_input("x", trt.float16, (1, 1, 2, 2))
    layer = network.add_convolution_nd(x, 1, (1, 1), W)
    assert _build(builder, network, layer.get_output(0)) is None
    assert "kernel weights are DataType.FLOAT, input is DataType.HALF" in _last_error(logger)


@pytest.mark.parametrize(
    ("attribute", "value"),
    [("stride_nd", 2), ("padding_mode", 1), ("num_groups", 1.5), ("name", 5), ("kernel", [1.0])],
)
def test_wrong_property_types_raise_type_error(attribute: str, value: object) -> None:
    _, _, network = _setup()
    layer = network.add_convolution_nd(network.add_input("x", trt.float32, (1, 1, 2, 2)), 1,
                                       (1, 1), W)  # fmt: skip
    with pytest.raises(TypeError, match=attribute if attribute != "kernel" else "Weights"):
        setattr(layer, attribute, value)


def test_wrong_argument_types_raise_type_error() -> None:
    _, _, network = _setup()
    with pytest.raises(TypeError, match="add_input.dtype"):
        network.add_input("x", np.float32, (1, 2))
    x = network.add_input("x", trt.float32, (1, 2))
    with pytest.raises(TypeError, match="add_activation.type"):
        network.add_activation(x, "relu")
    with pytest.raises(TypeError, match="channel_axis"):
        network.add_scale_nd(x, trt.ScaleMode.UNIFORM)
    with pytest.raises(EmulatorTypeError) as info:
        network.add_identity(np.zeros(2))
    assert isinstance(info.value, BackendError)


def test_weights_conversion_errors() -> None:
    with pytest.raises(ValueError, match="Could not implicitly convert NumPy data type: float64"):
        trt.Weights(np.zeros(3))
    with pytest.raises(EmulatorValueError, match="C-contiguous"):
        trt.Weights(np.zeros((3, 4), np.float32).T)


def test_mark_output_on_a_network_input_is_an_error() -> None:
    logger, _, network = _setup()
    x = network.add_input("x", trt.float32, (1, 2))
    network.mark_output(x)
    assert network.num_outputs == 0
    assert "is a network input" in _last_error(logger)


def test_duplicate_input_names() -> None:
    logger, _, network = _setup()
    network.add_input("x", trt.float32, (1, 2))
    assert network.add_input("x", trt.float32, (1, 2)) is None
    assert "duplicate name" in _last_error(logger)


def test_dynamic_input_without_profile_fails_the_build() -> None:
    logger, builder, network = _setup()
    x = network.add_input("x", trt.float32, (-1, 2))
    assert _build(builder, network, network.add_identity(x).get_output(0)) is None
    assert "add an optimization profile" in _last_error(logger)


def test_profile_shape_outside_the_network_shape_fails_the_build() -> None:
    logger, builder, network = _setup()
    x = network.add_input("x", trt.float32, (-1, 2))
    network.mark_output(network.add_identity(x).get_output(0))
    config = builder.create_builder_config()
    profile = builder.create_optimization_profile()
    profile.set_shape("x", (1, 3), (1, 3), (1, 3))
    config.add_optimization_profile(profile)
    assert builder.build_serialized_network(network, config) is None
    assert "does not fit" in _last_error(logger)


def test_profile_min_above_max_is_refused_by_add_optimization_profile() -> None:
    logger, builder, network = _setup()
    x = network.add_input("x", trt.float32, (-1, 2))
    network.mark_output(network.add_identity(x).get_output(0))
    profile = builder.create_optimization_profile()
    profile.set_shape("x", (4, 2), (2, 2), (1, 2))  # validated later, as TensorRT-RTX
    assert not profile
    config = builder.create_builder_config()
    assert config.add_optimization_profile(profile) == -1
    assert "MIN <= OPT <= MAX" in logger._messages[-2][1]
    assert builder.build_serialized_network(network, config) is None
    assert "add an optimization profile" in _last_error(logger)


def test_profile_negative_dimension_raises_runtime_error() -> None:
    profile = trt.Builder(trt.Logger()).create_optimization_profile()
    with pytest.raises(RuntimeError, match="Shape provided for min is inconsistent"):
        profile.set_shape("x", (-1, 2), (2, 2), (4, 2))
    assert profile.get_shape("x") == []


def test_network_without_outputs_fails_the_build() -> None:
    logger, builder, network = _setup()
    network.add_input("x", trt.float32, (1, 2))
    assert builder.build_serialized_network(network, builder.create_builder_config()) is None
    assert "no outputs" in _last_error(logger)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda n, x: _set(n.add_softmax(x), "axes", 1 << 4), "names a dim"),
        (lambda n, x: n.add_reduce(x, trt.ReduceOperation.SUM, 1 << 4, False), "names a dim"),
        (lambda n, x: n.add_slice(x, (0, 0, 0, 2), (1, 2, 3, 4), (1, 1, 1, 1)), "out of bounds"),
        (lambda n, x: _set(n.add_shuffle(x), "reshape_dims", (5, -1)), "cannot reshape"),
        (lambda n, x: _set(n.add_concatenation([x, x]), "axis", 4), "out of range"),
        (lambda n, x: n.add_matrix_multiply(x, trt.MatrixOperation.NONE, x,
                                            trt.MatrixOperation.NONE), "inner dims"),
        (lambda n, x: _set(n.add_pooling_nd(x, trt.PoolingType.AVERAGE, (2, 2)), "padding_nd",
                           (2, 2)), "smaller than the window"),
    ],
)  # fmt: skip
def test_invalid_layers_fail_the_build(make: object, message: str) -> None:
    logger, builder, network = _setup()
    x = network.add_input("x", trt.float32, (1, 2, 3, 4))
    layer = make(network, x)  # type: ignore[operator]
    assert layer is not None
    assert _build(builder, network, layer.get_output(0)) is None
    assert message in _last_error(logger)


def _set(layer: object, attribute: str, value: object) -> object:
    setattr(layer, attribute, value)
    return layer


def test_removed_flags_do_not_exist() -> None:
    with pytest.raises(AttributeError):
        trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH  # noqa: B018
    with pytest.raises(AttributeError):
        trt.BuilderFlag.FP16  # noqa: B018


def test_three_d_convolution_builds_but_the_emulator_refuses_to_compute_it() -> None:
    from test_emulator_layers import _out, run_network

    from trtdsl.emulator.types import EmulatorUnsupportedError

    kernel = np.ones((1, 1, 1, 1, 1), np.float32)
    x = np.ones((1, 1, 2, 2, 2), np.float32)
    with pytest.raises(EmulatorUnsupportedError, match="2-D convolution only"):
        run_network(lambda n, t: _out(n.add_convolution_nd(t, 1, (1, 1, 1), kernel)), x)


def test_tensor_valued_layer_inputs_are_not_emulated() -> None:
    from trtdsl.emulator.types import EmulatorUnsupportedError

    _, _, network = _setup()
    x = network.add_input("x", trt.float32, (1, 1, 2, 2))
    layer = network.add_shuffle(x)  # input 1 would be a shape tensor (a dynamic reshape)
    with pytest.raises(EmulatorUnsupportedError, match="set_input"):
        layer.set_input(1, x)

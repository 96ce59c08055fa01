"""TensorRT defaults that commonly trip PyTorch ports, checked on the emulator."""

from __future__ import annotations

import numpy as np
import pytest
from test_emulator_layers import X33, _out, run_network

import trtdsl.emulator as trt


def _network() -> tuple[trt.Builder, trt.INetworkDefinition]:
    builder = trt.Builder(trt.Logger())
    return builder, builder.create_network(0)


def test_pooling_stride_defaults_to_one_not_the_window() -> None:
    _, network = _network()
    x = network.add_input("x", trt.float32, (1, 1, 6, 6))
    layer = network.add_pooling_nd(x, trt.PoolingType.MAX, (2, 2))
    assert layer.stride_nd == (1, 1)
    assert layer.get_output(0).shape == (1, 1, 5, 5)  # PyTorch's default would give 3x3


def test_average_pool_excludes_padding_by_default() -> None:
    def build(network: trt.INetworkDefinition, x: trt.ITensor) -> trt.ITensor:
        layer = network.add_pooling_nd(x, trt.PoolingType.AVERAGE, (2, 2))
        assert layer.average_count_excludes_padding is True
        layer.padding_nd = (1, 1)
        return _out(layer)

    (y,) = run_network(build, np.ones((1, 1, 2, 2), np.float32))
    # Every window holds at least one real 1 and only padding otherwise: excluded -> all ones
    # (PyTorch's count_include_pad=True would give 0.25 in the corners).
    np.testing.assert_array_equal(y, np.ones((1, 1, 3, 3)))


@pytest.mark.parametrize(("shape", "axes"), [((2, 3, 4, 5), 1 << 1), ((2, 3, 4), 1 << 0),
                                             ((6, 2), 1 << 0), ((5,), 1 << 0)])  # fmt: skip
def test_softmax_default_axis_is_rank_minus_three(shape: tuple[int, ...], axes: int) -> None:
    _, network = _network()
    layer = network.add_softmax(network.add_input("x", trt.float32, shape))
    assert layer.axes == axes


def test_softmax_default_axis_computes_over_channels() -> None:
    x = np.arange(8, dtype=np.float32).reshape(1, 2, 2, 2)
    (y,) = run_network(lambda n, t: _out(n.add_softmax(t)), x)
    e = np.exp(x - x.max(axis=1, keepdims=True))
    np.testing.assert_allclose(y, e / e.sum(axis=1, keepdims=True), rtol=1e-6)


@pytest.mark.parametrize(("shape", "axis"), [((1, 2, 3, 4), 1), ((2, 3, 4), 0), ((2, 3), 0)])
def test_concatenation_default_axis_is_rank_minus_three(shape: tuple[int, ...], axis: int) -> None:
    _, network = _network()
    x = network.add_input("x", trt.float32, shape)
    layer = network.add_concatenation([x, x])
    assert layer.axis == axis
    expected = list(shape)
    expected[axis] *= 2
    assert layer.get_output(0).shape == tuple(expected)


def test_convolution_defaults() -> None:
    _, network = _network()
    x = network.add_input("x", trt.float32, (1, 2, 5, 5))
    layer = network.add_convolution_nd(x, 3, (3, 3), np.zeros((3, 2, 3, 3), np.float32))
    assert layer.stride_nd == (1, 1) and layer.dilation_nd == (1, 1)
    assert layer.padding_nd == (0, 0) and layer.pre_padding == (0, 0)
    assert layer.post_padding == (0, 0) and layer.num_groups == 1
    assert layer.padding_mode == trt.PaddingMode.EXPLICIT_ROUND_DOWN
    assert layer.bias.size == 0 and layer.bias.dtype == trt.float32
    assert layer.get_output(0).shape == (1, 3, 3, 3)


def test_padding_mode_takes_precedence_over_explicit_padding() -> None:
    _, network = _network()
    x = network.add_input("x", trt.float32, (1, 1, 6, 6))
    layer = network.add_pooling_nd(x, trt.PoolingType.MAX, (3, 3))
    layer.stride_nd, layer.padding_nd = (2, 2), (3, 3)
    layer.padding_mode = trt.PaddingMode.SAME_UPPER
    assert layer.get_output(0).shape == (1, 1, 3, 3)


def test_other_defaults() -> None:
    builder, network = _network()
    x = network.add_input("x", trt.float32, (1, 2, 3, 4))
    activation = network.add_activation(x, trt.ActivationType.RELU)
    assert (activation.alpha, activation.beta) == (0.0, 0.0)  # others: test_emulator_vs_rtx.py
    shuffle = network.add_shuffle(x)
    assert shuffle.zero_is_placeholder is True and shuffle.reshape_dims is None
    assert tuple(shuffle.first_transpose)[:4] == (0, 1, 2, 3)
    assert network.add_slice(x, (0, 0, 0, 0), (1, 1, 1, 1), (1, 1, 1, 1)).mode == (
        trt.SampleMode.STRICT_BOUNDS
    )
    assert network.add_scale(x, trt.ScaleMode.CHANNEL).channel_axis == 1  # rank - 3
    config = builder.create_builder_config()
    assert config.get_flag(trt.BuilderFlag.TF32)
    assert config.profiling_verbosity == trt.ProfilingVerbosity.LAYER_NAMES_ONLY
    assert config.builder_optimization_level == 3
    assert trt.Logger().min_severity == trt.Logger.WARNING


def test_layer_and_tensor_default_names() -> None:
    _, network = _network()
    x = network.add_input("x", trt.float32, (1, 2))
    layer = network.add_identity(x)
    assert layer.name == "(Unnamed Layer* 0) [Identity]"
    assert layer.type == trt.LayerType.IDENTITY and str(layer.type) == "LayerType.IDENTITY"
    assert layer.num_inputs == 1 and layer.num_outputs == 1 and layer.get_input(0) is x
    assert layer.get_output(1) is None and layer.metadata == ""


def test_network_flags_strongly_typed_accepted() -> None:
    builder = trt.Builder(trt.Logger())
    flag = trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED
    network = builder.create_network(1 << int(flag))
    assert network.get_flag(flag) and network.flags == 1 << int(flag)
    assert X33.shape == (1, 1, 3, 3)

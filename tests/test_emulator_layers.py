"""Each emulated layer on small cases: hand-computed values, and torch where marked ``oracle``."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pytest

import trtdsl.emulator as trt
from trtdsl.emulator.layers.conv import spatial_output

Build = Callable[..., object]


def run_network(
    build: Callable[..., object], *inputs: np.ndarray, logger: trt.Logger | None = None
) -> list[np.ndarray]:
    """Build a network with ``build(network, *input_tensors)`` (returns a tensor or a list of
    them), mark the outputs, build an emulated plan and run it on host pointers."""
    logger = logger or trt.Logger(trt.Logger.ERROR)
    builder = trt.Builder(logger)
    network = builder.create_network(1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED))
    dtypes = {np.dtype(np.float32): trt.float32, np.dtype(np.float16): trt.float16,
              np.dtype(np.int32): trt.int32, np.dtype(np.bool_): trt.bool,
              np.dtype(np.int64): trt.int64}  # fmt: skip
    tensors = [network.add_input(f"in{i}", dtypes[a.dtype], a.shape) for i, a in enumerate(inputs)]
    result = build(network, *tensors)
    outs = list(result) if isinstance(result, Sequence) else [result]
    for i, tensor in enumerate(outs):
        tensor.name = f"out{i}"
        network.mark_output(tensor)
    config = builder.create_builder_config()
    config.clear_flag(trt.BuilderFlag.TF32)  # exact float32, to compare with torch strictly
    plan = builder.build_serialized_network(network, config)
    assert plan is not None, logger._messages
    engine = trt.Runtime(logger).deserialize_cuda_engine(plan)
    context = engine.create_execution_context()
    assert context.infer_shapes() == []
    arrays = [np.ascontiguousarray(a) for a in inputs]
    results = []
    for i, array in enumerate(arrays):
        assert context.set_tensor_address(f"in{i}", array.ctypes.data)
    for i in range(len(outs)):
        name = f"out{i}"
        dtype = trt.nptype(engine.get_tensor_dtype(name))
        results.append(np.zeros(tuple(context.get_tensor_shape(name)), dtype=dtype))
        assert context.set_tensor_address(name, results[-1].ctypes.data)
    assert context.execute_async_v3(0)
    return results


def _out(layer: object) -> trt.ITensor:
    assert layer is not None
    return layer.get_output(0)  # type: ignore[attr-defined]


X33 = np.arange(9, dtype=np.float32).reshape(1, 1, 3, 3)


# --- convolution ---------------------------------------------------------------------------------
def test_conv_hand_computed() -> None:
    ones = np.ones((1, 1, 2, 2), np.float32)
    (y,) = run_network(lambda n, x: _out(n.add_convolution_nd(x, 1, (2, 2), ones)), X33)
    np.testing.assert_array_equal(y, [[[[8, 12], [20, 24]]]])


def test_conv_bias_and_explicit_padding_hand_computed() -> None:
    def build(network: trt.INetworkDefinition, x: trt.ITensor) -> trt.ITensor:
        layer = network.add_convolution_nd(
            x, 1, (1, 1), np.full(1, 2, np.float32), np.full(1, 1, np.float32)
        )
        layer.pre_padding, layer.post_padding = (1, 0), (0, 1)
        return _out(layer)

    (y,) = run_network(build, X33)
    expected = np.pad(X33[0, 0] * 2 + 1, ((1, 0), (0, 1)), constant_values=1)
    np.testing.assert_array_equal(y[0, 0], expected)


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        (trt.PaddingMode.EXPLICIT_ROUND_DOWN, (5, 3, 2)),
        (trt.PaddingMode.EXPLICIT_ROUND_UP, (5, 3, 2)),
        (trt.PaddingMode.SAME_UPPER, (3, 0, 1)),
        (trt.PaddingMode.SAME_LOWER, (3, 1, 0)),
    ],
)
def test_output_size_rules_from_the_tensorrt_docs(mode: trt.PaddingMode, expected: tuple) -> None:
    # NvInfer.h "Pooling Example 1": I=6, B=3, A=2, S=2, F=3.
    assert spatial_output(6, 3, 2, 3, 2, mode) == expected


def test_round_up_differs_from_round_down() -> None:
    assert spatial_output(6, 3, 2, 0, 0, trt.PaddingMode.EXPLICIT_ROUND_DOWN)[0] == 2
    assert spatial_output(6, 3, 2, 0, 0, trt.PaddingMode.EXPLICIT_ROUND_UP)[0] == 3
    assert spatial_output(-1, 3, 2, 0, 0, trt.PaddingMode.EXPLICIT_ROUND_UP)[0] == -1


@pytest.mark.oracle
@pytest.mark.parametrize("mode", ["explicit", "same_upper", "round_up"])
def test_conv_matches_torch(mode: str) -> None:
    import torch
    import torch.nn.functional as F

    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 4, 9, 8)).astype(np.float32)
    w = rng.standard_normal((6, 2, 3, 3)).astype(np.float32)
    b = rng.standard_normal(6).astype(np.float32)

    def build(network: trt.INetworkDefinition, t: trt.ITensor) -> trt.ITensor:
        layer = network.add_convolution_nd(t, 6, (3, 3), kernel=w, bias=b)
        layer.num_groups = 2
        layer.stride_nd = (2, 2)
        layer.dilation_nd = (2, 1)
        if mode == "explicit":
            layer.pre_padding, layer.post_padding = (2, 1), (1, 0)
        elif mode == "same_upper":
            layer.padding_mode = trt.PaddingMode.SAME_UPPER
        else:
            layer.padding_nd = (1, 1)
            layer.padding_mode = trt.PaddingMode.EXPLICIT_ROUND_UP
        return _out(layer)

    (y,) = run_network(build, x)
    # Pads (top, bottom, left, right) equivalent to each TensorRT setting for H=9, W=8, derived
    # by hand from the NvInfer.h formulas (DK = 5 along H, 3 along W; stride 2):
    # SAME_UPPER: H: P = 4*2 + 5 - 9 = 4 -> (2, 2); W: P = 3*2 + 3 - 8 = 1 -> (0, 1).
    # ROUND_UP with padding 1: H: O = ceil(6/2)+1 = 4 (no overhang); W: O = ceil(7/2)+1 = 5, so
    # one zero column of overhang -> (1, 2).
    pads = {"explicit": (2, 1, 1, 0), "same_upper": (2, 2, 0, 1), "round_up": (1, 1, 1, 2)}[mode]
    xp = F.pad(torch.from_numpy(x), (pads[2], pads[3], pads[0], pads[1]))
    ref = F.conv2d(xp, torch.from_numpy(w), torch.from_numpy(b), stride=2, dilation=(2, 1),
                   groups=2).numpy()  # fmt: skip
    assert y.shape == ref.shape
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5)


# --- pooling -------------------------------------------------------------------------------------
def test_max_pool_hand_computed() -> None:
    (y,) = run_network(lambda n, x: _out(n.add_pooling_nd(x, trt.PoolingType.MAX, (2, 2))), X33)
    np.testing.assert_array_equal(y, [[[[4, 5], [7, 8]]]])


@pytest.mark.parametrize("excludes", [True, False])
def test_average_pool_padding_hand_computed(excludes: bool) -> None:
    def build(network: trt.INetworkDefinition, x: trt.ITensor) -> trt.ITensor:
        layer = network.add_pooling_nd(x, trt.PoolingType.AVERAGE, (2, 2))
        layer.stride_nd, layer.padding_nd = (2, 2), (1, 1)
        layer.average_count_excludes_padding = excludes
        return _out(layer)

    (y,) = run_network(build, X33)
    # Padded extent 5, window 2, stride 2: O = floor(3/2)+1 = 2. The windows hold {0}, {1, 2},
    # {3, 6}, {4, 5, 7, 8} of the input; the padding counts only when not excluded.
    if excludes:
        expected = [[0 / 1, 3 / 2], [9 / 2, 24 / 4]]
    else:
        expected = [[0 / 4, 3 / 4], [9 / 4, 24 / 4]]
    np.testing.assert_allclose(y[0, 0], expected, rtol=1e-6)


def test_max_average_blend_hand_computed() -> None:
    def build(network: trt.INetworkDefinition, x: trt.ITensor) -> trt.ITensor:
        layer = network.add_pooling_nd(x, trt.PoolingType.MAX_AVERAGE_BLEND, (3, 3))
        layer.blend_factor = 0.25
        return _out(layer)

    (y,) = run_network(build, X33)
    np.testing.assert_allclose(y.ravel(), [0.75 * 8 + 0.25 * 4])


@pytest.mark.oracle
@pytest.mark.parametrize("ceil_mode", [False, True])
@pytest.mark.parametrize("count_include_pad", [False, True])
def test_avg_pool_matches_torch(ceil_mode: bool, count_include_pad: bool) -> None:
    import torch
    import torch.nn.functional as F

    x = np.random.default_rng(1).standard_normal((2, 3, 7, 6)).astype(np.float32)

    def build(network: trt.INetworkDefinition, t: trt.ITensor) -> trt.ITensor:
        layer = network.add_pooling_nd(t, trt.PoolingType.AVERAGE, (3, 3))
        layer.stride_nd, layer.padding_nd = (2, 2), (1, 1)
        layer.average_count_excludes_padding = not count_include_pad
        if ceil_mode:
            layer.padding_mode = trt.PaddingMode.EXPLICIT_ROUND_UP
        return _out(layer)

    (y,) = run_network(build, x)
    ref = F.avg_pool2d(torch.from_numpy(x), 3, 2, 1, ceil_mode=ceil_mode,
                       count_include_pad=count_include_pad).numpy()  # fmt: skip
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-6)


@pytest.mark.oracle
def test_max_pool_matches_torch() -> None:
    import torch
    import torch.nn.functional as F

    x = np.random.default_rng(2).standard_normal((1, 2, 8, 8)).astype(np.float32)

    def build(network: trt.INetworkDefinition, t: trt.ITensor) -> trt.ITensor:
        layer = network.add_pooling_nd(t, trt.PoolingType.MAX, (3, 3))
        layer.stride_nd, layer.padding_nd = (2, 2), (1, 1)
        return _out(layer)

    (y,) = run_network(build, x)
    np.testing.assert_array_equal(y, F.max_pool2d(torch.from_numpy(x), 3, 2, 1).numpy())


# --- activation ----------------------------------------------------------------------------------
V = np.array([[-3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 7.0]], np.float32)
_ACTIVATIONS = [
    ("RELU", 0, 0, [0, 0, 0, 0, 0.5, 1, 7]),
    ("LEAKY_RELU", 0.1, 0, [-0.3, -0.1, -0.05, 0, 0.5, 1, 7]),
    ("CLIP", 0, 6, [0, 0, 0, 0, 0.5, 1, 6]),
    ("HARD_SIGMOID", 1 / 6, 0.5, [0, 1 / 3, 5 / 12, 0.5, 7 / 12, 2 / 3, 1]),
    ("THRESHOLDED_RELU", 0.5, 0, [0, 0, 0, 0, 0, 1, 7]),
    ("SOFTSIGN", 0, 0, V[0] / (1 + np.abs(V[0]))),
    ("SCALED_TANH", 2, 0.5, 2 * np.tanh(0.5 * V[0])),
    ("ELU", 1.5, 0, np.where(V[0] >= 0, V[0], 1.5 * np.expm1(V[0]))),
    ("SIGMOID", 0, 0, 1 / (1 + np.exp(-V[0]))),
    ("TANH", 0, 0, np.tanh(V[0])),
    ("SOFTPLUS", 0.5, 2, 0.5 * np.log1p(np.exp(2 * V[0]))),
]


@pytest.mark.parametrize(("kind", "alpha", "beta", "expected"), _ACTIVATIONS, ids=lambda v: str(v))
def test_activation_hand_computed(kind: str, alpha: float, beta: float, expected: object) -> None:
    def build(network: trt.INetworkDefinition, x: trt.ITensor) -> trt.ITensor:
        layer = network.add_activation(x, trt.ActivationType[kind])
        layer.alpha, layer.beta = alpha, beta
        return _out(layer)

    (y,) = run_network(build, V)
    np.testing.assert_allclose(y[0], expected, rtol=1e-6, atol=1e-7)


@pytest.mark.oracle
@pytest.mark.parametrize("kind", ["GELU_ERF", "GELU_TANH", "SELU"])
def test_activation_matches_torch(kind: str) -> None:
    import torch
    import torch.nn.functional as F

    x = np.linspace(-5, 5, 41, dtype=np.float32).reshape(1, 41)
    alpha, beta = (1.6732632423543772, 1.0507009873554805) if kind == "SELU" else (0.0, 0.0)

    def build(network: trt.INetworkDefinition, t: trt.ITensor) -> trt.ITensor:
        layer = network.add_activation(t, trt.ActivationType[kind])
        layer.alpha, layer.beta = alpha, beta
        return _out(layer)

    (y,) = run_network(build, x)
    xt = torch.from_numpy(x)
    ref = {"GELU_ERF": F.gelu(xt), "GELU_TANH": F.gelu(xt, approximate="tanh"),
           "SELU": F.selu(xt)}[kind].numpy()  # fmt: skip
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-6)


# --- scale ---------------------------------------------------------------------------------------
def test_scale_channel_hand_computed() -> None:
    x = np.ones((1, 2, 1, 2), np.float32) * 2

    def build(network: trt.INetworkDefinition, t: trt.ITensor) -> trt.ITensor:
        layer = network.add_scale_nd(
            t, trt.ScaleMode.CHANNEL, shift=np.array([1, -1], np.float32),
            scale=np.array([3, 0.5], np.float32), power=np.array([2, 1], np.float32),
            channel_axis=1,
        )  # fmt: skip
        return _out(layer)

    (y,) = run_network(build, x)
    np.testing.assert_allclose(y[0, :, 0, :], [[49, 49], [0, 0]])


def test_scale_uniform_and_elementwise() -> None:
    x = np.arange(4, dtype=np.float32).reshape(1, 1, 2, 2)
    (uniform, elementwise) = run_network(
        lambda n, t: [
            _out(n.add_scale(t, trt.ScaleMode.UNIFORM, scale=np.array([2], np.float32))),
            _out(n.add_scale(t, trt.ScaleMode.ELEMENTWISE, shift=np.arange(4, dtype=np.float32))),
        ],
        x,
    )
    np.testing.assert_array_equal(uniform, x * 2)
    np.testing.assert_array_equal(elementwise, x * 2)


# --- elementwise and unary ----------------------------------------------------------------------
def test_elementwise_broadcast_equal_rank() -> None:
    a = np.arange(6, dtype=np.float32).reshape(2, 1, 3)
    b = np.arange(12, dtype=np.float32).reshape(1, 4, 3)
    (y,) = run_network(
        lambda n, x, z: _out(n.add_elementwise(x, z, trt.ElementWiseOperation.SUM)), a, b
    )
    np.testing.assert_array_equal(y, a + b)
    assert y.shape == (2, 4, 3)


@pytest.mark.parametrize(
    ("op", "expected"),
    [("SUB", [-7, 5, 1]), ("PROD", [-10, 6, 12]), ("MAX", [2, 6, 4]), ("MIN", [-5, 1, 3]),
     ("DIV", [-2, 6, 1]), ("FLOOR_DIV", [-3, 6, 1])],
)  # fmt: skip
def test_elementwise_int32(op: str, expected: list[int]) -> None:
    a, b = np.array([-5, 6, 4], np.int32), np.array([2, 1, 3], np.int32)
    (y,) = run_network(
        lambda n, x, z: _out(n.add_elementwise(x, z, trt.ElementWiseOperation[op])), a, b
    )
    np.testing.assert_array_equal(y, expected)
    assert y.dtype == np.int32


def test_elementwise_comparison_gives_bool() -> None:
    a, b = np.array([1, 2, 3], np.float32), np.array([2, 2, 2], np.float32)
    outs = run_network(
        lambda n, x, z: [
            _out(n.add_elementwise(x, z, trt.ElementWiseOperation[op]))
            for op in ("LESS", "EQUAL", "GREATER")
        ],
        a,
        b,
    )
    assert [o.tolist() for o in outs] == [[True, False, False], [False, True, False],
                                          [False, False, True]]  # fmt: skip


@pytest.mark.parametrize(
    ("op", "values", "expected"),
    [("EXP", [0, 1], [1, np.e]), ("SQRT", [4, 9], [2, 3]), ("RECIP", [4, -2], [0.25, -0.5]),
     ("ROUND", [0.5, 1.5, 2.5, -0.5], [0, 2, 2, -0]), ("FLOOR", [-1.5, 1.5], [-2, 1]),
     ("NEG", [1, -2], [-1, 2]), ("ABS", [-3, 2], [3, 2]), ("SIGN", [-3, 0, 2], [-1, 0, 1])],
)  # fmt: skip
def test_unary_hand_computed(op: str, values: list[float], expected: list[float]) -> None:
    (y,) = run_network(
        lambda n, x: _out(n.add_unary(x, trt.UnaryOperation[op])), np.array(values, np.float32)
    )
    np.testing.assert_allclose(y, expected, rtol=1e-6)


@pytest.mark.oracle
def test_unary_erf_matches_torch() -> None:
    import torch

    x = np.linspace(-3, 3, 25, dtype=np.float32)
    (y,) = run_network(lambda n, t: _out(n.add_unary(t, trt.UnaryOperation.ERF)), x)
    np.testing.assert_allclose(y, torch.erf(torch.from_numpy(x)).numpy(), atol=2e-7)


def test_unary_not_and_isnan() -> None:
    flags = np.array([True, False])
    (y,) = run_network(lambda n, x: _out(n.add_unary(x, trt.UnaryOperation.NOT)), flags)
    assert y.tolist() == [False, True]
    values = np.array([np.nan, 1.0], np.float32)
    (z,) = run_network(lambda n, x: _out(n.add_unary(x, trt.UnaryOperation.ISNAN)), values)
    assert z.tolist() == [True, False]


# --- data movement -------------------------------------------------------------------------------
def test_concatenation_axis() -> None:
    a, b = np.zeros((1, 2, 2), np.float32), np.ones((1, 2, 3), np.float32)

    def build(network: trt.INetworkDefinition, x: trt.ITensor, z: trt.ITensor) -> trt.ITensor:
        layer = network.add_concatenation([x, z])
        layer.axis = 2
        return _out(layer)

    (y,) = run_network(build, a, b)
    np.testing.assert_array_equal(y, np.concatenate([a, b], axis=2))


def test_shuffle_reshape_with_placeholder_and_both_transposes() -> None:
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)

    def build(network: trt.INetworkDefinition, t: trt.ITensor) -> trt.ITensor:
        layer = network.add_shuffle(t)
        layer.first_transpose = (0, 2, 1)  # (2, 4, 3)
        layer.reshape_dims = (0, -1)  # (2, 12)
        layer.second_transpose = (1, 0)  # (12, 2)
        return _out(layer)

    (y,) = run_network(build, x)
    np.testing.assert_array_equal(y, x.transpose(0, 2, 1).reshape(2, 12).T)


def test_slice_strided_and_negative_stride() -> None:
    x = np.arange(10, dtype=np.float32).reshape(1, 10)
    outs = run_network(
        lambda n, t: [
            _out(n.add_slice(t, (0, 1), (1, 4), (1, 2))),
            _out(n.add_slice(t, (0, 9), (1, 3), (1, -3))),
        ],
        x,
    )
    assert outs[0].tolist() == [[1, 3, 5, 7]]
    assert outs[1].tolist() == [[9, 6, 3]]


@pytest.mark.parametrize(
    ("mode", "expected"),
    [("WRAP", [3, 0, 1, 2, 3, 0]), ("CLAMP", [0, 0, 1, 2, 3, 3]), ("FILL", [0, 0, 1, 2, 3, 0]),
     ("REFLECT", [1, 0, 1, 2, 3, 2])],
)  # fmt: skip
def test_slice_sample_modes(mode: str, expected: list[float]) -> None:
    x = np.arange(4, dtype=np.float32)

    def build(network: trt.INetworkDefinition, t: trt.ITensor) -> trt.ITensor:
        layer = network.add_slice(t, (-1,), (6,), (1,))
        layer.mode = trt.SampleMode[mode]
        return _out(layer)

    (y,) = run_network(build, x)
    assert y.tolist() == expected


def test_padding_pads_and_crops_the_last_two_dims() -> None:
    (y,) = run_network(lambda n, x: _out(n.add_padding_nd(x, (1, 0), (0, -1))), X33)
    expected = np.pad(X33[0, 0, :, :2], ((1, 0), (0, 0)))
    np.testing.assert_array_equal(y[0, 0], expected)


def test_constant_scalar_and_int32() -> None:
    def build(network: trt.INetworkDefinition, x: trt.ITensor) -> list[trt.ITensor]:
        scalar = _out(network.add_constant((), np.array(2.5, np.float32)))
        ints = _out(network.add_constant((2, 2), np.arange(4, dtype=np.int32)))
        return [_out(network.add_identity(scalar)), _out(network.add_identity(ints))]

    scalar, ints = run_network(build, X33)
    assert scalar.shape == () and scalar == 2.5
    assert ints.dtype == np.int32 and ints.tolist() == [[0, 1], [2, 3]]


# --- reductions and matmul -----------------------------------------------------------------------
@pytest.mark.parametrize("keep_dims", [True, False])
@pytest.mark.parametrize("op", ["SUM", "PROD", "MAX", "MIN", "AVG"])
def test_reduce_bitmask(op: str, keep_dims: bool) -> None:
    x = np.arange(1, 25, dtype=np.float32).reshape(2, 3, 4) / 8
    (y,) = run_network(
        lambda n, t: _out(n.add_reduce(t, trt.ReduceOperation[op], 0b110, keep_dims)), x
    )
    function = {"SUM": np.sum, "PROD": np.prod, "MAX": np.max, "MIN": np.min, "AVG": np.mean}[op]
    np.testing.assert_allclose(y, function(x, axis=(1, 2), keepdims=keep_dims), rtol=1e-5)


@pytest.mark.oracle
def test_softmax_matches_torch() -> None:
    import torch

    x = np.random.default_rng(3).standard_normal((2, 3, 4, 5)).astype(np.float32)

    def build(network: trt.INetworkDefinition, t: trt.ITensor) -> trt.ITensor:
        layer = network.add_softmax(t)
        layer.axes = 1 << 3
        return _out(layer)

    (y,) = run_network(build, x)
    np.testing.assert_allclose(y, torch.softmax(torch.from_numpy(x), 3).numpy(), rtol=1e-5)


@pytest.mark.parametrize(
    ("op0", "op1", "a_shape", "b_shape"),
    [("NONE", "NONE", (2, 3, 4), (1, 4, 5)), ("NONE", "TRANSPOSE", (3, 4), (5, 4)),
     ("TRANSPOSE", "NONE", (2, 4, 3), (2, 4, 5)), ("VECTOR", "NONE", (2, 4), (2, 4, 5)),
     ("NONE", "VECTOR", (2, 3, 4), (2, 4)), ("VECTOR", "VECTOR", (4,), (4,))],
)  # fmt: skip
def test_matrix_multiply(op0: str, op1: str, a_shape: tuple, b_shape: tuple) -> None:
    rng = np.random.default_rng(4)
    a = rng.standard_normal(a_shape).astype(np.float32)
    b = rng.standard_normal(b_shape).astype(np.float32)
    (y,) = run_network(
        lambda n, x, z: _out(
            n.add_matrix_multiply(x, trt.MatrixOperation[op0], z, trt.MatrixOperation[op1])
        ),
        a,
        b,
    )
    am = np.swapaxes(a, -1, -2) if op0 == "TRANSPOSE" else a
    bm = np.swapaxes(b, -1, -2) if op1 == "TRANSPOSE" else b
    if op0 == "VECTOR" and op1 == "VECTOR":
        ref = (am * bm).sum(-1)
    elif op0 == "VECTOR":
        ref = np.einsum("...k,...kn->...n", am, bm)
    elif op1 == "VECTOR":
        ref = np.einsum("...mk,...k->...m", am, bm)
    else:
        ref = am @ bm
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-6)


# --- cast and types ------------------------------------------------------------------------------
@pytest.mark.parametrize("op", ["MAX", "MIN"])
def test_topk_of_one_is_the_first_of_the_sorted_two(op: str) -> None:
    # k == 1 takes an arg-max/arg-min; k == 2 sorts: the same pick, ties and NaN included.
    rng = np.random.default_rng(0)
    x = rng.integers(-3, 4, (2, 5, 6, 7)).astype(np.float32)  # many ties
    x[0, 2, 0, 0] = -0.0
    x[1, :, 3, 3] = np.nan  # a NaN row: the sort puts NaN last
    x[1, 1, 2, 2] = np.nan
    x[1, :, 4, 4] = [np.inf, np.inf, -np.inf, 0, 0]

    def top(k: int) -> Callable[..., object]:
        def build(net: trt.INetworkDefinition, t: trt.ITensor) -> list[trt.ITensor]:
            layer = net.add_topk(t, getattr(trt.TopKOperation, op), k, 1 << 1)
            return [layer.get_output(0), layer.get_output(1)]

        return build

    clean = np.nan_to_num(x, nan=0.0)
    for data in (clean, x):  # without NaN (the arg-max path), then with
        one_values, one_index = run_network(top(1), data)
        two_values, two_index = run_network(top(2), data)
        np.testing.assert_array_equal(one_index, two_index[:, :1])
        np.testing.assert_array_equal(one_values, two_values[:, :1])
    want = clean.argmax(axis=1) if op == "MAX" else clean.argmin(axis=1)
    np.testing.assert_array_equal(run_network(top(1), clean)[1][:, 0], want)


def test_cast_float_to_int_truncates_and_to_half() -> None:
    x = np.array([-1.7, 0.5, 2.9], np.float32)
    ints, half = run_network(
        lambda n, t: [_out(n.add_cast(t, trt.int32)), _out(n.add_cast(t, trt.float16))], x
    )
    assert ints.tolist() == [-1, 0, 2] and ints.dtype == np.int32
    assert half.dtype == np.float16 and half.tolist() == x.astype(np.float16).tolist()


def test_cast_through_bf16_rounds_to_nearest_even() -> None:
    # 1 + 2**-8 is halfway between two bf16 values: ties go to even (1.0); 1 + 3*2**-8 goes up.
    x = np.array([1 + 2**-8, 1 + 3 * 2**-8, 3.0], np.float32)
    (y,) = run_network(
        lambda n, t: _out(n.add_cast(_out(n.add_cast(t, trt.bfloat16)), trt.float32)), x
    )
    assert y.tolist() == [1.0, 1 + 2**-6, 3.0]


def test_half_network_stays_half() -> None:
    x = np.array([[1.0, -2.0]], np.float16)
    (y,) = run_network(lambda n, t: _out(n.add_activation(t, trt.ActivationType.RELU)), x)
    assert y.dtype == np.float16 and y.tolist() == [[1.0, 0.0]]


@pytest.mark.oracle
def test_half_convolution_matches_torch_in_float32() -> None:
    import torch
    import torch.nn.functional as F

    rng = np.random.default_rng(7)
    x = rng.standard_normal((1, 3, 6, 6)).astype(np.float16)
    w = rng.standard_normal((2, 3, 3, 3)).astype(np.float16)
    (y,) = run_network(lambda n, t: _out(n.add_convolution_nd(t, 2, (3, 3), w)), x)
    assert y.dtype == np.float16
    ref = F.conv2d(torch.from_numpy(x).float(), torch.from_numpy(w).float()).numpy()
    np.testing.assert_allclose(y.astype(np.float32), ref, rtol=2e-3, atol=2e-3)


def test_dynamic_batch_flatten_keeps_the_symbolic_batch() -> None:
    builder = trt.Builder(trt.Logger())
    network = builder.create_network(0)
    x = network.add_input("x", trt.float32, (-1, 2, 3))
    shuffle = network.add_shuffle(x)
    shuffle.reshape_dims = (0, 6)
    assert shuffle.get_output(0).shape == (-1, 6)


# --- deconvolution -------------------------------------------------------------------------------
def test_deconvolution_hand_computed() -> None:
    x = np.array([[[[1, 2], [3, 4]]]], np.float32)
    kernel = np.ones((1, 1, 2, 2), np.float32)

    def build(network: trt.INetworkDefinition, t: trt.ITensor) -> trt.ITensor:
        layer = network.add_deconvolution_nd(t, 1, (2, 2), kernel)
        layer.stride_nd = (2, 2)
        return _out(layer)

    (y,) = run_network(build, x)
    # Stride 2 with a 2x2 window of ones: each input value fills its own 2x2 block.
    np.testing.assert_array_equal(y[0, 0], np.kron(x[0, 0], np.ones((2, 2))))


@pytest.mark.parametrize(
    ("size", "stride", "window", "pre", "post", "mode", "expected"),
    [(4, 2, 3, 1, 1, "EXPLICIT_ROUND_DOWN", 7), (4, 2, 3, 0, 0, "SAME_UPPER", 8),
     (4, 2, 1, 0, 0, "SAME_UPPER", 7), (4, 1, 3, 0, 0, "SAME_LOWER", 4)],
)  # fmt: skip
def test_deconvolution_output_size(
    size: int, stride: int, window: int, pre: int, post: int, mode: str, expected: int
) -> None:
    layer = trt.IDeconvolutionLayer.__new__(trt.IDeconvolutionLayer)
    got = layer._axis_output(size, window, stride, pre, post, trt.PaddingMode[mode])
    assert got[0] == expected


@pytest.mark.oracle
@pytest.mark.parametrize("groups", [1, 2])
def test_deconvolution_matches_torch(groups: int) -> None:
    import torch
    import torch.nn.functional as F

    rng = np.random.default_rng(8)
    x = rng.standard_normal((2, 4, 5, 4)).astype(np.float32)
    w = rng.standard_normal((4, 6 // groups, 3, 3)).astype(np.float32)
    b = rng.standard_normal(6).astype(np.float32)

    def build(network: trt.INetworkDefinition, t: trt.ITensor) -> trt.ITensor:
        layer = network.add_deconvolution_nd(t, 6, (3, 3), w, b)
        layer.num_groups = groups
        layer.stride_nd, layer.dilation_nd = (2, 1), (1, 2)
        # PyTorch padding=1, output_padding=(1, 0) -> pre = 1, post = 1 - output_padding.
        layer.pre_padding, layer.post_padding = (1, 1), (0, 1)
        return _out(layer)

    (y,) = run_network(build, x)
    ref = F.conv_transpose2d(
        torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b), stride=(2, 1),
        padding=1, output_padding=(1, 0), groups=groups, dilation=(1, 2),
    ).numpy()  # fmt: skip
    assert y.shape == ref.shape
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5)


# --- resize --------------------------------------------------------------------------------------
def test_resize_nearest_defaults_hand_computed() -> None:
    x = np.array([[[[1, 2], [3, 4]]]], np.float32)

    def build(network: trt.INetworkDefinition, t: trt.ITensor) -> trt.ITensor:
        layer = network.add_resize(t)
        assert layer.resize_mode == trt.InterpolationMode.NEAREST
        assert layer.coordinate_transformation == trt.ResizeCoordinateTransformation.ASYMMETRIC
        assert layer.nearest_rounding == trt.ResizeRoundMode.FLOOR
        layer.scales = [1.0, 1.0, 2.0, 1.5]
        return _out(layer)

    (y,) = run_network(build, x)
    # W: 2 * 1.5 = 3 outputs at sources 0, 2/3, 4/3 -> floor -> 0, 0, 1.
    np.testing.assert_array_equal(y[0, 0], [[1, 1, 2], [1, 1, 2], [3, 3, 4], [3, 3, 4]])


def test_resize_linear_align_corners_hand_computed() -> None:
    x = np.array([[0.0, 3.0]], np.float32)

    def build(network: trt.INetworkDefinition, t: trt.ITensor) -> trt.ITensor:
        layer = network.add_resize(t)
        layer.shape = (1, 4)
        layer.resize_mode = trt.InterpolationMode.LINEAR
        layer.coordinate_transformation = trt.ResizeCoordinateTransformation.ALIGN_CORNERS
        return _out(layer)

    (y,) = run_network(build, x)
    np.testing.assert_allclose(y, [[0, 1, 2, 3]], atol=1e-6)


@pytest.mark.oracle
@pytest.mark.parametrize(
    ("mode", "transform", "align_corners"),
    [("NEAREST", "ASYMMETRIC", None), ("LINEAR", "HALF_PIXEL", False),
     ("LINEAR", "ALIGN_CORNERS", True)],
)  # fmt: skip
def test_resize_matches_torch_interpolate(
    mode: str, transform: str, align_corners: bool | None
) -> None:
    import torch
    import torch.nn.functional as F

    x = np.random.default_rng(9).standard_normal((1, 2, 3, 5)).astype(np.float32)

    def build(network: trt.INetworkDefinition, t: trt.ITensor) -> trt.ITensor:
        layer = network.add_resize(t)
        layer.shape = (1, 2, 7, 4)
        layer.resize_mode = trt.InterpolationMode[mode]
        layer.coordinate_transformation = trt.ResizeCoordinateTransformation[transform]
        return _out(layer)

    (y,) = run_network(build, x)
    torch_mode = "nearest" if mode == "NEAREST" else "bilinear"
    ref = F.interpolate(torch.from_numpy(x), size=(7, 4), mode=torch_mode,
                        align_corners=align_corners).numpy()  # fmt: skip
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    ("shape", "reshape", "expected"),
    [((-1, 2, 3), (0, -1), (-1, 6)), ((-1, 2, 3), (-1, 3), (-1, 3)), ((4, 2, 3), (0, -1), (4, 6)),
     ((4, 2, 3), (-1,), (24,)), ((2, -1, 3), (0, 0, 3), (2, -1, 3))],
)  # fmt: skip
def test_reshape_inference_with_dynamic_dims(
    shape: tuple[int, ...], reshape: tuple[int, ...], expected: tuple[int, ...]
) -> None:
    network = trt.Builder(trt.Logger()).create_network(0)
    layer = network.add_shuffle(network.add_input("x", trt.float32, shape))
    layer.reshape_dims = reshape
    assert layer.get_output(0).shape == expected

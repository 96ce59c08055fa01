"""The emulator behaves as NVIDIA's real builder (TensorRT-RTX on the CPU) where they differed.

Every test runs on the emulator ("emulated") and, marked ``rtx``, on TensorRT-RTX with the same
assertions. Where TensorRT 11.4's documentation says otherwise the emulator keeps the documented
rule: those tests say so (NOTE) and assert each product's own behaviour.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from trtdsl.backends.trt import import_trt
from trtdsl.backends.trt.logger import CapturingLogger
from trtdsl.backends.trt.module import downcast_layer, is_emulator, shared_logger

MODULES = [
    pytest.param("emulated", id="emulated"),
    pytest.param("tensorrt-rtx", id="rtx", marks=pytest.mark.rtx),
]

FLOAT32_MAX = float(np.finfo(np.float32).max)


def f32(value: float) -> float:
    """``value`` rounded to float32, as TensorRT stores alpha and beta."""
    return float(np.float32(value))


@dataclass
class Net:
    """A fresh network on one module, with the process's shared logger."""

    trt: ModuleType
    logger: CapturingLogger
    builder: Any
    network: Any
    since: int

    def input(self, name: str, shape: tuple[int, ...], dtype: str = "float32") -> Any:
        return self.network.add_input(name, getattr(self.trt, dtype), shape)

    def errors(self) -> list[str]:
        """Errors logged since the network was made (or since the last ``errors()``).

        Without a GPU, TensorRT-RTX follows each error with a "cudaError 35" one from its CUDA
        error check; those are left out.
        """
        errors = self.logger.errors(self.since)
        self.since = self.logger.mark()
        return [e for e in errors if "cudaError 35" not in e]

    def build(self, *outputs: Any, profile: Any = None) -> bytes | None:
        for tensor in outputs:
            self.network.mark_output(tensor)
        config = self.builder.create_builder_config()
        if profile is not None:
            config.add_optimization_profile(profile)
        plan = self.builder.build_serialized_network(self.network, config)
        return None if plan is None else bytes(plan)


@pytest.fixture(params=MODULES)
def net(request: pytest.FixtureRequest) -> Net:
    trt = import_trt(request.param)
    logger = shared_logger(trt)  # one ILogger per process: a second one can deadlock TensorRT
    builder = trt.Builder(logger.trt_logger)
    return Net(trt, logger, builder, builder.create_network(0), logger.mark())


def _shape_fails(net: Net, tensor: Any) -> None:
    """Reading ``tensor.shape`` raises RuntimeError; the cause is in the logger."""
    net.errors()
    with pytest.raises(RuntimeError, match=r"Could not get tensor shape\."):
        tensor.shape  # noqa: B018
    assert net.errors(), "the cause of the shape failure should be logged"


# -- activation defaults and parameters ------------------------------------------------------

ACTIVATION_DEFAULTS = {
    "LEAKY_RELU": (0.01, 0.0),
    "ELU": (1.0, 0.0),
    "SELU": (1.6732632423543772, 1.0507009873554805),
    "SOFTPLUS": (1.0, 1.0),
    "CLIP": (-FLOAT32_MAX, FLOAT32_MAX),
    "HARD_SIGMOID": (0.2, 0.5),
    "SCALED_TANH": (1.0, 1.0),
    "THRESHOLDED_RELU": (1.0, 0.0),
}
"""(alpha, beta) that add_activation sets per type (TensorRT-RTX 1.7; 11.4 documents none);
every other type gets (0, 0)."""


def test_activation_defaults_depend_on_the_type(net: Net) -> None:
    x = net.input("x", (1, 2))
    for kind in net.trt.ActivationType.__members__.values():
        layer = net.network.add_activation(x, kind)
        alpha, beta = ACTIVATION_DEFAULTS.get(kind.name, (0.0, 0.0))
        assert (layer.alpha, layer.beta) == (f32(alpha), f32(beta)), kind.name
    layer = net.network.add_activation(x, net.trt.ActivationType.RELU)
    layer.type = net.trt.ActivationType.LEAKY_RELU  # a later type change keeps alpha and beta
    assert (layer.alpha, layer.beta) == (0.0, 0.0)


def test_activation_alpha_and_beta_are_finite_float32(net: Net) -> None:
    layer = net.network.add_activation(net.input("x", (1, 2)), net.trt.ActivationType.CLIP)
    layer.alpha, layer.beta = 0.1, 1.0 / 3.0
    assert (layer.alpha, layer.beta) == (f32(0.1), f32(1.0 / 3.0))
    net.errors()
    layer.alpha = -math.inf
    layer.beta = 1e39  # beyond float32: infinite once stored
    assert (layer.alpha, layer.beta) == (f32(0.1), f32(1.0 / 3.0))  # refused, values kept
    assert len(net.errors()) == 2


# -- get_layer returns a base ILayer -----------------------------------------------------------


def test_get_layer_returns_a_base_ilayer_that_shares_the_layer(net: Net) -> None:
    trt = net.trt
    layer = net.network.add_activation(net.input("x", (1, 2)), trt.ActivationType.LEAKY_RELU)
    view = net.network.get_layer(0)
    assert type(view) is trt.ILayer and type(net.network[0]) is trt.ILayer
    assert view.type == trt.LayerType.ACTIVATION
    with pytest.raises(AttributeError):
        view.alpha  # noqa: B018
    view.name = "act"
    assert layer.name == "act"  # one layer behind both objects
    view.__class__ = trt.IActivationLayer  # the downcast Polygraphy and trtdsl use
    assert view.type == trt.ActivationType.LEAKY_RELU and view.alpha == f32(0.01)
    view.alpha = 0.5
    assert layer.alpha == 0.5
    again = downcast_layer(trt, net.network[-1])
    assert isinstance(again, trt.IActivationLayer) and again.name == "act"


def test_layer_indices_out_of_range(net: Net) -> None:
    layer = net.network.add_identity(net.input("x", (1, 2)))
    net.errors()
    assert net.network.get_layer(1) is None and net.network.get_layer(-1) is None
    with pytest.raises(IndexError):
        net.network[1]  # noqa: B018
    assert layer.get_input(1) is None and layer.get_output(1) is None
    assert len(net.errors()) == 3  # get_layer twice and get_output; get_input logs nothing


# -- invalid layers: add_* returns the layer, its shape cannot be computed ----------------------

INVALID: dict[str, tuple[Callable[[Net], Any], str]] = {
    "conv-rank3": (
        lambda n: n.network.add_convolution_nd(
            n.input("x", (3, 8, 8)), 2, (1, 1), np.ones(6, np.float32)
        ),
        "FLOAT",
    ),
    "conv-int32": (
        lambda n: n.network.add_convolution_nd(
            n.input("x", (1, 3, 8, 8), "int32"), 2, (1, 1), np.ones(6, np.float32)
        ),
        "INT32",
    ),
    "elementwise-dtypes": (
        lambda n: n.network.add_elementwise(
            n.input("a", (1, 2)), n.input("b", (1, 2), "float16"), n.trt.ElementWiseOperation.SUM
        ),
        "FLOAT",
    ),
    "elementwise-ranks": (
        lambda n: n.network.add_elementwise(
            n.input("a", (1, 2)), n.input("b", (2,)), n.trt.ElementWiseOperation.SUM
        ),
        "FLOAT",
    ),
    "and-on-floats": (
        lambda n: n.network.add_elementwise(
            n.input("a", (1, 2)), n.input("b", (1, 2)), n.trt.ElementWiseOperation.AND
        ),
        "BOOL",
    ),
    "not-on-float": (
        lambda n: n.network.add_unary(n.input("x", (1, 2)), n.trt.UnaryOperation.NOT),
        "FLOAT",
    ),
    "concat-dtypes": (
        lambda n: n.network.add_concatenation(
            [n.input("a", (1, 2)), n.input("b", (1, 2), "float16")]
        ),
        "FLOAT",
    ),
    "matmul-inner": (
        lambda n: n.network.add_matrix_multiply(
            n.input("a", (2, 3)),
            n.trt.MatrixOperation.NONE,
            n.input("b", (4, 2)),
            n.trt.MatrixOperation.NONE,
        ),
        "FLOAT",
    ),
    "reduce-axes": (
        lambda n: n.network.add_reduce(n.input("x", (1, 2)), n.trt.ReduceOperation.SUM, 4, True),
        "FLOAT",
    ),
    "softmax-int32": (lambda n: n.network.add_softmax(n.input("x", (1, 2), "int32")), "INT32"),
    "sigmoid-int32": (
        lambda n: n.network.add_activation(
            n.input("x", (1, 2), "int32"), n.trt.ActivationType.SIGMOID
        ),
        "INT32",
    ),
    "average-pool-padding-equals-window": (
        lambda n: _set(
            n.network.add_pooling_nd(n.input("x", (1, 1, 4, 4)), n.trt.PoolingType.AVERAGE, (2, 2)),
            padding_nd=(2, 2),
        ),
        "FLOAT",
    ),
    "reshape-volume": (
        lambda n: _set(n.network.add_shuffle(n.input("x", (1, 6))), reshape_dims=(4, 2)),
        "FLOAT",
    ),
    "constant-uint8": (
        lambda n: n.network.add_constant((2,), np.array([1, 2], np.uint8)),
        "UINT8",
    ),
    "select-float-condition": (
        lambda n: n.network.add_select(
            n.input("c", (2, 3)), n.input("t", (2, 3)), n.input("e", (2, 3))
        ),
        "FLOAT",
    ),
    "select-then-else-types": (
        lambda n: n.network.add_select(
            n.input("c", (2, 3), "bool"), n.input("t", (2, 3)), n.input("e", (2, 3), "float16")
        ),
        "FLOAT",
    ),
    "select-ranks": (
        lambda n: n.network.add_select(
            n.input("c", (3,), "bool"), n.input("t", (2, 3)), n.input("e", (2, 3))
        ),
        "FLOAT",
    ),
    "attention-mask-rank-2": (lambda n: _attention(n, mask=((2, 4), "bool")), "FLOAT"),
    "attention-mask-int32": (lambda n: _attention(n, mask=((2, 1, 1, 4), "int32")), "FLOAT"),
    "attention-mask-not-broadcastable": (
        lambda n: _attention(n, mask=((3, 1, 1, 4), "bool")),
        "FLOAT",
    ),
}


def _attention(
    n: Net, mask: tuple[tuple[int, ...], str] | None = None, causal: bool = False, tag: str = ""
) -> Any:
    """A decomposable IAttention on (2, 3, 4, 8) q, k, v (inputs named ``q{tag}``, ...), with
    ``mask`` (shape, dtype)."""
    q, k, v = (n.input(name + tag, (2, 3, 4, 8)) for name in "qkv")
    kind = n.trt.CausalMaskKind.UPPER_LEFT if causal else n.trt.CausalMaskKind.NONE
    attention = n.network.add_attention_v2(q, k, v, n.trt.AttentionNormalizationOp.SOFTMAX, kind)
    attention.decomposable = True
    if mask is not None:
        attention.mask = n.input("m" + tag, *mask)
    return attention


def _set(layer: Any, **properties: Any) -> Any:
    for name, value in properties.items():
        setattr(layer, name, value)
    return layer


@pytest.mark.parametrize("case", list(INVALID))
def test_invalid_layer_is_returned_and_its_shape_cannot_be_computed(net: Net, case: str) -> None:
    make, dtype = INVALID[case]
    layer = make(net)
    assert layer is not None, "add_* returns the layer; the error comes with its shape"
    output = layer.get_output(0)
    _shape_fails(net, output)
    assert output.dtype == getattr(net.trt.DataType, dtype)  # the dtype is still known
    assert net.build(output) is None
    assert net.errors()


ARGUMENT_ERRORS: dict[str, Callable[[Net], Any]] = {
    "concat-nothing": lambda n: n.network.add_concatenation([]),
    "reduce-none": lambda n: n.network.add_reduce(
        n.input("x", (1, 2)), n.trt.ReduceOperation.NONE, 1, True
    ),
    "scale-weights-of-two-types": lambda n: n.network.add_scale(
        n.input("x", (1, 2, 3, 3)), n.trt.ScaleMode.CHANNEL, scale=np.ones(2, np.float16)
    ),  # shift and power default to empty weights of the input's type, float32
    "duplicate-input": lambda n: (n.input("x", (1, 2)), n.input("x", (1, 2)))[1],
    "input-dim-below-minus-one": lambda n: n.input("x", (1, -2)),
    "cumulative-axis-not-0d": lambda n: n.network.add_cumulative(
        n.input("x", (2, 5)),
        n.network.add_constant((1,), np.array([1], np.int32)).get_output(0),
        n.trt.CumulativeOperation.SUM,
        False,
        False,
    ),
}


@pytest.mark.parametrize("case", list(ARGUMENT_ERRORS))
def test_argument_errors_make_add_return_none(net: Net, case: str) -> None:
    assert ARGUMENT_ERRORS[case](net) is None
    assert net.errors()


# -- what the real builder accepts --------------------------------------------------------------

ACCEPTED: dict[str, tuple[Callable[[Net], Any], tuple[int, ...]]] = {
    "relu-int32": (
        lambda n: n.network.add_activation(
            n.input("x", (1, 2), "int32"), n.trt.ActivationType.RELU
        ),
        (1, 2),
    ),
    "pow-int32": (
        lambda n: n.network.add_elementwise(
            n.input("a", (1, 2), "int32"),
            n.input("b", (1, 2), "int32"),
            n.trt.ElementWiseOperation.POW,
        ),
        (1, 2),
    ),
    "max-pool-padding-above-window": (
        lambda n: _set(
            n.network.add_pooling_nd(n.input("x", (1, 1, 4, 4)), n.trt.PoolingType.MAX, (2, 2)),
            padding_nd=(3, 3),
        ),
        (1, 1, 9, 9),
    ),
    "average-pool-counting-padding-equal-to-window": (
        lambda n: _set(
            n.network.add_pooling_nd(n.input("x", (1, 1, 4, 4)), n.trt.PoolingType.AVERAGE, (2, 2)),
            padding_nd=(2, 2),
            average_count_excludes_padding=False,
        ),
        (1, 1, 7, 7),
    ),
    "average-pool-same-padding-ignores-explicit": (
        lambda n: _set(
            n.network.add_pooling_nd(n.input("x", (1, 1, 4, 4)), n.trt.PoolingType.AVERAGE, (2, 2)),
            padding_nd=(2, 2),
            padding_mode=n.trt.PaddingMode.SAME_UPPER,
        ),
        (1, 1, 4, 4),
    ),
    "resize-without-shape-or-scales": (
        lambda n: n.network.add_resize(n.input("x", (1, 1, 3, 5))),
        (1, 1, 3, 5),
    ),
}


@pytest.mark.parametrize("case", list(ACCEPTED))
def test_layers_the_real_builder_accepts(net: Net, case: str) -> None:
    make, shape = ACCEPTED[case]
    output = make(net).get_output(0)
    assert tuple(output.shape) == shape
    assert net.build(output) is not None, net.errors()


def test_resize_shape_defaults_to_the_input_shape(net: Net) -> None:
    layer = net.network.add_resize(net.input("x", (1, 1, 3, 5)))
    assert tuple(layer.shape) == (1, 1, 3, 5) and list(layer.scales) == []
    layer.scales = [1.0, 1.0, 2.0, 2.0]
    assert layer.shape is None and tuple(layer.get_output(0).shape) == (1, 1, 6, 10)


BUILD_CHECKS: dict[str, Callable[[Net], Any]] = {
    "slice-out-of-bounds": lambda n: n.network.add_slice(
        n.input("x", (1, 2, 3, 4)), (0, 0, 0, 2), (1, 2, 3, 4), (1, 1, 1, 1)
    ),
    "cast-to-fp8": lambda n: n.network.add_cast(n.input("x", (1, 2)), n.trt.fp8),
    "attention-float-mask-of-another-type": lambda n: _attention(n, mask=((1, 1, 4, 4), "float16")),
}


@pytest.mark.parametrize("case", list(BUILD_CHECKS))
def test_checks_only_the_build_makes(net: Net, case: str) -> None:
    output = BUILD_CHECKS[case](net).get_output(0)
    output.shape  # noqa: B018  (shape inference accepts it)
    assert not net.errors()
    assert net.build(output) is None
    assert net.errors()


@pytest.mark.parametrize("axis", [None, 0, 1])
def test_one_element_quantization_scale_is_per_tensor(net: Net, axis: int | None) -> None:
    trt = net.trt
    scale = net.network.add_constant((1,), np.array([0.5], np.float32)).get_output(0)
    q = net.network.add_quantize(net.input("x", (1, 3, 4, 4)), scale, trt.int8)
    dq = net.network.add_dequantize(q.get_output(0), scale, trt.float32)
    if axis is not None:  # a valid axis changes nothing; the default is -1
        q.axis = dq.axis = axis
    assert tuple(dq.get_output(0).shape) == (1, 3, 4, 4)
    assert net.build(dq.get_output(0)) is not None, net.errors()


# -- softmax axes ---------------------------------------------------------------------------------


def test_softmax_axes_need_exactly_one_bit(net: Net) -> None:
    layer = net.network.add_softmax(net.input("x", (1, 3, 4, 5)))
    assert layer.axes == 1 << 1  # rank - 3
    net.errors()
    layer.axes = 0b1100  # several axes: refused, the previous axis kept
    assert layer.axes == 1 << 1 and len(net.errors()) == 1
    layer.axes = 0
    assert layer.axes == 1 << 1 and len(net.errors()) == 1
    layer.axes = 1 << 3
    assert layer.axes == 1 << 3 and not net.errors()
    layer.axes = 1 << 6  # one bit, but beyond the rank: accepted, shape inference fails
    assert layer.axes == 1 << 6
    _shape_fails(net, layer.get_output(0))
    layer.axes = 1 << 2
    assert net.build(layer.get_output(0)) is not None


# -- optimization profiles -----------------------------------------------------------------------


def _dynamic_identity(net: Net) -> Any:
    return net.network.add_identity(net.input("x", (-1, 2))).get_output(0)


def test_profile_min_above_max_is_refused_when_added(net: Net) -> None:
    output = _dynamic_identity(net)
    profile = net.builder.create_optimization_profile()
    profile.set_shape("x", (4, 2), (2, 2), (1, 2))  # accepted: validated later
    assert [tuple(d) for d in profile.get_shape("x")] == [(4, 2), (2, 2), (1, 2)]
    assert not profile  # bool(profile) is IOptimizationProfile::isValid
    config = net.builder.create_builder_config()
    assert config.add_optimization_profile(profile) == -1
    assert net.errors()
    net.network.mark_output(output)
    assert net.builder.build_serialized_network(net.network, config) is None
    assert net.errors()


def test_profile_with_different_ranks_is_refused_when_added(net: Net) -> None:
    profile = net.builder.create_optimization_profile()
    profile.set_shape("x", (1,), (2, 2), (4, 2))
    assert net.builder.create_builder_config().add_optimization_profile(profile) == -1


def test_profile_negative_dimension_raises(net: Net) -> None:
    _dynamic_identity(net)
    profile = net.builder.create_optimization_profile()
    with pytest.raises(RuntimeError, match="Shape provided for min is inconsistent"):
        profile.set_shape("x", (-1, 2), (2, 2), (4, 2))
    assert net.errors()


def test_valid_profile_builds(net: Net) -> None:
    output = _dynamic_identity(net)
    profile = net.builder.create_optimization_profile()
    profile.set_shape("x", (1, 2), (2, 2), (4, 2))
    assert profile
    assert net.build(output, profile=profile) is not None


# -- documented rules the emulator keeps ---------------------------------------------------------


def test_scale_input_rank_below_four(net: Net) -> None:
    """NOTE: TensorRT 11.4 documents that IScaleLayer's input "is required to have at least 4
    dimensions" (NvInfer.h); TensorRT-RTX 1.7 accepts and builds a rank-3 input. The emulator
    keeps the documented rule."""
    layer = net.network.add_scale(net.input("x", (3, 4, 4)), net.trt.ScaleMode.UNIFORM)
    if is_emulator(net.trt):
        _shape_fails(net, layer.get_output(0))
    else:
        assert tuple(layer.get_output(0).shape) == (3, 4, 4)
        assert net.build(layer.get_output(0)) is not None


def test_bool_constant(net: Net) -> None:
    """NOTE: TensorRT 11.4 documents that IConstantLayer "does not support boolean and uint8
    types"; TensorRT-RTX 1.7 refuses uint8 (see INVALID) but builds a bool constant. The
    emulator keeps the documented rule."""
    layer = net.network.add_constant((2,), np.array([True, False]))
    assert layer.get_output(0).dtype == net.trt.bool
    if is_emulator(net.trt):
        _shape_fails(net, layer.get_output(0))
    else:
        assert net.build(layer.get_output(0)) is not None


def _counted_loop(
    n: Net, next_value: bool = True, trips: tuple[str, ...] = ("COUNT",), last: str = "recurrence"
) -> Any:
    """x (2,) -> a loop adding 1 to it; returns the tensor to mark as the output."""
    loop = n.network.add_loop()
    recurrence = loop.add_recurrence(n.input("x", (2,)))
    one = n.network.add_constant((1,), np.ones(1, np.float32)).get_output(0)
    plus_one = n.network.add_elementwise(
        recurrence.get_output(0), one, n.trt.ElementWiseOperation.SUM
    ).get_output(0)
    if next_value:
        recurrence.set_input(1, plus_one)
    for kind in trips:
        count = n.network.add_constant((), np.array(3, np.int32)).get_output(0)
        loop.add_trip_limit(count, getattr(n.trt.TripLimit, kind))
    if last == "body":
        return plus_one
    read = recurrence.get_output(0) if last == "recurrence" else plus_one
    return loop.add_loop_output(read, n.trt.LoopOutput.LAST_VALUE).get_output(0)


LOOP_BUILDS: dict[str, tuple[Callable[[Net], Any], bool]] = {
    "counted": (lambda n: _counted_loop(n), True),
    "no-trip-limit": (lambda n: _counted_loop(n, trips=()), False),
    "two-count-limits": (lambda n: _counted_loop(n, trips=("COUNT", "COUNT")), False),
    "next-value-not-set": (lambda n: _counted_loop(n, next_value=False), False),
    "last-value-of-a-body-tensor": (lambda n: _counted_loop(n, last="plus_one"), False),
    "network-output-inside-the-loop": (lambda n: _counted_loop(n, last="body"), False),
}


@pytest.mark.parametrize("case", list(LOOP_BUILDS))
def test_loop_rules_checked_by_the_build(net: Net, case: str) -> None:
    make, builds = LOOP_BUILDS[case]
    output = make(net)
    assert tuple(output.shape) == (2,)
    assert (net.build(output) is not None) == builds, net.errors()
    assert bool(net.errors()) != builds


def test_recurrence_next_value_must_keep_the_shape(net: Net) -> None:
    loop = net.network.add_loop()
    recurrence = loop.add_recurrence(net.input("x", (2,)))
    doubled = net.network.add_concatenation([recurrence.get_output(0)] * 2)
    recurrence.set_input(1, doubled.get_output(0))
    assert recurrence.num_inputs == 2 and recurrence.get_input(1) is doubled.get_output(0)
    count = net.network.add_constant((), np.array(3, np.int32)).get_output(0)
    limit = loop.add_trip_limit(count, net.trt.TripLimit.COUNT)
    assert limit.num_outputs == 0 and limit.type == net.trt.LayerType.TRIP_LIMIT
    out = loop.add_loop_output(recurrence.get_output(0), net.trt.LoopOutput.LAST_VALUE)
    assert out.kind == net.trt.LoopOutput.LAST_VALUE and out.loop is not None
    assert net.build(out.get_output(0)) is None
    assert any("shape" in e for e in net.errors())


@pytest.mark.parametrize(
    ("indices", "builds"), [((2, 3, 4), True), ((2, 3, 1), True), ((2, 3, 6), False)]
)
def test_element_gather_takes_the_shape_of_its_indices(
    net: Net, indices: tuple[int, ...], builds: bool
) -> None:
    """ELEMENT mode (GatherElements): indices of the data's rank, no larger than the data
    outside the axis (checked by the build only)."""
    layer = net.network.add_gather(net.input("x", (2, 5, 4)), net.input("i", indices, "int32"), 1)
    layer.mode = net.trt.GatherMode.ELEMENT
    assert tuple(layer.get_output(0).shape) == indices
    assert (net.build(layer.get_output(0)) is not None) == builds, net.errors()


# -- attention masks and causal kinds ----------------------------------------------------------


@pytest.mark.parametrize(
    ("mask", "causal"),
    [(None, True), (((2, 1, 1, 4), "bool"), False), (((1, 3, 4, 4), "float32"), False)],
)
def test_attention_takes_a_mask_or_a_causal_kind(
    net: Net, mask: tuple[tuple[int, ...], str] | None, causal: bool
) -> None:
    """The mask is the input layer's fourth input, read with ``IAttention.mask`` (not
    ``get_input``); a 4-D bool or query-typed float mask broadcastable to (B, H, Sq, Skv)."""
    attention = _attention(net, mask, causal)
    output = attention.get_output(0)
    assert tuple(output.shape) == (2, 3, 4, 8)
    assert attention.num_inputs == (4 if mask else 3)
    assert (attention.mask is None) == (mask is None)
    net.errors()
    assert attention.get_input(3) is None and net.errors()  # the mask is not an input of it
    layer = net.network.get_layer(0)
    assert layer.type == net.trt.LayerType.ATTENTION_INPUT
    assert layer.num_inputs == (4 if mask else 3)
    assert net.build(output) is not None, net.errors()


def test_attention_mask_and_causal_kind_exclude_one_another(net: Net) -> None:
    attention = _attention(net, causal=True)
    net.errors()
    attention.mask = net.input("m", (2, 1, 1, 4), "bool")  # refused, logged
    assert attention.mask is None and attention.num_inputs == 3 and net.errors()
    masked = _attention(net, mask=((2, 1, 1, 4), "bool"), tag="2")
    with pytest.raises(RuntimeError, match="Failed to set Attention's CausalMaskKind"):
        masked.causal_kind = net.trt.CausalMaskKind.UPPER_LEFT
    assert masked.causal_kind == net.trt.CausalMaskKind.NONE and net.errors()


@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16", "int32", "int64"])
def test_cumulative_takes_a_0d_axis_and_keeps_the_input_type(net: Net, dtype: str) -> None:
    axis = net.network.add_constant((), np.array(1, np.int32)).get_output(0)
    layer = net.network.add_cumulative(
        net.input("x", (2, 5), dtype), axis, net.trt.CumulativeOperation.SUM, True, True
    )
    assert (layer.exclusive, layer.reverse, layer.num_inputs) == (True, True, 2)
    output = layer.get_output(0)
    assert tuple(output.shape) == (2, 5) and output.dtype == getattr(net.trt, dtype)
    assert net.build(output) is not None, net.errors()


def test_select_broadcasts_between_equal_ranks(net: Net) -> None:
    layer = net.network.add_select(
        net.input("c", (1, 3), "bool"),
        net.input("t", (2, 1), "int64"),
        net.input("e", (2, 3), "int64"),
    )
    output = layer.get_output(0)
    assert tuple(output.shape) == (2, 3) and output.dtype == net.trt.int64
    assert net.build(output) is not None, net.errors()

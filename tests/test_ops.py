"""Op library: shape inference of every case, parameter specs, MACs, hand-computed references."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from cases import CASES, ERROR_CASES, OpCase, case_arrays, case_input_types

from trtdsl.errors import ShapeError
from trtdsl.ir.ops import OPS, make_op
from trtdsl.ir.ops.conv import Conv2d
from trtdsl.ir.ops.linear import Linear
from trtdsl.ir.ops.pooling import MaxPool2d
from trtdsl.ir.types import DType, TensorType


def f32(*shape: int | str) -> TensorType:
    return TensorType(DType.FLOAT32, shape)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_infer_matches_expected_shapes(case: OpCase) -> None:
    outs = case.op.infer_outputs(case_input_types(case))
    assert tuple(o.shape for o in outs) == case.expected_shapes
    assert outs == case.output_types()


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_reference_agrees_with_infer(case: OpCase) -> None:
    inputs, params = case_arrays(case)
    out = case.op.reference(inputs, params)
    outs = out if isinstance(out, tuple) else (out,)
    assert tuple(o.shape for o in outs) == case.expected_shapes
    for o, t in zip(outs, case.output_types(), strict=True):
        assert o.dtype == t.dtype.to_numpy()
    assert all(np.isfinite(o).all() for o in outs)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_case_arrays_match_param_specs(case: OpCase) -> None:
    inputs, params = case_arrays(case, seed=3)
    specs = case.op.params(case_input_types(case))
    assert set(params) == {role for role, spec in specs.items() if not spec.optional}
    for role, array in params.items():
        assert array.shape == specs[role].shape
        assert array.dtype == specs[role].dtype.to_numpy()
    again, _ = case_arrays(case, seed=3)
    assert all(np.array_equal(a, b) for a, b in zip(inputs, again, strict=True))
    other, _ = case_arrays(case, seed=4)
    assert not inputs or not all(np.array_equal(a, b) for a, b in zip(inputs, other, strict=True))
    if "running_var" in params:
        assert (params["running_var"] > 0).all()


def test_every_op_has_cases_and_error_cases() -> None:
    covered = {type(c.op).op_name for c in CASES}
    assert covered == set(OPS), f"ops without a case: {sorted(set(OPS) - covered)}"
    for case in CASES:
        assert case.id == case.op.op_name or case.id.startswith(case.op.op_name + "-")
    attribute_errors = {e.op_name for e in ERROR_CASES if e.input_shapes is None}
    with_attributes = {name for name, cls in OPS.items() if dataclasses.fields(cls)}
    missing = with_attributes - attribute_errors
    assert not missing, f"ops with attributes but no attribute error case: {sorted(missing)}"
    assert len({e.id for e in ERROR_CASES}) == len(ERROR_CASES)


def test_only_identity_and_dropout_are_noops() -> None:
    assert {name for name, cls in OPS.items() if cls.is_noop} == {"identity", "dropout"}


def test_pool_stride_none_means_kernel_size() -> None:
    assert MaxPool2d(3) == MaxPool2d(kernel_size=3, stride=3) == MaxPool2d((3, 3), [3, 3])
    assert MaxPool2d(3).stride == (3, 3)


# -- MACs -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "shape", "expected"),
    [
        # 64 x 112 x 112 outputs, each 3 x 7 x 7 MACs (ResNet-50 stem).
        (dict(out_channels=64, kernel_size=7, stride=2, padding=3), (1, 3, 224, 224), 118013952),
        # depthwise: 2 x 6 x 5 x 5 outputs x (1 x 3 x 3).
        (dict(out_channels=6, kernel_size=3, stride=2, padding=1, groups=6), (2, 6, 9, 9), 2700),
        # grouped: 8 x 5 x 5 outputs x (2 x 3 x 3).
        (dict(out_channels=8, kernel_size=3, padding=1, groups=2), (1, 4, 5, 5), 3600),
    ],
)
def test_conv_macs(kwargs: dict[str, object], shape: tuple[int, ...], expected: int) -> None:
    op = make_op("conv2d", kwargs)
    x = f32(*shape)
    assert op.macs([x], op.infer_outputs([x])) == expected


def test_linear_and_symbolic_macs() -> None:
    op = Linear(1000)
    x = f32("N", 2048)
    out = op.infer_outputs([x])
    assert op.macs([x], out) == 2048000
    assert op.macs([x], out, {"N": 8}) == 8 * 2048000
    conv = Conv2d(4, 1)
    y = f32("N", 2, 3, 3)
    assert conv.macs([y], conv.infer_outputs([y]), {"N": 2}) == 2 * 4 * 9 * 2


def test_other_ops_count_no_macs() -> None:
    for case in CASES:
        if case.op.op_name in (
            "conv2d",
            "linear",
            "quantized_conv2d",
            "quantized_linear",
            "conv_transpose2d",
            "matmul",
            "multi_head_attention",
            "hf_conv1d",
            "self_attention",
        ):
            continue
        types = case_input_types(case)
        assert case.op.macs(types, case.op.infer_outputs(types)) == 0, case.id


# -- symbolic dimensions ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("op_name", "kwargs", "shapes", "expected"),
    [
        ("relu", {}, [("N", 3, 4, 4)], ("N", 3, 4, 4)),
        ("conv2d", dict(out_channels=8, kernel_size=3, stride=2), [("N", 3, 9, 9)], ("N", 8, 4, 4)),
        ("batch_norm2d", {}, [("N", 3, 2, 2)], ("N", 3, 2, 2)),
        ("max_pool2d", dict(kernel_size=2), [("N", 3, 4, 4)], ("N", 3, 2, 2)),
        ("adaptive_avg_pool2d", dict(output_size=1), [("N", "C", 7, 7)], ("N", "C", 1, 1)),
        ("linear", dict(out_features=10), [("N", "T", 16)], ("N", "T", 10)),
        ("flatten", {}, [("N", 512, 1, 1)], ("N", 512)),
        ("flatten", dict(start_dim=0, end_dim=0), [("N", 3)], ("N", 3)),
        ("reshape", dict(shape=["N", -1]), [("N", 512, 1, 1)], ("N", 512)),
        ("reshape", dict(shape=["N", 2, "T", 2]), [("N", 4, "T")], ("N", 2, "T", 2)),
        ("permute", dict(dims=[1, 0, 2]), [("N", "T", 8)], ("T", "N", 8)),
        ("concat", dict(dim=1), [("N", 2, 3), ("N", 5, 3)], ("N", 7, 3)),
        ("add", {}, [("N", 3, 4), (3, 1)], ("N", 3, 4)),
        ("mul", {}, [("N", 1), (1, "N")], ("N", "N")),
        ("softmax", dict(dim=-1), [(2, "T")], (2, "T")),
        ("dropout", {}, [("N", 7)], ("N", 7)),
    ],
)
def test_symbolic_dims_pass_through(
    op_name: str, kwargs: dict[str, object], shapes: list[tuple[int | str, ...]], expected: tuple
) -> None:
    op = make_op(op_name, kwargs)
    (out,) = op.infer_outputs([f32(*s) for s in shapes])
    assert out.shape == expected


def test_symbols_do_not_broadcast_against_other_sizes() -> None:
    with pytest.raises(ShapeError, match=r"do not broadcast \(N vs 3\)"):
        make_op("add", {}).infer_outputs([f32("N", 2), f32(3, 2)])


def test_reshape_with_symbol_copies_the_input_dimension() -> None:
    op = make_op("reshape", dict(shape=["N", -1]))
    x = np.arange(2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4)
    np.testing.assert_array_equal(op.reference([x], {}), x.reshape(2, 12))


# -- hand-computed references (no torch needed) -------------------------------------------------


def ref(op_name: str, kwargs: dict[str, object], *inputs: object, **params: object) -> np.ndarray:
    op = make_op(op_name, kwargs)
    arrays = [np.asarray(x, dtype=np.float32) for x in inputs]
    weights = {k: np.asarray(v, dtype=np.float32) for k, v in params.items()}
    out = op.reference(arrays, weights)
    assert isinstance(out, np.ndarray)
    return out


X44 = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)


def test_conv2d_hand_values() -> None:
    # 2x2 all-ones kernel sums each window; bias 1.
    y = ref(
        "conv2d",
        dict(out_channels=1, kernel_size=2, stride=2),
        X44,
        weight=np.ones((1, 1, 2, 2)),
        bias=[1.0],
    )
    np.testing.assert_array_equal(
        y[0, 0],
        [[0 + 1 + 4 + 5 + 1, 2 + 3 + 6 + 7 + 1], [8 + 9 + 12 + 13 + 1, 10 + 11 + 14 + 15 + 1]],
    )


def test_batch_norm_hand_values() -> None:
    x = np.array([1.0, 3.0, -2.0, 4.0], dtype=np.float32).reshape(1, 2, 1, 2)
    y = ref(
        "batch_norm2d",
        dict(eps=0.0 + 1e-12),
        x,
        weight=[2.0, 1.0],
        bias=[0.5, -1.0],
        running_mean=[1.0, 0.0],
        running_var=[4.0, 1.0],
    )
    # channel 0: (x - 1) / 2 * 2 + 0.5; channel 1: x - 1.
    np.testing.assert_allclose(y.reshape(-1), [0.5, 2.5, -3.0, 3.0], rtol=1e-6)


def test_max_pool_hand_values() -> None:
    y = ref("max_pool2d", dict(kernel_size=2), X44)
    np.testing.assert_array_equal(y[0, 0], [[5, 7], [13, 15]])
    y = ref("max_pool2d", dict(kernel_size=3, stride=2, padding=1), X44)
    np.testing.assert_array_equal(y[0, 0], [[5, 7], [13, 15]])
    # ceil mode adds a clipped last window over the final row/column.
    y = ref("max_pool2d", dict(kernel_size=3, stride=3, ceil_mode=True), X44)
    np.testing.assert_array_equal(y[0, 0], [[10, 11], [14, 15]])


def test_avg_pool_padding_counts_both_ways() -> None:
    x = np.ones((1, 1, 2, 2), dtype=np.float32)
    with_pad = ref("avg_pool2d", dict(kernel_size=2, stride=1, padding=1), x)
    # corner windows see one real element of four (padding counts): 0.25; centre sees 4/4.
    np.testing.assert_allclose(
        with_pad[0, 0], [[0.25, 0.5, 0.25], [0.5, 1, 0.5], [0.25, 0.5, 0.25]]
    )
    without = ref(
        "avg_pool2d", dict(kernel_size=2, stride=1, padding=1, count_include_pad=False), x
    )
    np.testing.assert_allclose(without[0, 0], np.ones((3, 3)))


def test_avg_pool_ceil_overhang_never_counts() -> None:
    # 3 columns, kernel 2 stride 2 ceil: the last window holds one column only; divisor 2 (rows).
    x = np.array([[[[1.0, 2.0, 9.0], [3.0, 4.0, 7.0]]]], dtype=np.float32)
    y = ref("avg_pool2d", dict(kernel_size=2, ceil_mode=True), x)
    np.testing.assert_allclose(y[0, 0], [[2.5, 8.0]])


def test_adaptive_avg_pool_uneven_bins() -> None:
    # 5 -> 3 bins: rows [0,2), [1,4), [3,5).
    x = np.arange(5, dtype=np.float32).reshape(1, 1, 5, 1)
    y = ref("adaptive_avg_pool2d", dict(output_size=(3, 1)), x)
    np.testing.assert_allclose(y.reshape(-1), [0.5, 2.0, 3.5])


def test_linear_hand_values() -> None:
    y = ref(
        "linear",
        dict(out_features=2),
        [[1.0, 2.0]],
        weight=[[1.0, 0.0], [3.0, -1.0]],
        bias=[0.5, 0.0],
    )
    np.testing.assert_allclose(y, [[1.5, 1.0]])


@pytest.mark.parametrize(
    ("op_name", "kwargs", "expected"),
    [
        ("relu", {}, [0.0, 0.0, 0.0, 0.5, 7.0]),
        ("relu6", {}, [0.0, 0.0, 0.0, 0.5, 6.0]),
        ("clip", dict(min=-1.0, max=1.0), [-1.0, -1.0, 0.0, 0.5, 1.0]),
        ("leaky_relu", dict(negative_slope=0.1), [-0.4, -0.1, 0.0, 0.5, 7.0]),
        ("hardsigmoid", {}, [0.0, 2 / 6, 0.5, 3.5 / 6, 1.0]),
        ("hardswish", {}, [0.0, -2 / 6, 0.0, 0.5 * 3.5 / 6, 7.0]),
        ("identity", {}, [-4.0, -1.0, 0.0, 0.5, 7.0]),
        ("dropout", dict(p=0.9), [-4.0, -1.0, 0.0, 0.5, 7.0]),
    ],
)
def test_piecewise_activations(
    op_name: str, kwargs: dict[str, object], expected: list[float]
) -> None:
    y = ref(op_name, kwargs, [-4.0, -1.0, 0.0, 0.5, 7.0])
    np.testing.assert_allclose(y, expected, rtol=1e-6, atol=1e-7)


def test_smooth_activations_hand_values() -> None:
    x = [-1.0, 0.0, 1.0]
    s = 1 / (1 + math.exp(-1))
    np.testing.assert_allclose(ref("sigmoid", {}, x), [1 - s, 0.5, s], rtol=1e-6)
    np.testing.assert_allclose(ref("silu", {}, x), [-(1 - s), 0.0, s], rtol=1e-6)
    np.testing.assert_allclose(ref("tanh", {}, x), [-math.tanh(1), 0.0, math.tanh(1)], rtol=1e-6)
    phi1 = 0.5 * (1 + math.erf(1 / math.sqrt(2)))  # 0.8413447460685429
    np.testing.assert_allclose(ref("gelu", {}, x), [-(1 - phi1), 0.0, phi1], rtol=1e-6)
    t = math.tanh(math.sqrt(2 / math.pi) * 1.044715)
    gelu_tanh = [-0.5 * (1 - t), 0.0, 0.5 * (1 + t)]
    np.testing.assert_allclose(ref("gelu", dict(approximate="tanh"), x), gelu_tanh, rtol=1e-6)


def test_sigmoid_saturates_without_overflow() -> None:
    with np.errstate(over="raise", invalid="raise"):
        y = ref("sigmoid", {}, [-1000.0, 1000.0])
    np.testing.assert_array_equal(y, [0.0, 1.0])


def test_softmax_hand_values() -> None:
    y = ref("softmax", dict(dim=0), [[0.0, 1000.0], [math.log(3.0), 1000.0]])
    np.testing.assert_allclose(y, [[0.25, 0.5], [0.75, 0.5]], rtol=1e-6)


def test_elementwise_hand_values() -> None:
    a, b = [[1.0, 2.0], [3.0, 4.0]], [2.0, -1.0]
    np.testing.assert_array_equal(ref("add", {}, a, b), [[3, 1], [5, 3]])
    np.testing.assert_array_equal(ref("sub", {}, a, b), [[-1, 3], [1, 5]])
    np.testing.assert_array_equal(ref("mul", {}, a, b), [[2, -2], [6, -4]])
    np.testing.assert_array_equal(ref("div", {}, a, b), [[0.5, -2], [1.5, -4]])


def test_shape_ops_hand_values() -> None:
    x = np.arange(6, dtype=np.float32).reshape(1, 2, 3)
    np.testing.assert_array_equal(ref("flatten", {}, x), [[0, 1, 2, 3, 4, 5]])
    np.testing.assert_array_equal(ref("reshape", dict(shape=[3, -1]), x), [[0, 1], [2, 3], [4, 5]])
    np.testing.assert_array_equal(
        ref("permute", dict(dims=[2, 1, 0]), x)[:, :, 0], [[0, 3], [1, 4], [2, 5]]
    )
    np.testing.assert_array_equal(
        ref("concat", dict(dim=2), x, x[:, :, :1]), [[[0, 1, 2, 0], [3, 4, 5, 3]]]
    )


def test_ceil_mode_accepts_a_kernel_larger_than_the_padded_input_like_torch() -> None:
    # H=1 with kernel 3: floor mode has no window; ceil mode has one clipped window (PyTorch).
    x = np.arange(8, dtype=np.float32).reshape(1, 1, 1, 8)
    op = make_op("max_pool2d", dict(kernel_size=3, stride=4, ceil_mode=True))
    assert op.infer_outputs([f32(1, 1, 1, 8)])[0].shape == (1, 1, 1, 2)
    np.testing.assert_array_equal(op.reference([x], {}), [[[[2, 6]]]])
    avg = make_op("avg_pool2d", dict(kernel_size=3, stride=4, ceil_mode=True))
    np.testing.assert_allclose(avg.reference([x], {}), [[[[1.0, 5.0]]]])  # divisor 1 x 3
    with pytest.raises(ShapeError, match=r"does not fit .* \(output size 0\)"):
        make_op("max_pool2d", dict(kernel_size=3, stride=4)).infer_outputs([f32(1, 1, 1, 8)])


def test_rank0_results_stay_rank0() -> None:
    x = np.array(2.5, dtype=np.float32)
    for op_name, kwargs in [
        ("permute", dict(dims=[])),
        ("relu", {}),
        ("identity", {}),
        ("cast", dict(dtype="bfloat16")),
    ]:
        op = make_op(op_name, kwargs)
        assert op.infer_outputs([f32()])[0].shape == ()
        assert op.reference([x], {}).shape == (), op_name

"""Op error cases: attributes or inputs each op must reject (re-exported by ``cases``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from trtdsl.errors import OpArgumentError, ShapeError, TrtdslError
from trtdsl.ir.types import DType, TensorType


@dataclass(frozen=True)
class ErrorCase:
    """An op construction or shape inference that must fail.

    Attributes:
        id: ``<op_name>-<what>``.
        op_name: registry name.
        kwargs: attributes passed to ``make_op``.
        input_shapes: None when ``make_op`` must raise; else the shapes given to
            ``infer_outputs`` (which must raise).
        error: the TrtdslError subclass expected.
        match: regex the message must match (``re.search``).
        input_dtypes: dtype names per input (default float32 for all).
    """

    id: str
    op_name: str
    kwargs: Mapping[str, Any]
    input_shapes: tuple[tuple[int | str, ...], ...] | None
    error: type[TrtdslError]
    match: str
    input_dtypes: tuple[str, ...] | None = field(default=None)


def _err(
    case_id: str,
    op_name: str,
    kwargs: Mapping[str, Any],
    shapes: tuple[tuple[int | str, ...], ...] | None,
    match: str,
    dtypes: tuple[str, ...] | None = None,
) -> ErrorCase:
    error = OpArgumentError if shapes is None else ShapeError
    return ErrorCase(case_id, op_name, kwargs, shapes, error, match, dtypes)


ERROR_CASES: tuple[ErrorCase, ...] = (
    # -- attribute errors (make_op raises OpArgumentError) ---------------------------------------
    _err("conv2d-missing", "conv2d", dict(out_channels=4), None, "missing required.*kernel_size"),
    _err("conv2d-unknown", "conv2d", dict(out_channels=4, kernel_size=3, pad=1), None, "'padding'"),
    _err("conv2d-kernel-zero", "conv2d", dict(out_channels=4, kernel_size=0), None, "kernel_size"),
    _err(
        "conv2d-groups",
        "conv2d",
        dict(out_channels=5, kernel_size=3, groups=2),
        None,
        "not divisible by groups",
    ),
    _err("batch_norm2d-eps", "batch_norm2d", dict(eps=0.0), None, "eps must be a positive"),
    _err("batch_norm2d-eps-str", "batch_norm2d", dict(eps="small"), None, "eps must be"),
    _err("clip-none", "clip", {}, None, "give min, max or both"),
    _err("clip-order", "clip", dict(min=1.0, max=0.0), None, "min 1.0 is greater than max 0.0"),
    _err("clip-nan", "clip", dict(min=float("nan")), None, "min must be a finite number"),
    _err("leaky_relu-slope", "leaky_relu", dict(negative_slope="a"), None, "negative_slope"),
    _err("gelu-approximate", "gelu", dict(approximate="erf"), None, "'none', 'tanh'.*'erf'"),
    _err("max_pool2d-missing", "max_pool2d", {}, None, "missing required.*kernel_size"),
    _err("max_pool2d-stride", "max_pool2d", dict(kernel_size=2, stride=0), None, "stride"),
    _err(
        "max_pool2d-padding",
        "max_pool2d",
        dict(kernel_size=3, padding=2),
        None,
        r"at most half of kernel_size \(3, 3\)",
    ),
    _err("max_pool2d-ceil", "max_pool2d", dict(kernel_size=2, ceil_mode=1), None, "ceil_mode"),
    _err(
        "avg_pool2d-padding",
        "avg_pool2d",
        dict(kernel_size=(2, 4), padding=(1, 3)),
        None,
        "padding <= kernel_size // 2",
    ),
    _err(
        "avg_pool2d-count",
        "avg_pool2d",
        dict(kernel_size=2, count_include_pad="yes"),
        None,
        "count_include_pad must be true or false",
    ),
    _err(
        "adaptive_avg_pool2d-zero",
        "adaptive_avg_pool2d",
        dict(output_size=0),
        None,
        "output_size must be >= 1",
    ),
    _err(
        "adaptive_avg_pool2d-none",
        "adaptive_avg_pool2d",
        dict(output_size=(None, 0)),
        None,
        "ints >= 1 or None",
    ),
    _err("linear-out", "linear", dict(out_features=0), None, "out_features must be an int >= 1"),
    _err("linear-bias", "linear", dict(out_features=2, bias="no"), None, "bias"),
    _err("flatten-start", "flatten", dict(start_dim=1.5), None, "start_dim must be an int"),
    _err("reshape-two-minus-one", "reshape", dict(shape=[-1, -1]), None, "at most once"),
    _err("reshape-zero", "reshape", dict(shape=[0, 4]), None, "ints >= 1, -1 or dimension names"),
    _err("reshape-type", "reshape", dict(shape=3.5), None, "shape must be a list"),
    _err("permute-type", "permute", dict(dims="012"), None, "dims must be a list of ints"),
    _err("concat-dim", "concat", dict(dim=None), None, "dim must be an int"),
    _err("softmax-dim", "softmax", dict(dim=[1]), None, "dim must be an int"),
    _err("cast-dtype", "cast", dict(dtype="float8"), None, "cast: unknown dtype 'float8'"),
    _err("dropout-p", "dropout", dict(p=1.5), None, "p must be between 0 and 1"),
    _err("relu-argument", "relu", dict(inplace=True), None, "unknown argument 'inplace'"),
    _err("identity-argument", "identity", dict(x=1), None, "accepted: none"),
    # -- shape errors (infer_outputs raises ShapeError) -------------------------------------------
    _err(
        "conv2d-rank",
        "conv2d",
        dict(out_channels=4, kernel_size=3),
        ((3, 8, 8),),
        "expected a rank-4 NCHW input, got float32",
    ),
    _err(
        "conv2d-too-small",
        "conv2d",
        dict(out_channels=4, kernel_size=5),
        ((1, 3, 3, 8),),
        "does not fit",
    ),
    _err(
        "conv2d-groups-input",
        "conv2d",
        dict(out_channels=4, kernel_size=1, groups=2),
        ((1, 3, 4, 4),),
        "input channels 3 are not divisible by groups 2",
    ),
    _err(
        "conv2d-symbolic-channels",
        "conv2d",
        dict(out_channels=4, kernel_size=1),
        ((1, "C", 4, 4),),
        "channel dimension must be static",
    ),
    _err(
        "conv2d-int-input",
        "conv2d",
        dict(out_channels=4, kernel_size=1),
        ((1, 3, 4, 4),),
        "expected a floating-point input",
        ("int32",),
    ),
    _err("batch_norm2d-rank", "batch_norm2d", {}, ((2, 3),), "expected a rank-4 NCHW input"),
    _err("relu-arity", "relu", {}, ((2,), (2,)), r"expected 1 input\(s\), got 2"),
    _err("sigmoid-int", "sigmoid", {}, ((2,),), "floating-point", ("int64",)),
    _err(
        "max_pool2d-too-small",
        "max_pool2d",
        dict(kernel_size=3),
        ((1, 1, 2, 8),),
        "does not fit",
    ),
    _err(
        "avg_pool2d-symbolic",
        "avg_pool2d",
        dict(kernel_size=2, ceil_mode=True),
        (("N", 3, "H", 8),),
        "ceil_mode needs static spatial dimensions",
    ),
    _err(
        "adaptive_avg_pool2d-rank",
        "adaptive_avg_pool2d",
        dict(output_size=1),
        ((2, 8),),
        "expected a rank-4",
    ),
    _err(
        "linear-symbolic-features",
        "linear",
        dict(out_features=3),
        (("N", "K"),),
        "feature\\) dimension must be static",
    ),
    _err("linear-scalar", "linear", dict(out_features=3), ((),), "rank >= 1"),
    _err(
        "flatten-order",
        "flatten",
        dict(start_dim=2, end_dim=1),
        ((2, 3, 4),),
        "start_dim 2 comes after end_dim 1",
    ),
    _err("flatten-range", "flatten", dict(start_dim=4), ((2, 3, 4),), "start_dim 4 out of range"),
    _err(
        "flatten-symbolic",
        "flatten",
        dict(start_dim=0),
        (("N", 3, 4),),
        r"cannot merge symbolic dimension\(s\) \['N'\]",
    ),
    _err(
        "reshape-count",
        "reshape",
        dict(shape=[5, 5]),
        ((2, 12),),
        r"\(24 elements\) into \[5, 5\] \(25 elements\)",
    ),
    _err("reshape-divide", "reshape", dict(shape=[5, -1]), ((2, 12),), "do not divide by 5"),
    _err(
        "reshape-absorb-symbol",
        "reshape",
        dict(shape=[-1]),
        (("N", 12),),
        r"-1 cannot absorb symbolic dimension\(s\) \['N'\]",
    ),
    _err(
        "reshape-symbol-position",
        "reshape",
        dict(shape=[2, "N", -1]),
        (("N", 2, 6),),
        "symbolic size 'N' at position 1 must be the input's dimension 1",
    ),
    _err(
        "permute-length",
        "permute",
        dict(dims=[0, 1]),
        ((2, 3, 4),),
        "has 2 entries, expected one per axis of the rank-3 input",
    ),
    _err(
        "permute-duplicate",
        "permute",
        dict(dims=[0, 2, -1]),
        ((2, 3, 4),),
        "not a permutation of 0..2",
    ),
    _err(
        "concat-mismatch",
        "concat",
        dict(dim=1),
        ((1, 2, 3), (1, 2, 4)),
        r"differs from input 0 float32\[1,2,3\] at axis 2 \(4 vs 3\)",
    ),
    _err("concat-rank", "concat", {}, ((1, 2, 3), (1, 2)), "input 1 has rank 2"),
    _err(
        "concat-dtype",
        "concat",
        {},
        ((1, 2), (1, 2)),
        "input 1 has dtype float16, expected float32",
        ("float32", "float16"),
    ),
    _err(
        "concat-symbolic-axis",
        "concat",
        dict(dim=0),
        (("N", 2), ("N", 2)),
        "cannot concatenate along symbolic dimension 'N'",
    ),
    _err("concat-empty", "concat", {}, (), "expected at least 1 input, got 0"),
    _err(
        "add-broadcast",
        "add",
        {},
        ((2, 3), (4,)),
        r"shapes 2x3 and 4 do not broadcast \(3 vs 4\)",
    ),
    _err(
        "sub-dtype",
        "sub",
        {},
        ((2,), (2,)),
        r"input dtypes differ \(float32 vs float16\)",
        ("float32", "float16"),
    ),
    _err("mul-arity", "mul", {}, ((2,),), r"expected 2 inputs \(or 1 and 'other'\), got 1"),
    _err("div-int", "div", {}, ((2,), (2,)), "floating-point", ("int32", "int32")),
    _err("softmax-axis", "softmax", dict(dim=3), ((2, 3),), "dim 3 out of range for rank 2"),
    _err("gelu-int", "gelu", {}, ((2,),), "floating-point", ("int8",)),
    _err("narrow-length", "narrow", dict(dim=1, start=0, length=0), None, "length must be"),
    _err(
        "narrow-bounds",
        "narrow",
        dict(dim=1, start=2, length=3),
        ((1, 4, 2),),
        "start 2 \\+ length 3 exceeds size 4 of axis 1",
    ),
    _err("channel_shuffle-groups", "channel_shuffle", dict(groups=0), None, "groups must be"),
    _err(
        "channel_shuffle-divide",
        "channel_shuffle",
        dict(groups=4),
        ((1, 6, 2, 2),),
        "6 channels of .* do not divide into 4 groups",
    ),
    _err("quantize-dtype", "quantize", dict(dtype="int32"), None, "dtype must be one of int8"),
    _err("quantize-axis", "quantize", dict(axis=1.5), None, "axis must be an int"),
    _err("quantize-int-input", "quantize", {}, ((2, 3),), "expected a float32", ("int8",)),
    _err("quantize-axis-range", "quantize", dict(axis=2), ((2, 3),), "axis 2 out of range"),
    _err("dequantize-dtype", "dequantize", dict(dtype="int8"), None, "dtype must be one of"),
    _err("dequantize-float-input", "dequantize", {}, ((2, 3),), "expected an int8 or float8"),
    _err(
        "quantized_conv2d-dtype",
        "quantized_conv2d",
        dict(out_channels=4, kernel_size=3, dtype="float16"),
        None,
        "dtype must be one of int8, float8_e4m3",
    ),
    _err(
        "quantized_conv2d-groups",
        "quantized_conv2d",
        dict(out_channels=5, kernel_size=3, groups=2),
        None,
        "not divisible by groups",
    ),
    _err(
        "quantized_linear-features", "quantized_linear", dict(out_features=0), None, "out_features"
    ),
    # -- ops for dense prediction and transformers ---------------------------------------------
    _err("interpolate-mode", "interpolate", dict(size=4, mode="bicubic"), None, "mode must be"),
    _err(
        "interpolate-size-and-scale",
        "interpolate",
        dict(size=4, scale_factor=2),
        None,
        "size or scale_factor, not both",
    ),
    _err(
        "interpolate-nearest-align-corners",
        "interpolate",
        dict(size=4, align_corners=True),
        None,
        "align_corners applies to mode 'bilinear' only",
    ),
    _err("interpolate-no-size", "interpolate", {}, ((1, 2, 3, 3),), "give size, scale_factor"),
    _err(
        "interpolate-symbolic-fraction",
        "interpolate",
        dict(scale_factor=1.5),
        ((1, 2, "H", 4),),
        "only integer factors",
    ),
    _err("argmax-dim", "argmax", dict(dim="1"), None, "dim must be an int"),
    _err("argmax-range", "argmax", dict(dim=3), ((2, 3),), "dim 3 out of range"),
    _err("layer_norm-shape", "layer_norm", dict(normalized_shape=0), None, "normalized_shape"),
    _err(
        "layer_norm-mismatch",
        "layer_norm",
        dict(normalized_shape=5),
        ((2, 4),),
        "must equal normalized_shape",
    ),
    _err("matmul-inner", "matmul", {}, ((2, 3), (4, 5)), "contracted sizes differ"),
    _err(
        "multi_head_attention-heads",
        "multi_head_attention",
        dict(embed_dim=10, num_heads=3),
        None,
        "not divisible by num_heads",
    ),
    _err(
        "multi_head_attention-embed",
        "multi_head_attention",
        dict(embed_dim=8, num_heads=2),
        ((2, 3, 6),),
        "E = embed_dim = 8",
    ),
    _err("parameter-shape", "parameter", dict(shape=(1, 0)), None, "shape entries must be >= 1"),
    _err("expand-sizes", "expand", dict(sizes=(2, 0)), None, "sizes entries must be"),
    _err("expand-non-unit", "expand", dict(sizes=(4, 3)), ((2, 3),), "only size-1 axes expand"),
    _err("transpose-dim", "transpose", dict(dim0=0, dim1=1.5), None, "dim1 must be an int"),
    _err("select-index", "select", dict(dim=0, index="0"), None, "index must be an int"),
    _err("select-range", "select", dict(dim=1, index=3), ((2, 3),), "index 3 out of range"),
    _err("slice-step", "slice", dict(dim=0, step=0), None, "step must be an int >= 1"),
    _err("slice-empty", "slice", dict(dim=0, start=3), ((2, 3),), "is empty"),
    _err("add-other", "add", dict(other=float("nan")), None, "other must be a finite number"),
    _err("sub-other", "sub", dict(other="1"), None, "other must be a finite number"),
    _err("mul-other", "mul", dict(other=True), None, "other must be a finite number"),
    _err("div-other", "div", dict(other=float("inf")), None, "other must be a finite number"),
    _err("anchor_points-strides", "anchor_points", dict(strides=[]), None, "non-empty list"),
    _err(
        "anchor_points-levels",
        "anchor_points",
        dict(strides=[8, 16]),
        ((1, 2, 4, 4),),
        "need 2 feature maps",
    ),
    _err(
        "anchor_strides-symbolic",
        "anchor_strides",
        dict(strides=[8]),
        ((1, 2, "H", 4),),
        "symbolic height or width",
    ),
    _err("anchor_strides-zero", "anchor_strides", dict(strides=[8, 0]), None, "ints >= 1"),
    _err("count_nonzero-dim-type", "count_nonzero", dict(dim="1"), None, "dim must be an int"),
    _err("nms-iou", "nms", dict(iou_threshold=1.5), None, "iou_threshold must be between 0 and 1"),
    _err("nms-score", "nms", dict(score_threshold=-0.1), None, "between 0 and 1"),
    _err("nms-max-det", "nms", dict(max_det=4000), None, "max_det must be at most 3840"),
    _err("nms-boxes", "nms", dict(), ((1, 10, 5), (1, 10, 3)), "boxes must be"),
    _err("count_nonzero-dim", "count_nonzero", dict(dim=2), ((2, 3),), "out of range"),
    _err(
        "conv_transpose2d-output-padding",
        "conv_transpose2d",
        dict(out_channels=2, kernel_size=3, stride=2, output_padding=2),
        None,
        "output_padding",
    ),
)


def error_case_input_types(case: ErrorCase) -> tuple[TensorType, ...]:
    """The input types of a shape-error case (float32 unless ``input_dtypes`` says otherwise)."""
    assert case.input_shapes is not None
    dtypes = case.input_dtypes or ("float32",) * len(case.input_shapes)
    return tuple(
        TensorType(DType.parse(d), tuple(s)) for d, s in zip(dtypes, case.input_shapes, strict=True)
    )

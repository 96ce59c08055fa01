"""ONNX exporters of the quantization ops: QuantizeLinear / DequantizeLinear (symmetric: an
all-zero zero point of the quantized type), registered in ``onnx_ops.EXPORTERS``.

INT8 needs opset >= 13 (per-channel ``axis``); FP8 E4M3 (``FLOAT8E4M3FN``, saturating, as
TensorRT) needs opset >= 19 (``export_onnx(..., opset=19)``). Quantization runs in
float32: a float16 or bfloat16 input is cast to float32 first (exact), and a dequantized value
is cast to the op's output type afterwards.
"""

from __future__ import annotations

from trtdsl.backends.onnx_ops import ONNX_DTYPES, Context, _exporter, add_conv
from trtdsl.ir.graph import Node
from trtdsl.ir.ops.quantize import Dequantize, Quantize, QuantizedConv2d, QuantizedLinear
from trtdsl.ir.types import DType

_FLOAT = ONNX_DTYPES[DType.FLOAT32]


_QDQ_OPSET = (13, "QuantizeLinear/DequantizeLinear with a per-channel axis")
_FP8_OPSET = 19


def _zero_point(ctx: Context, node: Node, dtype: DType, count: int | None, part: str) -> str:
    """An all-zero zero point of ``dtype`` (a scalar, or ``count`` values per channel)."""
    if dtype is DType.FLOAT8_E4M3:
        ctx.require_opset(node, _FP8_OPSET, "QuantizeLinear/DequantizeLinear to FLOAT8E4M3FN")
    name = f"{node.name}/{part}"
    dims = [] if count is None else [count]
    values = [0.0 if dtype is DType.FLOAT8_E4M3 else 0] * (count or 1)
    ctx.initializers.append(ctx.helper.make_tensor(name, ONNX_DTYPES[dtype], dims, values))
    return name


def _as_float32(ctx: Context, node: Node, value: str, dtype: DType) -> str:
    if dtype is DType.FLOAT32:
        return value
    return ctx.add("Cast", [value], f"{node.name}/to_float32", f"{node.name}/to_float32", to=_FLOAT)


def _axis_attributes(axis: int | None, rank: int) -> dict[str, int]:
    return {} if axis is None else {"axis": axis % rank}


@_exporter(Quantize, opset=_QDQ_OPSET[0], needs=_QDQ_OPSET[1])
def _quantize(ctx: Context, node: Node) -> None:
    op = node.op
    assert isinstance(op, Quantize)
    t = ctx.in_type(node)
    x = _as_float32(ctx, node, node.inputs[0], t.dtype)
    scale = ctx.weight(node, "scale")
    count = None if op.axis is None else int(ctx.weights[scale].shape[0])
    zero = _zero_point(ctx, node, op.dtype, count, "zero_point")  # type: ignore[arg-type]
    attributes = _axis_attributes(op.axis, t.rank)
    ctx.add("QuantizeLinear", [x, scale, zero], node.output, node.name, **attributes)


@_exporter(Dequantize, opset=_QDQ_OPSET[0], needs=_QDQ_OPSET[1])
def _dequantize(ctx: Context, node: Node) -> None:
    op = node.op
    assert isinstance(op, Dequantize)
    t = ctx.in_type(node)
    scale = ctx.weight(node, "scale")
    count = None if op.axis is None else int(ctx.weights[scale].shape[0])
    zero = _zero_point(ctx, node, t.dtype, count, "zero_point")
    attributes = _axis_attributes(op.axis, t.rank)
    if op.dtype is DType.FLOAT32:
        ctx.add(
            "DequantizeLinear", [node.inputs[0], scale, zero], node.output, node.name, **attributes
        )
        return
    product = ctx.add(
        "DequantizeLinear",
        [node.inputs[0], scale, zero],
        f"{node.name}/float32",
        f"{node.name}/dequantize",
        **attributes,
    )
    ctx.add("Cast", [product], node.output, node.name, to=ONNX_DTYPES[op.dtype])  # type: ignore[index]


def _fake_quantized_weight(ctx: Context, node: Node, dtype: DType, like: DType) -> str:
    """weight -> QuantizeLinear -> DequantizeLinear on axis 0 (-> Cast to ``like``)."""
    weight = ctx.weight(node, "weight")
    scale = ctx.weight(node, "weight_scale")
    count = int(ctx.weights[scale].shape[0])
    zero = _zero_point(ctx, node, dtype, count, "weight_zero_point")
    q = ctx.add(
        "QuantizeLinear",
        [weight, scale, zero],
        f"{node.name}/weight_q",
        f"{node.name}/weight_quantize",
        axis=0,
    )
    dq = ctx.add(
        "DequantizeLinear",
        [q, scale, zero],
        f"{node.name}/weight_dq",
        f"{node.name}/weight_dequantize",
        axis=0,
    )
    if like is DType.FLOAT32:
        return dq
    name = f"{node.name}/weight_cast"
    return ctx.add("Cast", [dq], name, name, to=ONNX_DTYPES[like])


@_exporter(QuantizedConv2d, opset=_QDQ_OPSET[0], needs=_QDQ_OPSET[1])
def _quantized_conv2d(ctx: Context, node: Node) -> None:
    op = node.op
    assert isinstance(op, QuantizedConv2d)
    weight = _fake_quantized_weight(ctx, node, op.dtype, ctx.in_type(node).dtype)  # type: ignore[arg-type]
    add_conv(ctx, node, op, weight)


@_exporter(QuantizedLinear, opset=_QDQ_OPSET[0], needs=_QDQ_OPSET[1])
def _quantized_linear(ctx: Context, node: Node) -> None:
    op = node.op
    assert isinstance(op, QuantizedLinear)
    weight = _fake_quantized_weight(ctx, node, op.dtype, ctx.in_type(node).dtype)  # type: ignore[arg-type]
    x = node.inputs[0]
    if ctx.in_type(node).rank == 2:
        inputs = [x, weight] + ([ctx.weight(node, "bias")] if op.bias else [])
        ctx.add("Gemm", inputs, node.output, node.name, transB=1)
        return
    transposed = ctx.add(
        "Transpose", [weight], f"{node.name}/weight_t", f"{node.name}/t", perm=[1, 0]
    )
    if not op.bias:
        ctx.add("MatMul", [x, transposed], node.output, node.name)
        return
    product = ctx.add("MatMul", [x, transposed], f"{node.name}/matmul", f"{node.name}/matmul")
    ctx.add("Add", [product, ctx.weight(node, "bias")], node.output, node.name)

"""Emitters of the quantization ops: IQuantizeLayer, IDequantizeLayer, and convolution and
matrix-multiply layers whose weights pass through quantize/dequantize.

NOTE: TensorRT 11 takes the output type as a required argument (``add_quantize(x, scale,
trt.int8)``); the scale is a tensor from a constant layer, a scalar per tensor or a vector
with ``axis`` set per channel. Scales are always given as float32 (TensorRT's default scale
type, valid with float32, float16 and bfloat16 inputs). Quantized weights are float constants
followed by quantize/dequantize on axis 0 (the output channels), which TensorRT folds into
INT8/FP8 weights at build time, as NVIDIA's explicit-quantization guide recommends.
https://docs.nvidia.com/deeplearning/tensorrt/latest/inference-library/work-quantized-types.html
"""

from __future__ import annotations

from typing import Any

from trtdsl.backends.trt.context import EmitContext, emitter, trt_dtype
from trtdsl.ir.graph import Node
from trtdsl.ir.ops.quantize import Dequantize, Quantize, QuantizedConv2d, QuantizedLinear
from trtdsl.ir.types import DType


def _scale(ctx: EmitContext, node: Node, role: str = "scale") -> Any:
    """The constant tensor of ``node.role`` (a scalar or a vector), in float32."""
    key = f"{node.name}.{role}"
    return ctx.constant(node, role, ctx.weights[key], DType.FLOAT32)


def _set_axis(layer: Any, axis: int | None, rank: int) -> None:
    if layer is not None and axis is not None:
        layer.axis = axis % rank


@emitter(Quantize)
def emit_quantize(ctx: EmitContext, node: Node) -> Any:
    """``add_quantize(x, scale, int8 | fp8)``; ``axis`` for a per-channel scale."""
    op: Quantize = node.op  # type: ignore[assignment]
    scale = _scale(ctx, node)
    out_type = trt_dtype(ctx.trt, op.dtype)  # type: ignore[arg-type]
    layer = ctx.network.add_quantize(ctx.input(node), scale, out_type)
    _set_axis(layer, op.axis, ctx.input_type(node).rank)
    return layer


@emitter(Dequantize)
def emit_dequantize(ctx: EmitContext, node: Node) -> Any:
    """``add_dequantize(q, scale, float32 | float16 | bfloat16)``; ``axis`` per channel."""
    op: Dequantize = node.op  # type: ignore[assignment]
    scale = _scale(ctx, node)
    out_type = trt_dtype(ctx.trt, op.dtype)  # type: ignore[arg-type]
    layer = ctx.network.add_dequantize(ctx.input(node), scale, out_type)
    _set_axis(layer, op.axis, ctx.input_type(node).rank)
    return layer


def _quantized_weight(ctx: EmitContext, node: Node, shape: tuple[int, ...], dtype: DType) -> Any:
    """weight (float32 constant, reshaped to ``shape``) -> quantize -> dequantize to the
    activation's ``dtype``, both on axis ``len(shape) - 2`` for a matmul weight (1.., out, in)
    and axis 0 for a convolution kernel; returns the dequantized tensor."""
    op = node.op
    weight = ctx.weights[f"{node.name}.weight"].reshape(shape)
    w = ctx.constant(node, "weight", weight, DType.FLOAT32)
    scale = _scale(ctx, node, "weight_scale")
    axis = 0 if isinstance(op, QuantizedConv2d) else len(shape) - 2
    quantized = ctx.network.add_quantize(w, scale, trt_dtype(ctx.trt, op.dtype))  # type: ignore[attr-defined]
    _set_axis(quantized, axis, len(shape))
    ctx.add(node, quantized, "weight_quantize")
    dequantized = ctx.network.add_dequantize(
        quantized.get_output(0), scale, trt_dtype(ctx.trt, dtype)
    )
    _set_axis(dequantized, axis, len(shape))
    return ctx.add(node, dequantized, "weight_dequantize").get_output(0)


@emitter(QuantizedConv2d)
def emit_quantized_conv2d(ctx: EmitContext, node: Node) -> Any:
    """IConvolutionLayer with empty kernel weights and the dequantized kernel tensor as its
    input 1 (GKCRS layout); the bias stays weights in the activation's dtype."""
    op: QuantizedConv2d = node.op  # type: ignore[assignment]
    dtype = ctx.compute_dtype(node)
    shape = tuple(ctx.weights[f"{node.name}.weight"].shape)
    kernel = _quantized_weight(ctx, node, shape, dtype)
    empty = ctx.trt.Weights(trt_dtype(ctx.trt, dtype))
    kwargs = {"bias": ctx.param(node, "bias")} if op.bias else {}
    layer = ctx.network.add_convolution_nd(
        ctx.input(node), op.out_channels, op.kernel_size, kernel=empty, **kwargs
    )
    if layer is not None:
        layer.set_input(1, kernel)
        layer.stride_nd = op.stride
        layer.padding_nd = op.padding
        layer.dilation_nd = op.dilation
        layer.num_groups = op.groups
    return layer


@emitter(QuantizedLinear)
def emit_quantized_linear(ctx: EmitContext, node: Node) -> Any:
    """As ``linear`` (matrix multiply with TRANSPOSE, then a bias add), with the dequantized
    weight (1, ..., 1, out, in) as the second operand."""
    op: QuantizedLinear = node.op  # type: ignore[assignment]
    trt = ctx.trt
    x = ctx.input(node)
    rank = ctx.input_type(node).rank
    dtype = ctx.compute_dtype(node)
    weight = ctx.weights[f"{node.name}.weight"]
    w_shape = (1,) * max(rank - 2, 0) + tuple(weight.shape)
    w = _quantized_weight(ctx, node, w_shape, dtype)
    op0 = trt.MatrixOperation.VECTOR if rank == 1 else trt.MatrixOperation.NONE
    matmul = ctx.network.add_matrix_multiply(x, op0, w, trt.MatrixOperation.TRANSPOSE)
    if not op.bias:
        return matmul
    ctx.add(node, matmul, "matmul")
    bias = ctx.weights[f"{node.name}.bias"]
    b = ctx.constant(node, "bias", bias.reshape((1,) * (rank - 1) + bias.shape), dtype)
    return ctx.network.add_elementwise(matmul.get_output(0), b, trt.ElementWiseOperation.SUM)

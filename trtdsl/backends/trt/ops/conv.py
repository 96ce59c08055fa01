"""Emitters for convolution ops (IConvolutionLayer, IDeconvolutionLayer)."""

from __future__ import annotations

from typing import Any

from trtdsl.backends.trt.context import EmitContext, emitter
from trtdsl.ir.graph import Node
from trtdsl.ir.ops.conv import Conv2d, ConvTranspose2d
from trtdsl.ir.types import DType


@emitter(Conv2d)
def emit_conv2d(ctx: EmitContext, node: Node) -> Any:
    """One IConvolutionLayer. The kernel (K, C/groups, R, S) is TensorRT's GKCRS layout.

    A convolution whose batch norm was folded in arrives here with a bias and emits as one
    layer like any other.
    """
    op: Conv2d = node.op  # type: ignore[assignment]
    kernel = ctx.param(node, "weight")
    kwargs = {"bias": ctx.param(node, "bias")} if op.bias else {}
    layer = ctx.network.add_convolution_nd(
        ctx.input(node), op.out_channels, op.kernel_size, kernel=kernel, **kwargs
    )
    if layer is not None:
        layer.stride_nd = op.stride
        layer.padding_nd = op.padding
        layer.dilation_nd = op.dilation
        layer.num_groups = op.groups
    return layer


@emitter(ConvTranspose2d)
def emit_conv_transpose2d(ctx: EmitContext, node: Node) -> Any:
    """One IDeconvolutionLayer. The kernel (C, K/groups, R, S) is TensorRT's CKRS layout.

    NOTE: TensorRT's deconvolution output is (I-1)*S + D*(F-1) + 1 - (pre + post); PyTorch's
    ``padding`` p and ``output_padding`` a give pre = p and post = p - a.
    NOTE: TensorRT-RTX 1.7's builder cannot type a bfloat16 deconvolution (Myelin "Could not
    infer output types"), so a bfloat16 node computes in float32 between two casts (the same
    layers on every backend, so that emulated and real networks stay equal).
    """
    op: ConvTranspose2d = node.op  # type: ignore[assignment]
    x = ctx.input(node)
    dtype = ctx.compute_dtype(node)
    widen = dtype is DType.BFLOAT16
    if widen:
        x = ctx.add(node, ctx.network.add_cast(x, ctx.trt.float32), "to_fp32").get_output(0)
        dtype = DType.FLOAT32
    kernel = ctx.make_weights(ctx.weights[f"{node.name}.weight"], dtype, f"{node.name}.weight")
    kwargs = {}
    if op.bias:
        kwargs["bias"] = ctx.make_weights(
            ctx.weights[f"{node.name}.bias"], dtype, f"{node.name}.bias"
        )
    layer = ctx.network.add_deconvolution_nd(
        x, op.out_channels, op.kernel_size, kernel=kernel, **kwargs
    )
    if layer is not None:
        layer.stride_nd = op.stride
        layer.dilation_nd = op.dilation
        layer.num_groups = op.groups
        layer.pre_padding = op.padding
        (ph, pw), (ah, aw) = op.padding, op.output_padding  # type: ignore[misc]
        layer.post_padding = (ph - ah, pw - aw)
    if not widen:
        return layer
    wide = ctx.add(node, layer, "deconvolution").get_output(0)
    return ctx.network.add_cast(wide, ctx.trt.bfloat16)

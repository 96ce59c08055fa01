"""Emitters for convolution ops."""

from __future__ import annotations

from typing import Any

from trtdsl.backends.trt.context import EmitContext, emitter
from trtdsl.ir.graph import Node
from trtdsl.ir.ops.conv import Conv2d


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

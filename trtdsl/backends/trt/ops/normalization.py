"""Emitters for normalization ops (a batch norm that was not folded) and softmax."""

from __future__ import annotations

from typing import Any

from trtdsl.backends.trt.context import EmitContext, emitter
from trtdsl.ir.graph import Node
from trtdsl.ir.ops.normalization import BatchNorm2d, Softmax, batch_norm_scale_shift


@emitter(BatchNorm2d)
def emit_batch_norm2d(ctx: EmitContext, node: Node) -> Any:
    """One IScaleLayer in CHANNEL mode on axis 1: x * scale + shift, with
    scale = weight / sqrt(running_var + eps) and shift = bias - running_mean * scale computed
    in float64. The derived weights are named ``<node>.scale`` and ``<node>.shift``.
    """
    op: BatchNorm2d = node.op  # type: ignore[assignment]
    w = ctx.weights
    scale, shift = batch_norm_scale_shift(
        w[f"{node.name}.weight"],
        w[f"{node.name}.bias"],
        w[f"{node.name}.running_mean"],
        w[f"{node.name}.running_var"],
        op.eps,
    )
    dtype = ctx.compute_dtype(node)
    scale_w = ctx.make_weights(scale, dtype, name=f"{node.name}.scale")
    shift_w = ctx.make_weights(shift, dtype, name=f"{node.name}.shift")
    # NOTE: channel_axis has no default and follows defaulted arguments: pass it by keyword.
    return ctx.network.add_scale_nd(
        ctx.input(node),
        ctx.trt.ScaleMode.CHANNEL,
        shift=shift_w,
        scale=scale_w,
        channel_axis=1,
    )


@emitter(Softmax)
def emit_softmax(ctx: EmitContext, node: Node) -> Any:
    """ISoftMaxLayer with ``axes = 1 << dim`` always set (TensorRT's default axis is not -1)."""
    op: Softmax = node.op  # type: ignore[assignment]
    rank = ctx.input_type(node).rank
    layer = ctx.network.add_softmax(ctx.input(node))
    if layer is not None:
        layer.axes = 1 << (op.dim % max(rank, 1))
    return layer

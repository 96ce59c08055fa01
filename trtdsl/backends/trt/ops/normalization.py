"""Emitters for normalization ops (a batch norm that was not folded, layer norm) and softmax."""

from __future__ import annotations

from typing import Any

import numpy as np

from trtdsl.backends.trt.context import EmitContext, emitter
from trtdsl.backends.trt.module import add_normalization
from trtdsl.ir.graph import Node
from trtdsl.ir.ops.normalization import BatchNorm2d, LayerNorm, Softmax, batch_norm_scale_shift


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


@emitter(LayerNorm)
def emit_layer_norm(ctx: EmitContext, node: Node) -> Any:
    """INormalizationLayer over the last ``len(normalized_shape)`` axes, with scale and bias
    constants shaped (1, ..., 1, *normalized_shape) (ones and zeros without affine weights)."""
    op: LayerNorm = node.op  # type: ignore[assignment]
    x = ctx.input_type(node)
    dtype = ctx.compute_dtype(node)
    shape = (1,) * (x.rank - op.axes) + tuple(op.normalized_shape)  # type: ignore[arg-type]
    roles = op.params([x])
    if "weight" in roles:
        weight = ctx.weights[f"{node.name}.weight"].reshape(shape)
    else:
        weight = np.ones(shape, np.float32)
    if "bias" in roles:
        bias = ctx.weights[f"{node.name}.bias"].reshape(shape)
    else:
        bias = np.zeros(shape, np.float32)
    scale_t = ctx.constant(node, "weight", weight, dtype)
    bias_t = ctx.constant(node, "bias", bias, dtype)
    axes = sum(1 << a for a in range(x.rank - op.axes, x.rank))
    layer = add_normalization(ctx.trt, ctx.network, ctx.input(node), scale_t, bias_t, axes)
    if layer is not None:
        layer.epsilon = op.eps
    return layer

"""Emitter for ``multi_head_attention``: projections as matrix multiplies, then TensorRT's fused
IAttention where the module has it (``add_attention_v2``), else matmul, softmax, matmul."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from trtdsl.backends.trt import module
from trtdsl.backends.trt.context import EmitContext, emitter
from trtdsl.ir.graph import Node
from trtdsl.ir.ops.attention import MultiheadAttention


def _project(
    ctx: EmitContext,
    node: Node,
    x: Any,
    weight: np.ndarray,
    bias: np.ndarray | None,
    part: str,
    final: bool = False,
) -> Any:
    """``x @ weight.T + bias`` for x (N, L, E): constants (1, out, E) and (1, 1, out) named
    ``node/part.weight`` and ``node/part.bias`` (the state_dict keys of ``out_proj``).

    Returns the output tensor, or with ``final`` the last layer, unregistered.
    """
    trt = ctx.trt
    dtype = ctx.compute_dtype(node)
    w = ctx.constant(node, f"{part}.weight", weight[None], dtype)
    layer = ctx.network.add_matrix_multiply(
        x, trt.MatrixOperation.NONE, w, trt.MatrixOperation.TRANSPOSE
    )
    if bias is None and final:
        return layer
    y = ctx.add(node, layer, part).get_output(0)
    if bias is None:
        return y
    b = ctx.constant(node, f"{part}.bias", bias[None, None], dtype)
    layer = ctx.network.add_elementwise(y, b, trt.ElementWiseOperation.SUM)
    return layer if final else ctx.add(node, layer, f"{part}/add").get_output(0)


def _split_heads(ctx: EmitContext, node: Node, x: Any, part: str) -> Any:
    """(N, L, E) -> (N, heads, L, head_dim)."""
    op: MultiheadAttention = node.op  # type: ignore[assignment]
    layer = ctx.network.add_shuffle(x)
    if layer is not None:
        layer.reshape_dims = (0, 0, op.num_heads, op.head_dim)
        layer.second_transpose = (0, 2, 1, 3)
    return ctx.add(node, layer, f"{part}_heads").get_output(0)


def _batch_first(ctx: EmitContext, node: Node, index: int) -> Any:
    """Input ``index`` as (N, L, E) (a transpose of torch's default (L, N, E) layout)."""
    op: MultiheadAttention = node.op  # type: ignore[assignment]
    x = ctx.input(node, index)
    if op.batch_first:
        return x
    layer = ctx.network.add_shuffle(x)
    if layer is not None:
        layer.first_transpose = (1, 0, 2)
    return ctx.add(node, layer, f"input{index}_batch_first").get_output(0)


@emitter(MultiheadAttention)
def emit_multi_head_attention(ctx: EmitContext, node: Node) -> Any:
    """q, k, v projections (q's weights pre-scaled by 1/sqrt(head_dim) in float64, as
    TensorRT's fused attention requires) split into heads; attention; heads merged; out_proj.

    ``module.fused_attention_available(trt)`` picks IAttention (``decomposable``, so that a
    target without a fused kernel still builds) or the matmul-softmax-matmul form.
    """
    op: MultiheadAttention = node.op  # type: ignore[assignment]
    trt = ctx.trt
    e = op.embed_dim
    w_in = ctx.weights[f"{node.name}.in_proj_weight"].astype(np.float64)
    b_in = ctx.weights[f"{node.name}.in_proj_bias"].astype(np.float64) if op.bias else None
    scale = 1.0 / math.sqrt(op.head_dim)
    query = _batch_first(ctx, node, 0)
    if len(node.inputs) == 3:
        key, value = _batch_first(ctx, node, 1), _batch_first(ctx, node, 2)
    else:
        key = value = query
    heads = []
    for part, x, index, factor in (
        ("q", query, 0, scale),
        ("k", key, 1, 1.0),
        ("v", value, 2, 1.0),
    ):
        rows = slice(index * e, (index + 1) * e)
        bias = None if b_in is None else b_in[rows] * factor
        projected = _project(ctx, node, x, w_in[rows] * factor, bias, f"{part}_proj")
        heads.append(_split_heads(ctx, node, projected, part))
    q, k, v = heads
    if module.fused_attention_available(trt):
        attention = module.add_attention(trt, ctx.network, q, k, v)
        context = ctx.add(node, attention, "attention").get_output(0)
    else:
        none, transpose = trt.MatrixOperation.NONE, trt.MatrixOperation.TRANSPOSE
        scores = ctx.network.add_matrix_multiply(q, none, k, transpose)
        scores_t = ctx.add(node, scores, "scores").get_output(0)
        softmax = ctx.network.add_softmax(scores_t)
        if softmax is not None:
            softmax.axes = 1 << 3
        probs = ctx.add(node, softmax, "softmax").get_output(0)
        weighted = ctx.network.add_matrix_multiply(probs, none, v, none)
        context = ctx.add(node, weighted, "context").get_output(0)
    merge = ctx.network.add_shuffle(context)
    if merge is not None:
        merge.first_transpose = (0, 2, 1, 3)
        merge.reshape_dims = (0, 0, e)
    merged = ctx.add(node, merge, "merge_heads").get_output(0)
    w_out = ctx.weights[f"{node.name}.out_proj.weight"]
    b_out = ctx.weights[f"{node.name}.out_proj.bias"] if op.bias else None
    if op.batch_first:
        return _project(ctx, node, merged, w_out, b_out, "out_proj", final=True)
    out = _project(ctx, node, merged, w_out, b_out, "out_proj")
    layer = ctx.network.add_shuffle(out)
    if layer is not None:
        layer.first_transpose = (1, 0, 2)
    return layer

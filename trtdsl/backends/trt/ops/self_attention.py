"""Emitter for ``self_attention``: the checkpoint's projections as constants named by their
state_dict keys, heads split, q scaled, then TensorRT's fused IAttention where the module has
it (``module.fused_attention_available``), else matmul, softmax, matmul; heads merged, and
the output projection.

Masks: a 2-D key padding mask (N, L) becomes (N, 1, 1, L). IAttention takes a mask or a causal
kind, not both: with both, the causal triangle is folded into the mask (AND for bool, a sum
of -inf/0 for float). The composed form masks the scores (bool: -inf where false), and with a
mask zeroes the rows of queries that attend to nothing (softmax would give NaN there), as
PyTorch 2.13 does.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from trtdsl.backends.trt import module
from trtdsl.backends.trt.context import EmitContext, NodeLayers, emitter
from trtdsl.backends.trt.ops.creation import max_size, sliced_prefix
from trtdsl.backends.trt.ops.dynamic import DimSource, reshape
from trtdsl.ir.graph import Node
from trtdsl.ir.ops.self_attention import SelfAttention
from trtdsl.ir.types import DType


def _project(ctx: EmitContext, node: Node, x: Any, name: str, final: bool = False) -> Any:
    """``x`` (N, L, E) through projection ``name``: its weight as a constant (1, *stored
    shape) (``node/<name>.weight``, named by its key; TRANSPOSE for the ``linear`` layout),
    its bias (1, 1, out) added. Returns the output tensor, or with ``final`` the last layer,
    unregistered."""
    op: SelfAttention = node.op  # type: ignore[assignment]
    trt = ctx.trt
    dtype = ctx.compute_dtype(node)
    weight = ctx.weights[f"{node.name}.{name}.weight"]
    w = ctx.constant(node, f"{name}.weight", weight[None], dtype)
    how = (
        trt.MatrixOperation.TRANSPOSE if op.weight_layout == "linear" else trt.MatrixOperation.NONE
    )
    layer = ctx.network.add_matrix_multiply(x, trt.MatrixOperation.NONE, w, how)
    if not op.bias:
        return layer if final else ctx.add(node, layer, name).get_output(0)
    y = ctx.add(node, layer, name).get_output(0)
    b = ctx.constant(
        node, f"{name}.bias", ctx.weights[f"{node.name}.{name}.bias"][None, None], dtype
    )
    layer = ctx.network.add_elementwise(y, b, trt.ElementWiseOperation.SUM)
    return layer if final else ctx.add(node, layer, f"{name}/bias").get_output(0)


def _heads(ctx: EmitContext, node: Node, x: Any) -> tuple[Any, Any, Any]:
    """q, k, v as (N, heads, L, head_dim)."""
    op: SelfAttention = node.op  # type: ignore[assignment]
    h, d = op.num_heads, op.head_dim
    layers = NodeLayers(ctx, node)
    if op.qkv_proj is None:
        heads = []
        for kind, name in zip("qkv", (op.q_proj, op.k_proj, op.v_proj), strict=True):
            layer = ctx.network.add_shuffle(_project(ctx, node, x, name))  # type: ignore[arg-type]
            if layer is not None:
                layer.reshape_dims = (0, 0, h, d)
                layer.second_transpose = (0, 2, 1, 3)
            heads.append(layers.add(layer, f"{kind}_heads"))
        return heads[0], heads[1], heads[2]
    stacked = layers.reshape(_project(ctx, node, x, op.qkv_proj), (0, 0, 3, h, d), "qkv_split")
    heads = []
    for index, kind in enumerate("qkv"):
        part = layers.const(f"{kind}_index", np.asarray(index, np.int32), DType.INT32)
        picked = layers.gather(stacked, part, 2, f"{kind}_pick", element=False)
        layer = ctx.network.add_shuffle(picked)
        if layer is not None:
            layer.first_transpose = (0, 2, 1, 3)
        heads.append(layers.add(layer, f"{kind}_heads"))
    return heads[0], heads[1], heads[2]


def _causal(ctx: EmitContext, node: Node, as_bool: bool) -> Any:
    """The causal triangle (1, 1, L, L): bool (true: j <= i) or additive (0 / -inf) in the
    compute dtype. A dynamic L slices a constant of its declared maximum (``node/causal``)."""
    length = ctx.input_type(node).shape[1]
    longest = max_size(ctx, length)
    allowed = np.tri(longest, longest, dtype=np.bool_)[None, None]
    if as_bool:
        values, dtype = allowed.astype(np.int32), DType.INT32
    else:
        values, dtype = np.where(allowed, 0.0, -np.inf), ctx.compute_dtype(node)
    table = ctx.constant(node, "causal_values", values, dtype)
    layers = NodeLayers(ctx, node)
    if not isinstance(length, int):
        sizes: list[DimSource] = [1, 1, (0, 1), (0, 1)]
        table = layers.add(sliced_prefix(ctx, node, table, sizes, (1,) * 4, "causal"), "causal")
    return layers.cast(table, DType.BOOL, "causal_bool") if as_bool else table


def _mask(ctx: EmitContext, node: Node) -> tuple[Any, bool] | None:
    """The mask as a 4-D tensor with the causal triangle folded in where ``causal`` is set,
    and whether it is bool; None without a mask input."""
    op: SelfAttention = node.op  # type: ignore[assignment]
    if len(node.inputs) < 2:
        return None
    mask_type = ctx.input_type(node, 1)
    mask = ctx.input(node, 1)
    n, length = mask_type.shape if mask_type.rank == 2 else (0, 0)
    if mask_type.rank == 2:  # a key padding mask (N, L) -> (N, 1, 1, L)
        mask = reshape(ctx, node, mask, mask_type, (n, 1, 1, length), "mask_4d")
    is_bool = mask_type.dtype is DType.BOOL
    if op.causal:
        layers = NodeLayers(ctx, node)
        causal = _causal(ctx, node, is_bool)
        mask = layers.ew(mask, causal, "AND" if is_bool else "SUM", "mask_causal")
    return mask, is_bool


def _composed(ctx: EmitContext, node: Node, q: Any, k: Any, v: Any) -> Any:
    """softmax(q k^T + mask) v with IMatrixMultiplyLayer and ISoftMaxLayer."""
    op: SelfAttention = node.op  # type: ignore[assignment]
    trt = ctx.trt
    layers = NodeLayers(ctx, node)
    dtype = ctx.compute_dtype(node)
    none, transpose = trt.MatrixOperation.NONE, trt.MatrixOperation.TRANSPOSE
    scores = layers.add(ctx.network.add_matrix_multiply(q, none, k, transpose), "scores")
    masked = _mask(ctx, node)
    neg_inf = layers.const("neg_inf", np.full((1, 1, 1, 1), -np.inf), dtype) if masked else None
    if masked is not None:
        mask, is_bool = masked
        if is_bool:
            scores = layers.add(ctx.network.add_select(mask, scores, neg_inf), "masked")
        else:
            scores = layers.ew(scores, mask, "SUM", "masked")
    elif op.causal:
        scores = layers.ew(scores, _causal(ctx, node, False), "SUM", "masked")
    softmax = ctx.network.add_softmax(scores)
    if softmax is not None:
        softmax.axes = 1 << 3
    probs = layers.add(softmax, "softmax")
    if masked is not None:  # rows attending to nothing: zeros, not NaN
        top = ctx.network.add_reduce(scores, trt.ReduceOperation.MAX, 1 << 3, True)
        attended = layers.ew(layers.add(top, "row_max"), neg_inf, "GREATER", "attended")
        zero = layers.const("zero", np.zeros((1, 1, 1, 1)), dtype)
        probs = layers.add(ctx.network.add_select(attended, probs, zero), "safe_softmax")
    return layers.add(ctx.network.add_matrix_multiply(probs, none, v, none), "context")


@emitter(SelfAttention)
def emit_self_attention(ctx: EmitContext, node: Node) -> Any:
    """Projections and heads; q times ``scale`` (``node/q_scaled``: TensorRT's attention does
    not scale); the fused or composed attention; heads merged (``node/merge_heads``); the
    output projection, if any."""
    op: SelfAttention = node.op  # type: ignore[assignment]
    layers = NodeLayers(ctx, node)
    dtype = ctx.compute_dtype(node)
    q, k, v = _heads(ctx, node, ctx.input(node))
    scale = 1.0 / np.sqrt(op.head_dim) if op.scale is None else op.scale
    q = layers.ew(q, layers.const("scale", np.full((1, 1, 1, 1), scale), dtype), "PROD", "q_scaled")
    if module.fused_attention_available(ctx.trt):
        masked = _mask(ctx, node)
        mask = None if masked is None else masked[0]
        causal = op.causal and mask is None
        attention = module.add_attention(ctx.trt, ctx.network, q, k, v, causal, mask)
        context = ctx.add(node, attention, "attention").get_output(0)
    else:
        context = _composed(ctx, node, q, k, v)
    merge = ctx.network.add_shuffle(context)
    if merge is not None:
        merge.first_transpose = (0, 2, 1, 3)
        merge.reshape_dims = (0, 0, op.embed_dim)
    if op.out_proj is None:
        return merge
    merged = layers.add(merge, "merge_heads")
    return _project(ctx, node, merged, op.out_proj, final=True)

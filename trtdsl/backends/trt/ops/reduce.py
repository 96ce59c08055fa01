"""Emitter for ``argmax``: ITopKLayer (MAX, k = 1) and its index output.

NOTE: TensorRT has no arg-reduction in IReduceLayer; TopK's second output holds the indices
(int32 by default; int64 asked for, as torch.argmax returns). TopK reduces one of the last
four dimensions.
"""

from __future__ import annotations

from typing import Any

from trtdsl.backends.trt.context import EmitContext, emitter
from trtdsl.ir.graph import Node
from trtdsl.ir.ops.reduce import ArgMax


@emitter(ArgMax)
def emit_argmax(ctx: EmitContext, node: Node) -> Any:
    """TopK(MAX, 1) along ``dim`` with int64 indices, then a shuffle that moves the reduced
    size-1 axis last and drops it (or an identity with ``keepdim``)."""
    op: ArgMax = node.op  # type: ignore[assignment]
    trt = ctx.trt
    rank = ctx.input_type(node).rank
    axis = op.axis(rank)
    topk = ctx.network.add_topk(ctx.input(node), trt.TopKOperation.MAX, 1, 1 << axis, trt.int64)
    indices = ctx.add(node, topk, "topk").get_output(1)
    if op.keepdim:
        return ctx.network.add_identity(indices)
    layer = ctx.network.add_shuffle(indices)
    if layer is not None:
        layer.first_transpose = tuple(a for a in range(rank) if a != axis) + (axis,)
        layer.reshape_dims = (0,) * (rank - 1)  # 0 copies each kept dimension
    return layer

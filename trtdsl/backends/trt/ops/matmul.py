"""Emitter for ``matmul`` (IMatrixMultiplyLayer)."""

from __future__ import annotations

from typing import Any

from trtdsl.backends.trt.context import EmitContext, emitter
from trtdsl.backends.trt.ops.dynamic import reshape, reshape_layer, with_leading_ones
from trtdsl.ir.graph import Node
from trtdsl.ir.ops.matmul import MatMul


@emitter(MatMul)
def emit_matmul(ctx: EmitContext, node: Node) -> Any:
    """One IMatrixMultiplyLayer (NONE, NONE) after giving both inputs the same rank.

    NOTE: TensorRT broadcasts batch dimensions of size 1 but needs "the number of these extra
    dimensions for A and B" to match: size-1 axes are added in front. A rank-1 input becomes a
    (1, k) row or (k, 1) column, and that axis is dropped from the product afterwards.
    """
    a_type, b_type = ctx.input_type(node, 0), ctx.input_type(node, 1)
    a, b = ctx.input(node, 0), ctx.input(node, 1)
    if a_type.rank == 1:
        a = reshape(ctx, node, a, a_type, (1, *a_type.shape), "row")
        a_type = a_type.with_shape((1, *a_type.shape))
    if b_type.rank == 1:
        b = reshape(ctx, node, b, b_type, (*b_type.shape, 1), "column")
        b_type = b_type.with_shape((*b_type.shape, 1))
    rank = max(a_type.rank, b_type.rank)
    a = with_leading_ones(ctx, node, a, a_type, rank, "broadcast0")
    b = with_leading_ones(ctx, node, b, b_type, rank, "broadcast1")
    none = ctx.trt.MatrixOperation.NONE
    layer = ctx.network.add_matrix_multiply(a, none, b, none)
    out = ctx.output_type(node)
    if out.rank == rank:
        return layer
    # A vector operand: drop its size-1 row or column from (*batch, n, m).
    product = ctx.add(node, layer, "matmul").get_output(0)
    n = 1 if ctx.input_type(node, 0).rank == 1 else a_type.shape[-2]
    m = 1 if ctx.input_type(node, 1).rank == 1 else b_type.shape[-1]
    full = out.with_shape((*out.shape[: rank - 2], n, m))
    return reshape_layer(ctx, node, product, full, out.shape)

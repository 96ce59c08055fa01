"""Emitter for ``hf_conv1d`` (Hugging Face's Conv1D): constant weights (in, out), a matrix
multiply without transposition, a bias."""

from __future__ import annotations

from typing import Any

from trtdsl.backends.trt.context import EmitContext, emitter
from trtdsl.ir.graph import Node
from trtdsl.ir.ops.hf_linear import HFConv1D


@emitter(HFConv1D)
def emit_hf_conv1d(ctx: EmitContext, node: Node) -> Any:
    """y = x @ W + b for x (*, in), W (in, out) as stored, b (out,): W a constant
    (1, ..., 1, in, out) of x's rank (TensorRT wants equally many batch dims on both sides);
    a rank-1 x multiplies as a VECTOR."""
    op: HFConv1D = node.op  # type: ignore[assignment]
    trt = ctx.trt
    rank = ctx.input_type(node).rank
    dtype = ctx.compute_dtype(node)
    weight = ctx.weights[f"{node.name}.weight"]
    w = ctx.constant(
        node, "weight", weight.reshape((1,) * max(rank - 2, 0) + tuple(weight.shape)), dtype
    )
    op0 = trt.MatrixOperation.VECTOR if rank == 1 else trt.MatrixOperation.NONE
    matmul = ctx.network.add_matrix_multiply(ctx.input(node), op0, w, trt.MatrixOperation.NONE)
    if not op.bias:
        return matmul
    ctx.add(node, matmul, "matmul")
    bias = ctx.weights[f"{node.name}.bias"]
    b = ctx.constant(node, "bias", bias.reshape((1,) * (rank - 1) + bias.shape), dtype)
    return ctx.network.add_elementwise(matmul.get_output(0), b, trt.ElementWiseOperation.SUM)

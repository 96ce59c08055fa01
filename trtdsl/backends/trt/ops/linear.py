"""Emitters for fully connected ops: constant weights + matrix multiply + bias.

NOTE: TensorRT 10 removed IFullyConnectedLayer; NVIDIA's network_api_pytorch_mnist sample
builds a linear layer exactly this way (``add_matmul_as_fc``).
"""

from __future__ import annotations

from typing import Any

from trtdsl.backends.trt.context import EmitContext, emitter
from trtdsl.ir.graph import Node
from trtdsl.ir.ops.hf_linear import HFConv1D
from trtdsl.ir.ops.linear import Linear


@emitter(Linear)
def emit_linear(ctx: EmitContext, node: Node) -> Any:
    """y = x @ W.T + b for x (*, in) and W (out, in), b (out,).

    W becomes a constant of shape (1, ..., 1, out, in) (same rank as x: TensorRT wants
    equally many batch dims on both sides) multiplied with op1 = TRANSPOSE; the bias is a
    constant (1, ..., 1, out) added elementwise. A rank-1 x multiplies as a VECTOR.
    """
    return emit_matmul_bias(ctx, node, transposed=True)


def emit_matmul_bias(ctx: EmitContext, node: Node, transposed: bool) -> Any:
    """``x @ W (+ b)`` for a linear layer's node: W its ``weight`` as stored, (out, in) when
    ``transposed`` (multiplied with TRANSPOSE), else (in, out); a constant of x's rank; the
    bias (if the op has one) a constant (1, ..., 1, out) added elementwise."""
    op = node.op
    assert isinstance(op, (Linear, HFConv1D))
    trt = ctx.trt
    x = ctx.input(node)
    rank = ctx.input_type(node).rank
    dtype = ctx.compute_dtype(node)
    weight = ctx.weights[f"{node.name}.weight"]
    w_shape = (1,) * max(rank - 2, 0) + tuple(weight.shape)
    w = ctx.constant(node, "weight", weight.reshape(w_shape), dtype)
    op0 = trt.MatrixOperation.VECTOR if rank == 1 else trt.MatrixOperation.NONE
    op1 = trt.MatrixOperation.TRANSPOSE if transposed else trt.MatrixOperation.NONE
    matmul = ctx.network.add_matrix_multiply(x, op0, w, op1)
    if not op.bias:
        return matmul
    ctx.add(node, matmul, "matmul")
    bias = ctx.weights[f"{node.name}.bias"]
    b = ctx.constant(node, "bias", bias.reshape((1,) * (rank - 1) + bias.shape), dtype)
    return ctx.network.add_elementwise(matmul.get_output(0), b, trt.ElementWiseOperation.SUM)

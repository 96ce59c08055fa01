"""Emitter for ``hf_conv1d`` (Hugging Face's Conv1D): constant weights (in, out), a matrix
multiply without transposition, a bias."""

from __future__ import annotations

from typing import Any

from trtdsl.backends.trt.context import EmitContext, emitter
from trtdsl.backends.trt.ops.linear import emit_matmul_bias
from trtdsl.ir.graph import Node
from trtdsl.ir.ops.hf_linear import HFConv1D


@emitter(HFConv1D)
def emit_hf_conv1d(ctx: EmitContext, node: Node) -> Any:
    """y = x @ W + b for x (*, in), W (in, out) as stored, b (out,): W a constant
    (1, ..., 1, in, out) of x's rank (TensorRT wants equally many batch dims on both sides);
    a rank-1 x multiplies as a VECTOR."""
    return emit_matmul_bias(ctx, node, transposed=False)

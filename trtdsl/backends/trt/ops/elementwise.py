"""Emitters for binary elementwise ops (IElementWiseLayer), with a tensor or scalar operand."""

from __future__ import annotations

from typing import Any

import numpy as np

from trtdsl.backends.trt.context import EmitContext, emitter
from trtdsl.errors import BackendError
from trtdsl.ir.graph import Node
from trtdsl.ir.ops.elementwise import Add, Div, Mul, Sub
from trtdsl.ir.types import TensorType


def _binary(ctx: EmitContext, node: Node, operation: str) -> Any:
    """``add_elementwise`` after giving both inputs the output's rank.

    NOTE: TensorRT broadcasts only between tensors of equal rank (size-1 dims stretch);
    NumPy's leading-dimension promotion is done here with a reshape.
    """
    rank = ctx.output_type(node).rank
    a = _with_rank(ctx, node, 0, rank)
    other = node.op.other  # type: ignore[attr-defined]
    if other is not None:  # a scalar operand: a constant of shape (1, ..., 1)
        value = np.full((1,) * rank, other, dtype=np.float64)
        b = ctx.constant(node, "other", value, ctx.compute_dtype(node))
    else:
        b = _with_rank(ctx, node, 1, rank)
    return ctx.network.add_elementwise(a, b, getattr(ctx.trt.ElementWiseOperation, operation))


def _with_rank(ctx: EmitContext, node: Node, index: int, rank: int) -> Any:
    t: TensorType = ctx.input_type(node, index)
    tensor = ctx.input(node, index)
    if t.rank == rank:
        return tensor
    if len(t.symbols) > 1:
        raise BackendError(
            f"{node.where()}: cannot broadcast {t} to rank {rank} with more than one "
            f"dynamic dimension; reshape it explicitly"
        )
    layer = ctx.network.add_shuffle(tensor)
    # 1s in front; -1 stands for the (at most one) dynamic dimension.
    layer.reshape_dims = (1,) * (rank - t.rank) + tuple(
        d if isinstance(d, int) else -1 for d in t.shape
    )
    return ctx.add(node, layer, f"broadcast{index}").get_output(0)


@emitter(Add)
def emit_add(ctx: EmitContext, node: Node) -> Any:
    return _binary(ctx, node, "SUM")


@emitter(Sub)
def emit_sub(ctx: EmitContext, node: Node) -> Any:
    return _binary(ctx, node, "SUB")


@emitter(Mul)
def emit_mul(ctx: EmitContext, node: Node) -> Any:
    return _binary(ctx, node, "PROD")


@emitter(Div)
def emit_div(ctx: EmitContext, node: Node) -> Any:
    return _binary(ctx, node, "DIV")

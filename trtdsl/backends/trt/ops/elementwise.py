"""Emitters for elementwise ops: arithmetic and comparisons (IElementWiseLayer, with a tensor or
scalar operand; ``ne``, ``le``, ``ge`` add a NOT or an OR), ``where`` (ISelectLayer) and ``abs``
(IUnaryLayer)."""

from __future__ import annotations

from typing import Any

import numpy as np

from trtdsl.backends.trt.context import EmitContext, emitter
from trtdsl.errors import BackendError
from trtdsl.ir.graph import Node
from trtdsl.ir.ops.elementwise import Abs, Add, Div, Eq, Ge, Gt, Le, Lt, Mul, Ne, Sub, Where
from trtdsl.ir.types import TensorType


def _operands(ctx: EmitContext, node: Node) -> tuple[Any, Any]:
    """Both operands of a binary node with the output's rank: the inputs, or the input and
    the scalar ``other`` as a constant (1, ..., 1) of the input's dtype (``node/other``).

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
    return a, b


def _elementwise(ctx: EmitContext, a: Any, b: Any, operation: str) -> Any:
    return ctx.network.add_elementwise(a, b, getattr(ctx.trt.ElementWiseOperation, operation))


def _binary(ctx: EmitContext, node: Node, operation: str) -> Any:
    """One ``add_elementwise`` of the operands (see ``_operands``)."""
    return _elementwise(ctx, *_operands(ctx, node), operation)


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


@emitter(Eq)
def emit_eq(ctx: EmitContext, node: Node) -> Any:
    return _binary(ctx, node, "EQUAL")


@emitter(Lt)
def emit_lt(ctx: EmitContext, node: Node) -> Any:
    return _binary(ctx, node, "LESS")


@emitter(Gt)
def emit_gt(ctx: EmitContext, node: Node) -> Any:
    return _binary(ctx, node, "GREATER")


@emitter(Ne)
def emit_ne(ctx: EmitContext, node: Node) -> Any:
    """NOT(EQUAL): true for NaN, as ``torch.ne``."""
    equal = ctx.add(node, _binary(ctx, node, "EQUAL"), "equal").get_output(0)
    return ctx.network.add_unary(equal, ctx.trt.UnaryOperation.NOT)


def _or_equal(ctx: EmitContext, node: Node, strict: str) -> Any:
    """OR(``strict``, EQUAL): false for NaN, as ``torch.le``/``torch.ge`` (NOT of the opposite
    strict comparison would be true for NaN)."""
    a, b = _operands(ctx, node)
    strictly = ctx.add(node, _elementwise(ctx, a, b, strict), strict.lower()).get_output(0)
    equal = ctx.add(node, _elementwise(ctx, a, b, "EQUAL"), "equal").get_output(0)
    return _elementwise(ctx, strictly, equal, "OR")


@emitter(Le)
def emit_le(ctx: EmitContext, node: Node) -> Any:
    return _or_equal(ctx, node, "LESS")


@emitter(Ge)
def emit_ge(ctx: EmitContext, node: Node) -> Any:
    return _or_equal(ctx, node, "GREATER")


@emitter(Where)
def emit_where(ctx: EmitContext, node: Node) -> Any:
    """ISelectLayer after giving the three inputs the output's rank."""
    rank = ctx.output_type(node).rank
    condition, a, b = (_with_rank(ctx, node, i, rank) for i in range(3))
    return ctx.network.add_select(condition, a, b)


@emitter(Abs)
def emit_abs(ctx: EmitContext, node: Node) -> Any:
    return ctx.network.add_unary(ctx.input(node), ctx.trt.UnaryOperation.ABS)

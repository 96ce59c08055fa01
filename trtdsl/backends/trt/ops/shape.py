"""Emitters for shape ops (IShuffleLayer, IConcatenationLayer) and the inference no-ops."""

from __future__ import annotations

from typing import Any

from trtdsl.backends.trt.context import EmitContext, emitter
from trtdsl.backends.trt.ops.dynamic import DimSource, shape_tensor, with_leading_ones
from trtdsl.errors import BackendError
from trtdsl.ir.graph import Node
from trtdsl.ir.ops.shape import (
    Concat,
    Dropout,
    Expand,
    Flatten,
    Identity,
    Permute,
    Reshape,
    Transpose,
)


def reshape_dims(ctx: EmitContext, node: Node) -> tuple[int, ...]:
    """TensorRT reshape dims giving the node's IR output shape.

    Static sizes are written out; a symbolic size at the same position as in the input is 0
    (TensorRT copies that input dimension: ``zero_is_placeholder`` is True by default);
    one that moved is -1 (inferred), which works for at most one.
    """
    x = ctx.input_type(node)
    dims: list[int] = []
    for i, d in enumerate(ctx.output_type(node).shape):
        if isinstance(d, int):
            dims.append(d)
        elif i < x.rank and x.shape[i] == d:
            dims.append(0)
        else:
            dims.append(-1)
    if dims.count(-1) > 1:
        raise BackendError(
            f"{node.where()}: {node.op.op_name} moves more than one dynamic dimension "
            f"({ctx.input_type(node)} -> {ctx.output_type(node)}), which a static reshape "
            f"cannot express"
        )
    return tuple(dims)


def _shuffle(ctx: EmitContext, node: Node) -> Any:
    layer = ctx.network.add_shuffle(ctx.input(node))
    if layer is not None:
        layer.reshape_dims = reshape_dims(ctx, node)
    return layer


@emitter(Flatten)
def emit_flatten(ctx: EmitContext, node: Node) -> Any:
    return _shuffle(ctx, node)


@emitter(Reshape)
def emit_reshape(ctx: EmitContext, node: Node) -> Any:
    return _shuffle(ctx, node)


@emitter(Permute)
def emit_permute(ctx: EmitContext, node: Node) -> Any:
    """IShuffleLayer with ``first_transpose`` = the permutation (output axis i = input dims[i])."""
    op: Permute = node.op  # type: ignore[assignment]
    rank = ctx.input_type(node).rank
    layer = ctx.network.add_shuffle(ctx.input(node))
    if layer is not None:
        layer.first_transpose = tuple(d % rank for d in op.dims)
    return layer


@emitter(Concat)
def emit_concat(ctx: EmitContext, node: Node) -> Any:
    """IConcatenationLayer with ``axis`` always set (TensorRT's default is rank - 3)."""
    op: Concat = node.op  # type: ignore[assignment]
    rank = ctx.input_type(node).rank
    inputs = [ctx.input(node, i) for i in range(len(node.inputs))]
    layer = ctx.network.add_concatenation(inputs)
    if layer is not None:
        layer.axis = op.dim % rank
    return layer


@emitter(Identity)
def emit_identity(ctx: EmitContext, node: Node) -> Any:
    """An IIdentityLayer, so that the node still has a layer of its name (TensorRT removes it)."""
    return ctx.network.add_identity(ctx.input(node))


@emitter(Dropout)
def emit_dropout(ctx: EmitContext, node: Node) -> Any:
    """The identity at inference."""
    return ctx.network.add_identity(ctx.input(node))


@emitter(Transpose)
def emit_transpose(ctx: EmitContext, node: Node) -> Any:
    """IShuffleLayer whose ``first_transpose`` swaps the two axes."""
    op: Transpose = node.op  # type: ignore[assignment]
    layer = ctx.network.add_shuffle(ctx.input(node))
    if layer is not None:
        layer.first_transpose = op.permutation(ctx.input_type(node).rank)
    return layer


@emitter(Expand)
def emit_expand(ctx: EmitContext, node: Node) -> Any:
    """An ISliceLayer with stride 0 along expanded axes (every output index reads element 0),
    after size-1 axes are added in front. A symbolic output size is read from the second
    input's shape at run time (a shape tensor on the slice's size input).
    """
    x_type, out = ctx.input_type(node), ctx.output_type(node)
    x = with_leading_ones(ctx, node, ctx.input(node), x_type, out.rank, "rank")
    padded = (1,) * (out.rank - x_type.rank) + x_type.shape
    stride = tuple(0 if d == 1 and o != 1 else 1 for d, o in zip(padded, out.shape, strict=True))
    static = tuple(d if isinstance(d, int) else 0 for d in out.shape)
    tensors = []
    if not out.is_static:  # (built first: layers are added in an order where inputs come first)
        entries: list[DimSource] = [
            d if isinstance(d, int) else (1, axis) for axis, d in enumerate(out.shape)
        ]
        # The start too (zeros): a slice's shape-tensor inputs are set in order.
        tensors = [
            shape_tensor(ctx, node, [0] * out.rank, "start"),
            shape_tensor(ctx, node, entries, "size"),
        ]
    layer = ctx.network.add_slice(x, (0,) * out.rank, static, stride)
    if layer is not None:
        for index, tensor in enumerate(tensors, start=1):
            layer.set_input(index, tensor)
    return layer

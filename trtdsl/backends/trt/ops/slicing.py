"""Emitters for slicing ops: ``narrow`` as an ISliceLayer, or shuffle + mask + reduce when the
input has dynamic dimensions; ``select`` as a gather; ``slice`` as an ISliceLayer or a gather."""

from __future__ import annotations

from typing import Any

import numpy as np

from trtdsl.backends.trt.context import EmitContext, emitter
from trtdsl.errors import BackendError
from trtdsl.ir.graph import Node
from trtdsl.ir.ops.slicing import Narrow, Select, Slice
from trtdsl.ir.types import DType


@emitter(Narrow)
def emit_narrow(ctx: EmitContext, node: Node) -> Any:
    """A static input: one ISliceLayer (start 0 except ``start`` on the axis, stride 1).

    A dynamic input (e.g. a symbolic batch): a static ISliceLayer cannot cover a -1 extent
    (it would need shape tensors), so an even split is composed from layers that accept
    dynamic dimensions: reshape the axis of size S into (S / length, length), multiply by a
    one-hot mask over the S / length pieces, and SUM-reduce that axis away. This is exact for
    finite values (x*1 + 0 + ... = x); a NaN or infinity in another piece would spread.
    """
    op: Narrow = node.op  # type: ignore[assignment]
    x = ctx.input_type(node)
    axis = op.axis(x.rank)
    if x.is_static:
        start = [0] * x.rank
        start[axis] = op.start
        shape = tuple(int(d) for d in ctx.output_type(node).shape)
        return ctx.network.add_slice(ctx.input(node), tuple(start), shape, (1,) * x.rank)
    size = int(x.shape[axis])
    if size % op.length or op.start % op.length:
        raise BackendError(
            f"{node.where()}: narrow of dynamic-shaped {x} needs size {size} and start "
            f"{op.start} to be multiples of length {op.length} (an even split); give static "
            f"input shapes to slice anywhere"
        )
    pieces = size // op.length
    dims: list[int] = []
    for i, d in enumerate(x.shape):
        if i == axis:
            dims += [pieces, op.length]
        elif isinstance(d, int):
            dims.append(d)
        else:  # 0 copies the input's size at the same index (only before the split axis)
            dims.append(0 if i < axis else -1)
    if dims.count(-1) > 1:
        raise BackendError(
            f"{node.where()}: narrow of {x}: more than one dynamic dimension after axis "
            f"{axis}; give static input shapes"
        )
    shuffle = ctx.network.add_shuffle(ctx.input(node))
    if shuffle is not None:
        shuffle.reshape_dims = tuple(dims)
    pieces_tensor = ctx.add(node, shuffle, "pieces").get_output(0)
    mask = np.zeros([1] * axis + [pieces] + [1] * (x.rank - axis), dtype=np.float64)
    mask.reshape(-1)[op.start // op.length] = 1.0
    mask_tensor = ctx.constant(node, "mask", mask, ctx.compute_dtype(node))
    masked = ctx.network.add_elementwise(
        pieces_tensor, mask_tensor, ctx.trt.ElementWiseOperation.PROD
    )
    masked_tensor = ctx.add(node, masked, "masked").get_output(0)
    return ctx.network.add_reduce(masked_tensor, ctx.trt.ReduceOperation.SUM, 1 << axis, False)


@emitter(Select)
def emit_select(ctx: EmitContext, node: Node) -> Any:
    """IGatherLayer (DEFAULT mode) with a rank-0 int32 index constant: the axis is removed,
    and the other axes may be dynamic."""
    op: Select = node.op  # type: ignore[assignment]
    axis, index = op.position(ctx.input_type(node))
    indices = ctx.constant(node, "index", np.asarray(index, dtype=np.int32), DType.INT32)
    return ctx.network.add_gather(ctx.input(node), indices, axis)


@emitter(Slice)
def emit_slice(ctx: EmitContext, node: Node) -> Any:
    """A static input: one ISliceLayer (start, length, step on the axis). A dynamic input: an
    IGatherLayer of the selected indices (a static ISliceLayer cannot cover -1 extents)."""
    op: Slice = node.op  # type: ignore[assignment]
    x = ctx.input_type(node)
    axis, first, length = op.bounds(x)
    if x.is_static:
        start = [0] * x.rank
        start[axis] = first
        stride = [1] * x.rank
        stride[axis] = op.step
        shape = tuple(int(d) for d in ctx.output_type(node).shape)
        return ctx.network.add_slice(ctx.input(node), tuple(start), shape, tuple(stride))
    picked = np.arange(first, first + length * op.step, op.step, dtype=np.int32)
    indices = ctx.constant(node, "indices", picked, DType.INT32)
    return ctx.network.add_gather(ctx.input(node), indices, axis)

"""Helpers for emitters whose layers need sizes known only at run time (shape tensors), and
for reshapes that add or remove axes of tensors with symbolic dimensions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from trtdsl.backends.trt.context import EmitContext
from trtdsl.errors import BackendError
from trtdsl.ir.graph import Node
from trtdsl.ir.types import Dim, DType, TensorType

DimSource = int | tuple[int, int]
"""One entry of a shape tensor: a static size, or ``(input index, axis)``: that dimension of
that input of the node, read at run time."""


def shape_tensor(ctx: EmitContext, node: Node, entries: Sequence[DimSource], part: str) -> Any:
    """A 1-D int64 shape tensor with one value per entry, built from IShapeLayer slices and
    constants (layers ``node/part/...``). TensorRT folds the static entries at build time, so
    the output dimensions they give stay static in the network.
    """
    shapes: dict[int, Any] = {}
    pieces: list[Any] = []
    index = 0
    while index < len(entries):
        entry = entries[index]
        end = index + 1
        if isinstance(entry, int):
            while end < len(entries) and isinstance(entries[end], int):
                end += 1
            values = np.asarray(entries[index:end], dtype=np.int64)
            pieces.append(ctx.constant(node, f"{part}/{index}", values, DType.INT64))
        else:
            source, axis = entry
            while end < len(entries) and entries[end] == (source, axis + end - index):
                end += 1
            if source not in shapes:
                layer = ctx.network.add_shape(ctx.input(node, source))
                shapes[source] = ctx.add(node, layer, f"{part}/shape{source}").get_output(0)
            layer = ctx.network.add_slice(shapes[source], (axis,), (end - index,), (1,))
            pieces.append(ctx.add(node, layer, f"{part}/{index}").get_output(0))
        index = end
    if len(pieces) == 1:
        return pieces[0]
    concat = ctx.network.add_concatenation(pieces)
    if concat is not None:
        concat.axis = 0
    return ctx.add(node, concat, part).get_output(0)


def dim_entries(t: TensorType, sources: dict[Dim, tuple[int, int]]) -> list[DimSource]:
    """Shape-tensor entries for the dims of ``t``: static sizes as ints, each symbolic size from
    ``sources`` (symbol -> (input index, axis)); BackendError for a symbol without one."""
    entries: list[DimSource] = []
    for d in t.shape:
        if isinstance(d, int):
            entries.append(d)
        elif d in sources:
            entries.append(sources[d])
        else:
            raise BackendError(f"no input gives the run-time size {d!r} of {t}")
    return entries


def symbol_sources(ctx: EmitContext, node: Node) -> dict[Dim, tuple[int, int]]:
    """Each symbolic dimension of the node's inputs -> (input index, axis) of its first use."""
    sources: dict[Dim, tuple[int, int]] = {}
    for index in range(len(node.inputs)):
        for axis, d in enumerate(ctx.input_type(node, index).shape):
            if isinstance(d, str):
                sources.setdefault(d, (index, axis))
    return sources


def reshape_layer(
    ctx: EmitContext, node: Node, tensor: Any, source: TensorType, target: Sequence[Dim]
) -> Any:
    """An IShuffleLayer reshaping ``tensor`` (of type ``source``) to ``target`` (not yet
    registered: pass it to ``ctx.add``, or return it from the emitter).

    Static sizes are written out; a symbolic size at the same position in ``source`` is 0
    (TensorRT copies that dimension); one symbolic size elsewhere is -1 (inferred). More than
    one moved symbolic size is a BackendError (it would need a shape tensor).
    """
    dims: list[int] = []
    for i, d in enumerate(target):
        if isinstance(d, int):
            dims.append(d)
        elif i < source.rank and source.shape[i] == d:
            dims.append(0)
        else:
            dims.append(-1)
    if dims.count(-1) > 1:
        raise BackendError(
            f"{node.where()}: cannot reshape {source} to {list(target)} with one shuffle "
            f"(more than one dynamic dimension moves)"
        )
    layer = ctx.network.add_shuffle(tensor)
    if layer is not None:
        layer.reshape_dims = tuple(dims)
    return layer


def reshape(
    ctx: EmitContext, node: Node, tensor: Any, source: TensorType, target: Sequence[Dim], part: str
) -> Any:
    """``reshape_layer`` registered as ``node/part``; returns its output tensor."""
    return ctx.add(node, reshape_layer(ctx, node, tensor, source, target), part).get_output(0)


def with_leading_ones(
    ctx: EmitContext, node: Node, tensor: Any, t: TensorType, rank: int, part: str
) -> Any:
    """``tensor`` with size-1 axes in front up to ``rank`` (TensorRT broadcasts only between
    equal ranks); itself when it already has that rank."""
    if t.rank >= rank:
        return tensor
    return reshape(ctx, node, tensor, t, (1,) * (rank - t.rank) + t.shape, part)

"""Emitters for tensors made at build time: ``arange``/``arange_like`` as constants of the
values (for a dynamic length: the longest the profile allows, sliced at run time), and
``full``/``full_like`` as a one-element constant broadcast by a stride-0 slice.

NOTE: a dynamic ``arange_like`` holds the values up to the dimension's declared maximum
(``graph.dims``); a build profile beyond it fails TensorRT's bounds check of the slice.
TensorRT folds all of these at build time.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from trtdsl.backends.trt.context import EmitContext, emitter, trt_dtype
from trtdsl.backends.trt.ops.dynamic import DimSource, shape_tensor
from trtdsl.ir.graph import Node
from trtdsl.ir.ops.cast import cast_array
from trtdsl.ir.ops.creation import Arange, ArangeLike, Full, FullLike, fill
from trtdsl.ir.symbolic import dim_value
from trtdsl.ir.types import Dim, DType


def max_size(ctx: EmitContext, d: Dim) -> int:
    """The largest size dimension ``d`` takes: itself when static, else the declared maximum
    of its symbol (``graph.dims``), through the expression that derives it."""
    return dim_value(d, ctx.graph.sizes("max"))


def dim_sources(shape: Sequence[Dim], source: int = 0) -> list[DimSource]:
    """Shape-tensor entries for ``shape``: static sizes, else that axis of input ``source``."""
    return [d if isinstance(d, int) else (source, axis) for axis, d in enumerate(shape)]


def sliced_prefix(
    ctx: EmitContext,
    node: Node,
    tensor: Any,
    sizes: list[DimSource],
    stride: Sequence[int],
    part: str = "",
) -> Any:
    """An ISliceLayer (unregistered) of ``tensor`` from its origin: ``sizes`` static, or read
    at run time (``(input index, axis)`` entries) through shape tensors ``node/[part/]start``
    and ``node/[part/]size``, built first (a slice's shape-tensor inputs are set in order, as
    ``emit_expand`` does); ``stride`` 0 repeats an axis of size 1."""
    rank = len(sizes)
    static = tuple(d if isinstance(d, int) else 0 for d in sizes)
    prefix = f"{part}/" if part else ""
    tensors = []
    if not all(isinstance(d, int) for d in sizes):
        tensors = [
            shape_tensor(ctx, node, [0] * rank, f"{prefix}start"),
            shape_tensor(ctx, node, sizes, f"{prefix}size"),
        ]
    layer = ctx.network.add_slice(tensor, (0,) * rank, static, tuple(stride))
    if layer is not None:
        for index, shape_input in enumerate(tensors, start=1):
            layer.set_input(index, shape_input)
    return layer


def _constant_layer(ctx: EmitContext, values: np.ndarray, dtype: DType) -> Any:
    """An IConstantLayer (unregistered) holding ``values`` as ``dtype``."""
    weights = ctx.make_weights(values, dtype)
    return ctx.network.add_constant(tuple(int(d) for d in values.shape), weights)


@emitter(Arange)
def emit_arange(ctx: EmitContext, node: Node) -> Any:
    """One IConstantLayer of the values."""
    op: Arange = node.op  # type: ignore[assignment]
    return _constant_layer(ctx, op.reference([], {}), op.dtype)  # type: ignore[arg-type]


@emitter(ArangeLike)
def emit_arange_like(ctx: EmitContext, node: Node) -> Any:
    """A static length: one IConstantLayer. A dynamic one: the values up to the dimension's
    declared maximum (``node/values``) sliced to the input's run-time size."""
    op: ArangeLike = node.op  # type: ignore[assignment]
    x = ctx.input_type(node)
    axis = op.dim % x.rank
    length = x.shape[axis]
    dtype: DType = op.dtype  # type: ignore[assignment]
    steps = np.arange(max_size(ctx, length), dtype=np.int64)
    values = cast_array(op.start + op.step * steps, dtype)
    if isinstance(length, int):
        return _constant_layer(ctx, values, dtype)
    table = ctx.constant(node, "values", values, dtype)
    return sliced_prefix(ctx, node, table, [(0, axis)], (1,))


def _filled(ctx: EmitContext, node: Node, value: Any, dtype: DType, shape: Sequence[Dim]) -> Any:
    """``value`` as ``dtype`` broadcast to ``shape`` (symbolic entries read from input 0).

    NOTE: a bool constant is built from an int32 one and a cast: TensorRT 11.4 documents
    that IConstantLayer "does not support boolean and uint8 types" (TensorRT-RTX builds a bool
    constant; the emulator keeps the documented rule).
    """
    rank = len(shape)
    stored = DType.INT32 if dtype is DType.BOOL else dtype
    one = fill((1,) * rank, value, stored)
    if dtype is DType.BOOL:
        source = ctx.constant(node, "value", one, stored)
        cast = ctx.network.add_cast(source, trt_dtype(ctx.trt, DType.BOOL))
        source = ctx.add(node, cast, "to_bool").get_output(0)
        if rank == 0:
            return ctx.network.add_identity(source)
    elif rank == 0:
        return _constant_layer(ctx, one, dtype)
    else:
        source = ctx.constant(node, "value", one, stored)
    return sliced_prefix(ctx, node, source, dim_sources(shape), (0,) * rank)


@emitter(Full)
def emit_full(ctx: EmitContext, node: Node) -> Any:
    """A one-element constant (``node/value``) repeated to ``size`` by a stride-0 slice."""
    op: Full = node.op  # type: ignore[assignment]
    return _filled(ctx, node, op.fill_value, op.dtype, op.size)  # type: ignore[arg-type]


@emitter(FullLike)
def emit_full_like(ctx: EmitContext, node: Node) -> Any:
    """A one-element constant repeated to the input's shape (read at run time where it is
    dynamic) by a stride-0 slice."""
    op: FullLike = node.op  # type: ignore[assignment]
    out = ctx.output_type(node)
    return _filled(ctx, node, op.fill_value, out.dtype, out.shape)

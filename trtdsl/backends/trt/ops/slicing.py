"""Emitters for slicing ops: ``narrow`` as an ISliceLayer (start and size as shape tensors when
the input has dynamic dimensions); ``select`` as a gather; ``slice`` as an ISliceLayer or a
gather."""

from __future__ import annotations

from typing import Any

import numpy as np

from trtdsl.backends.trt.context import EmitContext, emitter
from trtdsl.backends.trt.ops.dynamic import DimSource, shape_tensor
from trtdsl.ir.graph import Node
from trtdsl.ir.ops.slicing import Narrow, Select, Slice
from trtdsl.ir.types import DType


@emitter(Narrow)
def emit_narrow(ctx: EmitContext, node: Node) -> Any:
    """One ISliceLayer: start 0 except ``start`` on the axis, stride 1, the output's shape.

    A dynamic input (e.g. a symbolic batch) gives the slice its start and size as shape
    tensors, built first (as in ``emit_expand``: inputs come before the layers that read them,
    and a slice's shape-tensor inputs are set in order): the size holds the input's run-time
    sizes with ``length`` on the axis. TensorRT folds them at build time, as its ONNX parser
    does for ``Slice``.

    NOTE: the dynamic form used to be a reshape into pieces, a one-hot mask product and a SUM
    reduce (even splits only): on TensorRT-RTX 1.7 that gave ShuffleNetV2 an engine 10% larger
    than the ONNX parser's (ten more generated kernels) and a slower build (see
    benchmarks/README.md, ``bench_build.py``).
    """
    op: Narrow = node.op  # type: ignore[assignment]
    x, out = ctx.input_type(node), ctx.output_type(node)
    start = [0] * x.rank
    start[op.axis(x.rank)] = op.start
    tensors = []
    if not out.is_static:
        size: list[DimSource] = [
            d if isinstance(d, int) else (0, axis) for axis, d in enumerate(out.shape)
        ]
        tensors = [
            shape_tensor(ctx, node, start, "start"),
            shape_tensor(ctx, node, size, "size"),
        ]
    static = tuple(d if isinstance(d, int) else 0 for d in out.shape)
    layer = ctx.network.add_slice(ctx.input(node), tuple(start), static, (1,) * x.rank)
    if layer is not None:
        for index, tensor in enumerate(tensors, start=1):
            layer.set_input(index, tensor)
    return layer


@emitter(Select)
def emit_select(ctx: EmitContext, node: Node) -> Any:
    """IGatherLayer (DEFAULT mode) with a rank-0 int32 index constant: the axis is removed;
    every axis may be dynamic, the selected one too where the index is >= 0 (BERT's
    ``hidden_states[:, 0]`` on a dynamic sequence length)."""
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

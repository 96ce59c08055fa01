"""Emitters for ops indexing by a tensor of integers: ``embedding`` (a constant table and a
gather), ``index_select`` and ``gather`` (IGatherLayer in DEFAULT and ELEMENT modes).

NOTE: IGatherLayer does not check its indices: an index outside the data reads undefined
memory (TensorRT documents no bounds check). The reference executor raises for one, naming
the node; an integer input's declared range keeps seeded and file inputs inside it.
"""

from __future__ import annotations

from typing import Any

from trtdsl.backends.trt.context import EmitContext, emitter
from trtdsl.ir.graph import Node
from trtdsl.ir.ops.indexing import Embedding, Gather, IndexSelect


@emitter(Embedding)
def emit_embedding(ctx: EmitContext, node: Node) -> Any:
    """The table as an IConstantLayer (``node/weight``, named by its state_dict key) in the
    output's dtype, and a DEFAULT gather of its rows (axis 0) by the ids."""
    table = ctx.weights[f"{node.name}.weight"]
    weight = ctx.constant(node, "weight", table, ctx.output_type(node).dtype)
    return ctx.network.add_gather(weight, ctx.input(node), 0)


@emitter(IndexSelect)
def emit_index_select(ctx: EmitContext, node: Node) -> Any:
    """A DEFAULT gather (ONNX Gather) along ``dim`` with the 1-D index."""
    op: IndexSelect = node.op  # type: ignore[assignment]
    axis = op.dim % ctx.input_type(node).rank
    return ctx.network.add_gather(ctx.input(node, 0), ctx.input(node, 1), axis)


@emitter(Gather)
def emit_gather(ctx: EmitContext, node: Node) -> Any:
    """An ELEMENT gather (ONNX GatherElements) along ``dim``: the output has the index's
    shape, smaller than the data on other axes where the index is."""
    op: Gather = node.op  # type: ignore[assignment]
    axis = op.dim % ctx.input_type(node).rank
    layer = ctx.network.add_gather(ctx.input(node, 0), ctx.input(node, 1), axis)
    if layer is not None:
        layer.mode = ctx.trt.GatherMode.ELEMENT
    return layer

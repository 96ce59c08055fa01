"""Emitter for ``parameter``: an IConstantLayer holding the checkpoint tensor."""

from __future__ import annotations

from typing import Any

from trtdsl.backends.trt.context import EmitContext, emitter
from trtdsl.ir.graph import Node
from trtdsl.ir.ops.parameter import Parameter


@emitter(Parameter)
def emit_parameter(ctx: EmitContext, node: Node) -> Any:
    """One IConstantLayer of the node's weights (state_dict key: the node's name), in the
    node's declared dtype (the precision pass casts where a consumer computes in another)."""
    op: Parameter = node.op  # type: ignore[assignment]
    weights = ctx.make_weights(ctx.weights[node.name], op.dtype, name=node.name)  # type: ignore[arg-type]
    return ctx.network.add_constant(tuple(op.shape), weights)

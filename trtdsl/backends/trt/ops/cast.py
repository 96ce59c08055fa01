"""Emitter for the cast op (ICastLayer): how precision reaches a strongly typed network."""

from __future__ import annotations

from typing import Any

from trtdsl.backends.trt.context import EmitContext, emitter, trt_dtype
from trtdsl.ir.graph import Node
from trtdsl.ir.ops.cast import Cast


@emitter(Cast)
def emit_cast(ctx: EmitContext, node: Node) -> Any:
    """``add_cast(x, to_type)``. NOTE: in strongly typed networks IIdentityLayer does not
    convert types and ``ILayer.set_output_type`` is gone (TensorRT 11); a cast layer is the way.
    """
    op: Cast = node.op  # type: ignore[assignment]
    return ctx.network.add_cast(ctx.input(node), trt_dtype(ctx.trt, op.dtype))  # type: ignore[arg-type]

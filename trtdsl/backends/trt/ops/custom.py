"""The emitter of user-defined ops (``trtdsl.CustomOp``): a composed op's own ``emit``, or a
plugin op's IPluginV3 layer (``backends/trt/plugin.py``)."""

from __future__ import annotations

from typing import Any

from trtdsl.backends.trt.context import EmitContext
from trtdsl.backends.trt.plugin import emit_plugin
from trtdsl.ir.graph import Node
from trtdsl.ir.ops.custom import CustomOp


def emit_custom(ctx: EmitContext, node: Node) -> Any:
    """The layer producing a custom op's output(s): composed through ``op.emit(ctx, node)``
    (auxiliary layers added with ``ctx.add(node, layer, part)``), or the plugin layer."""
    op = node.op
    assert isinstance(op, CustomOp)
    if op.lowering == "plugin":
        return emit_plugin(ctx, node)
    return op.emit(ctx, node)

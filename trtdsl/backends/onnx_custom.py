"""ONNX export of user-defined ops (``trtdsl.CustomOp``): one node in the custom domain
``trtdsl.custom`` whose op_type is the op's name, with the op's attributes and its weights
as initializers after its inputs (what a runtime with a matching custom op, or TensorRT's
ONNX parser with a plugin of that name, needs)."""

from __future__ import annotations

from typing import Any

from trtdsl.backends.onnx_ops import Context
from trtdsl.ir.graph import Node
from trtdsl.ir.ops.custom import op_attributes

CUSTOM_DOMAIN = "trtdsl.custom"
"""The ONNX domain of custom ops' nodes (opset version 1)."""


def export_custom(ctx: Context, node: Node) -> None:
    """Add ``node`` as a ``trtdsl.custom`` node; attributes that ONNX cannot hold (None,
    nested lists) are left out."""
    in_types = [ctx.in_type(node, i) for i in range(len(node.inputs))]
    weights = [ctx.weight(node, role) for role in node.op.params(in_types)]
    attributes = {k: v for k, v in op_attributes(node.op).items() if _storable(v)}
    ctx.nodes.append(
        ctx.helper.make_node(
            node.op.op_name,
            [*node.inputs, *weights],
            list(node.outputs),
            name=node.name,
            domain=CUSTOM_DOMAIN,
            **attributes,
        )
    )


def _storable(value: Any) -> bool:
    if isinstance(value, (bool, int, float, str)):
        return True
    if isinstance(value, (tuple, list)) and value:
        return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
    return False

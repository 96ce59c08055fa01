"""A detector's input size must be a multiple of its largest stride: the anchor nodes
(``anchor_points``/``anchor_strides``) name the strides, and another height or width makes the
head's levels disagree deep in the network (at a concat). ``with_input_shapes`` checks it
before re-inferring, so every ``--shape`` and ``load_model(spec, shapes)`` says so in one line.
"""

from __future__ import annotations

from collections.abc import Mapping

from trtdsl.errors import UsageError
from trtdsl.ir.graph import Graph, Node
from trtdsl.ir.ops.detection import AnchorPoints, AnchorStrides

__all__ = ["check_stride_multiples", "largest_stride"]


def largest_stride(graph: Graph) -> tuple[Node, int] | None:
    """The detection head's anchor node (``anchor_points`` or ``anchor_strides``) with the
    largest stride, and that stride; None for a graph without one. The first such node in
    graph order wins a tie."""
    best: tuple[Node, int] | None = None
    for node in graph.nodes:
        strides = _anchor_strides(node)
        if strides and (best is None or max(strides) > best[1]):
            best = (node, max(strides))
    return best


def _anchor_strides(node: Node) -> tuple[int, ...]:
    """The ``strides`` of an anchor node; () for any other node."""
    return node.op.strides if isinstance(node.op, (AnchorPoints, AnchorStrides)) else ()


def check_stride_multiples(graph: Graph, shapes: Mapping[str, tuple[int, ...]]) -> None:
    """UsageError unless each (N, C, H, W) input in ``shapes`` that feeds a detection head
    has H and W multiples of the head's largest stride.

    A head's anchor grid (``anchor_points``/``anchor_strides``) reads feature maps the input
    is downsampled to by each stride; another H or W makes the levels disagree deep inside the
    network (e.g. at a concat). The one-line message names the input, the stride, the head's
    node and the nearest valid sizes below and above. Graphs without anchor nodes, and inputs
    that do not reach one or are not of rank 4, are not checked.
    """
    head = largest_stride(graph)
    if head is None:
        return
    node, stride = head
    feeding = _inputs_reaching(graph, node)
    for name, shape in shapes.items():
        if name not in feeding or len(shape) != 4:
            continue
        height, width = shape[2], shape[3]
        if height % stride == 0 and width % stride == 0:
            continue
        options = [(-(-height // stride) * stride, -(-width // stride) * stride)]
        below = (height // stride * stride, width // stride * stride)
        if min(below) > 0:
            options.insert(0, below)
        valid = " or ".join(f"{name}={_dims((*shape[:2], h, w))}" for h, w in options)
        where = f" at {node.source}" if node.source else ""
        raise UsageError(
            f"--shape {name}={_dims(shape)}: height and width {height}x{width} must be "
            f"multiples of {stride}, the largest stride of the detection head {node.name} "
            f"({node.op.op_name}, strides {list(_anchor_strides(node))}{where}); nearest valid: "
            f"{valid}"
        )


def _dims(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape))


def _inputs_reaching(graph: Graph, node: Node) -> set[str]:
    """The graph inputs that ``node`` depends on."""
    found: set[str] = set()
    seen: set[str] = set()
    pending = list(node.inputs)
    while pending:
        value = pending.pop()
        if value in seen:
            continue
        seen.add(value)
        producer = graph.producer(value)
        if value in graph.inputs:
            found.add(value)
        elif producer is not None:
            pending.extend(producer.inputs)
    return found

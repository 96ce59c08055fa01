"""The NMS stage of a detector: Ultralytics' raw head output (N, 4 + C, A) with (cx, cy, w, h)
boxes becomes fixed-size detections, computed in the engine.

``add_nms_stage(graph)`` appends, after the raw output: xywh -> xyxy, the ``nms`` op, and four
outputs: ``boxes`` (N, max_det, 4) float (x1, y1, x2, y2) in input pixels, ``scores``
(N, max_det), ``classes`` (N, max_det) int32 (-1 for padding) and ``count`` (N,) int32, the
number of detections of each image (rows past it are padding). The new nodes are named
``nms.*``; they have no weights.
"""

from __future__ import annotations

from collections.abc import Sequence

from trtdsl.errors import TrtdslError, UsageError
from trtdsl.ir.graph import Graph, Node, Port
from trtdsl.ir.ops.base import Op, make_op
from trtdsl.ir.ops.detection import NMS_DEFAULT_CANDIDATES
from trtdsl.ir.types import TensorType

__all__ = ["NMS_OUTPUTS", "add_nms_stage"]

NMS_OUTPUTS = ("boxes", "scores", "classes", "count")
"""The outputs ``add_nms_stage`` gives the graph, in order."""


def add_nms_stage(
    graph: Graph,
    score_threshold: float = 0.25,
    iou_threshold: float = 0.7,
    max_det: int = 300,
    multi_label: bool = False,
    max_candidates: int = NMS_DEFAULT_CANDIDATES,
    output: str | None = None,
    keep_raw: bool = False,
) -> Graph:
    """``graph`` with class-aware NMS after its raw detection output.

    Args:
        graph: a detector whose output ``output`` (default: its only output) is Ultralytics'
            eval layout (N, 4 + C, A): (cx, cy, w, h), then C class scores.
        score_threshold, iou_threshold: in [0, 1] (Ultralytics' predictor defaults: conf 0.25,
            iou 0.7); a candidate's score must exceed the first; a box whose IoU with a kept
            box of its class exceeds the second is dropped.
        max_det: detections kept per image (1..3840).
        multi_label: every class above the threshold is a candidate (default: each box's best
            class only, as Ultralytics' predictor).
        max_candidates: the best-scoring candidates per image that go through NMS (1..5000;
            TensorRT-RTX's NMS keeps at most 3840).
        keep_raw: keep the raw output beside the four new ones.
    Returns:
        a new verified graph with outputs ``boxes``, ``scores``, ``classes``, ``count``.
    Raises:
        UsageError: thresholds or max_det out of range, or no (N, 4 + C, A) output.
    """
    port = _raw_output(graph, output)
    raw = graph.types[port.value]
    classes = int(raw.shape[1]) - 4
    try:
        nms_op = make_op(
            "nms",
            dict(
                score_threshold=score_threshold,
                iou_threshold=iou_threshold,
                max_det=max_det,
                multi_label=multi_label,
                max_candidates=max_candidates,
            ),
        )
    except TrtdslError as e:
        raise UsageError(f"--nms: {e}") from None
    stage = _Stage(graph)
    xywh = stage.add("nms.xywh", "narrow", [port.value], dim=1, start=0, length=4)
    xy = stage.add("nms.xy", "narrow", [xywh], dim=1, start=0, length=2)
    wh = stage.add("nms.wh", "narrow", [xywh], dim=1, start=2, length=2)
    half = stage.add("nms.half", "div", [wh], other=2.0)
    x1y1 = stage.add("nms.x1y1", "sub", [xy, half])
    x2y2 = stage.add("nms.x2y2", "add", [xy, half])
    xyxy = stage.add("nms.xyxy", "concat", [x1y1, x2y2], dim=1)
    boxes_in = stage.add("nms.boxes_in", "transpose", [xyxy], dim0=1, dim1=2)
    cls = stage.add("nms.class_scores", "narrow", [port.value], dim=1, start=4, length=classes)
    scores_in = stage.add("nms.scores_in", "transpose", [cls], dim0=1, dim1=2)
    detections = stage.add_op("nms", nms_op, [boxes_in, scores_in])
    boxes = stage.add("nms.boxes", "narrow", [detections], dim=2, start=0, length=4)
    scores = stage.add("nms.scores", "select", [detections], dim=2, index=4)
    class_values = stage.add("nms.class_values", "select", [detections], dim=2, index=5)
    class_ids = stage.add("nms.classes", "cast", [class_values], dtype="int32")
    kept = stage.add("nms.kept", "count_nonzero", [scores], dim=1)
    count = stage.add("nms.count", "cast", [kept], dtype="int32")
    outputs = [p for p in graph.outputs if keep_raw or p is not port]
    taken = {p.name for p in outputs}
    for name, value in zip(NMS_OUTPUTS, (boxes, scores, class_ids, count), strict=True):
        if name in taken:
            raise UsageError(f"--nms: model {graph.name!r} already has an output named {name!r}")
        outputs.append(Port(name, value))
    new = Graph(
        graph.name,
        graph.inputs,
        tuple(outputs),
        (*graph.nodes, *stage.nodes),
        {**graph.types, **stage.types},
        graph.dims,
        graph.weight_renames,
        graph.input_ranges,
    )
    return new.verify()


def _raw_output(graph: Graph, output: str | None) -> Port:
    ports = [p for p in graph.outputs if output is None or p.name == output]
    if output is not None and not ports:
        names = ", ".join(p.name for p in graph.outputs)
        raise UsageError(f"--nms: model {graph.name!r} has no output {output!r} (outputs: {names})")
    if len(ports) != 1:
        raise UsageError(
            f"--nms: model {graph.name!r} has {len(ports)} outputs; name the raw detection output"
        )
    t = graph.types[ports[0].value]
    if t.rank != 3 or not isinstance(t.shape[1], int) or t.shape[1] < 5 or not t.dtype.is_float:
        raise UsageError(
            f"--nms: output {ports[0].name!r} of model {graph.name!r} is {t}; NMS needs a "
            "detector's (N, 4 + classes, anchors) output (Ultralytics' eval layout)"
        )
    return ports[0]


class _Stage:
    """Nodes appended to a graph, with their inferred types."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.nodes: list[Node] = []
        self.types: dict[str, TensorType] = {}

    def type_of(self, value: str) -> TensorType:
        return self.types[value] if value in self.types else self.graph.types[value]

    def add(self, name: str, op_name: str, inputs: Sequence[str], **kwargs: object) -> str:
        return self.add_op(name, make_op(op_name, kwargs), inputs)

    def add_op(self, name: str, op: Op, inputs: Sequence[str]) -> str:
        if name in self.types or any(n.name == name for n in self.graph.nodes):
            raise UsageError(f"--nms: model {self.graph.name!r} already has a node {name!r}")
        (out,) = op.infer_outputs([self.type_of(v) for v in inputs])
        self.nodes.append(Node(name, op, tuple(inputs), (name,)))
        self.types[name] = out
        return name

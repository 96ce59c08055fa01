"""ONNX exporters of the detection ops: the anchor grid as initializers, ``nms`` with ONNX
NonMaxSuppression and fixed-size rows, ``count_nonzero`` (registered in
``onnx_ops.EXPORTERS``; see ``onnx_export.py``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from trtdsl.backends.onnx_ops import Context, _exporter
from trtdsl.ir.graph import Node
from trtdsl.ir.ops.detection import NMS, AnchorPoints, AnchorStrides, CountNonzero

_INT64 = np.int64


def _step(ctx: Context, node: Node, op_type: str, inputs: list[str], step: str, **kw: Any) -> str:
    """A helper node ``<node>/<step>`` whose output has the same name."""
    name = f"{node.name}/{step}"
    return ctx.add(op_type, inputs, name, name, **kw)


def _input_shapes(ctx: Context, node: Node) -> list[tuple[int, ...]]:
    return [
        tuple(d if isinstance(d, int) else 1 for d in ctx.in_type(node, i).shape)
        for i in range(len(node.inputs))
    ]


@_exporter(AnchorPoints, AnchorStrides)
def _anchors(ctx: Context, node: Node) -> None:
    """An Identity of an initializer holding the grid (computed from the static sizes)."""
    op = node.op
    assert isinstance(op, (AnchorPoints, AnchorStrides))
    offset = op.grid_cell_offset if isinstance(op, AnchorPoints) else 0.0
    grid = op.grid(_input_shapes(ctx, node), offset)[None]
    value = grid[:, :2] if isinstance(op, AnchorPoints) else grid[:, 2:]
    dtype = ctx.out_type(node).dtype.to_numpy()
    ctx.add("Identity", [ctx.constant(f"{node.name}/grid", value, dtype)], node.output, node.name)


@_exporter(CountNonzero)
def _count_nonzero(ctx: Context, node: Node) -> None:
    op = node.op
    assert isinstance(op, CountNonzero)
    x_type = ctx.in_type(node)
    zero = ctx.constant(f"{node.name}/zero", 0, x_type.dtype.to_numpy())
    equal = _step(ctx, node, "Equal", [node.inputs[0], zero], "equal")
    nonzero = _step(ctx, node, "Not", [equal], "nonzero")
    ones = _step(ctx, node, "Cast", [nonzero], "ones", to=7)  # INT64
    axes = ctx.constant(f"{node.name}/axes", [op.axis(x_type.rank)], _INT64)
    if ctx.opset >= 13:
        ctx.add("ReduceSum", [ones, axes], node.output, node.name, keepdims=0)
    else:
        ctx.add(
            "ReduceSum", [ones], node.output, node.name, keepdims=0, axes=[op.axis(x_type.rank)]
        )


@_exporter(NMS, opset=13, needs="ONNX ReduceSum with an axes input")
def _nms(ctx: Context, node: Node) -> None:
    """NonMaxSuppression (per image and class), then the same fixed-size rows as the
    TensorRT emitter: ScatterND of the kept candidates into a dense (N, C, A) mask, TopK of the
    masked scores, GatherElements of the boxes.

    NOTE: ONNX NonMaxSuppression has no candidate limit (``max_candidates`` is TensorRT's
    ``topk_box_limit``): outputs agree while an image has at most that many candidates.
    """
    op = node.op
    assert isinstance(op, NMS)
    boxes, scores = node.inputs
    s_type = ctx.in_type(node, 1)
    anchors, classes = int(s_type.shape[1]), int(s_type.shape[2])
    dtype = s_type.dtype.to_numpy()
    k = op.max_det

    def const(step: str, value: Any, dt: Any) -> str:
        return ctx.constant(f"{node.name}/{step}", value, dt)

    if not op.multi_label:
        k1 = const("k1", [1], _INT64)
        _step(ctx, node, "TopK", [scores, k1], "best_topk", axis=2)
        best_index = f"{node.name}/best_index"
        ctx.nodes[-1].output.append(best_index)  # TopK's indices output
        ids = const("class_ids", np.arange(classes).reshape(1, 1, -1), _INT64)
        mask = _step(ctx, node, "Equal", [best_index, ids], "is_best")
        mask = _step(ctx, node, "Cast", [mask], "best_mask", to=_onnx_float(ctx, s_type))
        scores = _step(ctx, node, "Mul", [scores, mask], "best_scores")
    by_class = _step(ctx, node, "Transpose", [scores], "by_class", perm=[0, 2, 1])
    selected = _step(
        ctx,
        node,
        "NonMaxSuppression",
        [
            boxes,
            by_class,
            const("max_det", [k], _INT64),
            const("iou_threshold", [op.iou_threshold], np.float32),
            const("score_threshold", [op.score_threshold], np.float32),
        ],
        "nms",
        center_point_box=0,
    )
    ones_shape = _step(ctx, node, "Shape", [selected], "selected_shape")
    count = _step(
        ctx,
        node,
        "Slice",
        [ones_shape, const("zero_start", [0], _INT64), const("one_end", [1], _INT64)],
        "count",
    )
    ones = _step(ctx, node, "Expand", [const("one", np.ones(1), dtype), count], "ones")
    zeros = _step(ctx, node, "Mul", [by_class, const("zero", np.zeros(1), dtype)], "zeros")
    kept = _step(ctx, node, "ScatterND", [zeros, selected, ones], "kept")
    kept_scores = _step(ctx, node, "Mul", [kept, by_class], "kept_scores")
    flat = _step(ctx, node, "Reshape", [kept_scores, const("flat_shape", [0, -1], _INT64)], "flat")
    top_scores = _step(ctx, node, "TopK", [flat, const("k", [k], _INT64)], "top", axis=1)
    top_index = f"{node.name}/top_index"
    ctx.nodes[-1].output.append(top_index)
    a = const("anchors", [anchors], _INT64)
    cls = _step(ctx, node, "Div", [top_index, a], "class")  # non-negative: floor division
    box = _step(ctx, node, "Sub", [top_index, _step(ctx, node, "Mul", [cls, a], "base")], "box")
    box3 = _step(ctx, node, "Unsqueeze", [box, const("axis2", [2], _INT64)], "box3")
    box4 = _step(ctx, node, "Expand", [box3, const("expand4", [1, 1, 4], _INT64)], "box4")
    picked = _step(ctx, node, "GatherElements", [boxes, box4], "picked", axis=1)
    valid = _step(
        ctx, node, "Greater", [top_scores, const("zero_1", np.zeros(1), dtype)], "is_valid"
    )
    valid = _step(ctx, node, "Cast", [valid], "valid", to=_onnx_float(ctx, s_type))
    axis2 = const("axis2_1", [2], _INT64)
    valid3 = _step(ctx, node, "Unsqueeze", [valid, axis2], "valid3")
    out_boxes = _step(ctx, node, "Mul", [picked, valid3], "boxes")
    cls_value = _step(ctx, node, "Cast", [cls], "class_value", to=_onnx_float(ctx, s_type))
    one = const("one_1", np.ones(1), dtype)
    cls_value = _step(ctx, node, "Add", [cls_value, one], "class_plus_1")
    cls_value = _step(ctx, node, "Mul", [cls_value, valid], "class_kept")
    cls_value = _step(ctx, node, "Sub", [cls_value, one], "classes")
    score3 = _step(ctx, node, "Unsqueeze", [top_scores, axis2], "score_column")
    class3 = _step(ctx, node, "Unsqueeze", [cls_value, axis2], "class_column")
    ctx.add("Concat", [out_boxes, score3, class3], node.output, node.name, axis=2)


def _onnx_float(ctx: Context, t: Any) -> int:
    from trtdsl.backends.onnx_ops import ONNX_DTYPES

    return ONNX_DTYPES[t.dtype]

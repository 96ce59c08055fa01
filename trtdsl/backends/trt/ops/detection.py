"""Emitters of the detection ops: the anchor grid as constants, ``nms`` with INMSLayer and
fixed-size outputs, ``count_nonzero`` as a comparison and a sum."""

from __future__ import annotations

from typing import Any

import numpy as np

from trtdsl.backends.trt.context import EmitContext, NodeLayers, emitter
from trtdsl.backends.trt.module import has_nms_layer
from trtdsl.backends.trt.ops.nms_layers import emit_nms_from_layers
from trtdsl.ir.graph import Node
from trtdsl.ir.ops.detection import NMS, AnchorPoints, AnchorStrides, CountNonzero
from trtdsl.ir.types import DType


def _shapes(ctx: EmitContext, node: Node) -> list[tuple[int, ...]]:
    return [
        tuple(d if isinstance(d, int) else 1 for d in ctx.graph.types[v].shape) for v in node.inputs
    ]


@emitter(AnchorPoints)
def emit_anchor_points(ctx: EmitContext, node: Node) -> Any:
    """One IConstantLayer of the (1, 2, A) grid, computed here from the static input sizes
    (the inputs are not read by the engine)."""
    op: AnchorPoints = node.op  # type: ignore[assignment]
    grid = op.grid(_shapes(ctx, node), op.grid_cell_offset)[None, :2]
    weights = ctx.make_weights(grid, ctx.output_type(node).dtype)
    return ctx.network.add_constant(grid.shape, weights)


@emitter(AnchorStrides)
def emit_anchor_strides(ctx: EmitContext, node: Node) -> Any:
    """One IConstantLayer of the (1, 1, A) strides."""
    op: AnchorStrides = node.op  # type: ignore[assignment]
    strides = op.grid(_shapes(ctx, node), 0.0)[None, 2:]
    weights = ctx.make_weights(strides, ctx.output_type(node).dtype)
    return ctx.network.add_constant(strides.shape, weights)


@emitter(CountNonzero)
def emit_count_nonzero(ctx: EmitContext, node: Node) -> Any:
    """NOT(x == 0) cast to int32, SUM-reduced over ``dim``, cast to int64."""
    op: CountNonzero = node.op  # type: ignore[assignment]
    trt, net, at = ctx.trt, ctx.network, NodeLayers(ctx, node)
    x = ctx.input_type(node)
    zero = at.const("zero", np.zeros((1,) * x.rank), x.dtype)
    nonzero = at.unary(at.ew(ctx.input(node), zero, "EQUAL", "equal"), "NOT", "nonzero")
    ones = at.cast(nonzero, DType.INT32, "ones")
    total = at.add(
        net.add_reduce(ones, trt.ReduceOperation.SUM, 1 << op.axis(x.rank), False), "sum"
    )
    return net.add_cast(total, trt.int64)


@emitter(NMS)
def emit_nms(ctx: EmitContext, node: Node) -> Any:
    """INMSLayer, then fixed-size (N, max_det, 6) rows built from its selected indices.

    1. Candidates: with ``multi_label`` every class score; otherwise each box's best class
       only: the other scores are multiplied by 0 (a one-hot of TopK(MAX, 1) over classes).
    2. INMSLayer (per image and class; CORNER_PAIRS; ``topk_box_limit`` = max_candidates;
       IoU and score thresholds as float32 scalar inputs 3 and 4; at most ``max_det`` boxes
       per class): SelectedIndices (K, 3) rows (image, class, box), K data-dependent.
    3. A dense (N, C, A) mask of the kept candidates: IScatterLayer (ND) of ones into zeros;
       times the transposed scores, flattened to (N, C * A).
    4. TopK(MAX, max_det) of that: the kept scores by decreasing score (zeros after the
       kept ones) and flat indices class * A + box.
    5. The boxes of those indices: a one-hot (N, max_det, A) of the box index times the
       (N, A, 4) boxes (a batched matrix multiply selects rows exactly; no gather needed).
    6. Rows (x1, y1, x2, y2, score, class) with padding rows (0, 0, 0, 0, 0, -1) where the
       score is 0 (kept scores exceed the threshold, which is >= 0).

    NOTE: INMSLayer outputs have data-dependent shapes. TensorRT-RTX 1.7 has no
    implementation of it ("has no runners that implement it", NVIDIA/TensorRT-RTX#5): for it
    (``ctx.product``) ``nms`` is built from other layers instead (``nms_layers.py``).
    """
    op: NMS = node.op  # type: ignore[assignment]
    trt, net = ctx.trt, ctx.network
    if not has_nms_layer(ctx.product):
        return emit_nms_from_layers(ctx, node)
    at = NodeLayers(ctx, node)
    boxes, scores = ctx.input(node, 0), ctx.input(node, 1)
    dtype = ctx.input_type(node, 1).dtype
    _, anchors, classes = (
        int(d) if isinstance(d, int) else -1 for d in ctx.input_type(node, 1).shape
    )
    if not op.multi_label:
        best = at.add(net.add_topk(scores, trt.TopKOperation.MAX, 1, 1 << 2), "best", 1)
        ids = np.arange(classes, dtype=np.int32).reshape(1, 1, -1)
        onehot = at.ew(best, at.const("class_ids", ids, DType.INT32), "EQUAL", "is_best")
        scores = at.ew(scores, at.cast(onehot, dtype, "best_mask"), "PROD", "best_scores")
    # The scalar inputs exist before the layer that reads them (the emulator infers layers
    # in creation order).
    max_det = at.const("max_det", np.int32(op.max_det), DType.INT32)
    iou = at.const("iou_threshold", np.float32(op.iou_threshold), DType.FLOAT32)
    score = at.const("score_threshold", np.float32(op.score_threshold), DType.FLOAT32)
    nms = net.add_nms(boxes, scores, max_det)
    if nms is not None:
        nms.set_input(3, iou)
        nms.set_input(4, score)
        nms.bounding_box_format = trt.BoundingBoxFormat.CORNER_PAIRS
        nms.topk_box_limit = op.max_candidates
    selected = at.add(nms, "nms")  # (K, 3) int32: image, class, box

    # Ones of shape (K,): any value of a row, times 0, plus 1.
    rows = at.cast(selected, dtype, "rows")
    first = at.add(net.add_reduce(rows, trt.ReduceOperation.MAX, 1 << 1, False), "row")
    ones = at.ew(
        at.ew(first, at.const("zero", np.zeros(1), dtype), "PROD", "row0"),
        at.const("one", np.ones(1), dtype),
        "SUM",
        "ones",
    )
    transpose = net.add_shuffle(scores)
    if transpose is not None:
        transpose.first_transpose = (0, 2, 1)
    by_class = at.add(transpose, "by_class")  # (N, C, A)
    zeros = at.ew(by_class, at.const("zero_3d", np.zeros((1, 1, 1)), dtype), "PROD", "zeros")
    kept = at.add(net.add_scatter(zeros, selected, ones, trt.ScatterMode.ND), "kept")
    kept_scores = at.ew(kept, by_class, "PROD", "kept_scores")
    flat_scores = at.reshape(kept_scores, (0, classes * anchors), "flat")
    top = net.add_topk(flat_scores, trt.TopKOperation.MAX, op.max_det, 1 << 1)
    top_scores = at.add(top, "top")  # (N, max_det)
    top_index = top.get_output(1)  # int32 class * A + box

    cls = at.ew(
        top_index,
        at.const("anchors", np.full((1, 1), anchors, np.int32), DType.INT32),
        "FLOOR_DIV",
        "class",
    )
    base = at.ew(
        cls,
        at.const("anchors_1", np.full((1, 1), anchors, np.int32), DType.INT32),
        "PROD",
        "class_base",
    )
    box_column = at.reshape(at.ew(top_index, base, "SUB", "box"), (0, op.max_det, 1), "box_column")
    positions = at.const(
        "positions", np.arange(anchors, dtype=np.int32).reshape(1, 1, -1), DType.INT32
    )
    pick = at.cast(at.ew(box_column, positions, "EQUAL", "is_box"), dtype, "pick")
    picked = at.add(
        net.add_matrix_multiply(pick, trt.MatrixOperation.NONE, boxes, trt.MatrixOperation.NONE),
        "picked",
    )

    zero_1 = at.const("zero_1", np.zeros((1, 1)), dtype)
    valid = at.cast(at.ew(top_scores, zero_1, "GREATER", "is_valid"), dtype, "valid")
    valid3 = at.reshape(valid, (0, op.max_det, 1), "valid_column")
    out_boxes = at.ew(picked, valid3, "PROD", "boxes")
    cls_value = at.cast(cls, dtype, "class_value")
    one = at.const("one_1", np.ones((1, 1)), dtype)
    cls_value = at.ew(
        at.ew(at.ew(cls_value, one, "SUM", "class_plus_1"), valid, "PROD", "class_kept"),
        one,
        "SUB",
        "classes",
    )
    columns = [
        at.reshape(tensor, (0, op.max_det, 1), part)
        for part, tensor in (("score_column", top_scores), ("class_column", cls_value))
    ]
    concat = net.add_concatenation([out_boxes, *columns])
    if concat is not None:
        concat.axis = 2
    return concat

"""Emitters of the detection ops: the anchor grid as constants, ``nms`` with INMSLayer and
fixed-size outputs, ``count_nonzero`` as a comparison and a sum."""

from __future__ import annotations

from typing import Any

import numpy as np

from trtdsl.backends.trt.context import EmitContext, emitter, trt_dtype
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
    trt, net = ctx.trt, ctx.network
    x = ctx.input_type(node)
    zero = ctx.constant(node, "zero", np.zeros((1,) * x.rank), x.dtype)
    equal = _add(
        ctx,
        node,
        net.add_elementwise(ctx.input(node), zero, trt.ElementWiseOperation.EQUAL),
        "equal",
    )
    nonzero = _add(ctx, node, net.add_unary(equal, trt.UnaryOperation.NOT), "nonzero")
    ones = _add(ctx, node, net.add_cast(nonzero, trt.int32), "ones")
    total = _add(
        ctx, node, net.add_reduce(ones, trt.ReduceOperation.SUM, 1 << op.axis(x.rank), False), "sum"
    )
    return net.add_cast(total, trt.int64)


def _add(ctx: EmitContext, node: Node, layer: Any, part: str, index: int = 0) -> Any:
    """Register an auxiliary layer ``node/part`` and return its output ``index``."""
    return ctx.add(node, layer, part).get_output(index)


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
    E = trt.ElementWiseOperation
    boxes, scores = ctx.input(node, 0), ctx.input(node, 1)
    dtype = ctx.input_type(node, 1).dtype
    _, anchors, classes = (
        int(d) if isinstance(d, int) else -1 for d in ctx.input_type(node, 1).shape
    )

    def ew(a: Any, b: Any, operation: Any, part: str) -> Any:
        return _add(ctx, node, net.add_elementwise(a, b, operation), part)

    def const(part: str, value: Any, dt: DType) -> Any:
        return ctx.constant(node, part, np.asarray(value), dt)

    if not op.multi_label:
        best = _add(ctx, node, net.add_topk(scores, trt.TopKOperation.MAX, 1, 1 << 2), "best", 1)
        ids = np.arange(classes, dtype=np.int32).reshape(1, 1, -1)
        arange = const("class_ids", ids, DType.INT32)
        onehot = ew(best, arange, E.EQUAL, "is_best")
        onehot = _add(ctx, node, net.add_cast(onehot, trt_dtype(trt, dtype)), "best_mask")
        scores = ew(scores, onehot, E.PROD, "best_scores")
    # The scalar inputs exist before the layer that reads them (the emulator infers layers
    # in creation order).
    max_det = const("max_det", np.int32(op.max_det), DType.INT32)
    iou = const("iou_threshold", np.float32(op.iou_threshold), DType.FLOAT32)
    score = const("score_threshold", np.float32(op.score_threshold), DType.FLOAT32)
    nms = net.add_nms(boxes, scores, max_det)
    if nms is not None:
        nms.set_input(3, iou)
        nms.set_input(4, score)
        nms.bounding_box_format = trt.BoundingBoxFormat.CORNER_PAIRS
        nms.topk_box_limit = op.max_candidates
    selected = _add(ctx, node, nms, "nms")  # (K, 3) int32: image, class, box

    # Ones of shape (K,): any value of a row, times 0, plus 1.
    rows = _add(ctx, node, net.add_cast(selected, trt_dtype(trt, dtype)), "rows")
    first = _add(ctx, node, net.add_reduce(rows, trt.ReduceOperation.MAX, 1 << 1, False), "row")
    ones = ew(
        ew(first, const("zero", np.zeros(1), dtype), E.PROD, "row0"),
        const("one", np.ones(1), dtype),
        E.SUM,
        "ones",
    )
    transpose = net.add_shuffle(scores)
    if transpose is not None:
        transpose.first_transpose = (0, 2, 1)
    by_class = _add(ctx, node, transpose, "by_class")  # (N, C, A)
    zeros = ew(by_class, const("zero_3d", np.zeros((1, 1, 1)), dtype), E.PROD, "zeros")
    kept = _add(ctx, node, net.add_scatter(zeros, selected, ones, trt.ScatterMode.ND), "kept")
    kept_scores = ew(kept, by_class, E.PROD, "kept_scores")
    flat = net.add_shuffle(kept_scores)
    if flat is not None:
        flat.reshape_dims = (0, classes * anchors)
    flat_scores = _add(ctx, node, flat, "flat")
    top = net.add_topk(flat_scores, trt.TopKOperation.MAX, op.max_det, 1 << 1)
    top_scores = _add(ctx, node, top, "top")  # (N, max_det)
    top_index = top.get_output(1)  # int32 class * A + box

    cls = ew(
        top_index,
        const("anchors", np.full((1, 1), anchors, np.int32), DType.INT32),
        E.FLOOR_DIV,
        "class",
    )
    base = ew(
        cls,
        const("anchors_1", np.full((1, 1), anchors, np.int32), DType.INT32),
        E.PROD,
        "class_base",
    )
    box = ew(top_index, base, E.SUB, "box")
    column = net.add_shuffle(box)
    if column is not None:
        column.reshape_dims = (0, op.max_det, 1)
    box_column = _add(ctx, node, column, "box_column")
    positions = const(
        "positions", np.arange(anchors, dtype=np.int32).reshape(1, 1, -1), DType.INT32
    )
    pick = _add(
        ctx,
        node,
        net.add_cast(ew(box_column, positions, E.EQUAL, "is_box"), trt_dtype(trt, dtype)),
        "pick",
    )
    picked = _add(
        ctx,
        node,
        net.add_matrix_multiply(pick, trt.MatrixOperation.NONE, boxes, trt.MatrixOperation.NONE),
        "picked",
    )

    valid = ew(top_scores, const("zero_1", np.zeros((1, 1)), dtype), E.GREATER, "is_valid")
    valid = _add(ctx, node, net.add_cast(valid, trt_dtype(trt, dtype)), "valid")
    valid_column = net.add_shuffle(valid)
    if valid_column is not None:
        valid_column.reshape_dims = (0, op.max_det, 1)
    valid3 = _add(ctx, node, valid_column, "valid_column")
    out_boxes = ew(picked, valid3, E.PROD, "boxes")
    cls_value = _add(ctx, node, net.add_cast(cls, trt_dtype(trt, dtype)), "class_value")
    one = const("one_1", np.ones((1, 1)), dtype)
    cls_value = ew(
        ew(ew(cls_value, one, E.SUM, "class_plus_1"), valid, E.PROD, "class_kept"),
        one,
        E.SUB,
        "classes",
    )
    columns = []
    for part, tensor in (("score_column", top_scores), ("class_column", cls_value)):
        shuffle = net.add_shuffle(tensor)
        if shuffle is not None:
            shuffle.reshape_dims = (0, op.max_det, 1)
        columns.append(_add(ctx, node, shuffle, part))
    concat = net.add_concatenation([out_boxes, *columns])
    if concat is not None:
        concat.axis = 2
    return concat

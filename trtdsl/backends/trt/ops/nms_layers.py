"""``nms`` built from layers every TensorRT product runs: TopK, gathers, elementwise, one
batched matrix multiply and a WHILE loop. TensorRT-RTX gets this lowering: it has no runner
for INMSLayer (NVIDIA/TensorRT-RTX#5). The result equals the op's reference: the same
candidates, exact greedy suppression, the same fixed-size rows.

Shapes (N images, A anchors, C classes, K = min(max_candidates, candidates per image) <= 3840,
D = max_det): everything is computed in float32 and cast to the input dtype at the end.

1. Candidates: (N, A * C) scores with ``multi_label``, else each anchor's best class
   (TopK(MAX, 1) over C: (N, A) scores and classes). TopK(MAX, K) of those: the K best, by
   decreasing score, (N, K) scores and indices -> anchor and class of each; ``valid`` =
   score > score_threshold.
2. Their boxes: ELEMENT gathers of each coordinate (N, A) at the anchors, (N, K) each; the
   pairwise IoU (N, K, K) as ``box_iou`` (corners in any order); ``suppress[i, j]`` = i comes
   before j, same class, IoU > iou_threshold.
3. Greedy suppression as a fixed point: keep_j = valid_j AND NOT any_i(keep_i AND
   suppress[i, j]), i.e. a (N, 1, K) x (N, K, K) matrix multiply of 0/1 float16 values
   (``MASK``), iterated in a WHILE loop until keep stops changing. Entry j depends only on
   entries i < j, so the iteration fixes one more entry per step at worst and its only fixed
   point is the greedy result (exact; typically a few iterations).
4. Rows: TopK(MAX, min(D, K)) of score * keep: the kept candidates by decreasing score, their
   (x1, y1, x2, y2, score, class) rows, padding rows (0, 0, 0, 0, 0, -1) after the kept ones
   and up to D.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from trtdsl.backends.trt.context import EmitContext, NodeLayers, trt_dtype
from trtdsl.backends.trt.module import PRODUCTS
from trtdsl.errors import BackendError
from trtdsl.ir.graph import Node
from trtdsl.ir.ops.detection import NMS, TOPK_MAX_K
from trtdsl.ir.types import DType

MASK = DType.FLOAT16
"""The type of the 0/1 suppression matrix and keep masks: exact, half the memory of float32,
and tensor cores for the matrix multiply (a count of hits only needs to stay > 0)."""


def emit_nms_from_layers(ctx: EmitContext, node: Node) -> Any:
    """The (N, max_det, 6) rows of ``nms`` (see the module docstring); returns the last layer."""
    op: NMS = node.op  # type: ignore[assignment]
    trt, net = ctx.trt, ctx.network
    at = NodeLayers(ctx, node)
    dtype = ctx.input_type(node, 1).dtype
    anchors, classes = (int(d) for d in ctx.input_type(node, 1).shape[1:])  # static (infer)
    boxes, scores = ctx.input(node, 0), ctx.input(node, 1)
    if dtype != DType.FLOAT32:
        boxes = at.cast(boxes, DType.FLOAT32, "boxes_f32")
        scores = at.cast(scores, DType.FLOAT32, "scores_f32")

    # 1. Candidates, best first.
    if op.multi_label:
        total = anchors * classes
        flat = at.reshape(scores, (0, total), "flat_scores")
    else:
        total = anchors
        best = net.add_topk(scores, trt.TopKOperation.MAX, 1, 1 << 2)
        ctx.add(node, best, "best_class")
        flat = at.reshape(best.get_output(0), (0, anchors), "best_scores")
        best_class = at.reshape(best.get_output(1), (0, anchors), "best_classes")
    k = min(op.max_candidates, total)
    if k > TOPK_MAX_K:
        raise BackendError(
            f"{node.where()}: the NMS of {PRODUCTS.get(ctx.product, ctx.product)} keeps at most "
            f"{TOPK_MAX_K} candidates "
            f"per image (TensorRT's TopK limit), but max_candidates is {op.max_candidates} "
            f"for {total} candidates; set max_candidates <= {TOPK_MAX_K}"
        )
    score, index = at.topk(flat, k, "candidates")  # (N, K)
    if op.multi_label:
        per_class = at.const("classes", np.full((1, 1), classes, np.int32), DType.INT32)
        anchor = at.ew(index, per_class, "FLOOR_DIV", "anchor")
        first = at.ew(anchor, per_class, "PROD", "anchor_first")
        label = at.ew(index, first, "SUB", "class")
    else:
        anchor = index
        label = at.gather(best_class, index, 1, "class", element=True)
    threshold = at.const("score_threshold", np.full((1, 1), op.score_threshold), DType.FLOAT32)
    valid = at.ew(score, threshold, "GREATER", "valid")

    # 2. Pairwise suppression (N, K, K).
    coords = []
    for c, name in enumerate(("x1", "y1", "x2", "y2")):
        column = at.gather(
            boxes, at.const(f"{name}_index", np.int32(c), DType.INT32), 2, name, False
        )
        coords.append(at.gather(column, anchor, 1, f"candidate_{name}", element=True))
    x1, y1, x2, y2 = coords
    lo_x, hi_x = at.ew(x1, x2, "MIN", "lo_x"), at.ew(x1, x2, "MAX", "hi_x")
    lo_y, hi_y = at.ew(y1, y2, "MIN", "lo_y"), at.ew(y1, y2, "MAX", "hi_y")
    area = at.ew(
        at.ew(hi_x, lo_x, "SUB", "width"), at.ew(hi_y, lo_y, "SUB", "height"), "PROD", "area"
    )

    def pair(x: Any, name: str) -> tuple[Any, Any]:
        return at.reshape(x, (0, k, 1), f"{name}_i"), at.reshape(x, (0, 1, k), f"{name}_j")

    zero = at.const("zero", np.zeros((1, 1, 1)), DType.FLOAT32)
    sides = []
    for lo, hi, axis in ((lo_x, hi_x, "x"), (lo_y, hi_y, "y")):
        (lo_i, lo_j), (hi_i, hi_j) = pair(lo, f"lo_{axis}"), pair(hi, f"hi_{axis}")
        overlap = at.ew(
            at.ew(hi_i, hi_j, "MIN", f"inner_hi_{axis}"),
            at.ew(lo_i, lo_j, "MAX", f"inner_lo_{axis}"),
            "SUB",
            f"overlap_{axis}",
        )
        sides.append(at.ew(overlap, zero, "MAX", f"inter_{axis}"))
    inter = at.ew(sides[0], sides[1], "PROD", "inter")
    area_i, area_j = pair(area, "area")
    union = at.ew(at.ew(area_i, area_j, "SUM", "areas"), inter, "SUB", "union")
    iou = at.ew(inter, union, "DIV", "iou")
    iou_threshold = at.const("iou_threshold", np.full((1, 1, 1), op.iou_threshold), DType.FLOAT32)
    overlaps = at.ew(iou, iou_threshold, "GREATER", "overlaps")
    label_i, label_j = pair(label, "class")
    same = at.ew(label_i, label_j, "EQUAL", "same_class")
    positions = np.arange(k, dtype=np.int32)
    earlier = at.ew(
        at.const("position_i", positions.reshape(1, k, 1), DType.INT32),
        at.const("position_j", positions.reshape(1, 1, k), DType.INT32),
        "LESS",
        "earlier",
    )
    suppress = at.ew(at.ew(overlaps, same, "AND", "overlaps_same"), earlier, "AND", "suppress")
    suppress_mask = at.cast(suppress, MASK, "suppress_mask")
    valid_row = at.reshape(at.cast(valid, MASK, "valid_mask"), (0, 1, k), "valid_row")

    # 3. Greedy suppression: iterate to the fixed point.
    kept = at.cast(_suppression_loop(at, valid_row, suppress_mask), DType.FLOAT32, "kept_mask_f32")
    kept_score = at.ew(score, at.reshape(kept, (0, k), "kept_flat"), "PROD", "kept_score")

    # 4. The kept rows, best first, then padding rows.
    rows = min(op.max_det, k)
    top_score, position = at.topk(kept_score, rows, "top")  # (N, rows)
    is_kept = at.cast(
        at.ew(
            top_score, at.const("zero_2d", np.zeros((1, 1)), DType.FLOAT32), "GREATER", "is_kept"
        ),
        DType.FLOAT32,
        "kept_f32",
    )
    columns = []
    for name, values in zip(("x1", "y1", "x2", "y2"), coords, strict=True):
        picked = at.gather(values, position, 1, f"top_{name}", element=True)
        columns.append(at.ew(picked, is_kept, "PROD", f"out_{name}"))
    columns.append(top_score)
    top_class = at.cast(
        at.gather(label, position, 1, "top_class", element=True), DType.FLOAT32, "top_class_f32"
    )
    one = at.const("one", np.ones((1, 1)), DType.FLOAT32)
    shifted = at.ew(at.ew(top_class, one, "SUM", "class_plus_1"), is_kept, "PROD", "class_kept")
    columns.append(at.ew(shifted, one, "SUB", "out_class"))
    joined = net.add_concatenation(
        [at.reshape(c, (0, rows, 1), f"column_{i}") for i, c in enumerate(columns)]
    )
    if joined is not None:
        joined.axis = 2
    table = at.add(joined, "rows")  # (N, rows, 6)
    if op.max_det > rows:
        table = _pad_rows(at, table, index, op.max_det - rows)
    if dtype == DType.FLOAT32:
        return net.add_identity(table)
    return net.add_cast(table, trt_dtype(trt, dtype))


def _suppression_loop(at: NodeLayers, valid: Any, suppress: Any) -> Any:
    """(N, 1, K) 0/1 keep mask: keep = valid * NOT(keep @ suppress > 0) until unchanged."""
    trt, net = at.ctx.trt, at.ctx.network
    loop = net.add_loop()
    keep = loop.add_recurrence(valid)
    at.ctx.add(at.node, keep, "keep")
    true = at.ew(
        at.const("true_a", np.float32(1.0), DType.FLOAT32),
        at.const("true_b", np.float32(0.0), DType.FLOAT32),
        "GREATER",
        "true",
    )
    changed = loop.add_recurrence(true)
    at.ctx.add(at.node, changed, "changed")
    at.ctx.add(at.node, loop.add_trip_limit(changed.get_output(0), trt.TripLimit.WHILE), "while")
    current = keep.get_output(0)
    hits = at.add(
        net.add_matrix_multiply(
            current, trt.MatrixOperation.NONE, suppress, trt.MatrixOperation.NONE
        ),
        "hits",
    )
    hit = at.ew(hits, at.const("zero_hits", np.zeros((1, 1, 1)), MASK), "GREATER", "hit")
    free = at.cast(at.unary(hit, "NOT", "free"), MASK, "free_mask")
    following = at.ew(free, valid, "PROD", "following")
    change = at.unary(at.ew(following, current, "SUB", "change"), "ABS", "change_abs")
    total = at.add(net.add_reduce(change, trt.ReduceOperation.MAX, 0b111, False), "change_max")
    moved = at.ew(total, at.const("zero_change", np.float16(0.0), MASK), "GREATER", "moved")
    keep.set_input(1, following)
    changed.set_input(1, moved)
    return at.add(loop.add_loop_output(current, trt.LoopOutput.LAST_VALUE), "kept")


def _pad_rows(at: NodeLayers, table: Any, index: Any, count: int) -> Any:
    """``table`` (N, R, 6) followed by ``count`` padding rows (0, 0, 0, 0, 0, -1)."""
    some = at.gather(
        index, at.const("pad_index", np.zeros(count, np.int32), DType.INT32), 1, "pad_pick", False
    )
    zeros = at.ew(some, some, "SUB", "pad_zeros")  # (N, count) int32 zeros, whatever N is
    padding = np.array([[0, 0, 0, 0, 0, -1]], np.float32)
    rows = at.gather(at.const("pad_row", padding, DType.FLOAT32), zeros, 0, "padding", False)
    joined = at.ctx.network.add_concatenation([table, rows])
    if joined is not None:
        joined.axis = 1
    return at.add(joined, "padded")

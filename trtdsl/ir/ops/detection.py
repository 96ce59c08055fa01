"""Ops of detection heads: the anchor grid of a YOLO head (``anchor_points``,
``anchor_strides``), class-aware non-maximum suppression (``nms``) and ``count_nonzero``.

The anchor ops are constants computed at build time from the static heights and widths of the
feature maps they take as inputs (Ultralytics' ``make_anchors``): a model with symbolic H or W
is refused with a ShapeError (build one engine per input size). MACs: 0.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from trtdsl.errors import OpArgumentError, ShapeError
from trtdsl.ir.ops.base import (
    Op,
    check_bool,
    check_float,
    check_int,
    check_int_tuple,
    normalize_axis,
    register_op,
)
from trtdsl.ir.types import DType, TensorType

TOPK_MAX_K = 3840
"""The most elements TensorRT's TopK keeps (its k limit)."""

NMS_MAX_DET = TOPK_MAX_K
"""The largest ``max_det``: the rows are chosen by a TopK."""

NMS_MAX_CANDIDATES = 5000
"""The largest ``max_candidates``: TensorRT's INMSLayer ``topk_box_limit`` is at most 5000."""

NMS_DEFAULT_CANDIDATES = TOPK_MAX_K
"""The default ``max_candidates``: the most TensorRT's TopK keeps, so that the TensorRT-RTX
lowering (built on TopK) and INMSLayer select the same candidates."""


@dataclass(frozen=True)
class _AnchorGrid(Op):
    """Shared checks of the anchor ops: one stride per input, static (N, C, H, W) inputs."""

    arity = None

    strides: tuple[int, ...]

    def __post_init__(self) -> None:
        strides = check_int_tuple(self, "strides") or ()
        if not strides or min(strides) < 1:
            raise OpArgumentError(
                f"{self.op_name}: strides must be a non-empty list of ints >= 1, "
                f"got {self.strides!r}"
            )

    def levels(self, inputs: Sequence[TensorType]) -> list[tuple[int, int, int]]:
        """(height, width, stride) of each feature map."""
        if len(inputs) != len(self.strides):
            raise ShapeError(
                f"{self.op_name}: {len(self.strides)} strides {list(self.strides)} need "
                f"{len(self.strides)} feature maps, got {len(inputs)}"
            )
        levels = []
        for i, (t, stride) in enumerate(zip(inputs, self.strides, strict=True)):
            if t.rank != 4 or not t.dtype.is_float:
                raise ShapeError(
                    f"{self.op_name}: input {i} must be a float (N, C, H, W) feature map, got {t}"
                )
            h, w = t.shape[2], t.shape[3]
            if not isinstance(h, int) or not isinstance(w, int):
                raise ShapeError(
                    f"{self.op_name}: input {i} {t} has a symbolic height or width; anchors "
                    "are constants computed from static sizes (build one engine per input size)"
                )
            levels.append((h, w, stride))
        return levels

    def num_anchors(self, inputs: Sequence[TensorType]) -> int:
        return sum(h * w for h, w, _ in self.levels(inputs))

    def grid(self, shapes: Sequence[tuple[int, ...]], offset: float) -> np.ndarray:
        """(3, A) float64: anchor x, anchor y (grid units) and stride of every anchor."""
        rows = []
        for (h, w), stride in zip((s[2:4] for s in shapes), self.strides, strict=True):
            sy, sx = np.meshgrid(np.arange(h) + offset, np.arange(w) + offset, indexing="ij")
            rows.append(np.stack([sx.ravel(), sy.ravel(), np.full(h * w, float(stride))]))
        return np.concatenate(rows, axis=1)


@register_op
@dataclass(frozen=True)
class AnchorPoints(_AnchorGrid):
    """Anchor centres of a YOLO head, as Ultralytics' ``make_anchors(feats, strides, 0.5)[0]``
    transposed and unsqueezed (``Detect.anchors.unsqueeze(0)``).

    Inputs: the head's feature maps (N, C_i, H_i, W_i), one per entry of ``strides`` (only
    their static H_i, W_i are read). Output (1, 2, A) with A = sum H_i * W_i, in the first
    input's dtype: row 0 is x = column + ``grid_cell_offset``, row 1 is y = row + offset, in
    grid units of each level, levels in order, row-major within a level. A constant (no
    weights); YOLOv8 at 640x640 with strides [8, 16, 32]: A = 6400 + 1600 + 400 = 8400.
    """

    op_name = "anchor_points"

    grid_cell_offset: float = 0.5

    def __post_init__(self) -> None:
        super().__post_init__()
        check_float(self, "grid_cell_offset")

    def infer(self, inputs: Sequence[TensorType]) -> TensorType:
        return TensorType(inputs[0].dtype, (1, 2, self.num_anchors(inputs)))

    def reference(
        self, inputs: Sequence[np.ndarray], params: Mapping[str, np.ndarray]
    ) -> np.ndarray:
        grid = self.grid([x.shape for x in inputs], self.grid_cell_offset)
        return np.ascontiguousarray(grid[None, :2], dtype=inputs[0].dtype)


@register_op
@dataclass(frozen=True)
class AnchorStrides(_AnchorGrid):
    """The stride of every anchor of a YOLO head, as Ultralytics'
    ``make_anchors(feats, strides)[1]`` transposed (``Detect.strides``).

    Inputs as ``anchor_points``; output (1, 1, A) in the first input's dtype: ``strides[i]``
    for each of the H_i * W_i anchors of level i. A constant (no weights).
    """

    op_name = "anchor_strides"

    def infer(self, inputs: Sequence[TensorType]) -> TensorType:
        return TensorType(inputs[0].dtype, (1, 1, self.num_anchors(inputs)))

    def reference(
        self, inputs: Sequence[np.ndarray], params: Mapping[str, np.ndarray]
    ) -> np.ndarray:
        grid = self.grid([x.shape for x in inputs], 0.0)
        return np.ascontiguousarray(grid[None, 2:], dtype=inputs[0].dtype)


def _check_unit(op: Op, name: str) -> float:
    value = check_float(op, name)
    if not 0.0 <= value <= 1.0:
        raise OpArgumentError(f"{op.op_name}: {name} must be between 0 and 1, got {value}")
    return value


def box_iou(box: np.ndarray, others: np.ndarray) -> np.ndarray:
    """IoU of one (x1, y1, x2, y2) box with each row of ``others`` (K, 4), as
    ``torchvision.ops.box_iou``; corners may come in any order (TensorRT's CORNER_PAIRS)."""
    lo, hi = np.minimum(box[:2], box[2:]), np.maximum(box[:2], box[2:])
    olo, ohi = np.minimum(others[:, :2], others[:, 2:]), np.maximum(others[:, :2], others[:, 2:])
    wh = np.clip(np.minimum(hi, ohi) - np.maximum(lo, olo), 0.0, None)
    inter = wh[:, 0] * wh[:, 1]
    area = np.prod(hi - lo)
    areas = np.prod(ohi - olo, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(inter / (area + areas - inter))


def batched_nms(
    boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray, iou_threshold: float
) -> np.ndarray:
    """Indices kept by greedy class-aware NMS, by decreasing score, as
    ``torchvision.ops.batched_nms(boxes, scores, classes, iou_threshold)``: a box is dropped
    when its IoU with a kept box of its class (of higher score) exceeds ``iou_threshold``.

    Args:
        boxes: (K, 4) float (x1, y1, x2, y2); scores: (K,); classes: (K,) ints.
    Returns:
        (M,) int64 indices into the K boxes.
    """
    work = boxes.astype(np.float64)
    order = np.argsort(-scores.astype(np.float64), kind="stable")
    keep: list[int] = []
    suppressed = np.zeros(len(order), dtype=bool)
    for position, i in enumerate(order):
        if suppressed[position]:
            continue
        keep.append(int(i))
        rest = order[position + 1 :]
        same = classes[rest] == classes[i]
        if not same.any():
            continue
        iou = box_iou(work[i], work[rest])
        suppressed[position + 1 :] |= same & (iou > iou_threshold)
    return np.asarray(keep, dtype=np.int64)


@register_op
@dataclass(frozen=True)
class NMS(Op):
    """Class-aware non-maximum suppression with a fixed-size output, as Ultralytics'
    ``non_max_suppression`` (torchvision's ``batched_nms`` per image).

    Inputs: boxes (N, A, 4) as (x1, y1, x2, y2) and scores (N, A, C), one float dtype. Per
    image, the candidates are the (box, class) pairs whose score exceeds ``score_threshold``:
    each box's best class only (the first on a tie), or every class with ``multi_label``. The
    ``max_candidates`` highest-scoring candidates (Ultralytics' ``max_nms``; TensorRT's NMS
    ``topk_box_limit``, at most 5000; default 3840, the most TensorRT-RTX's lowering keeps)
    go through ``batched_nms`` with ``iou_threshold``
    (a candidate is dropped when its IoU with a kept box of the same class exceeds it). The
    ``max_det`` best kept detections, by decreasing score, fill the output.

    Output (N, max_det, 6) in the input dtype, Ultralytics' end-to-end layout: rows
    (x1, y1, x2, y2, score, class), then padding rows (0, 0, 0, 0, 0, -1). The kept count of
    an image is the number of non-zero scores (``count_nonzero``: kept scores exceed the
    threshold, which is >= 0). Rows of equal score may come in any order. No weights.
    """

    op_name = "nms"
    arity = 2

    score_threshold: float = 0.25
    iou_threshold: float = 0.7
    max_det: int = 300
    multi_label: bool = False
    max_candidates: int = NMS_DEFAULT_CANDIDATES

    def __post_init__(self) -> None:
        _check_unit(self, "score_threshold")
        _check_unit(self, "iou_threshold")
        for name, limit in (("max_det", NMS_MAX_DET), ("max_candidates", NMS_MAX_CANDIDATES)):
            value = check_int(self, name, 1)
            if value > limit:
                raise OpArgumentError(f"nms: {name} must be at most {limit}, got {value}")
        check_bool(self, "multi_label")

    def infer(self, inputs: Sequence[TensorType]) -> TensorType:
        boxes, scores = inputs
        if not boxes.dtype.is_float or boxes.dtype != scores.dtype:
            raise ShapeError(f"nms: boxes and scores need one float dtype, got {boxes}, {scores}")
        if boxes.rank != 3 or boxes.shape[2] != 4:
            raise ShapeError(f"nms: boxes must be (N, A, 4), got {boxes}")
        if scores.rank != 3 or scores.shape[:2] != boxes.shape[:2]:
            raise ShapeError(
                f"nms: scores must be (N, A, C) with N and A of boxes {boxes}, got {scores}"
            )
        anchors, classes = scores.shape[1], scores.shape[2]
        if not isinstance(anchors, int) or not isinstance(classes, int):
            raise ShapeError(f"nms: the anchor and class axes of {scores} must be static")
        if self.max_det > anchors * classes:
            raise ShapeError(
                f"nms: max_det {self.max_det} exceeds the {anchors * classes} candidates of "
                f"{scores}"
            )
        return boxes.with_shape((boxes.shape[0], self.max_det, 6))

    def candidates(
        self, scores: np.ndarray, limit: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(anchor indices, class indices) of one image's (A, C) candidates, best first,
        at most ``limit`` (default ``max_candidates``; 0: all)."""
        if self.multi_label:
            anchor, cls = np.nonzero(scores > self.score_threshold)
        else:
            best = np.argmax(scores, axis=1)
            anchor = np.nonzero(scores[np.arange(len(best)), best] > self.score_threshold)[0]
            cls = best[anchor]
        order = np.argsort(-scores[anchor, cls].astype(np.float64), kind="stable")
        limit = self.max_candidates if limit is None else limit
        order = order[:limit] if limit else order
        return anchor[order], cls[order]

    def reference(
        self, inputs: Sequence[np.ndarray], params: Mapping[str, np.ndarray]
    ) -> np.ndarray:
        boxes, scores = inputs
        out = np.zeros((boxes.shape[0], self.max_det, 6), dtype=boxes.dtype)
        out[:, :, 5] = -1
        for n in range(boxes.shape[0]):
            anchor, cls = self.candidates(scores[n])
            kept = batched_nms(boxes[n, anchor], scores[n, anchor, cls], cls, self.iou_threshold)
            kept = kept[: self.max_det]
            rows = len(kept)
            out[n, :rows, :4] = boxes[n, anchor[kept]]
            out[n, :rows, 4] = scores[n, anchor[kept], cls[kept]]
            out[n, :rows, 5] = cls[kept]
        return out


@register_op
@dataclass(frozen=True)
class CountNonzero(Op):
    """The number of non-zero elements along ``dim``, as ``torch.count_nonzero(x, dim)``.

    Input (d0, ..., dn) of a float type -> int64 counts with axis ``dim`` removed (which may
    be symbolic). NaN counts as non-zero. Example: the kept detections of ``nms`` are the
    non-zero scores, ``count_nonzero(scores (N, 300), dim=1)`` -> (N,). No weights.
    """

    op_name = "count_nonzero"

    dim: int

    def __post_init__(self) -> None:
        check_int(self, "dim")

    def axis(self, rank: int) -> int:
        """``dim`` mapped into [0, rank)."""
        return normalize_axis(self, self.dim, rank, "dim")

    def infer(self, inputs: Sequence[TensorType]) -> TensorType:
        x = inputs[0]
        if x.rank == 0 or not x.dtype.is_float:
            raise ShapeError(f"count_nonzero: expected a float input of rank >= 1, got {x}")
        axis = self.axis(x.rank)
        return TensorType(DType.INT64, tuple(d for i, d in enumerate(x.shape) if i != axis))

    def reference(
        self, inputs: Sequence[np.ndarray], params: Mapping[str, np.ndarray]
    ) -> np.ndarray:
        x = inputs[0]
        counts = np.count_nonzero(x, axis=self.axis(x.ndim))
        # NOTE: not ascontiguousarray, which makes a rank-0 count (a 1-D input) 1-D.
        return np.array(counts, dtype=np.int64)

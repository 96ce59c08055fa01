"""INMSLayer (non-maximum suppression, data-dependent output shape) and IScatterLayer (ND
mode: ``data`` with ``updates`` written at ``indices``)."""

from __future__ import annotations

import numpy as np

from trtdsl.emulator.enums import BoundingBoxFormat, DataType, LayerType, ScatterMode
from trtdsl.emulator.layers.base import (
    FLOAT_TYPES,
    ILayer,
    Shape,
    float_compute,
    require,
    value_property,
)
from trtdsl.emulator.types import EmulatorUnsupportedError

_INDEX_TYPES = (DataType.INT32, DataType.INT64)


def _corners(boxes: np.ndarray, fmt: BoundingBoxFormat) -> np.ndarray:
    """(..., 4) boxes as (x_min, y_min, x_max, y_max) in float64."""
    b = boxes.astype(np.float64)
    if fmt == BoundingBoxFormat.CENTER_SIZES:
        half = b[..., 2:] / 2
        return np.concatenate([b[..., :2] - half, b[..., :2] + half], axis=-1)
    return np.concatenate(
        [np.minimum(b[..., :2], b[..., 2:]), np.maximum(b[..., :2], b[..., 2:])], axis=-1
    )


def _iou(box: np.ndarray, others: np.ndarray) -> np.ndarray:
    wh = np.clip(np.minimum(box[2:], others[:, 2:]) - np.maximum(box[:2], others[:, :2]), 0, None)
    inter = wh[:, 0] * wh[:, 1]
    union = np.prod(box[2:] - box[:2]) + np.prod(others[:, 2:] - others[:, :2], axis=1) - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(inter / union)


class INMSLayer(ILayer):
    """Non-maximum suppression per image and class, as TensorRT documents it.

    Inputs: boxes (N, B, 4) (or (N, B, C, 4), not emulated), scores (N, B, C) of the same
    float type, max_output_boxes_per_class (a 0-D INT32 tensor); optional inputs 3 (IoU
    threshold) and 4 (score threshold), 0-D FLOAT, default 0. Outputs: SelectedIndices (K, 3)
    rows (image, class, box) sorted by image, then by decreasing score; NumOutputBoxes, a 0-D
    INT32. A candidate needs a score above the score threshold; at most ``topk_box_limit``
    candidates of an image (the highest-scoring (box, class) pairs) are considered; a box is
    dropped when its IoU with a kept box of its class exceeds the IoU threshold. K is
    data-dependent (-1 at build time). Equal scores keep the lower class, then box, first
    (TensorRT leaves that order unspecified).
    """

    _TYPE = LayerType.NMS
    _TYPE_NAME = "NMS"
    _NUM_OUTPUTS = 2
    _MAX_INPUTS = 5
    _MIN_INPUTS = 3

    bounding_box_format = value_property(
        "bounding_box_format", BoundingBoxFormat, "BoundingBoxFormat. Default: CORNER_PAIRS."
    )
    topk_box_limit = value_property(
        "topk_box_limit",
        int,
        "Candidates considered per image (at most 5000). Default: 5000.",
        check=lambda v: 0 < v <= 5000,
        refuse="INMSLayer::setTopKBoxLimit: the limit must be in 1..5000",
    )
    indices_type = value_property("indices_type", DataType, "INT32 (default) or INT64.")

    def _infer(self, shapes: list[Shape], dtypes: list[DataType]) -> list[tuple[Shape, DataType]]:
        boxes, scores, limit = shapes[:3]
        require(dtypes[0] in FLOAT_TYPES, f"NMS boxes must be float, got {dtypes[0]}")
        require(dtypes[1] == dtypes[0], "NMS boxes and scores must have the same type")
        require(len(boxes) == 3 and boxes[2] == 4, f"NMS boxes must be (N, B, 4), got {boxes}")
        require(len(scores) == 3, f"NMS scores must be (N, B, C), got {scores}")
        require(
            boxes[1] == scores[1] or -1 in (boxes[1], scores[1]),
            "The Boxes and Scores input tensors must have the same numInputBoundingBoxes "
            "dimension size",
        )
        require(limit == () and dtypes[2] == DataType.INT32, "maxOutputBoxesPerClass: 0-D INT32")
        for index in (3, 4):
            if index < len(shapes):
                require(
                    shapes[index] == () and dtypes[index] == DataType.FLOAT,
                    f"NMS input {index} must be a 0-D FLOAT threshold",
                )
        require(self._p["indices_type"] in _INDEX_TYPES, "NMS indices must be INT32 or INT64")
        return [((-1, 3), self._p["indices_type"]), ((), DataType.INT32)]

    def _output_dtypes(self, dtypes: list[DataType]) -> list[DataType]:
        return [self._p["indices_type"], DataType.INT32]

    def _compute(self, xs: list[np.ndarray]) -> list[np.ndarray]:
        boxes, scores, limit = xs[:3]
        iou_threshold = float(xs[3]) if len(xs) > 3 and xs[3] is not None else 0.0
        score_threshold = float(xs[4]) if len(xs) > 4 and xs[4] is not None else 0.0
        corners = _corners(boxes, self._p["bounding_box_format"])
        work = float_compute(scores)
        per_class = int(limit)
        rows: list[tuple[int, float, int, int]] = []
        for n in range(work.shape[0]):
            box, cls = np.nonzero(work[n] > score_threshold)
            value = work[n, box, cls]
            order = np.lexsort((box, cls, -value.astype(np.float64)))[: self._p["topk_box_limit"]]
            image: list[tuple[int, float, int, int]] = []
            for c in np.unique(cls[order]):
                members = order[cls[order] == c]  # still by decreasing score
                kept: list[int] = []
                for i in box[members]:
                    if len(kept) >= per_class:
                        break
                    if kept and (_iou(corners[n, i], corners[n, kept]) > iou_threshold).any():
                        continue
                    kept.append(int(i))
                image += [(n, float(work[n, i, c]), int(c), i) for i in kept]
            image.sort(key=lambda r: (-r[1], r[2], r[3]))
            rows += image
        dtype = np.int64 if self._p["indices_type"] == DataType.INT64 else np.int32
        selected = np.asarray([(n, c, b) for n, _, c, b in rows], dtype=dtype).reshape(-1, 3)
        return [selected, np.asarray(len(rows), dtype=np.int32)]


class IScatterLayer(ILayer):
    """Scatter (ND mode, as ONNX ScatterND): a copy of ``data`` with ``updates`` written at
    ``indices``. indices (..., k) INT32/INT64 address the first k dims of data; updates have
    shape indices.shape[:-1] + data.shape[k:], data's type. ELEMENT mode is not emulated.
    """

    _TYPE = LayerType.SCATTER
    _TYPE_NAME = "Scatter"
    _MAX_INPUTS = 3
    _MIN_INPUTS = 3

    mode = value_property("mode", ScatterMode, "ScatterMode.")
    axis = value_property("axis", int, "The axis of ELEMENT mode (ignored in ND mode).")

    def _infer(self, shapes: list[Shape], dtypes: list[DataType]) -> list[tuple[Shape, DataType]]:
        data, indices, updates = shapes
        require(self._p["mode"] == ScatterMode.ND, "the emulator has only ScatterMode.ND")
        require(
            dtypes[1] in _INDEX_TYPES, f"scatter indices must be INT32 or INT64, not {dtypes[1]}"
        )
        require(dtypes[2] == dtypes[0], "scatter updates must have the data's type")
        require(len(indices) >= 1, "scatter ND indices need rank >= 1")
        k = indices[-1]
        require(k == -1 or 1 <= k <= len(data), f"scatter ND index depth {k} for rank {len(data)}")
        if k != -1:
            want = tuple(indices[:-1]) + tuple(data[k:])
            require(
                len(updates) == len(want)
                and all(a == b or -1 in (a, b) for a, b in zip(updates, want, strict=True)),
                f"scatter ND updates must be {want}, got {updates}",
            )
        return [(tuple(data), dtypes[0])]

    def _compute(self, xs: list[np.ndarray]) -> list[np.ndarray]:
        data, indices, updates = xs
        if self._p["mode"] != ScatterMode.ND:
            raise EmulatorUnsupportedError("the emulator computes ScatterMode.ND only")
        out = data.copy()
        k = indices.shape[-1]
        flat = indices.reshape(-1, k).astype(np.int64)
        values = updates.reshape(len(flat), *data.shape[k:])
        for row, value in zip(flat, values, strict=True):
            out[tuple(row)] = value
        return [out]

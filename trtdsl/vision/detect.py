"""Letterbox an image as Ultralytics does, map detections back, draw them with class names.

``letterbox`` follows Ultralytics' ``LetterBox(new_shape, auto=False, scaleup=True,
center=True)`` (the preprocessing of a fixed-size exported model): scale by
r = min(H / h, W / w), resize to (round(w * r), round(h * r)) with bilinear interpolation
(half-pixel centres, as OpenCV's INTER_LINEAR; the result is rounded to uint8, where OpenCV's
fixed-point arithmetic may differ by one level), pad with grey 114 split as
round(d / 2 -+ 0.1), then RGB, CHW, / 255.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from trtdsl.errors import TrtdslError, UsageError
from trtdsl.files import require_memory
from trtdsl.vision.coco import COCO_NAMES
from trtdsl.vision.images import write_png

PAD_VALUE = 114
"""Ultralytics' letterbox border grey."""


@dataclass(frozen=True)
class Letterbox:
    """How an image was letterboxed: ``ratio`` (the scale), ``pad`` (left, top) in pixels of
    the network input, and the original (height, width)."""

    ratio: float
    pad: tuple[float, float]
    original: tuple[int, int]


def load_image(
    path: str | os.PathLike[str],
    error: type[TrtdslError] = UsageError,
    label: str | None = None,
) -> np.ndarray:
    """An image file as an (H, W, 3) uint8 RGB array.

    Raises:
        ``error`` naming the file when it is not an image Pillow reads or has too many pixels
        (``vision.images.decode_image``); FileError when it is not a regular file.
    """
    from trtdsl.vision.images import decode_image

    with decode_image(path, "RGB", error, label) as image:
        array: np.ndarray = np.asarray(image, dtype=np.uint8).copy()
    return array


def _resize_bilinear(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """(h, w, 3) uint8 -> (height, width, 3) uint8, bilinear with half-pixel centres."""
    h, w = image.shape[:2]

    def axis(size_in: int, size_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        pos = (np.arange(size_out) + 0.5) * (size_in / size_out) - 0.5
        pos = np.clip(pos, 0, size_in - 1)
        low = np.floor(pos).astype(np.int64)
        high = np.minimum(low + 1, size_in - 1)
        return low, high, (pos - low)

    y0, y1, fy = axis(h, height)
    x0, x1, fx = axis(w, width)

    def corner(ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
        # Gather in uint8, then widen: float64 copies of the output's size, not the photo's.
        gathered: np.ndarray = image[ys][:, xs].astype(np.float64)
        return gathered

    top = corner(y0, x0) * (1 - fx)[None, :, None] + corner(y0, x1) * fx[None, :, None]
    bottom = corner(y1, x0) * (1 - fx)[None, :, None] + corner(y1, x1) * fx[None, :, None]
    out = top * (1 - fy)[:, None, None] + bottom * fy[:, None, None]
    result: np.ndarray = np.clip(np.rint(out), 0, 255).astype(np.uint8)
    return result


def letterbox(
    image: np.ndarray, size: tuple[int, int] = (640, 640), stride: int = 32
) -> tuple[np.ndarray, Letterbox]:
    """Ultralytics' letterbox of an (H, W, 3) uint8 RGB image into a (1, 3, size) float32
    network input in [0, 1].

    Args:
        size: the network input (height, width); multiples of ``stride``.
    Returns:
        (the input array, how to map boxes back).
    Raises:
        UsageError: ``size`` is not a multiple of ``stride`` or the image is not (H, W, 3).
    """
    height, width = size
    if height <= 0 or width <= 0 or height % stride or width % stride:
        raise UsageError(
            f"input size {height}x{width} is not a multiple of the largest stride {stride}"
        )
    if image.ndim != 3 or image.shape[2] != 3:
        raise UsageError(f"expected an (H, W, 3) RGB image, got shape {image.shape}")
    h, w = image.shape[:2]
    ratio = min(height / h, width / w)
    new_w, new_h = int(round(w * ratio)), int(round(h * ratio))
    # the photo's rows gathered in uint8, then the four float64 corners of the resized image
    require_memory(3 * new_h * w + 4 * 3 * 8 * new_h * new_w, f"letterboxing a {w}x{h} image")
    dw, dh = (width - new_w) / 2, (height - new_h) / 2
    resized = image if (new_h, new_w) == (h, w) else _resize_bilinear(image, new_h, new_w)
    top, left = int(round(dh - 0.1)), int(round(dw - 0.1))
    canvas = np.full((height, width, 3), PAD_VALUE, dtype=np.uint8)
    canvas[top : top + new_h, left : left + new_w] = resized
    tensor = canvas.transpose(2, 0, 1)[None].astype(np.float32) / 255.0
    return np.ascontiguousarray(tensor), Letterbox(ratio, (left, top), (h, w))


def prepare_image(
    path: str | os.PathLike[str], input_shape: Sequence[int | str], stride: int = 32
) -> tuple[np.ndarray, Letterbox, np.ndarray]:
    """Load and letterbox an image for a detector input of shape (N, 3, H, W) (H and W
    static); returns (input array, letterbox, the original RGB image)."""
    if len(input_shape) != 4 or not all(isinstance(d, int) for d in input_shape[2:]):
        raise UsageError(
            f"an image input needs a (N, 3, H, W) input with static H and W, got {input_shape}"
        )
    image = load_image(path)
    tensor, box = letterbox(image, (int(input_shape[2]), int(input_shape[3])), stride)
    return tensor, box, image


def scale_boxes(boxes: np.ndarray, box: Letterbox) -> np.ndarray:
    """(K, 4) x1, y1, x2, y2 in network-input pixels -> original-image pixels, clipped."""
    out: np.ndarray = np.asarray(boxes, dtype=np.float64).copy()
    out[:, [0, 2]] = (out[:, [0, 2]] - box.pad[0]) / box.ratio
    out[:, [1, 3]] = (out[:, [1, 3]] - box.pad[1]) / box.ratio
    h, w = box.original
    out[:, [0, 2]] = out[:, [0, 2]].clip(0, w)
    out[:, [1, 3]] = out[:, [1, 3]].clip(0, h)
    return out


_PALETTE = (
    (255, 56, 56), (255, 157, 151), (255, 112, 31), (255, 178, 29), (207, 210, 49),
    (72, 249, 10), (146, 204, 23), (61, 219, 134), (26, 147, 52), (0, 212, 187),
    (44, 153, 168), (0, 194, 255), (52, 69, 147), (100, 115, 255), (0, 24, 236),
    (132, 56, 255), (82, 0, 133), (203, 56, 255), (255, 149, 200), (255, 55, 199),
)  # fmt: skip
"""Box colours by class index (Ultralytics' palette)."""


def draw_detections(
    image: np.ndarray,
    boxes: np.ndarray,
    scores: np.ndarray,
    classes: np.ndarray,
    names: Sequence[str] = COCO_NAMES,
) -> Any:
    """A PIL image: ``image`` (H, W, 3) uint8 RGB with each box (x1, y1, x2, y2, original
    pixels) outlined and labelled ``name score``."""
    from PIL import Image, ImageDraw

    canvas = Image.fromarray(np.asarray(image, dtype=np.uint8))
    draw = ImageDraw.Draw(canvas)
    width = max(2, round(sum(canvas.size) / 2 * 0.003))
    for (x1, y1, x2, y2), score, cls in zip(boxes, scores, classes, strict=True):
        c = int(cls)
        color = _PALETTE[c % len(_PALETTE)]
        name = names[c] if 0 <= c < len(names) else str(c)
        label = f"{name} {float(score):.2f}"
        draw.rectangle((float(x1), float(y1), float(x2), float(y2)), outline=color, width=width)
        left, top, right, bottom = draw.textbbox((0, 0), label)
        text_h = bottom - top + 4
        y = float(y1) - text_h if float(y1) >= text_h else float(y1)
        draw.rectangle((float(x1), y, float(x1) + right - left + 4, y + text_h), fill=color)
        draw.text((float(x1) + 2, y + 2 - top), label, fill=(255, 255, 255))
    return canvas


def write_boxes_png(
    path: str | os.PathLike[str],
    image: np.ndarray,
    box: Letterbox,
    outputs: dict[str, np.ndarray],
    index: int = 0,
    names: Sequence[str] = COCO_NAMES,
    option: str = "--boxes",
) -> int:
    """Draw image ``index``'s detections (``boxes``, ``scores``, ``classes``, ``count``
    outputs of ``add_nms_stage``, in network-input pixels) on ``image`` and write a PNG
    atomically (``option`` names the path in errors); returns the number of detections
    drawn."""
    missing = [k for k in ("boxes", "scores", "classes", "count") if k not in outputs]
    if missing:
        raise UsageError(
            f"--boxes needs the NMS outputs boxes, scores, classes, count (missing "
            f"{', '.join(missing)}): add the NMS stage (--nms)"
        )
    count = int(np.asarray(outputs["count"])[index])
    boxes = scale_boxes(outputs["boxes"][index, :count], box)
    canvas = draw_detections(
        image, boxes, outputs["scores"][index, :count], outputs["classes"][index, :count], names
    )
    write_png(path, canvas, option)
    return count

"""Segmentation masks as colour PNGs: per-pixel classes (argmax over the class axis of the
logits, or an argmax output) painted with the Pascal VOC palette, with a legend of the
classes present."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from trtdsl.errors import UsageError


def voc_palette(count: int = 256) -> np.ndarray:
    """(count, 3) uint8 colours: Pascal VOC's palette (class 0 black, 1 dark red, ...)."""
    palette = np.zeros((count, 3), dtype=np.uint8)
    for index in range(count):
        c, r, g, b = index, 0, 0, 0
        for bit in range(8):
            r |= ((c >> 0) & 1) << (7 - bit)
            g |= ((c >> 1) & 1) << (7 - bit)
            b |= ((c >> 2) & 1) << (7 - bit)
            c >>= 3
        palette[index] = (r, g, b)
    return palette


def mask_labels(output: np.ndarray) -> np.ndarray:
    """(H, W) int class labels of image 0 from a segmenter output: logits (N, C, H, W) or
    labels (N, H, W) / (N, 1, H, W) (an ``argmax`` output)."""
    array = np.asarray(output)
    if array.ndim == 4 and array.shape[1] > 1 and array.dtype.kind == "f":
        return np.asarray(np.argmax(array[0], axis=0), dtype=np.int64)
    if array.ndim == 4 and array.shape[1] == 1:
        return np.asarray(array[0, 0], dtype=np.int64)
    if array.ndim == 3 and array.dtype.kind in "iu":
        return np.asarray(array[0], dtype=np.int64)
    raise UsageError(
        f"--mask needs a segmenter output: (N, classes, H, W) logits or (N, H, W) labels, "
        f"got {array.dtype.name}{list(array.shape)}"
    )


MAX_LABEL = (1 << 16) - 1
"""The largest class label drawn (a palette entry per label up to it; segmenters have tens to
a few hundred classes)."""


def write_mask_png(
    path: str | os.PathLike[str],
    labels: np.ndarray,
    names: Sequence[str] | None = None,
    option: str = "--mask",
) -> list[tuple[int, str, float]]:
    """Write ``labels`` (H, W) as a colour PNG with a legend strip, atomically (``option``
    names the path in errors); returns the classes present as (index, name, fraction of
    pixels), most pixels first.

    Raises:
        UsageError: a label outside 0..MAX_LABEL; FileError: the path cannot be written.
    """
    from PIL import Image, ImageDraw

    from trtdsl.vision.images import write_png

    labels = np.asarray(labels, dtype=np.int64)
    low, high = int(labels.min(initial=0)), int(labels.max(initial=0))
    if low < 0 or high > MAX_LABEL:
        raise UsageError(
            f"{option} {os.fspath(path)}: the output holds class label "
            f"{low if low < 0 else high}, outside 0..{MAX_LABEL}"
        )
    palette = voc_palette(max(256, high + 1))
    image = Image.fromarray(palette[labels])
    values, counts = np.unique(labels, return_counts=True)
    order = np.argsort(-counts)
    present = [
        (
            int(values[i]),
            names[int(values[i])] if names and 0 <= values[i] < len(names) else str(values[i]),
            float(counts[i]) / labels.size,
        )
        for i in order
    ]
    row = 16
    width = max(image.width, 240)  # room for the legend's names under a small mask
    legend = Image.new("RGB", (width, row * len(present) + 4), (255, 255, 255))
    draw = ImageDraw.Draw(legend)
    for line, (index, name, fraction) in enumerate(present):
        y = 2 + line * row
        draw.rectangle((4, y + 2, 16, y + 13), fill=tuple(int(v) for v in palette[index]))
        draw.text((22, y + 2), f"{index} {name} ({fraction:.1%})", fill=(0, 0, 0))
    canvas = Image.new("RGB", (width, image.height + legend.height), (255, 255, 255))
    canvas.paste(image, (0, 0))
    canvas.paste(legend, (0, image.height))
    write_png(path, canvas, option)
    return present

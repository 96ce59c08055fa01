"""Photos as model inputs: decode with Pillow, resize the shorter side and center-crop (or
letterbox, for detectors), scale to [0, 1], normalize and lay out NCHW, as the model's
``preprocess:`` declares (torchvision's ImageNet evaluation by default). Calibration reads its
image folders the same way. Files are decoded by ``vision.images`` (regular files, sizes
checked before decoding)."""

from __future__ import annotations

import os
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from trtdsl.errors import TrtdslError, UsageError
from trtdsl.files import require_memory
from trtdsl.ir.types import TensorType

if TYPE_CHECKING:
    from trtdsl.vision.preprocess import Preprocess


def resolve_preprocess(preprocess: Preprocess, input_type: TensorType, where: str) -> Preprocess:
    """``preprocess`` with its defaults filled for ``input_type`` (N, C, H, W): the crop is the
    input's static H x W, the resize the crop's larger side x 256/224."""
    from trtdsl.vision.preprocess import RESIZE_RATIO

    shape = input_type.shape
    if len(shape) != 4 or not all(isinstance(d, int) for d in shape[1:]):
        raise UsageError(
            f"{where}: a photo needs an (N, C, H, W) input with static C, H and W, got "
            f"{input_type.format_shape()} (fix them with --shape)"
        )
    channels, height, width = (int(d) for d in shape[1:])
    if channels not in (1, 3) or len(preprocess.mean) not in (1, channels):
        raise UsageError(
            f"{where}: the input has {channels} channels; photos give 1 or 3, normalized by "
            f"{len(preprocess.mean)} mean value(s)"
        )
    crop = preprocess.crop or (height, width)
    if crop != (height, width):
        raise UsageError(
            f"{where}: crop {crop[0]}x{crop[1]} differs from the input size {height}x{width}"
        )
    resize = preprocess.resize or round(max(crop) * RESIZE_RATIO)
    return replace(preprocess, crop=crop, resize=resize)


def load_photo(
    path: str | os.PathLike[str],
    preprocess: Preprocess,
    channels: int,
    error: type[TrtdslError] = UsageError,
) -> np.ndarray:
    """One photo as a (C, H, W) float32 sample (``preprocess`` resolved: resize and crop set).

    The file is read through ``vision.images.decode_image`` (a regular file, its pixel count
    checked before decoding), and the resized size against the memory budget before resizing.

    Raises:
        ``error`` naming the file: not an image Pillow reads, too many pixels, smaller than
        the crop after resizing, or non-finite after normalizing; FileError: not a regular
        file; ResourceLimitError: decoding or resizing would not fit in memory.
    """
    from PIL import Image

    from trtdsl.vision.images import decode_image

    assert preprocess.crop is not None and preprocess.resize is not None
    ch, cw = preprocess.crop
    if preprocess.letterbox:
        return _normalized(_letterboxed(path, (ch, cw), channels, error), preprocess, path, error)
    image = decode_image(path, "RGB" if channels == 3 else "L", error)
    with image:
        w, h = image.size
        short = min(w, h)
        size = (
            max(1, round(w * preprocess.resize / short)),
            max(1, round(h * preprocess.resize / short)),
        )
        # A long thin photo resized by its shorter side can be enormous: check first.
        require_memory(
            size[0] * size[1] * (4 + 4 * channels),
            f"resizing {os.fspath(path)} ({w}x{h}) to {size[0]}x{size[1]}",
        )
        try:
            resized = image.resize(size, Image.Resampling.BILINEAR)
        except (OSError, ValueError) as e:
            raise error(f"{os.fspath(path)}: cannot resize the image ({e})") from None
        with resized:
            pixels = np.asarray(resized, dtype=np.float32)
    if pixels.shape[0] < ch or pixels.shape[1] < cw:
        raise error(
            f"{path}: resized to {pixels.shape[1]}x{pixels.shape[0]}, smaller than the "
            f"{cw}x{ch} crop (raise resize)"
        )
    top, left = (pixels.shape[0] - ch) // 2, (pixels.shape[1] - cw) // 2
    pixels = pixels[top : top + ch, left : left + cw] / np.float32(255.0)
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    return _normalized(pixels, preprocess, path, error)


def _letterboxed(
    path: str | os.PathLike[str],
    size: tuple[int, int],
    channels: int,
    error: type[TrtdslError],
) -> np.ndarray:
    """(H, W, C) float32 in [0, 1]: the photo letterboxed into ``size`` as Ultralytics does
    (``vision.detect.letterbox``; one channel: the mean of R, G and B)."""
    from trtdsl.vision.detect import letterbox, load_image

    image = load_image(path, error)
    tensor, _ = letterbox(image, size, stride=1)
    pixels: np.ndarray = tensor[0].transpose(1, 2, 0)
    if channels == 3:
        return pixels
    return np.asarray(pixels.mean(axis=2, keepdims=True), dtype=np.float32)


def _normalized(
    pixels: np.ndarray,
    preprocess: Preprocess,
    path: str | os.PathLike[str],
    error: type[TrtdslError],
) -> np.ndarray:
    """(C, H, W) from (H, W, C) pixels in [0, 1]: channel order, then (x - mean) / std."""
    if preprocess.channels == "bgr":
        pixels = pixels[:, :, ::-1]
    mean = np.asarray(preprocess.mean, dtype=np.float32)
    std = np.asarray(preprocess.std, dtype=np.float32)
    chw: np.ndarray = np.ascontiguousarray(((pixels - mean) / std).transpose(2, 0, 1))
    if not np.isfinite(chw).all():
        raise error(f"{path}: NaN or inf after normalizing (check mean/std)")
    return chw

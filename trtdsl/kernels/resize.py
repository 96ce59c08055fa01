"""2-D nearest and bilinear resizing with PyTorch's ``interpolate`` coordinate rules."""

from __future__ import annotations

import numpy as np

from trtdsl.kernels.parallel import parallel_for


def _scale(size_in: int, size_out: int, align_corners: bool, scale: float | None) -> float:
    """PyTorch's ``area_pixel_compute_scale``: output-to-input coordinate scale, rounded to
    float32 as PyTorch's float kernels hold it."""
    if align_corners:
        value = (size_in - 1) / (size_out - 1) if size_out > 1 else 0.0
    elif scale is not None and scale > 0:
        value = 1.0 / scale
    else:
        value = float(np.float32(size_in) / np.float32(size_out))
    return float(np.float32(value))


def _nearest_index(size_in: int, size_out: int, scale: float | None) -> np.ndarray:
    """Source indices of ``mode="nearest"``: floor(dst * scale), clamped to the input."""
    if size_out == size_in:
        return np.arange(size_out)
    factor = _scale(size_in, size_out, False, scale)
    src = np.floor(np.arange(size_out, dtype=np.float32) * np.float32(factor)).astype(np.int64)
    index: np.ndarray = np.minimum(src, size_in - 1)
    return index


def _linear_weights(
    size_in: int, size_out: int, align_corners: bool, scale: float | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(low index, high index, weight of high) per output position, as PyTorch computes them."""
    factor = np.float32(_scale(size_in, size_out, align_corners, scale))
    dst = np.arange(size_out, dtype=np.float32)
    if align_corners:
        src = dst * factor
    else:
        src = np.maximum((dst + np.float32(0.5)) * factor - np.float32(0.5), np.float32(0))
    low = np.minimum(src.astype(np.int64), size_in - 1)
    high = np.minimum(low + 1, size_in - 1)
    frac = np.clip(src - low.astype(np.float32), 0, 1).astype(np.float32)
    return low, high, frac


def interpolate(
    x: np.ndarray,
    out_hw: tuple[int, int],
    mode: str,
    align_corners: bool = False,
    scales: tuple[float, float] | None = None,
) -> np.ndarray:
    """Resize the last two axes of ``x`` (N, C, H, W) to ``out_hw``.

    Args:
        mode: ``"nearest"`` (source index floor(dst * H/Ho)) or ``"bilinear"`` (half-pixel
            centres clamped at 0, or ``align_corners``: dst * (H-1)/(Ho-1)).
        scales: the user's scale factors, when given: PyTorch maps coordinates with
            1/scale_factor rather than H/Ho (they differ when H*scale is not an integer).
    Returns:
        (N, C, Ho, Wo) of x's dtype (half precision computed in float32), C-contiguous;
        computed on the kernels' threads in tiles of whole channels.
    """
    n, c = x.shape[:2]
    y = np.empty((n, c, *out_hw), x.dtype)
    block = max(1, min(c, TILE // max(1, out_hw[0] * out_hw[1])))
    parts = -(-c // block)

    def tile(index: int) -> None:
        i, part = divmod(index, parts)
        channels = slice(part * block, min(c, (part + 1) * block))
        y[i, channels] = _interpolate(x[i, channels], out_hw, mode, align_corners, scales)

    parallel_for(n * parts, tile)
    return y


TILE = 1 << 17
"""Output elements per resizing tile (whole channels of one image)."""


def _interpolate(
    x: np.ndarray,
    out_hw: tuple[int, int],
    mode: str,
    align_corners: bool,
    scales: tuple[float, float] | None,
) -> np.ndarray:
    """``interpolate`` of x (C, H, W) -> (C, Ho, Wo)."""
    compute = np.float32 if x.dtype == np.float16 else x.dtype
    y = x.astype(compute, copy=False)
    for axis, size_out in ((1, out_hw[0]), (2, out_hw[1])):
        size_in = y.shape[axis]
        scale = None if scales is None else scales[axis - 1]
        if mode == "nearest":
            y = np.take(y, _nearest_index(size_in, size_out, scale), axis=axis)
            continue
        low, high, frac = _linear_weights(size_in, size_out, align_corners, scale)
        shape = [1] * y.ndim
        shape[axis] = size_out
        w = frac.reshape(shape).astype(compute)
        y = np.take(y, low, axis=axis) * (1 - w) + np.take(y, high, axis=axis) * w
    return np.ascontiguousarray(y, dtype=x.dtype)

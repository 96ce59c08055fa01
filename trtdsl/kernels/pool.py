"""2-D max and average pooling with explicit padding and overhang."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from trtdsl.kernels.parallel import parallel_for


def pool_output_size(
    size: int, kernel: int, stride: int, pad_begin: int, pad_end: int, ceil_mode: bool
) -> int:
    """PyTorch's pooling output size for one axis (with its ceil_mode rule).

    With ceil_mode the last window must start inside the input or the begin padding.
    """
    span = size + pad_begin + pad_end - kernel
    if ceil_mode:
        out = -(-span // stride) + 1
        if (out - 1) * stride >= size + pad_begin:
            out -= 1
    else:
        out = span // stride + 1
    return out


def pool2d(
    x: np.ndarray,
    kind: str,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    pad_begin: tuple[int, int],
    pad_end: tuple[int, int],
    out_hw: tuple[int, int] | None = None,
    count_include_pad: bool = True,
) -> np.ndarray:
    """Max or average pooling.

    Args:
        x: input, shape (N, C, H, W).
        kind: ``"max"`` or ``"avg"``.
        kernel, stride: window and step per spatial axis.
        pad_begin, pad_end: declared padding per axis; it counts in averages when
            ``count_include_pad`` (PyTorch's default; TensorRT's default excludes it).
        out_hw: output size; defaults to the floor rule. Windows that run past the end of
            the padded input (ceil mode) are clipped and the overhang never counts.
    Returns:
        y, shape (N, C, Ho, Wo), dtype of x, C-contiguous. Computed on the kernels' threads in
        tiles of whole channels (every output is the same whatever the tiling).
    """
    if kind not in ("max", "avg"):
        raise ValueError(f"unknown pooling kind {kind!r}")
    n, c, h, w = x.shape
    if out_hw is None:
        out_hw = (
            pool_output_size(h, kernel[0], stride[0], pad_begin[0], pad_end[0], False),
            pool_output_size(w, kernel[1], stride[1], pad_begin[1], pad_end[1], False),
        )
    y = np.empty((n, c, *out_hw), x.dtype)
    block = max(1, min(c, TILE // max(1, h * w)))
    parts = -(-c // block)

    def tile(index: int) -> None:
        i, part = divmod(index, parts)
        channels = slice(part * block, min(c, (part + 1) * block))
        y[i, channels] = _pool(
            x[i : i + 1, channels], kind, kernel, stride, pad_begin, pad_end, out_hw,
            count_include_pad,
        )[0]  # fmt: skip

    parallel_for(n * parts, tile)
    return y


TILE = 1 << 16
"""Input elements per pooling tile (whole channels of one image)."""


def _pool(
    x: np.ndarray,
    kind: str,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    pad_begin: tuple[int, int],
    pad_end: tuple[int, int],
    out_hw: tuple[int, int],
    count_include_pad: bool,
) -> np.ndarray:
    n, c, h, w = x.shape
    kh, kw = kernel
    sh, sw = stride
    ho, wo = out_hw
    # Extra padding past the declared end so that every window is complete (ceil-mode overhang).
    extra_h = max(0, (ho - 1) * sh + kh - (h + pad_begin[0] + pad_end[0]))
    extra_w = max(0, (wo - 1) * sw + kw - (w + pad_begin[1] + pad_end[1]))
    pads = (
        (0, 0),
        (0, 0),
        (pad_begin[0], pad_end[0] + extra_h),
        (pad_begin[1], pad_end[1] + extra_w),
    )
    if kind == "max":
        fill = -np.inf if np.issubdtype(x.dtype, np.floating) else np.iinfo(x.dtype).min
        xp = _pad(x, pads, fill)
        # The max over a window is the max over its rows of the max over its columns: kw + kh
        # elementwise maxima over strided views (a loop over kernel taps only).
        wide = _running_max(xp[:, :, :, j : j + (wo - 1) * sw + 1 : sw] for j in range(kw))
        return _running_max(wide[:, :, i : i + (ho - 1) * sh + 1 : sh] for i in range(kh))
    acc_dtype = np.float64 if x.dtype == np.float64 else np.float32
    xp = _pad(x.astype(acc_dtype, copy=False), pads, 0)
    total = np.zeros((n, c, ho, wo), dtype=acc_dtype)
    for tap in _taps(xp, (kh, kw), stride, (ho, wo)):
        total += tap
    mask = np.zeros((1, 1) + xp.shape[2:], dtype=acc_dtype)
    if count_include_pad:
        mask[..., : h + pad_begin[0] + pad_end[0], : w + pad_begin[1] + pad_end[1]] = 1
    else:
        mask[..., pad_begin[0] : pad_begin[0] + h, pad_begin[1] : pad_begin[1] + w] = 1
    count = sliding_window_view(mask, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw][:, :, :ho, :wo]
    count = count.sum(axis=(4, 5))
    return np.ascontiguousarray((total / np.maximum(count, 1)).astype(x.dtype))


def _running_max(taps: Iterator[np.ndarray]) -> np.ndarray:
    out: np.ndarray | None = None
    for tap in taps:
        out = tap.copy() if out is None else np.maximum(out, tap, out=out)
    assert out is not None
    return out


def _pad(x: np.ndarray, pads: tuple[tuple[int, int], ...], fill: float) -> np.ndarray:
    if not any(p for pair in pads for p in pair):
        return x
    shape = tuple(size + lo + hi for size, (lo, hi) in zip(x.shape, pads, strict=True))
    out = np.full(shape, fill, dtype=x.dtype)
    out[tuple(slice(lo, lo + size) for size, (lo, _) in zip(x.shape, pads, strict=True))] = x
    return out


def _taps(
    xp: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int], out_hw: tuple[int, int]
) -> Iterator[np.ndarray]:
    """For each kernel tap (i, j), the strided view xp[:, :, i + sh*oy, j + sw*ox] (Ho, Wo)."""
    (kh, kw), (sh, sw), (ho, wo) = kernel, stride, out_hw
    for i in range(kh):
        for j in range(kw):
            yield xp[:, :, i : i + (ho - 1) * sh + 1 : sh, j : j + (wo - 1) * sw + 1 : sw]

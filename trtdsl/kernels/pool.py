"""2-D max and average pooling with explicit padding and overhang."""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


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
        y, shape (N, C, Ho, Wo), dtype of x.
    """
    n, c, h, w = x.shape
    kh, kw = kernel
    sh, sw = stride
    if out_hw is None:
        out_hw = (
            pool_output_size(h, kh, sh, pad_begin[0], pad_end[0], False),
            pool_output_size(w, kw, sw, pad_begin[1], pad_end[1], False),
        )
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
        xp = np.pad(x, pads, constant_values=fill)
        win = sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw][:, :, :ho, :wo]
        return np.ascontiguousarray(win.max(axis=(4, 5)))
    if kind != "avg":
        raise ValueError(f"unknown pooling kind {kind!r}")
    acc_dtype = np.float64 if x.dtype == np.float64 else np.float32
    xp = np.pad(x.astype(acc_dtype, copy=False), pads)
    win = sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw][:, :, :ho, :wo]
    total = win.sum(axis=(4, 5))
    mask = np.zeros((1, 1) + xp.shape[2:], dtype=acc_dtype)
    if count_include_pad:
        mask[..., : h + pad_begin[0] + pad_end[0], : w + pad_begin[1] + pad_end[1]] = 1
    else:
        mask[..., pad_begin[0] : pad_begin[0] + h, pad_begin[1] : pad_begin[1] + w] = 1
    count = sliding_window_view(mask, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw][:, :, :ho, :wo]
    count = count.sum(axis=(4, 5))
    return np.ascontiguousarray((total / np.maximum(count, 1)).astype(x.dtype))

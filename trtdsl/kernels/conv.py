"""2-D convolution (cross-correlation, as in PyTorch and TensorRT) by im2col + matmul."""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def conv2d(
    x: np.ndarray,
    w: np.ndarray,
    b: np.ndarray | None,
    *,
    stride: tuple[int, int] = (1, 1),
    pad_begin: tuple[int, int] = (0, 0),
    pad_end: tuple[int, int] = (0, 0),
    dilation: tuple[int, int] = (1, 1),
    groups: int = 1,
) -> np.ndarray:
    """Grouped, strided, dilated 2-D convolution with zero padding.

    Args:
        x: input, shape (N, C, H, W).
        w: kernel, shape (K, C // groups, R, S) (PyTorch OIHW == TensorRT GKCRS flattened).
        b: bias, shape (K,), or None.
        stride, dilation: per spatial axis (h, w).
        pad_begin, pad_end: zero padding before/after each spatial axis (h, w).
        groups: C and K must both divide by it.
    Returns:
        y, shape (N, K, Ho, Wo), Ho = (H + pb + pe - d*(R-1) - 1) // s + 1; dtype of x.
    """
    n, c, _, _ = x.shape
    k, cg, r, s = w.shape
    assert c == cg * groups and k % groups == 0, (x.shape, w.shape, groups)
    dtype = np.result_type(x.dtype, w.dtype)
    if any(pad_begin) or any(pad_end):
        x = np.pad(x, ((0, 0), (0, 0), (pad_begin[0], pad_end[0]), (pad_begin[1], pad_end[1])))
    sh, sw = stride
    dh, dw = dilation
    hp, wp = x.shape[2], x.shape[3]
    ho = (hp - dh * (r - 1) - 1) // sh + 1
    wo = (wp - dw * (s - 1) - 1) // sw + 1
    if r == 1 and s == 1:
        cols = x[:, :, : (ho - 1) * sh + 1 : sh, : (wo - 1) * sw + 1 : sw]  # (N, C, Ho, Wo)
        windows = cols[..., None, None]
    else:
        span_h, span_w = dh * (r - 1) + 1, dw * (s - 1) + 1
        windows = sliding_window_view(x, (span_h, span_w), axis=(2, 3))
        windows = windows[:, :, : (ho - 1) * sh + 1 : sh, : (wo - 1) * sw + 1 : sw, ::dh, ::dw]
    # windows: (N, C, Ho, Wo, R, S)
    if groups == 1:
        y = np.tensordot(windows, w, axes=([1, 4, 5], [1, 2, 3]))  # (N, Ho, Wo, K)
        y = y.transpose(0, 3, 1, 2)
    elif cg == 1 and k == c:
        y = _depthwise(windows, w)
    else:
        kg = k // groups
        parts = [
            np.tensordot(
                windows[:, g * cg : (g + 1) * cg],
                w[g * kg : (g + 1) * kg],
                axes=([1, 4, 5], [1, 2, 3]),
            )
            for g in range(groups)
        ]
        y = np.concatenate(parts, axis=3).transpose(0, 3, 1, 2)
    if b is not None:
        y = y + b.reshape(1, k, 1, 1)
    return np.ascontiguousarray(y, dtype=dtype)


def _depthwise(windows: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Depthwise conv: windows (N, C, Ho, Wo, R, S), w (C, 1, R, S) -> (N, C, Ho, Wo)."""
    _, _, r, s = w.shape
    acc = np.zeros(windows.shape[:4], dtype=np.result_type(windows.dtype, w.dtype))
    for i in range(r):
        for j in range(s):
            acc += windows[..., i, j] * w[None, :, 0, i, j, None, None]
    return acc

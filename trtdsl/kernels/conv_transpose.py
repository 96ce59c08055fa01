"""2-D transposed convolution (the gradient of conv2d with respect to its input), by scattering
one kernel tap at a time: ``y[.., i*s + r*d - p, ..] += w[:, :, r, s]^T x[.., i, ..]``."""

from __future__ import annotations

import numpy as np


def conv_transpose2d(
    x: np.ndarray,
    w: np.ndarray,
    b: np.ndarray | None,
    *,
    stride: tuple[int, int] = (1, 1),
    padding: tuple[int, int] = (0, 0),
    output_padding: tuple[int, int] = (0, 0),
    dilation: tuple[int, int] = (1, 1),
    groups: int = 1,
) -> np.ndarray:
    """Grouped, strided, dilated transposed convolution, as ``F.conv_transpose2d``.

    Args:
        x: (N, C, H, W).
        w: (C, K // groups, R, S) (PyTorch's ConvTranspose2d.weight == TensorRT's CKRS).
        b: (K,) or None.
    Returns:
        (N, K, Ho, Wo) with Ho = (H-1)*stride - 2*padding + dilation*(R-1) + output_padding + 1,
        x's dtype (half precision computed in float32).
    """
    n, c, h, wd = x.shape
    _, kg, r, s = w.shape
    cg = c // groups
    compute = np.float32 if x.dtype == np.float16 else np.result_type(x.dtype, w.dtype)
    xc = x.astype(compute, copy=False)
    wc = w.astype(compute, copy=False)
    (sh, sw), (ph, pw), (oph, opw), (dh, dw) = stride, padding, output_padding, dilation
    ho = (h - 1) * sh - 2 * ph + dh * (r - 1) + oph + 1
    wo = (wd - 1) * sw - 2 * pw + dw * (s - 1) + opw + 1
    # Accumulate on the unpadded canvas, then crop the padding away.
    full_h = (h - 1) * sh + dh * (r - 1) + 1 + oph
    full_w = (wd - 1) * sw + dw * (s - 1) + 1 + opw
    canvas = np.zeros((n, kg * groups, full_h, full_w), dtype=compute)
    for g in range(groups):
        xg = xc[:, g * cg : (g + 1) * cg]
        out = canvas[:, g * kg : (g + 1) * kg]
        for i in range(r):
            for j in range(s):
                tap = np.einsum("nchw,ck->nkhw", xg, wc[g * cg : (g + 1) * cg, :, i, j])
                out[
                    :,
                    :,
                    i * dh : i * dh + (h - 1) * sh + 1 : sh,
                    j * dw : j * dw + (wd - 1) * sw + 1 : sw,
                ] += tap
    y = canvas[:, :, ph : ph + ho, pw : pw + wo]
    if b is not None:
        y = y + b.astype(compute).reshape(1, -1, 1, 1)
    return np.ascontiguousarray(y, dtype=x.dtype)

"""2-D convolution (cross-correlation, as in PyTorch and TensorRT) by im2col + matmul.

Per image, ``y (K, Ho*Wo) = w (K, C*R*S) @ cols (C*R*S, Ho*Wo)``: the kernel reshapes for free
and, for unstrided 1x1 convolutions, so does the input, so most of the time goes to BLAS.
"""

from __future__ import annotations

import math
import threading

import numpy as np


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
    relu: bool = False,
) -> np.ndarray:
    """Grouped, strided, dilated 2-D convolution with zero padding.

    Args:
        x: input, shape (N, C, H, W), any memory layout.
        w: kernel, shape (K, C // groups, R, S) (PyTorch OIHW == TensorRT GKCRS flattened).
        b: bias, shape (K,), or None.
        stride, dilation: per spatial axis (h, w).
        pad_begin, pad_end: zero padding before/after each spatial axis (h, w).
        groups: C and K must both divide by it.
        relu: apply ``max(y, 0)`` to the result (while it is still in cache); the values
            equal a separate ReLU's.
    Returns:
        y, C-contiguous, shape (N, K, Ho, Wo), Ho = (H + pb + pe - d*(R-1) - 1) // s + 1; dtype
        ``result_type(x, w)``. Half-precision inputs are computed in float32 and rounded once.
    """
    n, c, _, _ = x.shape
    k, cg, r, s = w.shape
    assert c == cg * groups and k % groups == 0, (x.shape, w.shape, groups)
    dtype = np.result_type(x.dtype, w.dtype)
    compute = np.float32 if dtype == np.float16 else dtype
    x = x.astype(compute, copy=False)
    w = w.astype(compute, copy=False)
    sh, sw = stride
    dh, dw = dilation
    ho = (x.shape[2] + pad_begin[0] + pad_end[0] - dh * (r - 1) - 1) // sh + 1
    wo = (x.shape[3] + pad_begin[1] + pad_end[1] - dw * (s - 1) - 1) // sw + 1
    if cg == 1 and groups > 1 and k == c:
        y = _depthwise(_pad(x, pad_begin, pad_end), w, (ho, wo), stride, dilation)
        if b is not None:
            y += b.astype(compute, copy=False).reshape(1, k, 1, 1)
        if relu:
            np.maximum(y, 0, out=y)
    else:
        kg, rows = k // groups, cg * r * s
        w_groups = w.reshape(groups, kg, rows)
        bias = None if b is None else b.astype(compute, copy=False).reshape(k, 1)
        patches = _Patches(
            x.shape[1:], compute, (r, s), (ho, wo), stride, pad_begin, pad_end, dilation
        )
        if groups == 1 and n > 1 and ho * wo <= _BATCHED_GEMM_MAX_PIXELS:
            y = _batched_gemm(x, w_groups[0], bias, patches, (ho, wo), relu)
        else:
            y = np.empty((n, k, ho, wo), dtype=compute)
            # One image at a time: its patch matrix stays in cache for the GEMM, the buffers
            # are reused, and the GEMM writes straight into the output.
            for i in range(n):
                cols = patches.of(x[i])  # (C*R*S, Ho*Wo), rows ordered (c, r, s) like w
                y_i = y[i].reshape(k, ho * wo)
                if groups == 1:
                    np.matmul(w_groups[0], cols, out=y_i)
                else:
                    np.matmul(
                        w_groups,
                        cols.reshape(groups, rows, ho * wo),
                        out=y_i.reshape(groups, kg, -1),
                    )
                if bias is not None:
                    y_i += bias
                if relu:
                    np.maximum(y_i, 0, out=y_i)
    return y if y.dtype == dtype else y.astype(dtype)


_BATCHED_GEMM_MAX_PIXELS = 256
"""Output images up to this many pixels are convolved as one GEMM over the whole batch: a
GEMM with few columns per image runs far below BLAS peak, and copying small images is cheap."""


def _batched_gemm(
    x: np.ndarray,
    w: np.ndarray,
    bias: np.ndarray | None,
    patches: _Patches,
    out_hw: tuple[int, int],
    relu: bool,
) -> np.ndarray:
    """``w (K, C*R*S) @ [patches of every image] (C*R*S, N*Ho*Wo)`` -> y (N, K, Ho, Wo)."""
    n = x.shape[0]
    k, rows = w.shape
    pixels = out_hw[0] * out_hw[1]
    cols = _scratch("batch", (rows, n, pixels), w.dtype)
    for i in range(n):
        cols[:, i] = patches.of(x[i])
    y = np.matmul(w, cols.reshape(rows, n * pixels)).reshape(k, n, pixels)
    if bias is not None:
        y += bias.reshape(k, 1, 1)
    if relu:
        np.maximum(y, 0, out=y)
    return np.ascontiguousarray(y.transpose(1, 0, 2)).reshape(n, k, *out_hw)


def _pad(x: np.ndarray, pad_begin: tuple[int, int], pad_end: tuple[int, int]) -> np.ndarray:
    if not any(pad_begin) and not any(pad_end):
        return x
    n, c, h, w = x.shape
    out = np.zeros((n, c, h + pad_begin[0] + pad_end[0], w + pad_begin[1] + pad_end[1]), x.dtype)
    out[:, :, pad_begin[0] : pad_begin[0] + h, pad_begin[1] : pad_begin[1] + w] = x
    return out


_SCRATCH = threading.local()


def _scratch(slot: str, shape: tuple[int, ...], dtype: np.dtype | type) -> np.ndarray:
    """A per-thread buffer of ``shape`` reused across calls (contents undefined).

    Reusing warm memory avoids page faults on fresh allocations for every conv; a buffer only
    grows (to the largest per-image patch matrix seen) and never leaves this module.
    """
    nbytes = math.prod(shape) * np.dtype(dtype).itemsize
    buffer = getattr(_SCRATCH, slot, None)
    if buffer is None or buffer.nbytes < nbytes:
        buffer = np.empty(nbytes, np.uint8)
        setattr(_SCRATCH, slot, buffer)
    return buffer[:nbytes].view(dtype).reshape(shape)


class _Patches:
    """im2col of single images (C, H, W) -> (C*R*S, Ho*Wo) into reused buffers.

    Unstrided, unpadded 1x1 kernels need no copy: the image itself is the patch matrix.
    """

    def __init__(
        self,
        chw: tuple[int, ...],
        dtype: np.dtype | type,
        kernel: tuple[int, int],
        out_hw: tuple[int, int],
        stride: tuple[int, int],
        pad_begin: tuple[int, int],
        pad_end: tuple[int, int],
        dilation: tuple[int, int],
    ) -> None:
        c, h, w = chw
        self.kernel, self.out_hw, self.stride, self.dilation = kernel, out_hw, stride, dilation
        self.pad_begin = pad_begin
        self.padded = None
        if any(pad_begin) or any(pad_end):
            hp, wp = h + pad_begin[0] + pad_end[0], w + pad_begin[1] + pad_end[1]
            self.padded = _scratch("padded", (c, hp, wp), dtype)
            self.padded.fill(0)  # the borders stay zero for every image of this call
        r, s = kernel
        ho, wo = out_hw
        self.identity = (r, s) == (1, 1) and self.padded is None and stride == (1, 1)
        self.cols = None if self.identity else _scratch("cols", (c, r, s, ho, wo), dtype)

    def of(self, image: np.ndarray) -> np.ndarray:
        c, h, w = image.shape
        ho, wo = self.out_hw
        if self.identity:
            return np.ascontiguousarray(image).reshape(c, ho * wo)
        if self.padded is not None:
            pb = self.pad_begin
            self.padded[:, pb[0] : pb[0] + h, pb[1] : pb[1] + w] = image
            image = self.padded
        (r, s), (sh, sw), (dh, dw) = self.kernel, self.stride, self.dilation
        cols = self.cols
        assert cols is not None
        # One strided copy per kernel tap (R*S copies), never a loop over pixels.
        for i in range(r):
            for j in range(s):
                cols[:, i, j] = image[
                    :,
                    i * dh : i * dh + (ho - 1) * sh + 1 : sh,
                    j * dw : j * dw + (wo - 1) * sw + 1 : sw,
                ]
        return cols.reshape(c * r * s, ho * wo)


def _depthwise(
    xp: np.ndarray,
    w: np.ndarray,
    out_hw: tuple[int, int],
    stride: tuple[int, int],
    dilation: tuple[int, int],
) -> np.ndarray:
    """Depthwise conv of padded xp (N, C, Hp, Wp) with w (C, 1, R, S) -> (N, C, Ho, Wo)."""
    _, _, r, s = w.shape
    ho, wo = out_hw
    sh, sw = stride
    dh, dw = dilation
    acc = np.zeros(xp.shape[:2] + (ho, wo), dtype=xp.dtype)
    for i in range(r):
        for j in range(s):
            tap = xp[
                :,
                :,
                i * dh : i * dh + (ho - 1) * sh + 1 : sh,
                j * dw : j * dw + (wo - 1) * sw + 1 : sw,
            ]
            acc += tap * w[None, :, 0, i, j, None, None]
    return acc

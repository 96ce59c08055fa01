"""Deformable convolution v2 (Zhu et al., "Deformable ConvNets v2", 2019) as
``torchvision.ops.deform_conv2d`` defines it, as a TensorRT plugin: a layer TensorRT lacks.

Each output position samples the input at the kernel's taps moved by learned offsets
(bilinear interpolation, zero outside the image) and scales each sample by a modulation
mask before the weighted sum. Use it with ``--ops examples/custom_ops/deform_conv2d.py``; on
TensorRT it is an IPluginV3 layer whose CUDA C kernel NVRTC compiles; TensorRT-RTX refuses it
(no plugins); the emulator and the reference run ``reference`` below.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

import trtdsl
from trtdsl.ir.ops.base import check_int, check_pair, expect_rank, static_dim


def _bilinear(x: np.ndarray, ph: np.ndarray, pw: np.ndarray) -> np.ndarray:
    """``x`` (N, C, H, W) sampled at rows ``ph`` and columns ``pw`` (N, Ho, Wo), bilinearly,
    zero outside the image (torchvision's rule); returns (N, C, Ho, Wo)."""
    n, _, h, w = x.shape
    inside = (ph > -1) & (ph < h) & (pw > -1) & (pw < w)
    h0, w0 = np.floor(ph).astype(np.int64), np.floor(pw).astype(np.int64)
    lh, lw = (ph - h0).astype(np.float32), (pw - w0).astype(np.float32)
    batch = np.arange(n)[:, None, None]
    out = np.zeros((n, x.shape[1], *ph.shape[1:]), dtype=np.float32)
    for dh, dw, weight in ((0, 0, (1 - lh) * (1 - lw)), (0, 1, (1 - lh) * lw),
                           (1, 0, lh * (1 - lw)), (1, 1, lh * lw)):  # fmt: skip
        hi, wi = h0 + dh, w0 + dw
        ok = inside & (hi >= 0) & (hi < h) & (wi >= 0) & (wi < w)
        values = x[batch, :, np.clip(hi, 0, h - 1), np.clip(wi, 0, w - 1)]  # (N, Ho, Wo, C)
        out += np.moveaxis(values, -1, 1) * (weight * ok)[:, None]
    return out


@trtdsl.custom_op
@dataclass(frozen=True)
class DeformConv2d(trtdsl.CustomOp):
    """Modulated deformable 2-D convolution, as ``torchvision.ops.deform_conv2d``.

    Inputs: x (N, C, H, W); offset (N, 2*G*kh*kw, Ho, Wo), (dy, dx) per offset group g and tap
    k = i*kw + j at channels 2*(g*kh*kw + k) and +1; mask (N, G*kh*kw, Ho, Wo). G (offset
    groups) divides C. Weights: weight (out_channels, C, kh, kw), bias (out_channels,).
    y[n, o, p, q] = bias[o] + sum over c, i, j of weight[o, c, i, j] * mask * x sampled at
    (p*sh - ph + i*dh + dy, q*sw - pw + j*dw + dx). float32 only.
    """

    op_name = "deform_conv2d"
    arity = 3

    out_channels: int
    kernel_size: int | tuple[int, int]
    stride: int | tuple[int, int] = 1
    padding: int | tuple[int, int] = 0
    dilation: int | tuple[int, int] = 1

    def __post_init__(self) -> None:
        check_int(self, "out_channels", minimum=1)
        check_pair(self, "kernel_size", minimum=1)
        check_pair(self, "stride", minimum=1)
        check_pair(self, "padding", minimum=0)
        check_pair(self, "dilation", minimum=1)

    def _geometry(self, x: trtdsl.TensorType) -> tuple[int, int]:
        (kh, kw), (sh, sw) = self.kernel_size, self.stride  # type: ignore[misc]
        (ph, pw), (dh, dw) = self.padding, self.dilation  # type: ignore[misc]
        h, w = static_dim(self, x, 2, "height"), static_dim(self, x, 3, "width")
        return (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1, (
            w + 2 * pw - dw * (kw - 1) - 1
        ) // sw + 1

    def params(self, inputs: Sequence[trtdsl.TensorType]) -> dict[str, trtdsl.ParamSpec]:
        kh, kw = self.kernel_size  # type: ignore[misc]
        c = static_dim(self, inputs[0], 1, "channels")
        return {
            "weight": trtdsl.ParamSpec((self.out_channels, c, kh, kw)),
            "bias": trtdsl.ParamSpec((self.out_channels,)),
        }

    def infer(self, inputs: Sequence[trtdsl.TensorType]) -> trtdsl.TensorType:
        x, offset, mask = inputs
        for t, what in ((x, "x"), (offset, "offset"), (mask, "mask")):
            expect_rank(self, t, 4, what)
            if t.dtype is not trtdsl.DType.FLOAT32:
                raise trtdsl.ShapeError(f"deform_conv2d: {what} must be float32, got {t}")
        kh, kw = self.kernel_size  # type: ignore[misc]
        ho, wo = self._geometry(x)
        taps = static_dim(self, mask, 1, "mask channels")
        groups = taps // (kh * kw)
        c = static_dim(self, x, 1, "channels")
        if groups < 1 or taps != groups * kh * kw or c % groups:
            raise trtdsl.ShapeError(
                f"deform_conv2d: mask has {taps} channels; expected G*{kh * kw} with G dividing {c}"
            )
        expected = (2 * taps, ho, wo)
        for t, want, what in ((offset, expected, "offset"), (mask, (taps, ho, wo), "mask")):
            if tuple(t.shape[1:]) != want or t.shape[0] != x.shape[0]:
                raise trtdsl.ShapeError(
                    f"deform_conv2d: {what} must be (N, {', '.join(map(str, want))}), got {t}"
                )
        return trtdsl.TensorType(x.dtype, (x.shape[0], self.out_channels, ho, wo))

    def reference(
        self, inputs: Sequence[np.ndarray], params: Mapping[str, np.ndarray]
    ) -> np.ndarray:
        x, offset, mask = (np.asarray(a, dtype=np.float32) for a in inputs)
        n, c, _, _ = x.shape
        (kh, kw), (sh, sw) = self.kernel_size, self.stride  # type: ignore[misc]
        (ph, pw), (dh, dw) = self.padding, self.dilation  # type: ignore[misc]
        ho, wo = offset.shape[2:]
        groups = mask.shape[1] // (kh * kw)
        per_group = c // groups
        rows = (np.arange(ho) * sh - ph)[:, None].astype(np.float32)
        cols = (np.arange(wo) * sw - pw)[None, :].astype(np.float32)
        columns = np.zeros((n, c, kh * kw, ho, wo), dtype=np.float32)
        for g in range(groups):
            xg = x[:, g * per_group : (g + 1) * per_group]
            for k in range(kh * kw):
                i, j = divmod(k, kw)
                tap = g * kh * kw + k
                sample_h = rows + i * dh + offset[:, 2 * tap]
                sample_w = cols + j * dw + offset[:, 2 * tap + 1]
                sampled = _bilinear(xg, sample_h, sample_w) * mask[:, tap][:, None]
                columns[:, g * per_group : (g + 1) * per_group, k] = sampled
        weight = params["weight"].reshape(self.out_channels, c * kh * kw).astype(np.float32)
        out = np.einsum("ok,nkp->nop", weight, columns.reshape(n, c * kh * kw, ho * wo))
        out += params["bias"].astype(np.float32)[None, :, None]
        return np.ascontiguousarray(out.reshape(n, self.out_channels, ho, wo), dtype=np.float32)

    def macs(
        self,
        inputs: Sequence[trtdsl.TensorType],
        outputs: Sequence[trtdsl.TensorType],
        sizes: Mapping[str, int] | None = None,
    ) -> int:
        n = (
            inputs[0].shape[0]
            if isinstance(inputs[0].shape[0], int)
            else (sizes or {}).get(str(inputs[0].shape[0]), 1)
        )
        kh, kw = self.kernel_size  # type: ignore[misc]
        _, o, ho, wo = outputs[0].shape
        c = inputs[0].shape[1]
        return int(n) * int(o) * int(ho) * int(wo) * int(c) * kh * kw

    kernel = trtdsl.PluginKernel(
        r"""
extern "C" __global__ void deform_conv2d_kernel(
    const float* x, const float* offset, const float* mask, const float* weight,
    const float* bias, float* y, int N, int C, int H, int W, int O, int Ho, int Wo,
    int kh, int kw, int sh, int sw, int ph, int pw, int dh, int dw, int G)
{
    long long index = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    long long total = (long long)N * O * Ho * Wo;
    if (index >= total) return;
    int q = index % Wo;
    int p = (index / Wo) % Ho;
    int o = (index / ((long long)Wo * Ho)) % O;
    int n = index / ((long long)Wo * Ho * O);
    int K = kh * kw;
    int per_group = C / G;
    float acc = bias[o];
    for (int c = 0; c < C; ++c) {
        int g = c / per_group;
        const float* xc = x + ((long long)n * C + c) * H * W;
        for (int k = 0; k < K; ++k) {
            int i = k / kw, j = k % kw;
            int tap = g * K + k;
            long long at = (((long long)n * 2 * G * K + 2 * tap) * Ho + p) * Wo + q;
            float dy = offset[at];
            float dx = offset[at + (long long)Ho * Wo];
            float m = mask[(((long long)n * G * K + tap) * Ho + p) * Wo + q];
            float h = p * sh - ph + i * dh + dy;
            float w = q * sw - pw + j * dw + dx;
            float v = 0.0f;
            if (h > -1.0f && h < H && w > -1.0f && w < W) {
                int h0 = (int)floorf(h), w0 = (int)floorf(w);
                float lh = h - h0, lw = w - w0;
                float v00 = (h0 >= 0 && w0 >= 0) ? xc[h0 * W + w0] : 0.0f;
                float v01 = (h0 >= 0 && w0 + 1 < W) ? xc[h0 * W + w0 + 1] : 0.0f;
                float v10 = (h0 + 1 < H && w0 >= 0) ? xc[(h0 + 1) * W + w0] : 0.0f;
                float v11 = (h0 + 1 < H && w0 + 1 < W) ? xc[(h0 + 1) * W + w0 + 1] : 0.0f;
                v = (1 - lh) * (1 - lw) * v00 + (1 - lh) * lw * v01
                    + lh * (1 - lw) * v10 + lh * lw * v11;
            }
            acc += weight[((long long)o * C + c) * K + k] * m * v;
        }
    }
    y[index] = acc;
}
""",
        "deform_conv2d_kernel",
    )

    def launch(self, shapes: Sequence[tuple[int, ...]]) -> trtdsl.KernelLaunch:
        (n, c, h, w), offset, mask = shapes[0], shapes[1], shapes[2]
        (kh, kw), (sh, sw) = self.kernel_size, self.stride  # type: ignore[misc]
        (ph, pw), (dh, dw) = self.padding, self.dilation  # type: ignore[misc]
        ho, wo = offset[2], offset[3]
        total = n * self.out_channels * ho * wo
        scalars = (n, c, h, w, self.out_channels, ho, wo, kh, kw, sh, sw, ph, pw, dh, dw,
                   mask[1] // (kh * kw))  # fmt: skip
        return trtdsl.KernelLaunch(((total + 127) // 128, 1, 1), (128, 1, 1), scalars)

"""Deconvolution (transposed convolution), computed as a convolution of the stride-dilated input
with the flipped kernel (reusing trtdsl.kernels.conv2d)."""

from __future__ import annotations

import numpy as np

from trtdsl.emulator.enums import LayerType, PaddingMode
from trtdsl.emulator.layers.base import dyn, float_compute, gemm_operand
from trtdsl.emulator.layers.conv import ConvolutionBase
from trtdsl.emulator.types import EmulatorUnsupportedError, weights_array
from trtdsl.kernels import conv2d


class IDeconvolutionLayer(ConvolutionBase):
    """2-D/3-D deconvolution; kernel layout CKRS (C input channels, K/G maps per group, R, S),
    the layout of PyTorch's ConvTranspose2d.weight.

    Output size per axis: O = (I-1)*S + DK - (B+A), DK = 1 + d*(F-1); SAME modes give
    O = min(I*S, (I-1)*S + DK) with P = max(DK-S, 0) split as for convolution (NvInfer.h).
    """

    _TYPE = LayerType.DECONVOLUTION
    _TYPE_NAME = "Deconvolution"
    _KERNEL_LAYOUT = "CKRS"

    def _kernel_shape(self, channels: int, maps: int, groups: int) -> tuple[int, ...]:
        return (channels, maps // groups) + tuple(self._p["kernel_size_nd"])

    def _axis_output(
        self, size: int, window: int, stride: int, pre: int, post: int, mode: PaddingMode
    ) -> tuple[int, int, int]:
        if mode in (PaddingMode.SAME_UPPER, PaddingMode.SAME_LOWER):
            total = max(window - stride, 0)
            small, large = total // 2, total - total // 2
            pre, post = (small, large) if mode == PaddingMode.SAME_UPPER else (large, small)
            if dyn(size):
                return -1, pre, post
            return min(size * stride, (size - 1) * stride + window), pre, post
        if dyn(size):
            return -1, pre, post
        return (size - 1) * stride + window - (pre + post), pre, post

    def _compute(self, xs: list[np.ndarray]) -> list[np.ndarray]:
        (x,) = xs
        if x.ndim != 4:
            raise EmulatorUnsupportedError("the emulator computes 2-D deconvolution only")
        p = self._p
        n, c, h, w = x.shape
        groups, maps = p["num_groups"], p["num_output_maps"]
        (sh, sw), (dh, dw), (r, s) = p["stride_nd"], p["dilation_nd"], p["kernel_size_nd"]
        kernel = gemm_operand(weights_array(self._w["kernel"]), self._tf32)
        kernel = kernel.reshape(c, maps // groups, r, s)
        # Equivalent convolution kernel: per group, swap C and K and flip the window.
        cg = c // groups
        conv_kernel = np.concatenate(
            [
                kernel[g * cg : (g + 1) * cg, :, ::-1, ::-1].transpose(1, 0, 2, 3)
                for g in range(groups)
            ]
        )
        assert conv_kernel.shape == (maps, cg, r, s)
        dilated = np.zeros((n, c, (h - 1) * sh + 1, (w - 1) * sw + 1), np.float32)
        dilated[:, :, ::sh, ::sw] = gemm_operand(x, self._tf32)
        begin, end = [], []
        for (_, pre, post), span in zip(
            self._geometry(x.shape), (1 + dh * (r - 1), 1 + dw * (s - 1)), strict=True
        ):
            begin.append(span - 1 - pre)
            end.append(span - 1 - post)
        # Negative padding (padding larger than the window) crops.
        crop = tuple(
            slice(max(-b, 0), size - max(-e, 0))
            for b, e, size in zip(begin, end, dilated.shape[2:], strict=True)
        )
        dilated = dilated[(slice(None), slice(None)) + crop]
        bias = self._w["bias"]
        y = conv2d(
            dilated,
            conv_kernel,
            float_compute(weights_array(bias)) if bias.size else None,
            pad_begin=(max(begin[0], 0), max(begin[1], 0)),
            pad_end=(max(end[0], 0), max(end[1], 0)),
            dilation=(dh, dw),
            groups=groups,
        )
        return [y.astype(x.dtype)]

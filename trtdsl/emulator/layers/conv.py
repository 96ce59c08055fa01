"""Convolution and pooling layers, with TensorRT's PaddingMode output-size rules.

Numerics reuse trtdsl.kernels (conv2d, pool2d); the TensorRT-to-kernel parameter mapping
(pre/post padding, padding modes, round-up overhang, count-excludes-padding) is done here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from trtdsl.emulator.enums import DataType, LayerType, PaddingMode, PoolingType
from trtdsl.emulator.layers.base import (
    ILayer,
    Shape,
    dims_property,
    dyn,
    float_compute,
    gemm_operand,
    require,
    require_float,
    value_property,
    weights_property,
)
from trtdsl.emulator.types import Dims, EmulatorUnsupportedError, volume, weights_array
from trtdsl.kernels import conv2d, pool2d
from trtdsl.kernels.conv import EpilogueStep


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def spatial_output(
    size: int, window: int, stride: int, pre: int, post: int, mode: PaddingMode
) -> tuple[int, int, int]:
    """TensorRT's output size and effective (pre, post) padding for one spatial axis.

    ``window`` is the effective extent: DK = 1 + d*(F-1) for convolution, F for pooling.
    Formulas from the PaddingMode documentation of NvInfer.h; -1 (dynamic) stays -1.
    """
    if mode in (PaddingMode.SAME_UPPER, PaddingMode.SAME_LOWER):
        if dyn(size):
            return -1, -1, -1
        # NOTE: TensorRT documents P = floor((I-1)/S)*S + F - I; when that is negative (stride
        # larger than the window) it is silent, and the emulator pads nothing.
        total = max(0, (size - 1) // stride * stride + window - size)
        small, large = total // 2, total - total // 2
        pre, post = (small, large) if mode == PaddingMode.SAME_UPPER else (large, small)
        return _ceil_div(size, stride), pre, post
    if dyn(size):
        return -1, pre, post
    padded = size + pre + post
    require(padded >= window, f"padded input extent {padded} is smaller than the window {window}")
    if mode == PaddingMode.EXPLICIT_ROUND_UP:
        return _ceil_div(padded - window, stride) + 1, pre, post
    return (padded - window) // stride + 1, pre, post


def _check_nd(layer: ILayer, keys: Sequence[str], nd: int) -> None:
    for key in keys:
        require(len(layer._p[key]) == nd, f"{key} has {len(layer._p[key])} dims, expected {nd}")


def symmetric_padding_property() -> property:
    """``padding_nd``: reading returns the pre-padding, writing sets pre and post padding."""

    def get(layer: ILayer) -> Dims:
        return Dims(layer._p["pre_padding"])

    def set(layer: ILayer, value: Dims) -> None:
        layer.pre_padding = value  # type: ignore[attr-defined]
        layer.post_padding = value  # type: ignore[attr-defined]

    doc = "Symmetric padding; reading returns the pre-padding, writing sets pre and post."
    return property(get, set, doc=doc)


class ConvolutionBase(ILayer):
    """Properties and checks shared by convolution and deconvolution (not a TensorRT class)."""

    _KERNEL_LAYOUT = "GKCRS"

    num_output_maps = value_property("num_output_maps", int, "Number of output maps (K).")
    kernel_size_nd = dims_property("kernel_size_nd", "Kernel spatial size (R, S).")
    stride_nd = dims_property("stride_nd", "Stride per spatial axis. Default: 1s.")
    pre_padding = dims_property("pre_padding", "Padding before each spatial axis. Default: 0s.")
    post_padding = dims_property("post_padding", "Padding after each spatial axis. Default: 0s.")
    padding_mode = value_property(
        "padding_mode", PaddingMode, "PaddingMode; takes precedence over explicit padding."
    )
    dilation_nd = dims_property("dilation_nd", "Dilation per spatial axis. Default: 1s.")
    num_groups = value_property("num_groups", int, "Number of groups. Default: 1.")
    kernel = weights_property("kernel", "Kernel weights (GKCRS for conv, CKRS for deconv).")
    bias = weights_property("bias", "Bias weights, K values (or empty).")

    padding_nd = symmetric_padding_property()

    def _init_params(self, num_output_maps: int, kernel_shape: Dims) -> None:
        nd = len(kernel_shape)
        self._p.update(
            num_output_maps=num_output_maps,
            kernel_size_nd=kernel_shape,
            stride_nd=Dims((1,) * nd),
            pre_padding=Dims((0,) * nd),
            post_padding=Dims((0,) * nd),
            padding_mode=PaddingMode.EXPLICIT_ROUND_DOWN,
            dilation_nd=Dims((1,) * nd),
            num_groups=1,
        )

    def _geometry(self, shape: Shape) -> list[tuple[int, int, int]]:
        """(output size, pre, post) for each spatial axis."""
        p = self._p
        return [
            self._axis_output(
                shape[2 + i],
                1 + p["dilation_nd"][i] * (p["kernel_size_nd"][i] - 1),
                p["stride_nd"][i],
                p["pre_padding"][i],
                p["post_padding"][i],
                p["padding_mode"],
            )
            for i in range(len(shape) - 2)
        ]

    def _axis_output(
        self, size: int, window: int, stride: int, pre: int, post: int, mode: PaddingMode
    ) -> tuple[int, int, int]:
        return spatial_output(size, window, stride, pre, post, mode)

    def _infer(self, shapes: list[Shape], dtypes: list[DataType]) -> list[tuple[Shape, DataType]]:
        shape, dtype = shapes[0], dtypes[0]
        p = self._p
        what = self._TYPE_NAME.lower()
        require(len(shape) in (4, 5), f"Only 2D or 3D {what} is supported; input {shape}")
        nd = len(shape) - 2
        _check_nd(self, ("kernel_size_nd", "stride_nd", "pre_padding", "post_padding"), nd)
        _check_nd(self, ("dilation_nd",), nd)
        require(
            all(v >= 1 for v in p["stride_nd"] + p["dilation_nd"] + p["kernel_size_nd"]),
            "kernel size, stride and dilation must be >= 1",
        )
        require(all(v >= 0 for v in p["pre_padding"] + p["post_padding"]), "negative padding")
        require_float(dtype, f"{what} input")
        channels, maps, groups = shape[1], p["num_output_maps"], p["num_groups"]
        require(channels != -1, f"the channel dimension of a {what} input must be known")
        require(maps >= 1 and groups >= 1, f"num_output_maps {maps}, num_groups {groups}")
        require(
            channels % groups == 0 and maps % groups == 0,
            f"channels {channels} and maps {maps} must divide by num_groups {groups}",
        )
        kernel, bias = self._w["kernel"], self._w["bias"]
        expected = maps * channels // groups * volume(p["kernel_size_nd"])
        layout = self._kernel_shape(channels, maps, groups)
        if len(shapes) > 1:  # set_input(1): a kernel tensor (e.g. dequantized weights)
            require(
                tuple(shapes[1]) == layout,
                f"the kernel tensor has shape {tuple(shapes[1])}, expected {layout}",
            )
            require(dtypes[1] == dtype, f"the kernel tensor is {dtypes[1]}, input is {dtype}")
        else:
            require(
                kernel.size == expected,
                f"kernel weights has count {kernel.size} but {expected} was expected "
                f"({self._KERNEL_LAYOUT} {'x'.join(map(str, layout))})",
            )
            # NOTE: TensorRT does not document whether a strongly typed convolution may mix
            # weight and input types; the emulator requires them to match (conservative).
            require(kernel.dtype == dtype, f"kernel weights are {kernel.dtype}, input is {dtype}")
        require(bias.size in (0, maps), f"bias has count {bias.size}, expected 0 or {maps}")
        require(bias.size == 0 or bias.dtype == dtype, f"bias is {bias.dtype}, input is {dtype}")
        spatial = tuple(o for o, _, _ in self._geometry(shape))
        require(all(o >= 1 or o == -1 for o in spatial), f"empty output spatial dims {spatial}")
        return [((shape[0], maps) + spatial, dtype)]

    def _kernel_shape(self, channels: int, maps: int, groups: int) -> tuple[int, ...]:
        """The kernel's shape in this layer's layout (GKCRS flattened to K, C/G, R, S)."""
        return (maps, channels // groups) + tuple(self._p["kernel_size_nd"])


class IConvolutionLayer(ConvolutionBase):
    """2-D/3-D convolution; kernel layout GKCRS (K output maps, C/G channels per group, R, S).

    Input (N, C, H, W) or (N, C, D, H, W); output (N, K, ...) with TensorRT's PaddingMode rules.
    Defaults: stride 1, padding 0, dilation 1, groups 1, padding_mode EXPLICIT_ROUND_DOWN.
    """

    _TYPE = LayerType.CONVOLUTION
    _TYPE_NAME = "Convolution"
    _MAX_INPUTS = 2  # input 1: a kernel tensor replacing the kernel weights

    def _compute(self, xs: list[np.ndarray]) -> list[np.ndarray]:
        return [self._compute_fused(xs, ())]

    def _compute_fused(self, xs: list[np.ndarray], epilogue: Sequence[EpilogueStep]) -> np.ndarray:
        """The output with ``epilogue`` (the kernel's activations and residual adds, as the
        separate layers would compute them) applied while each tile is in cache."""
        x = xs[0]
        if x.ndim != 4:
            raise EmulatorUnsupportedError("the emulator computes 2-D convolution only")
        p = self._p
        geometry = self._geometry(x.shape)
        r, s = p["kernel_size_nd"]
        groups, maps = p["num_groups"], p["num_output_maps"]
        w = gemm_operand(xs[1] if len(xs) > 1 else weights_array(self._w["kernel"]), self._tf32)
        w = w.reshape(maps, x.shape[1] // groups, r, s)
        bias = self._w["bias"]
        b = float_compute(weights_array(bias)) if bias.size else None
        pad_end = []
        for i, (out, pre, post) in enumerate(geometry):
            # Round-up overhang: zero padding past the declared end so every window is whole.
            span = 1 + p["dilation_nd"][i] * (p["kernel_size_nd"][i] - 1)
            extra = max(0, (out - 1) * p["stride_nd"][i] + span - (x.shape[2 + i] + pre + post))
            pad_end.append(post + extra)
        y = conv2d(
            gemm_operand(x, self._tf32),
            w,
            b,
            stride=tuple(p["stride_nd"]),
            pad_begin=(geometry[0][1], geometry[1][1]),
            pad_end=(pad_end[0], pad_end[1]),
            dilation=tuple(p["dilation_nd"]),
            groups=groups,
            epilogue=epilogue,
        )
        return y.astype(x.dtype, copy=False)


class IPoolingLayer(ILayer):
    """2-D/3-D max / average / blended pooling on (N, C, H, W) or (N, C, D, H, W).

    NOTE: TensorRT's defaults differ from PyTorch's: stride_nd defaults to 1 (not the window)
    and average_count_excludes_padding defaults to True (PyTorch counts padding by default).
    NOTE: a max-pooling window that lies wholly in the padding gives -inf here; TensorRT does
    not document that value.
    """

    _TYPE = LayerType.POOLING
    _TYPE_NAME = "Pooling"

    type = value_property("type", PoolingType, "PoolingType.")
    window_size_nd = dims_property("window_size_nd", "Window size per spatial axis.")
    stride_nd = dims_property("stride_nd", "Stride per spatial axis. Default: 1s (not window).")
    pre_padding = dims_property("pre_padding", "Padding before each spatial axis. Default: 0s.")
    post_padding = dims_property("post_padding", "Padding after each spatial axis. Default: 0s.")
    padding_mode = value_property("padding_mode", PaddingMode, "PaddingMode.")
    blend_factor = value_property(
        "blend_factor", float, "MAX_AVERAGE_BLEND: (1-b)*max + b*avg. Default: 0."
    )
    average_count_excludes_padding = value_property(
        "average_count_excludes_padding", bool, "Average ignores padding. Default: True."
    )

    padding_nd = symmetric_padding_property()

    def _init_params(self, pooling_type: PoolingType, window: Dims) -> None:
        nd = len(window)
        self._p.update(
            type=pooling_type,
            window_size_nd=window,
            stride_nd=Dims((1,) * nd),
            pre_padding=Dims((0,) * nd),
            post_padding=Dims((0,) * nd),
            padding_mode=PaddingMode.EXPLICIT_ROUND_DOWN,
            blend_factor=0.0,
            average_count_excludes_padding=True,
        )

    def _geometry(self, shape: Shape) -> list[tuple[int, int, int]]:
        p = self._p
        return [
            spatial_output(
                shape[2 + i],
                p["window_size_nd"][i],
                p["stride_nd"][i],
                p["pre_padding"][i],
                p["post_padding"][i],
                p["padding_mode"],
            )
            for i in range(len(shape) - 2)
        ]

    def _infer(self, shapes: list[Shape], dtypes: list[DataType]) -> list[tuple[Shape, DataType]]:
        (shape,), (dtype,) = shapes, dtypes
        p = self._p
        # NOTE: the conservative reading of "2D or 3D pooling": an (N, C, spatial...) input.
        require(len(shape) in (4, 5), f"pooling input must be 4D or 5D, got {shape}")
        nd = len(shape) - 2
        _check_nd(self, ("window_size_nd", "stride_nd", "pre_padding", "post_padding"), nd)
        require(all(v >= 1 for v in p["window_size_nd"] + p["stride_nd"]), "window/stride < 1")
        require(all(v >= 0 for v in p["pre_padding"] + p["post_padding"]), "negative padding")
        explicit = p["padding_mode"] in (
            PaddingMode.EXPLICIT_ROUND_DOWN,
            PaddingMode.EXPLICIT_ROUND_UP,
        )
        exclusive_average = p["type"] != PoolingType.MAX and p["average_count_excludes_padding"]
        # As TensorRT-RTX: only an average that excludes padding needs explicit padding smaller
        # than the window (a window of padding only would average nothing); max pooling and an
        # average that counts padding accept any padding.
        require(
            not (explicit and exclusive_average)
            or all(
                b < w and a < w
                for b, a, w in zip(
                    p["pre_padding"], p["post_padding"], p["window_size_nd"], strict=True
                )
            ),
            "the padding must be smaller than the window for exclusive-counting average pooling",
        )
        require(0.0 <= p["blend_factor"] <= 1.0, f"blend_factor {p['blend_factor']} not in [0,1]")
        require_float(dtype, "pooling input")
        spatial = tuple(o for o, _, _ in self._geometry(shape))
        require(all(o >= 1 or o == -1 for o in spatial), f"empty output spatial dims {spatial}")
        return [(tuple(shape[:2]) + spatial, dtype)]

    def _compute(self, xs: list[np.ndarray]) -> list[np.ndarray]:
        (x,) = xs
        if x.ndim != 4:
            raise EmulatorUnsupportedError("the emulator computes 2-D pooling only")
        p = self._p
        geometry = self._geometry(x.shape)
        args: dict[str, Any] = dict(
            kernel=tuple(p["window_size_nd"]),
            stride=tuple(p["stride_nd"]),
            pad_begin=(geometry[0][1], geometry[1][1]),
            pad_end=(geometry[0][2], geometry[1][2]),
            out_hw=(geometry[0][0], geometry[1][0]),
        )
        xf = float_compute(x)
        include_pad = not p["average_count_excludes_padding"]
        if p["type"] == PoolingType.MAX:
            y = pool2d(xf, "max", **args)
        elif p["type"] == PoolingType.AVERAGE:
            y = pool2d(xf, "avg", count_include_pad=include_pad, **args)
        else:
            blend = p["blend_factor"]
            y = (1 - blend) * pool2d(xf, "max", **args) + blend * pool2d(
                xf, "avg", count_include_pad=include_pad, **args
            )
        return [y.astype(x.dtype, copy=False)]

"""Convolution ops: conv2d and conv_transpose2d."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from trtdsl import kernels
from trtdsl.errors import OpArgumentError, ShapeError
from trtdsl.ir.ops.base import (
    Op,
    ParamSpec,
    check_bool,
    check_int,
    check_pair,
    expect_float,
    expect_rank,
    register_op,
    static_dim,
)
from trtdsl.ir.symbolic import dim_add, dim_mul, window_output
from trtdsl.ir.types import Dim, TensorType
from trtdsl.kernels.conv import EpilogueStep
from trtdsl.kernels.conv_transpose import conv_transpose2d


def _grouped_in_channels(op: Op, x: TensorType, groups: int) -> int:
    """The static channel count C of an NCHW float input, which ``groups`` must divide."""
    expect_rank(op, x, 4, "NCHW input")
    expect_float(op, x)
    c = static_dim(op, x, 1, "the channel dimension")
    if c % groups:
        raise ShapeError(f"{op.op_name}: input channels {c} are not divisible by groups {groups}")
    return c


@register_op
@dataclass(frozen=True)
class Conv2d(Op):
    """2-D convolution, as ``torch.nn.Conv2d`` (zero padding, cross-correlation).

    Input (N, C, H, W) -> output (N, out_channels, Ho, Wo) with
    Ho = (H + 2*padding[0] - dilation[0]*(kernel_size[0]-1) - 1) // stride[0] + 1.

    Weights: ``weight`` (out_channels, C // groups, kh, kw); ``bias`` (out_channels,) if bias.
    """

    op_name = "conv2d"

    out_channels: int
    kernel_size: int | tuple[int, int]
    stride: int | tuple[int, int] = 1
    padding: int | tuple[int, int] = 0
    dilation: int | tuple[int, int] = 1
    groups: int = 1
    bias: bool = True

    def __post_init__(self) -> None:
        check_int(self, "out_channels", 1)
        check_pair(self, "kernel_size", 1)
        check_pair(self, "stride", 1)
        check_pair(self, "padding", 0)
        check_pair(self, "dilation", 1)
        groups = check_int(self, "groups", 1)
        check_bool(self, "bias")
        if self.out_channels % groups:
            raise OpArgumentError(
                f"conv2d: out_channels {self.out_channels} is not divisible by groups {groups}"
            )

    def _in_channels(self, x: TensorType) -> int:
        return _grouped_in_channels(self, x, self.groups)

    def params(self, inputs: Sequence[TensorType]) -> dict[str, ParamSpec]:
        c = self._in_channels(inputs[0])
        kh, kw = self.kernel_size  # type: ignore[misc]
        specs = {"weight": ParamSpec((self.out_channels, c // self.groups, kh, kw))}
        if self.bias:
            specs["bias"] = ParamSpec((self.out_channels,))
        return specs

    def infer(self, inputs: Sequence[TensorType]) -> TensorType:
        x = inputs[0]
        self._in_channels(x)
        out: list[Dim] = [x.shape[0], self.out_channels]
        for axis in (0, 1):
            size = x.shape[2 + axis]
            k, s = self.kernel_size[axis], self.stride[axis]  # type: ignore[index]
            p, d = self.padding[axis], self.dilation[axis]  # type: ignore[index]
            if isinstance(size, int) and size + 2 * p - d * (k - 1) - 1 < 0:
                raise ShapeError(
                    f"conv2d: kernel {self.kernel_size} with dilation "
                    f"{self.dilation} does not fit input {x} padded by {self.padding}"
                )
            # A symbolic size H gives (H + 2p - d(k-1) - 1) // s + 1, spelled canonically.
            out.append(window_output(dim_add(size, 2 * p), d * (k - 1) + 1, s))
        return x.with_shape(tuple(out))

    def reference(
        self, inputs: Sequence[np.ndarray], params: Mapping[str, np.ndarray]
    ) -> np.ndarray:
        return self.convolve(inputs[0], params["weight"], params.get("bias"))

    def convolve(
        self,
        x: np.ndarray,
        weight: np.ndarray,
        bias: np.ndarray | None,
        epilogue: Sequence[EpilogueStep] = (),
    ) -> np.ndarray:
        """This convolution of ``x`` (N, C, H, W) with ``weight`` (K, C/groups, R, S) and
        ``bias`` (K,), then ``epilogue`` (``kernels.conv2d``'s fused steps): (N, K, Ho, Wo)."""
        return kernels.conv2d(
            x,
            weight,
            bias,
            stride=self.stride,  # type: ignore[arg-type]
            pad_begin=self.padding,  # type: ignore[arg-type]
            pad_end=self.padding,  # type: ignore[arg-type]
            dilation=self.dilation,  # type: ignore[arg-type]
            groups=self.groups,
            epilogue=epilogue,
        )

    def macs(
        self,
        inputs: Sequence[TensorType],
        outputs: Sequence[TensorType],
        sizes: Mapping[str, int] | None = None,
    ) -> int:
        c = static_dim(self, inputs[0], 1, "channels")
        kh, kw = self.kernel_size  # type: ignore[misc]
        return outputs[0].numel(sizes) * (c // self.groups) * kh * kw


@register_op
@dataclass(frozen=True)
class ConvTranspose2d(Op):
    """2-D transposed convolution, as ``torch.nn.ConvTranspose2d``.

    Input (N, C, H, W) -> (N, out_channels, Ho, Wo) with
    Ho = (H - 1)*stride[0] - 2*padding[0] + dilation[0]*(kernel_size[0] - 1)
    + output_padding[0] + 1; ``output_padding`` must be smaller than stride or dilation.

    Weights: ``weight`` (C, out_channels // groups, kh, kw); ``bias`` (out_channels,) if bias.
    """

    op_name = "conv_transpose2d"

    out_channels: int
    kernel_size: int | tuple[int, int]
    stride: int | tuple[int, int] = 1
    padding: int | tuple[int, int] = 0
    output_padding: int | tuple[int, int] = 0
    groups: int = 1
    bias: bool = True
    dilation: int | tuple[int, int] = 1

    def __post_init__(self) -> None:
        check_int(self, "out_channels", 1)
        check_pair(self, "kernel_size", 1)
        stride = check_pair(self, "stride", 1)
        check_pair(self, "padding", 0)
        extra = check_pair(self, "output_padding", 0)
        dilation = check_pair(self, "dilation", 1)
        groups = check_int(self, "groups", 1)
        check_bool(self, "bias")
        if self.out_channels % groups:
            raise OpArgumentError(
                f"conv_transpose2d: out_channels {self.out_channels} is not divisible by "
                f"groups {groups}"
            )
        for e, s, d in zip(extra, stride, dilation, strict=True):
            if e >= s and e >= d:  # PyTorch's rule
                raise OpArgumentError(
                    f"conv_transpose2d: output_padding {extra} must be smaller than stride "
                    f"{stride} or dilation {dilation}"
                )

    def _in_channels(self, x: TensorType) -> int:
        return _grouped_in_channels(self, x, self.groups)

    def params(self, inputs: Sequence[TensorType]) -> dict[str, ParamSpec]:
        c = self._in_channels(inputs[0])
        kh, kw = self.kernel_size  # type: ignore[misc]
        specs = {"weight": ParamSpec((c, self.out_channels // self.groups, kh, kw))}
        if self.bias:
            specs["bias"] = ParamSpec((self.out_channels,))
        return specs

    def infer(self, inputs: Sequence[TensorType]) -> TensorType:
        x = inputs[0]
        self._in_channels(x)
        out: list[Dim] = [x.shape[0], self.out_channels]
        for axis in (0, 1):
            k, s = self.kernel_size[axis], self.stride[axis]  # type: ignore[index]
            p, d = self.padding[axis], self.dilation[axis]  # type: ignore[index]
            extra = self.output_padding[axis]  # type: ignore[index]
            size = dim_add(
                dim_mul(dim_add(x.shape[2 + axis], -1), s), d * (k - 1) + extra + 1 - 2 * p
            )
            if isinstance(size, int) and size < 1:
                raise ShapeError(f"conv_transpose2d: empty output for input {x}")
            out.append(size)
        return x.with_shape(tuple(out))

    def reference(
        self, inputs: Sequence[np.ndarray], params: Mapping[str, np.ndarray]
    ) -> np.ndarray:
        return conv_transpose2d(
            inputs[0],
            params["weight"],
            params.get("bias"),
            stride=self.stride,  # type: ignore[arg-type]
            padding=self.padding,  # type: ignore[arg-type]
            output_padding=self.output_padding,  # type: ignore[arg-type]
            dilation=self.dilation,  # type: ignore[arg-type]
            groups=self.groups,
        )

    def macs(
        self,
        inputs: Sequence[TensorType],
        outputs: Sequence[TensorType],
        sizes: Mapping[str, int] | None = None,
    ) -> int:
        kh, kw = self.kernel_size  # type: ignore[misc]
        return inputs[0].numel(sizes) * (self.out_channels // self.groups) * kh * kw

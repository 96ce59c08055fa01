"""Convolution ops."""

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
from trtdsl.ir.types import TensorType


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
        expect_rank(self, x, 4, "NCHW input")
        expect_float(self, x)
        c = static_dim(self, x, 1, "the channel dimension")
        if c % self.groups:
            raise ShapeError(
                f"conv2d: input channels {c} are not divisible by groups {self.groups}"
            )
        return c

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
        out = [x.shape[0], self.out_channels]
        for axis in (0, 1):
            size = static_dim(self, x, 2 + axis, "spatial dimensions")
            k, s = self.kernel_size[axis], self.stride[axis]  # type: ignore[index]
            p, d = self.padding[axis], self.dilation[axis]  # type: ignore[index]
            span = size + 2 * p - d * (k - 1) - 1
            if span < 0:
                raise ShapeError(
                    f"conv2d: kernel {self.kernel_size} with dilation "
                    f"{self.dilation} does not fit input {x} padded by {self.padding}"
                )
            out.append(span // s + 1)
        return x.with_shape(tuple(out))

    def reference(
        self, inputs: Sequence[np.ndarray], params: Mapping[str, np.ndarray]
    ) -> np.ndarray:
        return kernels.conv2d(
            inputs[0],
            params["weight"],
            params.get("bias"),
            stride=self.stride,  # type: ignore[arg-type]
            pad_begin=self.padding,  # type: ignore[arg-type]
            pad_end=self.padding,  # type: ignore[arg-type]
            dilation=self.dilation,  # type: ignore[arg-type]
            groups=self.groups,
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

"""2-D pooling ops (max, average, adaptive average), NCHW.

MACs: pooling counts 0 (only dot-product ops, conv2d and linear, count MACs).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from trtdsl import kernels
from trtdsl.errors import OpArgumentError, ShapeError
from trtdsl.ir.ops.base import (
    Op,
    _is_int,
    check_bool,
    check_pair,
    expect_float,
    expect_rank,
    register_op,
    static_dim,
)
from trtdsl.ir.symbolic import dim_add, window_output
from trtdsl.ir.types import Dim, TensorType


@dataclass(frozen=True)
class _Pool2d(Op):
    """Shared attributes and shape rule of MaxPool2d and AvgPool2d."""

    kernel_size: int | tuple[int, int]
    stride: int | tuple[int, int] | None = None
    padding: int | tuple[int, int] = 0
    ceil_mode: bool = False

    def _check_pool_attributes(self) -> None:
        kernel = check_pair(self, "kernel_size", 1)
        if self.stride is None:
            object.__setattr__(self, "stride", kernel)
        else:
            check_pair(self, "stride", 1)
        padding = check_pair(self, "padding", 0)
        check_bool(self, "ceil_mode")
        for p, k in zip(padding, kernel, strict=True):
            # PyTorch: "pad should be at most half of effective kernel size".
            if p > k // 2:
                raise OpArgumentError(
                    f"{self.op_name}: padding {padding} must be at most half of "
                    f"kernel_size {kernel} (padding <= kernel_size // 2)"
                )

    def _output_hw(self, x: TensorType) -> tuple[Dim, Dim]:
        expect_rank(self, x, 4, "NCHW input")
        out: list[Dim] = []
        for axis in (0, 1):
            size = x.shape[2 + axis]
            k, s = self.kernel_size[axis], self.stride[axis]  # type: ignore[index]
            p = self.padding[axis]  # type: ignore[index]
            if isinstance(size, str):
                if self.ceil_mode:
                    # PyTorch drops a last window that would start in the end padding: that
                    # depends on the size's value, which a symbolic size does not have.
                    raise ShapeError(
                        f"{self.op_name}: ceil_mode needs static spatial dimensions, got {x}"
                    )
                out.append(window_output(dim_add(size, 2 * p), k, s))
                continue
            size_out = kernels.pool_output_size(size, k, s, p, p, self.ceil_mode)
            if size_out < 1:  # PyTorch: "Output size is too small"
                raise ShapeError(
                    f"{self.op_name}: kernel_size {self.kernel_size} does not fit input {x} "
                    f"padded by {self.padding} (output size {size_out})"
                )
            out.append(size_out)
        return out[0], out[1]

    def infer(self, inputs: Sequence[TensorType]) -> TensorType:
        x = inputs[0]
        expect_float(self, x)
        ho, wo = self._output_hw(x)
        return x.with_shape((x.shape[0], x.shape[1], ho, wo))

    def _pool(self, x: np.ndarray, kind: str, count_include_pad: bool = True) -> np.ndarray:
        h, w = x.shape[2], x.shape[3]
        kh, kw = self.kernel_size  # type: ignore[misc]
        sh, sw = self.stride  # type: ignore[misc]
        ph, pw = self.padding  # type: ignore[misc]
        out_hw = (
            kernels.pool_output_size(h, kh, sh, ph, ph, self.ceil_mode),
            kernels.pool_output_size(w, kw, sw, pw, pw, self.ceil_mode),
        )
        return kernels.pool2d(
            x,
            kind,
            (kh, kw),
            (sh, sw),
            (ph, pw),
            (ph, pw),
            out_hw=out_hw,
            count_include_pad=count_include_pad,
        )


@register_op
@dataclass(frozen=True)
class MaxPool2d(_Pool2d):
    """Max pooling, as ``torch.nn.MaxPool2d`` (dilation 1, -inf padding).

    Input (N, C, H, W) -> output (N, C, Ho, Wo), Ho = floor or ceil of
    (H + 2*padding[0] - kernel_size[0]) / stride[0], plus 1; with ceil_mode the last window
    must start inside the input or the left padding (PyTorch's rule). ``stride=None`` means
    ``kernel_size`` and is stored resolved. ``padding <= kernel_size // 2``. No weights.
    """

    op_name = "max_pool2d"

    def __post_init__(self) -> None:
        self._check_pool_attributes()

    def reference(
        self, inputs: Sequence[np.ndarray], params: Mapping[str, np.ndarray]
    ) -> np.ndarray:
        return self._pool(inputs[0], "max")


@register_op
@dataclass(frozen=True)
class AvgPool2d(_Pool2d):
    """Average pooling, as ``torch.nn.AvgPool2d`` (no divisor_override).

    Input (N, C, H, W) -> output (N, C, Ho, Wo) by MaxPool2d's size rule. The divisor counts
    the zero padding when ``count_include_pad`` (PyTorch's default), never the ceil-mode
    overhang past the padded input. ``stride=None`` means ``kernel_size``. No weights.
    """

    op_name = "avg_pool2d"

    count_include_pad: bool = True

    def __post_init__(self) -> None:
        self._check_pool_attributes()
        check_bool(self, "count_include_pad")

    def reference(
        self, inputs: Sequence[np.ndarray], params: Mapping[str, np.ndarray]
    ) -> np.ndarray:
        return self._pool(inputs[0], "avg", self.count_include_pad)


@register_op
@dataclass(frozen=True)
class AdaptiveAvgPool2d(Op):
    """Adaptive average pooling, as ``torch.nn.AdaptiveAvgPool2d``.

    Input (N, C, H, W) -> output (N, C, oh, ow) with ``output_size`` an int, a pair, or a pair
    with None entries (keep that input size). Output cell i averages input rows
    floor(i*H/oh) .. ceil((i+1)*H/oh) - 1 (likewise columns). No weights.
    """

    op_name = "adaptive_avg_pool2d"

    output_size: int | tuple[int | None, int | None]

    def __post_init__(self) -> None:
        value = self.output_size
        if isinstance(value, (list, tuple)) and len(value) == 2 and None in value:
            for v in value:
                if v is not None and (not _is_int(v) or v < 1):
                    raise OpArgumentError(
                        f"adaptive_avg_pool2d: output_size entries must be ints >= 1 or None, "
                        f"got {value!r}"
                    )
            object.__setattr__(
                self, "output_size", tuple(None if v is None else int(v) for v in value)
            )
        else:
            check_pair(self, "output_size", 1)

    def _out_hw(self, x: TensorType) -> tuple[Dim, Dim]:
        expect_rank(self, x, 4, "NCHW input")
        expect_float(self, x)
        out: list[Dim] = []
        for axis in (0, 1):
            o = self.output_size[axis]  # type: ignore[index]
            if o not in (None, 1):
                # Bins of a symbolic size have no static window (global pooling does).
                static_dim(self, x, 2 + axis, "spatial dimensions (output size not 1)")
            size = x.shape[2 + axis]
            out.append(size if o is None else o)
            if isinstance(size, int) and size < 1:
                raise ShapeError(f"adaptive_avg_pool2d: empty spatial dimension in {x}")
        return out[0], out[1]

    def infer(self, inputs: Sequence[TensorType]) -> TensorType:
        x = inputs[0]
        oh, ow = self._out_hw(x)
        return x.with_shape((x.shape[0], x.shape[1], oh, ow))

    def reference(
        self, inputs: Sequence[np.ndarray], params: Mapping[str, np.ndarray]
    ) -> np.ndarray:
        x = inputs[0]
        h, w = x.shape[2], x.shape[3]
        oh, ow = (
            h if self.output_size[0] is None else self.output_size[0],  # type: ignore[index]
            w if self.output_size[1] is None else self.output_size[1],  # type: ignore[index]
        )
        return adaptive_avg_pool2d(x, (oh, ow))


def _bins(size: int, out: int) -> tuple[np.ndarray, np.ndarray]:
    """PyTorch's adaptive bin edges: start = floor(i*size/out), end = ceil((i+1)*size/out)."""
    i = np.arange(out)
    return (i * size) // out, -((-(i + 1) * size) // out)


def adaptive_avg_pool2d(x: np.ndarray, out_hw: tuple[int, int]) -> np.ndarray:
    """Adaptive average pooling of x (N, C, H, W) to (N, C, oh, ow), summed in float64."""
    n, c, h, w = x.shape
    oh, ow = out_hw
    x64 = x.astype(np.float64)
    if h % oh == 0 and w % ow == 0:
        y = x64.reshape(n, c, oh, h // oh, ow, w // ow).mean(axis=(3, 5))
        return np.ascontiguousarray(y.astype(x.dtype))
    # Integral image: every window sum is four lookups (no loop over output cells).
    integral = np.zeros((n, c, h + 1, w + 1), dtype=np.float64)
    integral[:, :, 1:, 1:] = x64.cumsum(axis=2).cumsum(axis=3)
    hs, he = _bins(h, oh)
    ws, we = _bins(w, ow)
    total = (
        integral[:, :, he[:, None], we[None, :]]
        - integral[:, :, hs[:, None], we[None, :]]
        - integral[:, :, he[:, None], ws[None, :]]
        + integral[:, :, hs[:, None], ws[None, :]]
    )
    count = (he - hs)[:, None] * (we - ws)[None, :]
    return np.ascontiguousarray((total / count).astype(x.dtype))

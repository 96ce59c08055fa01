"""Normalization ops: batch norm (inference form: running statistics), layer norm, softmax.

MACs: these count 0 (only dot-product ops, conv2d and linear, count MACs).
"""

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
    check_float,
    check_int,
    check_int_tuple,
    expect_float,
    expect_rank,
    normalize_axis,
    register_op,
    static_dim,
)
from trtdsl.ir.types import DType, TensorType


@register_op
@dataclass(frozen=True)
class BatchNorm2d(Op):
    """Batch normalization with running statistics, as ``torch.nn.BatchNorm2d`` in eval mode.

    Input (N, C, H, W) -> output (N, C, H, W):
    ``y = (x - running_mean) / sqrt(running_var + eps) * weight + bias`` per channel.

    Weights: ``weight``, ``bias``, ``running_mean``, ``running_var``, each (C,) float32;
    ``num_batches_tracked`` () int64, optional (PyTorch saves it; inference ignores it).
    """

    op_name = "batch_norm2d"

    eps: float = 1e-5

    def __post_init__(self) -> None:
        check_float(self, "eps", positive=True)

    def _channels(self, x: TensorType) -> int:
        expect_rank(self, x, 4, "NCHW input")
        expect_float(self, x)
        return static_dim(self, x, 1, "the channel dimension")

    def params(self, inputs: Sequence[TensorType]) -> dict[str, ParamSpec]:
        c = self._channels(inputs[0])
        return {
            "weight": ParamSpec((c,)),
            "bias": ParamSpec((c,)),
            "running_mean": ParamSpec((c,), buffer=True),
            "running_var": ParamSpec((c,), buffer=True),
            "num_batches_tracked": ParamSpec((), DType.INT64, optional=True, buffer=True),
        }

    def infer(self, inputs: Sequence[TensorType]) -> TensorType:
        self._channels(inputs[0])
        return inputs[0]

    def reference(
        self, inputs: Sequence[np.ndarray], params: Mapping[str, np.ndarray]
    ) -> np.ndarray:
        x = inputs[0]
        scale, shift = batch_norm_scale_shift(
            params["weight"],
            params["bias"],
            params["running_mean"],
            params["running_var"],
            self.eps,
        )
        c = x.shape[1]
        # PyTorch's CPU inference kernel computes x * alpha + beta in the same way.
        y = x * scale.astype(x.dtype).reshape(1, c, 1, 1) + shift.astype(x.dtype).reshape(
            1, c, 1, 1
        )
        return np.asarray(y, dtype=x.dtype)


def batch_norm_scale_shift(
    weight: np.ndarray,
    bias: np.ndarray,
    running_mean: np.ndarray,
    running_var: np.ndarray,
    eps: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel ``(scale, shift)`` with ``bn(x) == x * scale + shift``, all shapes (C,).

    Computed in float64 and returned as float32 (what batch-norm folding and the emitter use).
    """
    inv_std = 1.0 / np.sqrt(running_var.astype(np.float64) + eps)
    scale = weight.astype(np.float64) * inv_std
    shift = bias.astype(np.float64) - running_mean.astype(np.float64) * scale
    return scale.astype(np.float32), shift.astype(np.float32)


@register_op
@dataclass(frozen=True)
class Softmax(Op):
    """exp(x) / sum(exp(x)) along ``dim``, as ``torch.softmax``. Shape preserved, no weights.

    The reduced axis may be symbolic (its size is only needed at run time).
    """

    op_name = "softmax"

    dim: int = -1

    def __post_init__(self) -> None:
        check_int(self, "dim")

    def infer(self, inputs: Sequence[TensorType]) -> TensorType:
        x = inputs[0]
        expect_float(self, x)
        normalize_axis(self, self.dim, max(x.rank, 1), "dim")
        return x

    def reference(
        self, inputs: Sequence[np.ndarray], params: Mapping[str, np.ndarray]
    ) -> np.ndarray:
        return kernels.softmax(inputs[0], self.dim)


@register_op
@dataclass(frozen=True)
class LayerNorm(Op):
    """Layer normalization over the last dimensions, as ``torch.nn.LayerNorm``.

    Input (*, *normalized_shape) -> same shape:
    ``y = (x - mean) / sqrt(var + eps) * weight + bias`` with mean and (biased) variance over
    the last ``len(normalized_shape)`` dimensions, which must equal ``normalized_shape``
    (static). Example: ViT's ``ln_1`` on (N, 197, 768) with ``normalized_shape=768``.

    Weights: ``weight`` and ``bias`` of shape ``normalized_shape`` when
    ``elementwise_affine`` (``bias`` only if ``bias``); none otherwise.
    """

    op_name = "layer_norm"

    normalized_shape: int | tuple[int, ...]
    eps: float = 1e-5
    elementwise_affine: bool = True
    bias: bool = True

    def __post_init__(self) -> None:
        shape = check_int_tuple(self, "normalized_shape")
        if not shape or any(d < 1 for d in shape):
            raise OpArgumentError(
                f"layer_norm: normalized_shape must be one or more ints >= 1, "
                f"got {self.normalized_shape!r}"
            )
        check_float(self, "eps", positive=True)
        check_bool(self, "elementwise_affine")
        check_bool(self, "bias")

    @property
    def axes(self) -> int:
        """How many trailing dimensions are normalized."""
        return len(self.normalized_shape)  # type: ignore[arg-type]

    def infer(self, inputs: Sequence[TensorType]) -> TensorType:
        x = inputs[0]
        expect_float(self, x)
        k = self.axes
        if x.rank < k or tuple(x.shape[x.rank - k :]) != self.normalized_shape:
            raise ShapeError(
                f"layer_norm: the last {k} dimension(s) of {x} must equal normalized_shape "
                f"{list(self.normalized_shape)}"  # type: ignore[arg-type]
            )
        return x

    def params(self, inputs: Sequence[TensorType]) -> dict[str, ParamSpec]:
        if not self.elementwise_affine:
            return {}
        shape = tuple(self.normalized_shape)  # type: ignore[arg-type]
        specs = {"weight": ParamSpec(shape)}
        if self.bias:
            specs["bias"] = ParamSpec(shape)
        return specs

    def reference(
        self, inputs: Sequence[np.ndarray], params: Mapping[str, np.ndarray]
    ) -> np.ndarray:
        return kernels.layer_norm(
            inputs[0], params.get("weight"), params.get("bias"), self.eps, self.axes
        )

"""Pointwise activation ops (one input, output of the same type). No weights.

References compute in float64 and round once to the input dtype. MACs: activations count 0.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from trtdsl.errors import OpArgumentError
from trtdsl.ir.ops.base import Op, check_choice, check_float, expect_float, register_op
from trtdsl.ir.types import TensorType
from trtdsl.kernels.special import erf


@dataclass(frozen=True)
class Activation(Op):
    """Base of pointwise activations: output type equals the (floating-point) input type."""

    def infer(self, inputs: Sequence[TensorType]) -> TensorType:
        expect_float(self, inputs[0])
        return inputs[0]

    def reference(
        self, inputs: Sequence[np.ndarray], params: Mapping[str, np.ndarray]
    ) -> np.ndarray:
        x = inputs[0]
        return np.asarray(self.compute(x), dtype=x.dtype)

    def compute(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError


@register_op
@dataclass(frozen=True)
class ReLU(Activation):
    """max(x, 0), as ``torch.nn.functional.relu``. Shape preserved."""

    op_name = "relu"

    def compute(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(np.maximum(x, 0))


@register_op
@dataclass(frozen=True)
class ReLU6(Activation):
    """min(max(x, 0), 6), as ``torch.nn.functional.relu6``. Shape preserved."""

    op_name = "relu6"

    def compute(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(np.minimum(np.maximum(x, 0), 6))


@register_op
@dataclass(frozen=True)
class Clip(Activation):
    """Clamp to [min, max], as ``torch.clamp``; either bound may be None (unbounded).

    At least one bound is required and min <= max. Shape preserved.
    """

    op_name = "clip"

    min: float | None = None
    max: float | None = None

    def __post_init__(self) -> None:
        for name in ("min", "max"):
            if getattr(self, name) is not None:
                check_float(self, name)
        if self.min is None and self.max is None:
            raise OpArgumentError("clip: give min, max or both (both are None)")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise OpArgumentError(f"clip: min {self.min} is greater than max {self.max}")

    def compute(self, x: np.ndarray) -> np.ndarray:
        if self.min is not None:
            x = np.maximum(x, np.asarray(self.min, dtype=x.dtype))
        if self.max is not None:
            x = np.minimum(x, np.asarray(self.max, dtype=x.dtype))
        return x


@register_op
@dataclass(frozen=True)
class LeakyReLU(Activation):
    """x if x > 0 else negative_slope * x, as ``torch.nn.functional.leaky_relu``."""

    op_name = "leaky_relu"

    negative_slope: float = 0.01

    def __post_init__(self) -> None:
        check_float(self, "negative_slope")

    def compute(self, x: np.ndarray) -> np.ndarray:
        return np.where(x > 0, x, x * np.asarray(self.negative_slope, dtype=x.dtype))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    """Logistic function in float64 without overflow warnings."""
    x = x.astype(np.float64)
    e = np.exp(-np.abs(x))
    r = 1.0 / (1.0 + e)
    return np.asarray(np.where(x >= 0, r, e * r))


@register_op
@dataclass(frozen=True)
class Sigmoid(Activation):
    """1 / (1 + exp(-x)), as ``torch.sigmoid``. Shape preserved."""

    op_name = "sigmoid"

    def compute(self, x: np.ndarray) -> np.ndarray:
        return _sigmoid(x)


@register_op
@dataclass(frozen=True)
class SiLU(Activation):
    """x * sigmoid(x) (swish), as ``torch.nn.functional.silu``. Shape preserved."""

    op_name = "silu"

    def compute(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(x.astype(np.float64) * _sigmoid(x))


@register_op
@dataclass(frozen=True)
class Tanh(Activation):
    """tanh(x), as ``torch.tanh``. Shape preserved."""

    op_name = "tanh"

    def compute(self, x: np.ndarray) -> np.ndarray:
        return np.tanh(x.astype(np.float64))


@register_op
@dataclass(frozen=True)
class GELU(Activation):
    """Gaussian error linear unit, as ``torch.nn.functional.gelu``.

    ``approximate="none"``: x * (1 + erf(x / sqrt(2))) / 2;
    ``approximate="tanh"``: x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3))) / 2.
    """

    op_name = "gelu"

    approximate: str = "none"

    def __post_init__(self) -> None:
        check_choice(self, "approximate", ("none", "tanh"))

    def compute(self, x: np.ndarray) -> np.ndarray:
        x = x.astype(np.float64)
        if self.approximate == "tanh":
            inner = np.sqrt(2.0 / np.pi) * (x + 0.044715 * x * x * x)
            return np.asarray(0.5 * x * (1.0 + np.tanh(inner)))
        return 0.5 * x * (1.0 + erf(x / np.sqrt(2.0)))


@register_op
@dataclass(frozen=True)
class Hardsigmoid(Activation):
    """min(max(x + 3, 0), 6) / 6, as ``torch.nn.functional.hardsigmoid``."""

    op_name = "hardsigmoid"

    def compute(self, x: np.ndarray) -> np.ndarray:
        return np.clip(x.astype(np.float64) + 3.0, 0.0, 6.0) / 6.0


@register_op
@dataclass(frozen=True)
class Hardswish(Activation):
    """x * min(max(x + 3, 0), 6) / 6, as ``torch.nn.functional.hardswish``."""

    op_name = "hardswish"

    def compute(self, x: np.ndarray) -> np.ndarray:
        x = x.astype(np.float64)
        return x * np.clip(x + 3.0, 0.0, 6.0) / 6.0

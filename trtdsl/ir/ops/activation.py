"""Pointwise activation ops (one input, output of the same type). No weights.

Each docstring gives the definition; ``reference`` runs it through the float32 kernels of
``trtdsl.kernels.pointwise`` (``kernel()``), which ``tests/test_kernels_pointwise.py`` holds to
the definition computed in float64 (within a few ulps) and to ``torch.nn.functional``.
MACs: activations count 0.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from trtdsl.errors import OpArgumentError
from trtdsl.ir.ops.base import Op, check_choice, check_float, expect_float, register_op
from trtdsl.ir.types import TensorType
from trtdsl.kernels import pointwise


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
        """The activation of ``x`` (float32 arithmetic; result of x's dtype, C-contiguous)."""
        return pointwise.activate(x, self.kernel())

    def kernel(self) -> pointwise.Activation:
        """The kernel computing this activation."""
        raise NotImplementedError


@register_op
@dataclass(frozen=True)
class ReLU(Activation):
    """max(x, 0), as ``torch.nn.functional.relu``. Shape preserved."""

    op_name = "relu"

    def kernel(self) -> pointwise.Activation:
        return pointwise.Activation("relu")


@register_op
@dataclass(frozen=True)
class ReLU6(Activation):
    """min(max(x, 0), 6), as ``torch.nn.functional.relu6``. Shape preserved."""

    op_name = "relu6"

    def kernel(self) -> pointwise.Activation:
        return pointwise.Activation("relu6")


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

    def kernel(self) -> pointwise.Activation:
        low = -math.inf if self.min is None else self.min
        high = math.inf if self.max is None else self.max
        return pointwise.Activation("clip", alpha=low, beta=high)


@register_op
@dataclass(frozen=True)
class LeakyReLU(Activation):
    """x if x > 0 else negative_slope * x, as ``torch.nn.functional.leaky_relu``."""

    op_name = "leaky_relu"

    negative_slope: float = 0.01

    def __post_init__(self) -> None:
        check_float(self, "negative_slope")

    def kernel(self) -> pointwise.Activation:
        return pointwise.Activation("leaky_relu", alpha=self.negative_slope)


@register_op
@dataclass(frozen=True)
class Sigmoid(Activation):
    """1 / (1 + exp(-x)), as ``torch.sigmoid``. Shape preserved."""

    op_name = "sigmoid"

    def kernel(self) -> pointwise.Activation:
        return pointwise.Activation("sigmoid")


@register_op
@dataclass(frozen=True)
class SiLU(Activation):
    """x * sigmoid(x) (swish), as ``torch.nn.functional.silu``. Shape preserved."""

    op_name = "silu"

    def kernel(self) -> pointwise.Activation:
        return pointwise.Activation("silu")


@register_op
@dataclass(frozen=True)
class Tanh(Activation):
    """tanh(x), as ``torch.tanh``. Shape preserved."""

    op_name = "tanh"

    def kernel(self) -> pointwise.Activation:
        return pointwise.Activation("tanh")


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

    def kernel(self) -> pointwise.Activation:
        return pointwise.Activation("gelu_tanh" if self.approximate == "tanh" else "gelu")


@register_op
@dataclass(frozen=True)
class Hardsigmoid(Activation):
    """min(max(x + 3, 0), 6) / 6, as ``torch.nn.functional.hardsigmoid``."""

    op_name = "hardsigmoid"

    def kernel(self) -> pointwise.Activation:
        return pointwise.Activation("hardsigmoid")


@register_op
@dataclass(frozen=True)
class Hardswish(Activation):
    """x * min(max(x + 3, 0), 6) / 6, as ``torch.nn.functional.hardswish``."""

    op_name = "hardswish"

    def kernel(self) -> pointwise.Activation:
        return pointwise.Activation("hardswish")

"""Pointwise activation ops (one input, output of the same type)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from trtdsl.ir.ops.base import Op, expect_float, register_op
from trtdsl.ir.types import TensorType


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
        return np.maximum(x, 0)

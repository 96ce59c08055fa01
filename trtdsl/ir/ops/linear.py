"""Fully connected ops.

MACs: linear counts output elements x in_features.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from trtdsl import kernels
from trtdsl.errors import ShapeError
from trtdsl.ir.ops.base import Op, ParamSpec, check_bool, check_int, expect_float, register_op
from trtdsl.ir.types import TensorType


def in_features(op: Op, x: TensorType) -> int:
    """The static last (feature) dimension of a linear layer's float input ``x`` (*, K), or
    ShapeError naming ``op``."""
    expect_float(op, x)
    if x.rank < 1:
        raise ShapeError(f"{op.op_name}: expected an input of rank >= 1, got {x}")
    d = x.shape[-1]
    if not isinstance(d, int):
        raise ShapeError(
            f"{op.op_name}: the last (feature) dimension must be static, got {d!r} in {x}"
        )
    return d


@register_op
@dataclass(frozen=True)
class Linear(Op):
    """``y = x @ weight.T + bias``, as ``torch.nn.Linear``.

    Input (*, in_features) -> output (*, out_features); leading dims pass through.

    Weights: ``weight`` (out_features, in_features); ``bias`` (out_features,) if bias.
    """

    op_name = "linear"

    out_features: int
    bias: bool = True

    def __post_init__(self) -> None:
        check_int(self, "out_features", 1)
        check_bool(self, "bias")

    def params(self, inputs: Sequence[TensorType]) -> dict[str, ParamSpec]:
        k = in_features(self, inputs[0])
        specs = {"weight": ParamSpec((self.out_features, k))}
        if self.bias:
            specs["bias"] = ParamSpec((self.out_features,))
        return specs

    def infer(self, inputs: Sequence[TensorType]) -> TensorType:
        x = inputs[0]
        in_features(self, x)
        return x.with_shape((*x.shape[:-1], self.out_features))

    def reference(
        self, inputs: Sequence[np.ndarray], params: Mapping[str, np.ndarray]
    ) -> np.ndarray:
        bias = params.get("bias") if self.bias else None
        return kernels.linear(inputs[0], params["weight"], bias)

    def macs(
        self,
        inputs: Sequence[TensorType],
        outputs: Sequence[TensorType],
        sizes: Mapping[str, int] | None = None,
    ) -> int:
        return outputs[0].numel(sizes) * in_features(self, inputs[0])

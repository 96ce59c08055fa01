"""Linear layers in Hugging Face's own layouts: ``hf_conv1d`` (GPT-2's ``Conv1D``, a linear
layer whose weight is stored transposed).

MACs: output elements x in_features.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from trtdsl.ir.ops.base import Op, ParamSpec, check_bool, check_int, register_op
from trtdsl.ir.ops.linear import in_features
from trtdsl.ir.types import TensorType


@register_op
@dataclass(frozen=True)
class HFConv1D(Op):
    """``y = x @ weight + bias``, as Hugging Face's ``transformers.pytorch_utils.Conv1D``
    (GPT-2's ``c_attn``, ``c_proj``, ``c_fc``): a linear layer whose weight is stored
    (in_features, out_features), the transpose of ``torch.nn.Linear``'s.

    Input (*, in_features) -> output (*, out_features); leading dims pass through; the last
    dimension must be static. Example: GPT-2's ``mlp.c_fc`` on (N, L, 768) with
    ``out_features=3072`` -> (N, L, 3072).

    Weights: ``weight`` (in_features, out_features); ``bias`` (out_features,) if bias.
    """

    op_name = "hf_conv1d"

    out_features: int
    bias: bool = True

    def __post_init__(self) -> None:
        check_int(self, "out_features", 1)
        check_bool(self, "bias")

    def params(self, inputs: Sequence[TensorType]) -> dict[str, ParamSpec]:
        specs = {"weight": ParamSpec((in_features(self, inputs[0]), self.out_features))}
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
        x = inputs[0]
        compute = np.float32 if x.dtype == np.float16 else x.dtype
        y = np.matmul(x.astype(compute, copy=False), params["weight"].astype(compute))
        if self.bias:
            y = y + params["bias"].astype(compute)
        return np.ascontiguousarray(y, dtype=x.dtype)

    def macs(
        self,
        inputs: Sequence[TensorType],
        outputs: Sequence[TensorType],
        sizes: Mapping[str, int] | None = None,
    ) -> int:
        return outputs[0].numel(sizes) * in_features(self, inputs[0])

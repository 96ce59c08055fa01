"""Type conversion: the op through which precision is expressed in the graph."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from trtdsl.errors import ModelError, OpArgumentError
from trtdsl.ir.ops.base import Op, register_op
from trtdsl.ir.types import DType, TensorType


@register_op
@dataclass(frozen=True)
class Cast(Op):
    """Convert to ``dtype``, as ``torch.Tensor.to(dtype)``. Shape preserved, no weights.

    Floats round to nearest even. bfloat16 has no NumPy type: it is held as float32 values
    that are exactly representable in bfloat16. Float -> int truncates toward zero.
    """

    op_name = "cast"

    dtype: DType | str

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "dtype", DType.parse(self.dtype))
        except ModelError as e:
            raise OpArgumentError(f"cast: {e}") from None

    def infer(self, inputs: Sequence[TensorType]) -> TensorType:
        return inputs[0].with_dtype(self.dtype)  # type: ignore[arg-type]

    def reference(
        self, inputs: Sequence[np.ndarray], params: Mapping[str, np.ndarray]
    ) -> np.ndarray:
        return cast_array(inputs[0], self.dtype)  # type: ignore[arg-type]


def cast_array(x: np.ndarray, dtype: DType) -> np.ndarray:
    """``x`` converted to ``dtype``'s NumPy type (bfloat16: float32 rounded to bfloat16)."""
    if dtype is DType.BFLOAT16:
        return round_to_bfloat16(x)
    with np.errstate(over="ignore", invalid="ignore"):  # out of range -> inf, as in torch
        return np.asarray(x).astype(dtype.to_numpy())


def round_to_bfloat16(x: np.ndarray) -> np.ndarray:
    """float32 values rounded to the nearest bfloat16 (ties to even); NaN stays NaN."""
    bits = np.array(x, dtype=np.float32, order="C").view(np.uint32)  # keeps rank 0
    rounded = (bits + np.uint32(0x7FFF) + ((bits >> np.uint32(16)) & np.uint32(1))) & np.uint32(
        0xFFFF0000
    )
    out = rounded.view(np.float32)
    result: np.ndarray = np.where(np.isnan(x), np.float32(np.nan), out).astype(np.float32)
    return result

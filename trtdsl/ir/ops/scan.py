"""Scans along one axis: ``cumsum``, as ``torch.cumsum``. MACs: 0."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from trtdsl.errors import ShapeError
from trtdsl.ir.ops.base import Op, check_int, normalize_axis, register_op
from trtdsl.ir.types import DType, TensorType

_INTEGERS = (DType.INT32, DType.INT64)


@register_op
@dataclass(frozen=True)
class Cumsum(Op):
    """Running sums along ``dim``, as ``torch.cumsum(input, dim)``:
    ``y[i] = x[0] + ... + x[i]``.

    Input: float (same dtype out) or int32/int64 (int64 out, as PyTorch promotes integers);
    same shape; the scanned axis may be symbolic. Example: RoBERTa's position ids are
    ``cumsum(mask, dim=1) * mask + padding_idx``. No weights.
    """

    op_name = "cumsum"

    dim: int

    def __post_init__(self) -> None:
        check_int(self, "dim")

    def infer(self, inputs: Sequence[TensorType]) -> TensorType:
        x = inputs[0]
        if x.rank == 0:
            raise ShapeError(f"cumsum: expected an input of rank >= 1, got {x}")
        normalize_axis(self, self.dim, x.rank, "dim")
        if x.dtype in _INTEGERS:
            return x.with_dtype(DType.INT64)
        if not x.dtype.is_float:
            raise ShapeError(f"cumsum: expected a float, int32 or int64 input, got {x}")
        return x

    def reference(
        self, inputs: Sequence[np.ndarray], params: Mapping[str, np.ndarray]
    ) -> np.ndarray:
        x = inputs[0]
        axis = self.dim % x.ndim
        if x.dtype.kind == "i":
            return np.cumsum(x, axis=axis, dtype=np.int64)
        # Sums in float64, rounded once: the exact value TensorRT's scan approximates.
        return np.asarray(np.cumsum(x, axis=axis, dtype=np.float64), dtype=x.dtype)

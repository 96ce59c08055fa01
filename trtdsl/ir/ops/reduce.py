"""Index reductions: ``argmax``, as ``torch.argmax``. MACs: 0."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from trtdsl.errors import ShapeError
from trtdsl.ir.ops.base import Op, check_bool, check_int, normalize_axis, register_op
from trtdsl.ir.types import DType, TensorType


@register_op
@dataclass(frozen=True)
class ArgMax(Op):
    """The index of the largest element along ``dim``, as ``torch.argmax(x, dim, keepdim)``.

    Input (d0, ..., dn) of a float type -> int64 indices with axis ``dim`` removed (kept as
    size 1 with ``keepdim``). Ties give the first index (NaN is treated as largest, as in
    PyTorch). ``dim`` is required (flatten first for a whole-tensor argmax); the reduced axis
    may be symbolic. Example: a segmenter's (N, 21, H, W) scores with ``dim=1`` -> (N, H, W)
    class indices. No weights.
    """

    op_name = "argmax"

    dim: int
    keepdim: bool = False

    def __post_init__(self) -> None:
        check_int(self, "dim")
        check_bool(self, "keepdim")

    def axis(self, rank: int) -> int:
        """``dim`` mapped into [0, rank)."""
        return normalize_axis(self, self.dim, rank, "dim")

    def infer(self, inputs: Sequence[TensorType]) -> TensorType:
        x = inputs[0]
        if x.rank == 0:
            raise ShapeError(f"argmax: expected an input of rank >= 1, got {x}")
        if not x.dtype.is_float:
            raise ShapeError(f"argmax: expected a floating-point input, got {x}")
        axis = self.axis(x.rank)
        if isinstance(x.shape[axis], int) and x.shape[axis] == 0:
            raise ShapeError(f"argmax: axis {axis} of {x} is empty")
        shape = list(x.shape)
        if self.keepdim:
            shape[axis] = 1
        else:
            del shape[axis]
        return TensorType(DType.INT64, tuple(shape))

    def reference(
        self, inputs: Sequence[np.ndarray], params: Mapping[str, np.ndarray]
    ) -> np.ndarray:
        x = inputs[0]
        axis = self.axis(x.ndim)
        # np.argmax returns the first maximum, and the first NaN where there is one (as torch).
        # np.array, not ascontiguousarray: a rank-1 input gives a rank-0 result.
        return np.array(np.argmax(x, axis=axis, keepdims=self.keepdim), dtype=np.int64)

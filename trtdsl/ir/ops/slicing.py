"""Slicing ops: ``narrow`` (one contiguous range along one axis, as ``torch.narrow``).

``x.chunk(k, dim)`` and ``x.split(size, dim)`` are written as one ``narrow`` per piece (each
node has one output, so each piece keeps its own name). MACs: 0.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from trtdsl.errors import ShapeError
from trtdsl.ir.ops.base import Op, check_int, normalize_axis, register_op
from trtdsl.ir.types import TensorType


@register_op
@dataclass(frozen=True)
class Narrow(Op):
    """Elements ``start .. start + length - 1`` of axis ``dim``, as ``torch.narrow``.

    Input (d0, ..., d[dim], ..., dn) -> (d0, ..., length, ..., dn). ``dim`` may be negative;
    ``start`` is >= 0 (torch's negative start is not accepted); ``length`` >= 1. The sliced
    axis must be static and ``start + length`` at most its size; other axes may be symbolic.
    Example: ShuffleNetV2's ``x1, x2 = x.chunk(2, dim=1)`` on (N, 116, 28, 28) is
    ``narrow(dim=1, start=0, length=58)`` and ``narrow(dim=1, start=58, length=58)``.
    No weights.
    """

    op_name = "narrow"

    dim: int
    start: int
    length: int

    def __post_init__(self) -> None:
        check_int(self, "dim")
        check_int(self, "start", 0)
        check_int(self, "length", 1)

    def axis(self, rank: int) -> int:
        """``dim`` mapped into [0, rank)."""
        return normalize_axis(self, self.dim, rank, "dim")

    def infer(self, inputs: Sequence[TensorType]) -> TensorType:
        x = inputs[0]
        if x.rank == 0:
            raise ShapeError(f"narrow: expected an input of rank >= 1, got {x}")
        axis = self.axis(x.rank)
        size = x.shape[axis]
        if not isinstance(size, int):
            raise ShapeError(
                f"narrow: cannot slice symbolic dimension {size!r} (axis {axis}) of {x}; "
                f"the sliced axis must be static"
            )
        if self.start + self.length > size:
            raise ShapeError(
                f"narrow: start {self.start} + length {self.length} exceeds size {size} of "
                f"axis {axis} of {x}"
            )
        return x.with_shape((*x.shape[:axis], self.length, *x.shape[axis + 1 :]))

    def reference(
        self, inputs: Sequence[np.ndarray], params: Mapping[str, np.ndarray]
    ) -> np.ndarray:
        x = inputs[0]
        index = [slice(None)] * x.ndim
        index[self.axis(x.ndim)] = slice(self.start, self.start + self.length)
        return np.ascontiguousarray(x[tuple(index)])

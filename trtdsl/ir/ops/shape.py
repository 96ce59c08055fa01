"""Shape ops: flatten, reshape, permute, concat, and the inference no-ops identity and dropout.

Symbolic (named) dimensions pass through where the op only moves them; an op that would have
to compute with one (flatten across it, reshape's -1 absorbing it, concat along it) raises a
ShapeError saying so. MACs: shape ops count 0.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from trtdsl.errors import ShapeError
from trtdsl.ir.ops.base import Op, check_int, normalize_axis, register_op
from trtdsl.ir.types import TensorType


@register_op
@dataclass(frozen=True)
class Flatten(Op):
    """Merge dims start_dim..end_dim into one, as ``torch.flatten``.

    Input (d0, ..., dn) -> (d0, ..., d[start-1], prod(d[start..end]), d[end+1], ...).
    Merging a symbolic dimension with others is a ShapeError. No weights.
    """

    op_name = "flatten"

    start_dim: int = 1
    end_dim: int = -1

    def __post_init__(self) -> None:
        check_int(self, "start_dim")
        check_int(self, "end_dim")

    def _range(self, x: TensorType) -> tuple[int, int]:
        rank = max(x.rank, 1)  # torch treats a scalar as rank 1 here
        start = normalize_axis(self, self.start_dim, rank, "start_dim")
        end = normalize_axis(self, self.end_dim, rank, "end_dim")
        if start > end:
            raise ShapeError(
                f"flatten: start_dim {self.start_dim} comes after end_dim {self.end_dim} "
                f"for input {x}"
            )
        return start, end

    def infer(self, inputs: Sequence[TensorType]) -> TensorType:
        x = inputs[0]
        if x.rank == 0:
            self._range(x)
            return x.with_shape((1,))
        start, end = self._range(x)
        merged = x.shape[start : end + 1]
        if len(merged) == 1:
            return x
        symbols = [d for d in merged if isinstance(d, str)]
        if symbols:
            raise ShapeError(
                f"flatten: cannot merge symbolic dimension(s) {symbols} of {x} "
                f"(dims {start}..{end}); flatten only static dimensions"
            )
        size = int(np.prod(merged, dtype=np.int64))
        return x.with_shape((*x.shape[:start], size, *x.shape[end + 1 :]))

    def reference(
        self, inputs: Sequence[np.ndarray], params: Mapping[str, np.ndarray]
    ) -> np.ndarray:
        x = inputs[0]
        if x.ndim == 0:
            return x.reshape(1)
        start = self.start_dim % x.ndim
        end = self.end_dim % x.ndim
        merged = math.prod(x.shape[start : end + 1])
        return x.reshape(*x.shape[:start], merged, *x.shape[end + 1 :])

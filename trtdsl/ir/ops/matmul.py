"""Matrix products of two tensors: ``matmul``, as ``torch.matmul``.

MACs: output elements x the contracted size.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from trtdsl import kernels
from trtdsl.errors import ShapeError
from trtdsl.ir.ops.base import Op, register_op
from trtdsl.ir.ops.elementwise import broadcast_shapes
from trtdsl.ir.symbolic import dim_value
from trtdsl.ir.types import Dim, TensorType


@register_op
@dataclass(frozen=True)
class MatMul(Op):
    """``a @ b``, as ``torch.matmul``: batched, with NumPy broadcasting of batch dimensions.

    a (*batch_a, n, k) and b (*batch_b, k, m) -> (*broadcast(batch_a, batch_b), n, m). A rank-1
    a is a row (k,) whose n axis is dropped from the output; a rank-1 b is a column (k,) whose
    m axis is dropped. The contracted sizes must be equal (static or the same symbol); both
    inputs have the same float dtype. Example: attention scores q (N, h, L, d) @ k^T
    (N, h, d, L) -> (N, h, L, L). No weights.
    """

    op_name = "matmul"
    arity = 2

    def _shapes(
        self, a: TensorType, b: TensorType
    ) -> tuple[tuple[Dim, ...], Dim, Dim, tuple[Dim, ...]]:
        """(batch, contracted size, ...) and the output shape."""
        if a.rank == 0 or b.rank == 0:
            raise ShapeError(f"matmul: both inputs need rank >= 1, got {a} and {b}")
        a_shape = (1, *a.shape) if a.rank == 1 else a.shape
        b_shape = (*b.shape, 1) if b.rank == 1 else b.shape
        k_a, k_b = a_shape[-1], b_shape[-2]
        if k_a != k_b:
            raise ShapeError(
                f"matmul: contracted sizes differ: {a} has {k_a!r} columns, {b} has {k_b!r} rows"
            )
        batch = broadcast_shapes(
            self, a.with_shape(tuple(a_shape[:-2])), b.with_shape(tuple(b_shape[:-2]))
        )
        out = list(batch)
        if a.rank > 1:
            out.append(a_shape[-2])
        if b.rank > 1:
            out.append(b_shape[-1])
        return batch, k_a, a_shape[-2], tuple(out)

    def infer(self, inputs: Sequence[TensorType]) -> TensorType:
        a, b = inputs
        if not a.dtype.is_float or a.dtype != b.dtype:
            raise ShapeError(f"matmul: expected two inputs of one float dtype, got {a} and {b}")
        return a.with_shape(self._shapes(a, b)[3])

    def reference(
        self, inputs: Sequence[np.ndarray], params: Mapping[str, np.ndarray]
    ) -> np.ndarray:
        return kernels.matmul(inputs[0], inputs[1])

    def macs(
        self,
        inputs: Sequence[TensorType],
        outputs: Sequence[TensorType],
        sizes: Mapping[str, int] | None = None,
    ) -> int:
        k = self._shapes(inputs[0], inputs[1])[1]
        return outputs[0].numel(sizes) * dim_value(k, sizes or {}, default=1)

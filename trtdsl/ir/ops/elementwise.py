"""Binary elementwise ops with NumPy broadcasting, or with a scalar operand. No weights; MACs
count 0."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from trtdsl.errors import ShapeError
from trtdsl.ir.ops.base import Op, check_float, expect_float, register_op
from trtdsl.ir.types import Dim, TensorType


def broadcast_shapes(op: Op, a: TensorType, b: TensorType) -> tuple[Dim, ...]:
    """NumPy broadcasting of two shapes; a symbol broadcasts only against itself or 1."""
    rank = max(a.rank, b.rank)
    sa = (1,) * (rank - a.rank) + a.shape
    sb = (1,) * (rank - b.rank) + b.shape
    out: list[Dim] = []
    for da, db in zip(sa, sb, strict=True):
        if da == db or db == 1:
            out.append(da)
        elif da == 1:
            out.append(db)
        else:
            raise ShapeError(
                f"{op.op_name}: shapes {a.format_shape()} and {b.format_shape()} "
                f"do not broadcast ({da} vs {db})"
            )
    return tuple(out)


@dataclass(frozen=True)
class Binary(Op):
    """Base of binary elementwise ops: same dtypes, NumPy broadcasting of shapes.

    Two inputs ``a, b``; or one input ``a`` and a Python number ``other`` (``torch.add(x, 1.0)``
    or ``x * 0.5``): the number takes the input's dtype, which must then be floating point.
    """

    arity = None

    other: float | None = None

    def __post_init__(self) -> None:
        if self.other is not None:
            check_float(self, "other")

    def infer(self, inputs: Sequence[TensorType]) -> TensorType:
        want = 1 if self.other is not None else 2
        if len(inputs) != want:
            how = "1 input with 'other'" if want == 1 else "2 inputs (or 1 and 'other')"
            raise ShapeError(f"{self.op_name}: expected {how}, got {len(inputs)}")
        if self.other is not None:
            expect_float(self, inputs[0])
            return inputs[0]
        a, b = inputs
        if a.dtype != b.dtype:
            raise ShapeError(
                f"{self.op_name}: input dtypes differ ({a.dtype} vs {b.dtype}); insert a cast"
            )
        return TensorType(a.dtype, broadcast_shapes(self, a, b))

    def reference(
        self, inputs: Sequence[np.ndarray], params: Mapping[str, np.ndarray]
    ) -> np.ndarray:
        a = inputs[0]
        b = np.asarray(self.other, dtype=a.dtype) if self.other is not None else inputs[1]
        return np.asarray(self.compute(a, b), dtype=a.dtype)

    def compute(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def macs(
        self,
        inputs: Sequence[TensorType],
        outputs: Sequence[TensorType],
        sizes: Mapping[str, int] | None = None,
    ) -> int:
        return 0


@register_op
@dataclass(frozen=True)
class Add(Binary):
    """a + b with NumPy broadcasting, as ``torch.add``."""

    op_name = "add"

    def compute(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.asarray(a + b)


@register_op
@dataclass(frozen=True)
class Sub(Binary):
    """a - b with NumPy broadcasting, as ``torch.sub``."""

    op_name = "sub"

    def compute(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.asarray(a - b)


@register_op
@dataclass(frozen=True)
class Mul(Binary):
    """a * b with NumPy broadcasting, as ``torch.mul``."""

    op_name = "mul"

    def compute(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.asarray(a * b)


@register_op
@dataclass(frozen=True)
class Div(Binary):
    """a / b (true division) with NumPy broadcasting, as ``torch.div``; floating point only.

    Integer inputs are a ShapeError: torch would promote them to float, which the IR's
    same-dtype rule cannot express; insert a cast first.
    """

    op_name = "div"

    def infer(self, inputs: Sequence[TensorType]) -> TensorType:
        out = super().infer(inputs)
        expect_float(self, out)
        return out

    def compute(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.asarray(a / b)

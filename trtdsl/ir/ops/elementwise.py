"""Elementwise ops with NumPy broadcasting: arithmetic (add, sub, mul, div) and comparisons
(eq, ne, lt, le, gt, ge; bool results) of two tensors or of a tensor and a scalar operand,
``where`` (a choice by a bool condition) and ``abs``. No weights; MACs count 0."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from trtdsl.errors import ShapeError
from trtdsl.ir.ops.base import Op, check_float, expect_float, register_op
from trtdsl.ir.types import Dim, DType, TensorType


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
        self._check_count(inputs)
        if self.other is not None:
            expect_float(self, inputs[0])
            return inputs[0]
        a, b = inputs
        self._check_same_dtype(a, b)
        return TensorType(a.dtype, broadcast_shapes(self, a, b))

    def reference(
        self, inputs: Sequence[np.ndarray], params: Mapping[str, np.ndarray]
    ) -> np.ndarray:
        a, b = self._operands(inputs)
        return np.asarray(self.compute(a, b), dtype=a.dtype)

    def _check_count(self, inputs: Sequence[TensorType]) -> None:
        """ShapeError unless there are 2 inputs, or 1 with ``other``."""
        want = 1 if self.other is not None else 2
        if len(inputs) != want:
            how = "1 input with 'other'" if want == 1 else "2 inputs (or 1 and 'other')"
            raise ShapeError(f"{self.op_name}: expected {how}, got {len(inputs)}")

    def _check_same_dtype(self, a: TensorType, b: TensorType) -> None:
        if a.dtype != b.dtype:
            raise ShapeError(
                f"{self.op_name}: input dtypes differ ({a.dtype} vs {b.dtype}); insert a cast"
            )

    def _operands(self, inputs: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """(a, b): the two inputs, or the input and ``other`` in its dtype."""
        a = inputs[0]
        b = np.asarray(self.other, dtype=a.dtype) if self.other is not None else inputs[1]
        return a, b

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


# -- comparisons --------------------------------------------------------------------------------

NUMBER_DTYPES = (
    DType.FLOAT32,
    DType.FLOAT16,
    DType.BFLOAT16,
    DType.INT64,
    DType.INT32,
)
"""The dtypes comparisons and ``abs`` accept (not bool; int8 is a quantized type in
TensorRT)."""


@dataclass(frozen=True)
class Compare(Binary):
    """Base of comparisons: two inputs of one numeric dtype (NumPy broadcasting) or one input
    and a scalar ``other`` (integral for integer inputs) -> bool. NaN compares unequal to
    everything (``ne`` is true), as in PyTorch."""

    def infer(self, inputs: Sequence[TensorType]) -> TensorType:
        self._check_count(inputs)
        a = inputs[0]
        if a.dtype not in NUMBER_DTYPES:
            raise ShapeError(f"{self.op_name}: expected a numeric input (not bool), got {a}")
        if self.other is not None:
            if not a.dtype.is_float and not float(self.other).is_integer():
                raise ShapeError(
                    f"{self.op_name}: other {self.other} is not an integer, as the "
                    f"{a.dtype.value} input needs; cast the input to a float dtype first"
                )
            return a.with_dtype(DType.BOOL)
        b = inputs[1]
        self._check_same_dtype(a, b)
        return TensorType(DType.BOOL, broadcast_shapes(self, a, b))

    def reference(
        self, inputs: Sequence[np.ndarray], params: Mapping[str, np.ndarray]
    ) -> np.ndarray:
        a, b = self._operands(inputs)
        return np.asarray(self.compute(a, b), dtype=np.bool_)


@register_op
@dataclass(frozen=True)
class Eq(Compare):
    """a == b elementwise, as ``torch.eq``: bool."""

    op_name = "eq"

    def compute(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.asarray(a == b)


@register_op
@dataclass(frozen=True)
class Ne(Compare):
    """a != b elementwise, as ``torch.ne``: bool."""

    op_name = "ne"

    def compute(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.asarray(a != b)


@register_op
@dataclass(frozen=True)
class Lt(Compare):
    """a < b elementwise, as ``torch.lt``: bool."""

    op_name = "lt"

    def compute(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.asarray(a < b)


@register_op
@dataclass(frozen=True)
class Le(Compare):
    """a <= b elementwise, as ``torch.le``: bool."""

    op_name = "le"

    def compute(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.asarray(a <= b)


@register_op
@dataclass(frozen=True)
class Gt(Compare):
    """a > b elementwise, as ``torch.gt``: bool."""

    op_name = "gt"

    def compute(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.asarray(a > b)


@register_op
@dataclass(frozen=True)
class Ge(Compare):
    """a >= b elementwise, as ``torch.ge``: bool."""

    op_name = "ge"

    def compute(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.asarray(a >= b)


# -- where, abs -----------------------------------------------------------------------------------


@register_op
@dataclass(frozen=True)
class Where(Op):
    """``input`` where ``condition`` is true, else ``other``, as
    ``torch.where(condition, input, other)``.

    Inputs: ``condition`` bool, ``input`` and ``other`` of one dtype; the three shapes
    broadcast together (NumPy rules) to the output's, of that dtype. Example: masking scores
    (N, h, L, L) with a bool (1, 1, L, L) and a (1,) fill. No weights.
    """

    op_name = "where"
    arity = 3

    def infer(self, inputs: Sequence[TensorType]) -> TensorType:
        condition, a, b = inputs
        if condition.dtype is not DType.BOOL:
            raise ShapeError(f"where: condition must be bool, got {condition}")
        if a.dtype != b.dtype:
            raise ShapeError(
                f"where: input and other have different dtypes ({a.dtype} vs {b.dtype}); "
                f"insert a cast"
            )
        shape = broadcast_shapes(self, condition, a)
        return TensorType(a.dtype, broadcast_shapes(self, TensorType(a.dtype, shape), b))

    def reference(
        self, inputs: Sequence[np.ndarray], params: Mapping[str, np.ndarray]
    ) -> np.ndarray:
        condition, a, b = inputs
        # np.array, not ascontiguousarray: three rank-0 inputs give a rank-0 result.
        return np.array(np.where(condition, a, b), dtype=a.dtype, order="C")


@register_op
@dataclass(frozen=True)
class Abs(Op):
    """|x| elementwise, as ``torch.abs``: float or integer input, same type (an integer's
    most negative value stays itself, as in PyTorch). No weights."""

    op_name = "abs"

    def infer(self, inputs: Sequence[TensorType]) -> TensorType:
        x = inputs[0]
        if x.dtype not in NUMBER_DTYPES:
            raise ShapeError(f"abs: expected a numeric input (not bool), got {x}")
        return x

    def reference(
        self, inputs: Sequence[np.ndarray], params: Mapping[str, np.ndarray]
    ) -> np.ndarray:
        return np.array(np.abs(inputs[0]), order="C")  # a rank-0 input stays an array

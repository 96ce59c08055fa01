"""Tensors made from attributes, their values known at build time: ``arange`` and ``full``
(static shapes, no inputs), ``arange_like`` and ``full_like`` (shapes read from an input,
which may be dynamic: position ids of a token sequence, a mask of ones like the ids).

Only the input's shape is read, never its values. MACs: 0.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from trtdsl.errors import BackendError, ModelError, OpArgumentError, ShapeError
from trtdsl.ir.ops.base import Op, check_int, check_int_tuple, normalize_axis, register_op
from trtdsl.ir.ops.cast import cast_array
from trtdsl.ir.types import DType, TensorType

_EXACT_INTEGERS = {
    DType.FLOAT32: 2**24,
    DType.FLOAT16: 2**11,
    DType.BFLOAT16: 2**8,
    DType.INT32: 2**31 - 1,
    DType.INT64: 2**63 - 1,
}
"""The largest magnitude up to which every integer is exact in each dtype."""

FULL_DTYPES = (
    DType.FLOAT32,
    DType.FLOAT16,
    DType.BFLOAT16,
    DType.INT32,
    DType.INT64,
    DType.BOOL,
)
"""The dtypes ``full`` and ``full_like`` make."""


def parse_dtype(op: Op, name: str, allowed: Sequence[DType]) -> DType:
    """Attribute ``name`` as a DType among ``allowed`` (stored normalised), or OpArgumentError."""
    try:
        dtype = DType.parse(getattr(op, name))
    except ModelError as e:
        raise OpArgumentError(f"{op.op_name}: {e}") from None
    if dtype not in allowed:
        raise OpArgumentError(
            f"{op.op_name}: {name} must be one of {', '.join(d.value for d in allowed)}, "
            f"got {dtype.value}"
        )
    object.__setattr__(op, name, dtype)
    return dtype


def _check_range_values(op: Op, first: int, last: int, dtype: DType) -> None:
    """OpArgumentError unless every integer between ``first`` and ``last`` is exact in
    ``dtype``."""
    limit = _EXACT_INTEGERS[dtype]
    if max(abs(first), abs(last)) > limit:
        raise OpArgumentError(
            f"{op.op_name}: values {first}..{last} are not all exact in {dtype.value} "
            f"(integers up to {limit}); use a wider dtype"
        )


def check_fill_value(op: Op, dtype: DType, store: bool = True) -> float | int | bool:
    """``op.fill_value`` checked against ``dtype`` (with ``store``, kept as that Python number):
    integral and in range for integer dtypes, 0/1 for bool, anything but NaN for floats (-inf
    makes masks)."""
    value = op.fill_value  # type: ignore[attr-defined]
    if not isinstance(value, (bool, int, float, np.integer, np.floating)):
        raise OpArgumentError(f"{op.op_name}: fill_value must be a number, got {value!r}")
    if dtype is DType.BOOL:
        if value not in (0, 1):
            raise OpArgumentError(f"{op.op_name}: a bool fill_value is 0 or 1, got {value!r}")
        result: float | int | bool = bool(value)
    elif dtype.is_float:
        try:
            result = float(value)
        except OverflowError:
            raise OpArgumentError(f"{op.op_name}: fill_value {value!r} overflows a float") from None
        if math.isnan(result):
            raise OpArgumentError(f"{op.op_name}: fill_value must not be NaN")
    else:
        limit = _EXACT_INTEGERS[dtype]
        if isinstance(value, (float, np.floating)) and not float(value).is_integer():
            raise OpArgumentError(
                f"{op.op_name}: fill_value {value!r} is not an integer, as {dtype.value} needs"
            )
        if not -limit - 1 <= value <= limit:
            raise OpArgumentError(f"{op.op_name}: fill_value {value!r} overflows {dtype.value}")
        result = int(value)
    if store:
        object.__setattr__(op, "fill_value", result)
    return result


def _range_values(start: int, step: int, count: int, dtype: DType) -> np.ndarray:
    """``start + step * i`` for i < count, as ``dtype`` (bfloat16 held as float32)."""
    values = start + step * np.arange(count, dtype=np.int64)
    return cast_array(values, dtype)


@register_op
@dataclass(frozen=True)
class Arange(Op):
    """``start, start + step, ...`` up to ``end`` (excluded), as
    ``torch.arange(start, end, step, dtype=dtype)``; computed at build time.

    No inputs; output (n,) with n = ceil((end - start) / step) >= 1. Integer arguments only;
    ``dtype`` int64 (torch's default for them), int32, float32, float16 or bfloat16, in which
    every value must be exact. For a length that follows a dimension of a tensor (a dynamic
    sequence length) use ``arange_like``. Example: ``end=4`` -> [0, 1, 2, 3]. No weights.
    """

    op_name = "arange"
    arity = 0

    end: int
    start: int = 0
    step: int = 1
    dtype: DType | str = DType.INT64

    def __post_init__(self) -> None:
        end, start, step = (check_int(self, n) for n in ("end", "start", "step"))
        dtype = parse_dtype(self, "dtype", tuple(_EXACT_INTEGERS))
        if step == 0:
            raise OpArgumentError("arange: step must not be 0")
        if self.length < 1:
            raise OpArgumentError(
                f"arange: start {start}, end {end}, step {step} give no values (the range "
                f"must not be empty)"
            )
        _check_range_values(self, start, start + step * (self.length - 1), dtype)

    @property
    def length(self) -> int:
        """The number of values."""
        return max(0, -((self.start - self.end) // self.step))

    def infer(self, inputs: Sequence[TensorType]) -> TensorType:
        return TensorType(self.dtype, (self.length,))  # type: ignore[arg-type]

    def reference(
        self, inputs: Sequence[np.ndarray], params: Mapping[str, np.ndarray]
    ) -> np.ndarray:
        return _range_values(self.start, self.step, self.length, self.dtype)  # type: ignore[arg-type]


@register_op
@dataclass(frozen=True)
class ArangeLike(Op):
    """Positions along axis ``dim`` of the input: ``start + step * i`` for
    i < n = ``input.shape[dim]``, as ``torch.arange(start, start + n * step, step)`` with n
    read from the tensor (Hugging Face's ``torch.arange(input_ids.shape[1])``).

    Input: any tensor (only its shape is read); n may be symbolic (dynamic). Output (n,)
    int64 or int32 (``dtype``). Example: BERT's position ids from ``input_ids`` (N, L) with
    ``dim=1`` -> (L,): 0..L-1. No weights.
    """

    op_name = "arange_like"

    dim: int
    start: int = 0
    step: int = 1
    dtype: DType | str = DType.INT64

    def __post_init__(self) -> None:
        check_int(self, "dim")
        check_int(self, "start")
        if check_int(self, "step") == 0:
            raise OpArgumentError("arange_like: step must not be 0")
        parse_dtype(self, "dtype", (DType.INT64, DType.INT32))

    def infer(self, inputs: Sequence[TensorType]) -> TensorType:
        x = inputs[0]
        if x.rank == 0:
            raise ShapeError(f"arange_like: expected an input of rank >= 1, got {x}")
        axis = normalize_axis(self, self.dim, x.rank, "dim")
        return TensorType(self.dtype, (x.shape[axis],))  # type: ignore[arg-type]

    def reference(
        self, inputs: Sequence[np.ndarray], params: Mapping[str, np.ndarray]
    ) -> np.ndarray:
        count = inputs[0].shape[self.dim % inputs[0].ndim]
        last = self.start + self.step * max(count - 1, 0)
        limit = _EXACT_INTEGERS[self.dtype]  # type: ignore[index]
        if max(abs(self.start), abs(last)) > limit:
            raise BackendError(
                f"arange_like: values {self.start}..{last} overflow {self.dtype} at length {count}"
            )
        return _range_values(self.start, self.step, count, self.dtype)  # type: ignore[arg-type]


@register_op
@dataclass(frozen=True)
class Full(Op):
    """A tensor of ``size`` filled with ``fill_value``, as
    ``torch.full(size, fill_value, dtype=dtype)``; computed at build time.

    No inputs; output dtype[size] (``size`` static, entries >= 1; an empty list is a scalar).
    ``dtype``: float32 (default), float16, bfloat16, int32, int64 or bool; an integer dtype
    needs an integral value, bool 0 or 1; floats may be infinite (-inf for masks), not NaN.
    For a shape that follows a tensor use ``full_like``. No weights.
    """

    op_name = "full"
    arity = 0

    size: tuple[int, ...]
    fill_value: float
    dtype: DType | str = DType.FLOAT32

    def __post_init__(self) -> None:
        size = check_int_tuple(self, "size") or ()
        if any(d < 1 for d in size):
            raise OpArgumentError(f"full: size entries must be >= 1, got {list(size)}")
        check_fill_value(self, parse_dtype(self, "dtype", FULL_DTYPES))

    def infer(self, inputs: Sequence[TensorType]) -> TensorType:
        return TensorType(self.dtype, tuple(self.size))  # type: ignore[arg-type]

    def reference(
        self, inputs: Sequence[np.ndarray], params: Mapping[str, np.ndarray]
    ) -> np.ndarray:
        return fill(tuple(self.size), self.fill_value, self.dtype)  # type: ignore[arg-type]


@register_op
@dataclass(frozen=True)
class FullLike(Op):
    """A tensor of the input's shape filled with ``fill_value``, as
    ``torch.full_like(input, fill_value, dtype=dtype)``.

    Input: any tensor (only its shape is read; dimensions may be symbolic) -> the same shape,
    in ``dtype`` (default: the input's; float32, float16, bfloat16, int32, int64 or bool).
    Values as for ``full``. Example: BERT's default ``token_type_ids``: ``full_like`` of
    ``input_ids`` (N, L) with ``fill_value=0`` -> int64 (N, L) zeros. No weights.
    """

    op_name = "full_like"

    fill_value: float
    dtype: DType | str | None = None

    def __post_init__(self) -> None:
        if self.dtype is not None:
            check_fill_value(self, parse_dtype(self, "dtype", FULL_DTYPES))

    def out_dtype(self, x: TensorType) -> DType:
        """The output dtype for input ``x``."""
        return x.dtype if self.dtype is None else self.dtype  # type: ignore[return-value]

    def infer(self, inputs: Sequence[TensorType]) -> TensorType:
        x = inputs[0]
        dtype = self.out_dtype(x)
        if dtype not in FULL_DTYPES:
            raise ShapeError(
                f"full_like: cannot fill {dtype.value} (input {x}); give dtype: one of "
                f"{', '.join(d.value for d in FULL_DTYPES)}"
            )
        if self.dtype is None:
            check_fill_value(self, dtype, store=False)
        return x.with_dtype(dtype)

    def reference(
        self, inputs: Sequence[np.ndarray], params: Mapping[str, np.ndarray]
    ) -> np.ndarray:
        x = inputs[0]
        dtype = self.dtype if self.dtype is not None else DType.from_numpy(x.dtype)
        value = check_fill_value(self, dtype, store=False)  # type: ignore[arg-type]
        return fill(x.shape, value, dtype)  # type: ignore[arg-type]


def fill(shape: tuple[int, ...], value: float | int | bool, dtype: DType) -> np.ndarray:
    """An array of ``shape`` holding ``value`` as ``dtype`` (bfloat16 held as float32)."""
    return cast_array(np.full(shape, value, dtype=np.float64 if dtype.is_float else None), dtype)

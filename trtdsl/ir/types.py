"""Element types, symbolic dimensions and tensor types of the IR."""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from trtdsl.errors import ModelError, UsageError
from trtdsl.ir.symbolic import dim_value

Dim = int | str
"""One dimension: a static size, the name of a declared symbolic dimension (e.g. ``"N"``), or
an expression derived from one (``"(H+1)//2"``; see ``trtdsl.ir.symbolic``)."""


class DType(enum.Enum):
    """Element type of a tensor. Values are the names used in YAML and in ``--format json``."""

    FLOAT32 = "float32"
    FLOAT16 = "float16"
    BFLOAT16 = "bfloat16"
    INT64 = "int64"
    INT32 = "int32"
    INT8 = "int8"
    UINT8 = "uint8"
    BOOL = "bool"
    FLOAT8_E4M3 = "float8_e4m3"
    """FP8 E4M3 (TensorRT ``fp8``, torch ``float8_e4m3fn``, ONNX ``FLOAT8E4M3FN``): the output
    of an fp8 ``quantize``. NumPy has no fp8 type: values are held as float32 numbers on the
    E4M3 grid (as bfloat16 is held), and ``trtdsl.ir.ops.quantize.float8_e4m3_bits`` gives
    the uint8 bit patterns where a file or TensorRT needs bytes."""

    @classmethod
    def parse(cls, name: object) -> DType:
        """Return the DType called ``name`` (``"float32"``, ``"fp16"``, ...) or raise ModelError."""
        if isinstance(name, DType):
            return name
        if isinstance(name, str):
            key = _DTYPE_ALIASES.get(name.lower(), name.lower())
            for member in cls:
                if member.value == key:
                    return member
        known = ", ".join(m.value for m in cls)
        raise ModelError(f"unknown dtype {name!r}; expected one of {known}")

    @property
    def is_float(self) -> bool:
        return self in (DType.FLOAT32, DType.FLOAT16, DType.BFLOAT16)

    @property
    def itemsize(self) -> int:
        return _ITEMSIZE[self]

    def to_numpy(self) -> np.dtype:
        """The NumPy dtype holding this type. bfloat16 and fp8 have none: float32 holds them."""
        return np.dtype(_NUMPY[self])

    @classmethod
    def from_numpy(cls, dtype: np.dtype | type) -> DType:
        name = np.dtype(dtype).name
        for member, np_name in _NUMPY.items():
            if np_name == name and member not in (DType.BFLOAT16, DType.FLOAT8_E4M3):
                return member
        raise ModelError(f"NumPy dtype {name} has no trtdsl equivalent")

    def __str__(self) -> str:
        return self.value


_DTYPE_ALIASES = {
    "fp32": "float32",
    "float": "float32",
    "fp16": "float16",
    "half": "float16",
    "bf16": "bfloat16",
    "i64": "int64",
    "i32": "int32",
    "i8": "int8",
    "u8": "uint8",
    "fp8": "float8_e4m3",
    "float8_e4m3fn": "float8_e4m3",
    "e4m3": "float8_e4m3",
}
_ITEMSIZE = {
    DType.FLOAT32: 4,
    DType.FLOAT16: 2,
    DType.BFLOAT16: 2,
    DType.INT64: 8,
    DType.INT32: 4,
    DType.INT8: 1,
    DType.UINT8: 1,
    DType.BOOL: 1,
    DType.FLOAT8_E4M3: 1,
}
_NUMPY = {
    DType.FLOAT32: "float32",
    DType.FLOAT16: "float16",
    DType.BFLOAT16: "float32",
    DType.INT64: "int64",
    DType.INT32: "int32",
    DType.INT8: "int8",
    DType.UINT8: "uint8",
    DType.BOOL: "bool",
    DType.FLOAT8_E4M3: "float32",
}


@dataclass(frozen=True)
class DimRange:
    """A named symbolic dimension with the range a TensorRT optimization profile will cover.

    Attributes:
        name: the symbol used in shapes, e.g. ``"N"``.
        min, opt, max: 1 <= min <= opt <= max.
    """

    name: str
    min: int
    opt: int
    max: int

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.isidentifier():
            raise ModelError(f"dimension name must be an identifier, got {self.name!r}")
        for field_name in ("min", "opt", "max"):
            value = getattr(self, field_name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ModelError(
                    f"dimension {self.name}: {field_name} must be a positive int, got {value!r}"
                )
        if not self.min <= self.opt <= self.max:
            raise ModelError(
                f"dimension {self.name}: expected min <= opt <= max, "
                f"got {self.min}, {self.opt}, {self.max}"
            )


@dataclass(frozen=True)
class ValueRange:
    """The values an integer input takes: ``low <= value <= high``, both ends included.

    Token ids of a 30522-word vocabulary are ``ValueRange(0, 30521)``; an attention mask is
    ``ValueRange(0, 1)``. Random inputs are drawn uniformly from it, and input files must lie
    inside it (YAML ``range: [low, high]``; ``ModelBuilder.input(..., range=(low, high))``).
    """

    low: int
    high: int

    def __post_init__(self) -> None:
        for field_name in ("low", "high"):
            value = getattr(self, field_name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise ModelError(f"range: {field_name} must be an int, got {value!r}")
            object.__setattr__(self, field_name, int(value))
        if self.low > self.high:
            raise ModelError(
                f"range: expected [low, high] with low <= high (both included), "
                f"got [{self.low}, {self.high}]"
            )

    def check_dtype(self, dtype: DType) -> None:
        """ModelError unless ``dtype`` is an integer or bool type holding both ends."""
        if dtype.is_float or dtype is DType.FLOAT8_E4M3:
            raise ModelError(
                f"range [{self.low}, {self.high}] applies to integer and bool inputs, not "
                f"{dtype.value} (random float inputs are standard normal)"
            )
        info = (0, 1) if dtype is DType.BOOL else _int_bounds(dtype)
        if self.low < info[0] or self.high > info[1]:
            raise ModelError(
                f"range [{self.low}, {self.high}] does not fit {dtype.value} ({info[0]}..{info[1]})"
            )

    def __str__(self) -> str:
        return f"[{self.low}, {self.high}]"


def _int_bounds(dtype: DType) -> tuple[int, int]:
    info = np.iinfo(dtype.to_numpy())
    return int(info.min), int(info.max)


@dataclass(frozen=True)
class TensorType:
    """The type of one IR value: element type and shape (static ints or symbol names).

    Attributes:
        dtype: element type.
        shape: one entry per axis; an int >= 0, or a str naming a DimRange of the graph.
    """

    dtype: DType
    shape: tuple[Dim, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.dtype, DType):
            raise ModelError(f"expected a DType, got {self.dtype!r}")
        shape = tuple(self.shape)
        for d in shape:
            if (
                isinstance(d, bool)
                or not isinstance(d, (int, str))
                or (isinstance(d, int) and d < 0)
            ):
                raise ModelError(f"bad dimension {d!r} in shape {list(shape)}")
        object.__setattr__(self, "shape", shape)

    @property
    def rank(self) -> int:
        return len(self.shape)

    @property
    def is_static(self) -> bool:
        return all(isinstance(d, int) for d in self.shape)

    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(d for d in self.shape if isinstance(d, str))

    def concrete(self, sizes: Mapping[str, int]) -> tuple[int, ...]:
        """The static shape with each symbol replaced by ``sizes[symbol]``."""
        try:
            return tuple(dim_value(d, sizes) for d in self.shape)
        except KeyError as missing:
            raise ModelError(f"no size given for dimension {missing.args[0]}") from None

    def numel(self, sizes: Mapping[str, int] | None = None) -> int:
        """Number of elements; symbols take their size from ``sizes`` (default 1)."""
        return math.prod(dim_value(d, sizes or {}, default=1) for d in self.shape)

    def with_shape(self, shape: tuple[Dim, ...]) -> TensorType:
        return TensorType(self.dtype, tuple(shape))

    def with_dtype(self, dtype: DType) -> TensorType:
        return TensorType(dtype, self.shape)

    def format_shape(self) -> str:
        return "x".join(str(d) for d in self.shape) if self.shape else "scalar"

    def __str__(self) -> str:
        return f"{self.dtype.value}[{','.join(str(d) for d in self.shape)}]"


class Precision(enum.Enum):
    """A build precision: the dtype most layers compute in, and whether TF32 is allowed.

    ``fp32`` is exact float32 (TF32 off); ``tf32`` is float32 storage with TF32 tensor-core
    math allowed in convolutions and matrix multiplies; ``fp16``/``bf16`` compute in half
    precision with float32 graph inputs and outputs. ``int8``/``fp8`` quantize the inputs of
    convolutions and linear layers (explicit quantize/dequantize with calibrated scales, see
    ``trtdsl.passes.quantize``); every other layer computes in float16 (``dtype``), or in
    float32 when the quantization pass is asked for an fp32 fallback.
    """

    FP32 = "fp32"
    TF32 = "tf32"
    FP16 = "fp16"
    BF16 = "bf16"
    INT8 = "int8"
    FP8 = "fp8"

    @classmethod
    def parse(cls, name: object) -> Precision:
        """The Precision called ``name`` (``"fp16"``, ``"float16"``, a DType, ...)."""
        if isinstance(name, Precision):
            return name
        if isinstance(name, DType):
            name = {
                DType.FLOAT32: "fp32",
                DType.FLOAT16: "fp16",
                DType.BFLOAT16: "bf16",
                DType.FLOAT8_E4M3: "fp8",
            }.get(name, name.value)
        key = str(name).lower()
        key = {
            "float32": "fp32",
            "float16": "fp16",
            "half": "fp16",
            "bfloat16": "bf16",
            "float8_e4m3": "fp8",
        }.get(key, key)
        for member in cls:
            if member.value == key:
                return member
        raise UsageError(
            f"unknown precision {name!r}; expected one of {', '.join(m.value for m in cls)}"
        )

    @property
    def dtype(self) -> DType:
        """The compute dtype of layers without an override."""
        return {
            Precision.FP32: DType.FLOAT32,
            Precision.TF32: DType.FLOAT32,
            Precision.FP16: DType.FLOAT16,
            Precision.BF16: DType.BFLOAT16,
            Precision.INT8: DType.FLOAT16,
            Precision.FP8: DType.FLOAT16,
        }[self]

    @property
    def allows_tf32(self) -> bool:
        return self is Precision.TF32

    @property
    def quantized(self) -> DType | None:
        """The quantized type of ``int8``/``fp8`` (``INT8``, ``FLOAT8_E4M3``); None otherwise."""
        return {Precision.INT8: DType.INT8, Precision.FP8: DType.FLOAT8_E4M3}.get(self)


Shape = tuple[int, ...]


@dataclass(frozen=True)
class ShapeRange:
    """The min, opt and max shapes of one input in an optimization profile."""

    min: Shape
    opt: Shape
    max: Shape

    def __post_init__(self) -> None:
        shapes = (tuple(self.min), tuple(self.opt), tuple(self.max))
        if not len(shapes[0]) == len(shapes[1]) == len(shapes[2]):
            raise UsageError(f"min/opt/max shapes {list(shapes)} have different ranks")
        for lo, mid, hi in zip(*shapes, strict=True):
            if not 0 <= lo <= mid <= hi:
                raise UsageError(f"shapes {list(shapes)}: expected min <= opt <= max per axis")
        object.__setattr__(self, "min", shapes[0])
        object.__setattr__(self, "opt", shapes[1])
        object.__setattr__(self, "max", shapes[2])

    def format(self) -> str:
        return ":".join("x".join(map(str, s)) for s in (self.min, self.opt, self.max))

    @property
    def is_fixed(self) -> bool:
        """True when min = opt = max (one shape)."""
        return self.min == self.opt == self.max


def parse_shapes(specs: list[str] | tuple[str, ...]) -> dict[str, ShapeRange]:
    """Parse ``--shape`` items ``NAME=MIN:OPT:MAX`` (each ``AxBxC``) or ``NAME=SHAPE`` (a
    fixed shape: min = opt = max). The one parser of shapes on the command line.

    Example: ``x=1x3x224x224:8x3x224x224:32x3x224x224``.
    """
    result: dict[str, ShapeRange] = {}
    for spec in specs:
        name, sep, rest = spec.partition("=")
        parts = rest.split(":") if sep else []
        if not name or len(parts) not in (1, 3):
            raise UsageError(
                f"--shape {spec!r}: expected NAME=MINxCxHxW:OPTxCxHxW:MAXxCxHxW or NAME=SHAPE"
            )
        sizes = [re.split(r"[x,]", p) for p in parts]
        if not all(d.strip().isdigit() for dims in sizes for d in dims):
            raise UsageError(f"--shape {spec!r}: dimensions must be integers >= 0")
        shapes = [tuple(int(d) for d in dims) for dims in sizes]
        if len(shapes) == 1:
            shapes *= 3
        if name in result:
            raise UsageError(f"--shape: input {name!r} given twice")
        result[name] = ShapeRange(*shapes)
    return result

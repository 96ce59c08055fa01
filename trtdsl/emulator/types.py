"""Foundational emulated TensorRT types: Dims, Permutation, Weights, dtype mapping, errors."""

from __future__ import annotations

import ctypes
from collections.abc import Iterable
from typing import Any

import numpy as np

from trtdsl.emulator.enums import DataType
from trtdsl.errors import BackendError


class EmulatorError(BackendError):
    """An emulated TensorRT call failed where real TensorRT would also refuse it."""


class EmulatorTypeError(EmulatorError, TypeError):
    """A wrong Python type where TensorRT's pybind11 bindings raise TypeError."""


class EmulatorValueError(EmulatorError, ValueError):
    """A wrong value where TensorRT's bindings raise ValueError."""


class EmulatorRuntimeError(EmulatorError, RuntimeError):
    """A failure where TensorRT's bindings raise RuntimeError (e.g. profile ``set_shape``)."""


class EmulatorUnsupportedError(EmulatorError, NotImplementedError):
    """Valid TensorRT usage that the emulator does not implement (never a silent fallback)."""


_NUMPY_OF: dict[DataType, type] = {
    DataType.FLOAT: np.float32,
    DataType.HALF: np.float16,
    DataType.INT8: np.int8,
    DataType.INT32: np.int32,
    DataType.INT64: np.int64,
    DataType.BOOL: np.bool_,
    DataType.UINT8: np.uint8,
}
_DATATYPE_OF = {np.dtype(v): k for k, v in _NUMPY_OF.items()}
_ITEMSIZE: dict[DataType, float] = {
    DataType.FLOAT: 4,
    DataType.HALF: 2,
    DataType.BF16: 2,
    DataType.INT8: 1,
    DataType.INT32: 4,
    DataType.INT64: 8,
    DataType.BOOL: 1,
    DataType.UINT8: 1,
    DataType.FP8: 1,
    DataType.INT4: 0.5,
    DataType.FP4: 0.5,
}


def nptype(trt_type: DataType) -> type:
    """The NumPy type of a DataType; TypeError for bf16/fp8/int4/fp4/e8m0 (as ``trt.nptype``)."""
    if trt_type in _NUMPY_OF:
        return _NUMPY_OF[trt_type]
    raise TypeError("Could not resolve TensorRT datatype to an equivalent numpy datatype.")


def datatype_of(dtype: Any) -> DataType:
    """The DataType of a NumPy dtype; ValueError like TensorRT's implicit Weights conversion."""
    try:
        return _DATATYPE_OF[np.dtype(dtype)]
    except (KeyError, TypeError):
        raise EmulatorValueError(
            f"Could not implicitly convert NumPy data type: {np.dtype(dtype)} to TensorRT."
        ) from None


def volume(iterable: Iterable[int]) -> int:
    """The product of a shape's dimensions (1 for an empty shape), as ``trt.volume``."""
    vol = 1
    for elem in iterable:
        vol *= elem
    return vol


def bf16_to_float32(bits: np.ndarray) -> np.ndarray:
    """float32 values of bfloat16 bit patterns (uint16)."""
    return (np.asarray(bits, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)


def float32_to_bf16(x: np.ndarray) -> np.ndarray:
    """bfloat16 bit patterns (uint16) of float32 values, rounding to nearest even."""
    bits = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32)
    rounded = bits + np.uint32(0x7FFF) + ((bits >> 16) & np.uint32(1))
    out = (rounded >> 16).astype(np.uint16)
    nan = np.isnan(np.asarray(x, dtype=np.float32))
    result: np.ndarray = np.where(nan, np.uint16(0x7FC0), out)
    return result


def round_to_bf16(x: np.ndarray) -> np.ndarray:
    """float32 array holding the nearest bfloat16 values (how the emulator stores BF16)."""
    return bf16_to_float32(float32_to_bf16(x))


def round_to_tf32(x: np.ndarray) -> np.ndarray:
    """float32 values rounded to TF32's 10 mantissa bits (nearest, ties to even; inf and NaN
    kept): what a TF32 tensor core multiplies when BuilderFlag.TF32 lets TensorRT use it."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    bits = x.view(np.uint32)
    rounded = (bits + np.uint32(0xFFF) + ((bits >> np.uint32(13)) & np.uint32(1))) & np.uint32(
        0xFFFFE000
    )
    out: np.ndarray = np.where(np.isfinite(x), rounded.view(np.float32), x)
    return out


def compute_dtype(dtype: DataType) -> np.dtype:
    """The NumPy dtype the emulator uses for a tensor of ``dtype`` (BF16 and FP8 as float32
    values on their grids; FP8 tensors come only from quantize layers)."""
    if dtype in (DataType.BF16, DataType.FP8):
        return np.dtype(np.float32)
    try:
        return np.dtype(nptype(dtype))
    except TypeError:
        raise EmulatorUnsupportedError(f"the emulator cannot compute with {dtype}") from None


DataType.itemsize = property(lambda self: _ITEMSIZE.get(self))  # type: ignore[attr-defined]


def _int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise EmulatorTypeError(f"{what}: expected an int, got {type(value).__name__} {value!r}")
    return int(value)


class Dims(tuple):  # type: ignore[type-arg]
    """A shape (TensorRT ``Dims64``): a tuple of ints, at most ``MAX_DIMS`` long; -1 is dynamic."""

    MAX_DIMS = 8

    def __new__(cls, shape: Iterable[int] = ()) -> Dims:
        if isinstance(shape, int | np.integer):
            raise EmulatorTypeError(f"Dims: expected a sequence of ints, got int {shape}")
        values = tuple(_int(v, "Dims") for v in shape)
        if len(values) > cls.MAX_DIMS:
            raise EmulatorValueError(f"Dims: at most {cls.MAX_DIMS} dimensions, got {len(values)}")
        return super().__new__(cls, values)

    def __repr__(self) -> str:
        return f"({', '.join(str(v) for v in self)})" if len(self) != 1 else f"({self[0]},)"


class Permutation(tuple):  # type: ignore[type-arg]
    """A dimension order for shuffle transposes; identity by default."""

    def __new__(cls, order: Iterable[int] = tuple(range(Dims.MAX_DIMS))) -> Permutation:
        values = tuple(_int(v, "Permutation") for v in order)
        if len(values) > Dims.MAX_DIMS:
            raise EmulatorValueError(f"Permutation: at most {Dims.MAX_DIMS} entries")
        return super().__new__(cls, values)


_WEIGHT_DTYPES = {np.dtype(t) for t in ("f4", "f2", "i8", "i4", "i1", "b1", "u1")}


class Weights:
    """Weights held by reference (no copy, as in TensorRT) until the plan is built.

    ``Weights(type=DataType.FLOAT)`` is empty; ``Weights(a)`` wraps a C-contiguous NumPy array
    (zero-copy); ``Weights(type, ptr, count)`` wraps ``count`` elements at a host pointer.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._array: np.ndarray
        if len(args) + len(kwargs) == 1 and isinstance(
            (args or tuple(kwargs.values()))[0], np.ndarray
        ):
            (a,) = args or (kwargs.pop("a"),)
            if kwargs:
                raise EmulatorTypeError(f"Weights: unexpected arguments {sorted(kwargs)}")
            self._set_array(a)
            return
        names = ("type", "ptr", "count")
        values = dict(zip(names, args, strict=False))
        for key, value in kwargs.items():
            if key not in names or key in values:
                raise EmulatorTypeError(f"Weights(): incompatible argument {key!r}")
            values[key] = value
        dtype = values.get("type", DataType.FLOAT)
        if not isinstance(dtype, DataType):
            raise EmulatorTypeError(f"Weights: type must be a DataType, got {dtype!r}")
        self._dtype = dtype
        if "ptr" not in values:
            self._array = np.zeros(0, dtype=_NUMPY_OF.get(dtype, np.uint8))
            self._count = 0
            return
        ptr, count = _int(values["ptr"], "Weights.ptr"), _int(values.get("count"), "Weights.count")
        nbytes = int(np.ceil(count * _ITEMSIZE.get(dtype, 1)))
        data = (
            np.frombuffer((ctypes.c_ubyte * nbytes).from_address(ptr), dtype=np.uint8)  # type: ignore[call-overload]
            if nbytes
            else np.zeros(0, np.uint8)
        )
        self._array = data.view(_NUMPY_OF[dtype]) if dtype in _NUMPY_OF else data
        self._count = count

    def _set_array(self, a: np.ndarray) -> None:
        if not a.flags["C_CONTIGUOUS"]:
            raise EmulatorValueError(
                "Weights: the array must be C-contiguous; use np.ascontiguousarray(a)"
            )
        if a.dtype not in _WEIGHT_DTYPES:
            raise EmulatorValueError(
                f"Could not implicitly convert NumPy data type: {a.dtype} to TensorRT."
            )
        self._array, self._dtype, self._count = a, datatype_of(a.dtype), int(a.size)

    @property
    def dtype(self) -> DataType:
        """The DataType of the elements."""
        return self._dtype

    @property
    def size(self) -> int:
        """The number of elements."""
        return self._count

    @property
    def nbytes(self) -> int:
        """The number of bytes."""
        return int(np.ceil(self._count * _ITEMSIZE.get(self._dtype, 1)))

    def numpy(self) -> np.ndarray:
        """A flat NumPy view of the elements (raw bytes for types without a NumPy dtype)."""
        return self._array.reshape(-1)

    def __len__(self) -> int:
        return self._count


def weights_array(weights: Weights) -> np.ndarray:
    """Flat values of Weights in their compute dtype (BF16 decoded to float32 values)."""
    if weights.dtype == DataType.BF16:
        return bf16_to_float32(weights.numpy().view(np.uint16)[: weights.size])
    return weights.numpy().view(compute_dtype(weights.dtype))


def to_weights(value: Any, what: str, empty_type: DataType = DataType.FLOAT) -> Weights:
    """Accept Weights, a NumPy array (implicit conversion) or None (empty weights)."""
    if value is None:
        return Weights(empty_type)
    if isinstance(value, Weights):
        return value
    if isinstance(value, np.ndarray):
        return Weights(value)
    raise EmulatorTypeError(
        f"{what}: expected Weights or a numpy array, got {type(value).__name__}"
    )


def to_dims(value: Any, what: str) -> Dims:
    """Accept Dims, a tuple or a list of ints."""
    if isinstance(value, Dims):
        return value
    if isinstance(value, tuple | list):
        return Dims(value)
    raise EmulatorTypeError(f"{what}: expected Dims, a tuple or a list, got {type(value).__name__}")


def check_type(value: Any, cls: type | tuple[type, ...], what: str) -> Any:
    """TypeError unless ``value`` is an instance of ``cls`` (pybind11's argument check)."""
    if isinstance(value, bool) and cls in (int, float):
        raise EmulatorTypeError(f"{what}: expected {cls.__name__}, got bool")
    if cls is float and isinstance(value, int | np.integer | np.floating):
        return float(value)
    if not isinstance(value, cls):
        names = cls.__name__ if isinstance(cls, type) else "/".join(c.__name__ for c in cls)
        raise EmulatorTypeError(f"{what}: expected {names}, got {type(value).__name__} {value!r}")
    return value


class IHostMemory(bytes):
    """A serialized plan: bytes (buffer protocol, ``bytes(plan)``) with ``nbytes`` and ``dtype``."""

    @property
    def nbytes(self) -> int:
        """Size in bytes."""
        return len(self)

    @property
    def dtype(self) -> DataType:
        """Always UINT8."""
        return DataType.UINT8

    def __repr__(self) -> str:
        return f"<emulated IHostMemory: {len(self)} bytes of an EMULATED plan>"

"""The JSON description inside an emulated plan, as typed records (``trtdsl.files.schema``),
and PlanError, the one error a plan's bytes can cause.

``plan.load_plan`` parses the description once into these frozen records, every field
checked (type, bounds, I/O profiles); layer properties are then decoded against each layer
class's field table (``layers/fields.py``) and the whole network against its wiring.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from trtdsl.emulator.enums import DataType, ProfilingVerbosity
from trtdsl.emulator.types import Dims
from trtdsl.files import Bounds

MAGIC = b"TRTDSL-EMULATED-PLAN v1 (CPU emulator of TensorRT 11.4; NOT a TensorRT engine)\n"
"""The first bytes of every emulated plan (then a u64 little-endian JSON length, the JSON
description in UTF-8 and an ``.npz`` of the weights)."""

EMULATED_VERSION = "11.4.0-emulated"

MAX_DIM = 2**31 - 1
"""The largest dimension a plan may declare or infer (and the largest tensor id)."""

MAX_PROFILES = 256
"""The most optimization profiles a plan may hold (each is inferred at three corners)."""

MAX_COUNT = 2**62
"""The largest weights count (the archive must hold that many values anyway)."""


def _check_range(values: tuple[int, ...], low: int, what: str) -> None:
    """Each of ``values`` in ``low..MAX_DIM`` (checked here rather than per element by the
    schema: plans of large networks hold many of these lists)."""
    for index, value in enumerate(values):
        if not low <= value <= MAX_DIM:
            raise ValueError(f"{what}[{index}]: {value} is outside {low}..{MAX_DIM}")


class PlanError(Exception):
    """The network cannot be built, or bytes are not an emulated plan (or a damaged one)."""


def _check_dtype(name: str, what: str) -> None:
    if name not in DataType.__members__:
        raise ValueError(f"{what} {name!r} is not a DataType")


def _check_rank(shape: tuple[int, ...], what: str) -> None:
    if len(shape) > Dims.MAX_DIMS:
        raise ValueError(f"{what} has {len(shape)} dimensions; at most {Dims.MAX_DIMS}")


@dataclass(frozen=True)
class WeightsRecord:
    """One weights buffer of a layer: its array in the archive, type, count and refit name."""

    key: str
    dtype: str
    count: Annotated[int, Bounds(0, MAX_COUNT)]
    name: str | None = None

    def __post_init__(self) -> None:
        _check_dtype(self.dtype, "dtype")


@dataclass(frozen=True)
class LayerRecord:
    """One layer: class, name, tensor ids, output names and build-time types, properties
    (``p``, checked against the class's field table by the loader) and weights (``w``)."""

    class_name: str = field(metadata={"json": "class"})
    name: str
    metadata: str
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    outputs_names: tuple[str, ...]
    outputs_types: tuple[tuple[tuple[int, ...], str], ...]
    p: dict[str, Any]
    w: dict[str, WeightsRecord]

    def __post_init__(self) -> None:
        _check_range(self.inputs, 0, "inputs")
        _check_range(self.outputs, 0, "outputs")
        if not len(self.outputs) == len(self.outputs_names) == len(self.outputs_types):
            raise ValueError(
                f"{len(self.outputs)} outputs, {len(self.outputs_names)} outputs_names and "
                f"{len(self.outputs_types)} outputs_types"
            )
        for index, (shape, dtype) in enumerate(self.outputs_types):
            _check_rank(shape, f"outputs_types[{index}]")
            _check_range(shape, -1, f"outputs_types[{index}][0]")
            _check_dtype(dtype, f"outputs_types[{index}]")


@dataclass(frozen=True)
class IORecord:
    """One engine I/O tensor: build-time shape (-1 dynamic) and, for an input, one
    (min, opt, max) per optimization profile."""

    name: str
    id: Annotated[int, Bounds(0, MAX_DIM)]
    input: bool
    dtype: str
    shape: tuple[int, ...]
    profiles: tuple[tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]], ...]

    def __post_init__(self) -> None:
        _check_dtype(self.dtype, "dtype")
        _check_rank(self.shape, "shape")
        _check_range(self.shape, -1, "shape")
        if not self.input and self.profiles:
            raise ValueError("an output has no profiles")
        for index, corners in enumerate(self.profiles):
            where = f"profiles[{index}]"
            for corner, dims in zip(("min", "opt", "max"), corners, strict=True):
                _check_range(dims, 0, f"{where}: {corner}")
                if len(dims) != len(self.shape):
                    raise ValueError(
                        f"{where}: {corner} {list(dims)} does not have the rank of the shape "
                        f"{list(self.shape)}"
                    )
            for axis, (low, opt, high, dim) in enumerate(zip(*corners, self.shape, strict=True)):
                if dim != -1 and not low == opt == high == dim:
                    raise ValueError(
                        f"{where}: dimension {axis} is {dim} in the shape, "
                        f"{low}..{high} in the profile"
                    )
                if low > opt:
                    raise ValueError(f"{where}: min {low} > opt {opt} (dimension {axis})")
                if opt > high:
                    raise ValueError(f"{where}: opt {opt} > max {high} (dimension {axis})")


@dataclass(frozen=True)
class PlanDescription:
    """The whole description: the network (I/O tensors, layers in execution order) and how
    it was built."""

    emulated: Literal[True]
    version: str
    name: str
    io: tuple[IORecord, ...]
    layers: tuple[LayerRecord, ...]
    num_profiles: Annotated[int, Bounds(1, MAX_PROFILES)]
    profiling_verbosity: str
    refittable: bool
    tf32: bool

    def __post_init__(self) -> None:
        if self.profiling_verbosity not in ProfilingVerbosity.__members__:
            raise ValueError(
                f"profiling_verbosity {self.profiling_verbosity!r} is not a ProfilingVerbosity"
            )
        for index, tensor in enumerate(self.io):
            if tensor.input and len(tensor.profiles) != self.num_profiles:
                raise ValueError(
                    f"io[{index}] ({tensor.name!r}) has {len(tensor.profiles)} profiles; "
                    f"num_profiles is {self.num_profiles}"
                )

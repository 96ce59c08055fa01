"""Reading an emulated plan's parts, trusting none of them: the header and JSON description
(into ``plan_schema`` records), the weights archive (header first, each array checked against
its declared type and count before it is read), each layer (its class from the emulator's own
table, its properties through the class's field table) and the wiring of the whole network.
Every problem is one PlanError naming the field, layer, weights or tensor.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from collections.abc import Callable, Mapping, Sequence
from functools import cache
from typing import Any

import numpy as np

from trtdsl.emulator.enums import DataType
from trtdsl.emulator.layers.base import LAYER_CLASSES, ILayer
from trtdsl.emulator.layers.fields import FieldError, plan_fields, plan_weights
from trtdsl.emulator.layers.loop import IRecurrenceLayer
from trtdsl.emulator.loops import find_loops
from trtdsl.emulator.plan_schema import (
    EMULATED_VERSION,
    MAGIC,
    LayerRecord,
    PlanDescription,
    PlanError,
    WeightsRecord,
)
from trtdsl.emulator.types import EmulatorError, Weights, nptype
from trtdsl.errors import FileFormatError, ResourceLimitError
from trtdsl.files import ArrayHeader, NpzArchive, parse_json, parse_record

LENGTH = struct.Struct("<Q")
"""The JSON description's length, after ``MAGIC``."""

PlanLayer = tuple[ILayer, tuple[int, ...], tuple[int, ...]]
"""A layer with the ids of its input and output tensors."""

_ARCHIVE = "the plan's weights archive"


def is_emulated_plan(data: bytes) -> bool:
    """Whether ``data`` starts with the emulated-plan header."""
    return bytes(data[: len(MAGIC)]) == MAGIC


def read_description(blob: bytes) -> tuple[PlanDescription, int]:
    """The validated description, and where the weights archive starts."""
    if not is_emulated_plan(blob):
        raise PlanError(
            "not an emulated plan (the trtdsl emulator cannot run real TensorRT engines, "
            "and TensorRT cannot run emulated plans)"
        )
    start = len(MAGIC) + LENGTH.size
    if len(blob) < start:
        raise PlanError(
            f"truncated: the plan ends inside its header ({len(blob)} bytes, at least "
            f"{start} expected)"
        )
    (length,) = LENGTH.unpack_from(blob, len(MAGIC))
    if length > len(blob) - start:
        raise PlanError(
            f"truncated: the header says {length} bytes of JSON, the plan holds "
            f"{len(blob) - start} after its header"
        )
    try:
        text = blob[start : start + length].decode("utf-8")
    except UnicodeDecodeError as error:
        raise PlanError(
            f"the plan's description is not UTF-8 ({error.reason} at byte {error.start})"
        ) from None
    where = "the plan's description"
    try:
        description = parse_record(PlanDescription, parse_json(text, where), where)
    except FileFormatError as error:
        raise PlanError(str(error)) from None
    if description.version != EMULATED_VERSION:
        raise PlanError(
            f"the plan was written by emulator version {description.version!r}; this one "
            f"reads {EMULATED_VERSION!r} (rebuild the engine)"
        )
    return description, start + length


def _where(index: int, record: LayerRecord) -> str:
    return f"layer {index} ({record.name!r})"


@cache
def _plan_layer_classes() -> dict[str, type[ILayer]]:
    """The layer classes a plan may name: the emulator's concrete layers (its own modules;
    not the abstract bases, nor subclasses defined elsewhere)."""
    return {
        name: cls
        for name, cls in LAYER_CLASSES.items()
        if "_TYPE" in vars(cls) and cls.__module__.startswith("trtdsl.emulator.layers.")
    }


def _expected_array(where: str, w: WeightsRecord) -> tuple[np.dtype, int]:
    """The dtype and length of the flat array that holds ``w`` in the archive."""
    dtype = DataType[w.dtype]
    if dtype == DataType.BF16:
        return np.dtype(np.uint8), 2 * w.count  # bfloat16 bit patterns, as raw bytes
    try:
        return np.dtype(nptype(dtype)), w.count
    except TypeError:
        if w.count:
            raise PlanError(f"{where}: the emulator computes no {dtype.name} weights") from None
        return np.dtype(np.uint8), 0


class _View(io.RawIOBase):
    """A read-only stream over bytes already in memory (no copy of a large archive)."""

    def __init__(self, data: memoryview) -> None:
        super().__init__()
        self._data = data
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: len(self._data)}
        self._position = max(0, base[whence] + offset)
        return self._position

    def readinto(self, buffer: Any) -> int:
        target = memoryview(buffer).cast("B")
        count = max(0, min(len(target), len(self._data) - self._position))
        target[:count] = self._data[self._position : self._position + count]
        self._position += count
        return count


def read_weights(description: PlanDescription, archive: memoryview) -> dict[str, np.ndarray]:
    """Every weights array the layers name, each checked (dtype, count) before it is read."""
    wanted: dict[str, tuple[str, np.dtype, int]] = {}
    for index, record in enumerate(description.layers):
        for role, w in record.w.items():
            where = f"{_where(index, record)}: weights {role!r}"
            if w.key in wanted:
                raise PlanError(f"{where}: {w.key!r} is also the weights of {wanted[w.key][0]}")
            wanted[w.key] = (where, *_expected_array(where, w))

    def check(key: str) -> Callable[[ArrayHeader], None]:
        where, dtype, count = wanted[key]

        def check_header(header: ArrayHeader) -> None:
            if header.dtype != dtype or header.shape != (count,):
                raise PlanError(
                    f"{where}: the archive holds {header.format_shape()} {header.dtype} "
                    f"values as {key!r}, expected {count} {dtype}"
                )
            if header.nbytes > len(archive):
                raise PlanError(f"{where}: {key!r} is larger than the archive that holds it")

        return check_header

    arrays = {}
    try:
        with NpzArchive(io.BufferedReader(_View(archive)), _ARCHIVE) as npz:
            for name in npz.names:
                if name not in wanted:
                    raise PlanError(f"{_ARCHIVE} holds {name!r}, which no layer uses")
            for key, (where, _, _) in wanted.items():
                if key not in npz:
                    raise PlanError(f"{where}: {key!r} is missing from the archive")
                arrays[key] = npz.read(key, check(key))
    except (FileFormatError, ResourceLimitError) as error:
        raise PlanError(str(error)) from None
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, struct.error) as error:
        raise PlanError(f"{_ARCHIVE} is damaged ({type(error).__name__}: {error})") from None
    return arrays


def _decode_properties(cls: type[ILayer], p: Mapping[str, Any], where: str) -> dict[str, Any]:
    """``p`` decoded through ``cls``'s field table: every key known, present and valid."""
    fields = plan_fields(cls)
    for key in p:
        if key not in fields:
            known = ", ".join(repr(k) for k in fields) or "none"
            raise PlanError(f"{where}: unknown property {key!r} (a {cls.__name__} has {known})")
    for key in fields:
        if key not in p:
            raise PlanError(f"{where}: property {key!r} is missing")
    values = {}
    for key, data in p.items():
        try:
            values[key] = fields[key].decode(data)
        except (FieldError, EmulatorError) as error:
            raise PlanError(f"{where}: property {key!r}: {error}") from None
    try:
        cls._check_properties(values)
    except FieldError as error:
        raise PlanError(f"{where}: {error}") from None
    return values


def make_layer(
    index: int, record: LayerRecord, arrays: Mapping[str, np.ndarray], tf32: bool
) -> PlanLayer:
    """Layer ``index`` of a plan, from its record and the weights arrays (``read_weights``)."""
    where = _where(index, record)
    cls = _plan_layer_classes().get(record.class_name)
    if cls is None:
        raise PlanError(f"{where}: {record.class_name!r} is not a layer class of the emulator")
    low, high = cls._MIN_INPUTS, cls._MAX_INPUTS
    if not low <= len(record.inputs) <= high:
        takes = f"{low}" if low == high else f"{low} to {high}"
        raise PlanError(f"{where}: {len(record.inputs)} inputs; a {cls.__name__} takes {takes}")
    if len(record.outputs) != cls._NUM_OUTPUTS:
        raise PlanError(
            f"{where}: {len(record.outputs)} outputs; a {cls.__name__} has {cls._NUM_OUTPUTS}"
        )
    roles = plan_weights(cls)
    for role in record.w:
        if role not in roles:
            raise PlanError(f"{where}: a {cls.__name__} has no weights {role!r}")
    missing = sorted(roles - record.w.keys())
    if missing:
        raise PlanError(f"{where}: weights {missing[0]!r} are missing")
    layer = cls.__new__(cls)
    layer._network = None
    layer._index = index
    layer._name, layer._metadata = record.name, record.metadata
    layer._p = _decode_properties(cls, record.p, where)
    layer._tf32 = tf32
    layer._w = {}
    for role, w in record.w.items():
        dtype, array = DataType[w.dtype], arrays[w.key]
        weights = Weights(array) if array.size else Weights(dtype)
        weights._dtype, weights._count = dtype, w.count
        layer._w[role] = weights
    return layer, record.inputs, record.outputs


def check_wiring(description: PlanDescription, layers: Sequence[PlanLayer]) -> None:
    """Every tensor computed once, before it is read; I/O tensors and loops consistent."""
    io_tensors = description.io
    types = {
        tensor_id: (shape, dtype)
        for record in description.layers
        for tensor_id, (shape, dtype) in zip(record.outputs, record.outputs_types, strict=True)
    }
    seen_names: dict[str, int] = {}
    seen_ids: dict[int, int] = {}
    for index, tensor in enumerate(io_tensors):
        where = f"io[{index}] ({tensor.name!r})"
        if tensor.name in seen_names:
            raise PlanError(f"{where}: io[{seen_names[tensor.name]}] has the same name")
        if tensor.id in seen_ids:
            raise PlanError(f"{where}: io[{seen_ids[tensor.id]}] is the same tensor")
        seen_names[tensor.name], seen_ids[tensor.id] = index, index
    inputs = {t.id for t in io_tensors if t.input}
    producer: dict[int, int] = {}
    for index, (_, ins, outs) in enumerate(layers):
        where = _where(index, description.layers[index])
        for position, tensor_id in enumerate(ins):
            if tensor_id not in inputs and tensor_id not in producer:
                raise PlanError(
                    f"{where}: input {position} is tensor {tensor_id}, which is neither a "
                    "network input nor an output of an earlier layer"
                )
        for tensor_id in outs:
            if tensor_id in inputs or tensor_id in producer:
                origin = (
                    "a network input"
                    if tensor_id in inputs
                    else f"an output of layer {producer[tensor_id]}"
                )
                raise PlanError(f"{where}: its output tensor {tensor_id} is already {origin}")
            producer[tensor_id] = index
    for index, (layer, _, _) in enumerate(layers):
        if isinstance(layer, IRecurrenceLayer):
            next_id = layer._p["next"]
            if next_id not in inputs and next_id not in producer:
                raise PlanError(
                    f"{_where(index, description.layers[index])}: the next value is "
                    f"tensor {next_id}, which no layer computes"
                )
    outputs = [(i, t) for i, t in enumerate(io_tensors) if not t.input]
    if not outputs:
        raise PlanError("the plan has no outputs")
    for index, tensor in outputs:
        where = f"io[{index}] ({tensor.name!r})"
        if tensor.id not in producer:
            raise PlanError(f"{where}: output tensor {tensor.id} is computed by no layer")
        if types[tensor.id] != (tensor.shape, tensor.dtype):
            shape, dtype = types[tensor.id]
            raise PlanError(
                f"{where}: declared {list(tensor.shape)} {tensor.dtype}, but its layer "
                f"outputs {list(shape)} {dtype}"
            )
    types.update({t.id: (t.shape, t.dtype) for t in io_tensors})
    loop_types = {k: (s, DataType[d]) for k, (s, d) in types.items()}
    loops = find_loops(layers, loop_types)
    if loops.problems:
        raise PlanError("; ".join(f"layer {problem}" for problem in loops.problems))
    for index, tensor in outputs:
        if tensor.id in loops.tensor_loop:
            raise PlanError(f"io[{index}] ({tensor.name!r}): an output computed inside a loop")

"""The engine sidecar ``ENGINE.json``: what built an engine, for which GPUs, from what, and how
it checked. One typed record, written by ``compile``, ``refit`` and ``export --triton`` and
read by ``run``, ``inspect``, ``bench``, ``refit`` and ``Engine.load``.

A sidecar is data about one engine: it records the engine's sha256, and every reader
compares it with the engine's bytes before believing anything else in it. Nothing in it
names code to import: ``model.spec`` is shown and, when it is a zoo name, offered as
``refit``'s default model; a path in it is never loaded.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from trtdsl.errors import TrtdslError
from trtdsl.files import Bounds, parse_record, read_json, record_to_json
from trtdsl.ir.types import ShapeRange, ValueRange, parse_shapes

Dim = Annotated[int, Bounds(-1, 2**31 - 1)]
"""A tensor dimension in a sidecar: -1 where dynamic."""

BACKENDS = ("tensorrt", "tensorrt-rtx", "emulated")
"""What a sidecar's ``backend`` may be (the product that built the engine)."""

Size = Annotated[int, Bounds(1, 2**31 - 1)]
"""A concrete dimension of an optimization profile."""

_SHA256 = re.compile(r"[0-9a-f]{64}")


def _check_digest(value: str | None, what: str) -> None:
    if value is not None and not _SHA256.fullmatch(value):
        raise ValueError(f"{what}: expected a sha256 hex digest, got {value[:80]!r}")


@dataclass(frozen=True)
class ProfileRecord:
    """An input's optimization profile: ``min``, ``opt`` and ``max`` shapes."""

    min: tuple[Size, ...]
    opt: tuple[Size, ...]
    max: tuple[Size, ...]

    def __post_init__(self) -> None:
        if not len(self.min) == len(self.opt) == len(self.max):
            raise ValueError("profile: min, opt and max have different ranks")
        for lo, mid, hi in zip(self.min, self.opt, self.max, strict=True):
            if not lo <= mid <= hi:
                raise ValueError(f"profile: expected min <= opt <= max, got {lo}, {mid}, {hi}")

    def shape_range(self) -> ShapeRange:
        return ShapeRange(self.min, self.opt, self.max)


@dataclass(frozen=True)
class IOTensorRecord:
    """One engine input or output: name, TensorRT dtype name, shape (-1 dynamic), profile."""

    name: str
    dtype: str
    shape: tuple[Dim, ...]
    profile: ProfileRecord | None = None
    range: tuple[int, int] | None = None
    """An integer input's declared values ``[low, high]`` (token ids, masks)."""

    def __post_init__(self) -> None:
        if self.profile is not None and len(self.profile.min) != len(self.shape):
            raise ValueError(f"{self.name}: the profile's rank differs from the shape's")
        if self.range is not None and self.range[0] > self.range[1]:
            raise ValueError(f"{self.name}: range {list(self.range)} has low > high")


@dataclass(frozen=True)
class IORecord:
    """The engine's I/O tensors."""

    inputs: tuple[IOTensorRecord, ...]
    outputs: tuple[IOTensorRecord, ...]


@dataclass(frozen=True)
class ModelRecord:
    """The model an engine was built from: its name, the spec given on the command line
    (a file or a zoo name: informational; see the module docstring), digests."""

    name: str
    spec: str
    graph_sha256: str
    file_sha256: str | None = None

    def __post_init__(self) -> None:
        _check_digest(self.graph_sha256, "graph_sha256")
        _check_digest(self.file_sha256, "file_sha256")


@dataclass(frozen=True)
class WeightsRecord:
    """The weights an engine holds: where they came from, and their digest."""

    source: str
    sha256: str

    def __post_init__(self) -> None:
        _check_digest(self.sha256, "sha256")


@dataclass(frozen=True)
class OptionsRecord:
    """The build options (``BuildConfig.to_dict``)."""

    precision: Literal["fp32", "tf32", "fp16", "bf16", "int8", "fp8"]
    tf32: bool = False
    keep_fp32: tuple[str, ...] = ()
    workspace: Annotated[int, Bounds(0, 2**62)] | None = None
    shapes: dict[str, str] = field(default_factory=dict)
    optimization_level: Annotated[int, Bounds(0, 5)] | None = None
    timing_cache: str | None = None
    detailed_profiling: bool = True
    refittable: bool = False
    compute_capabilities: tuple[Annotated[int, Bounds(10, 999)], ...] = ()
    calibration: str | None = None
    keep_fp16: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        self.profile_shapes()  # a shape that does not parse is refused when read

    def profile_shapes(self) -> dict[str, ShapeRange]:
        """``shapes`` parsed (ValueError naming the entry when one does not parse)."""
        try:
            return parse_shapes([f"{name}={text}" for name, text in self.shapes.items()])
        except TrtdslError as e:
            raise ValueError(f"shapes: {e}") from None


@dataclass(frozen=True)
class RefitRecord:
    """Where a refitted engine came from."""

    source: str = field(metadata={"json": "from"})
    from_engine_sha256: str
    weights: tuple[str, ...]

    def __post_init__(self) -> None:
        _check_digest(self.from_engine_sha256, "from_engine_sha256")


@dataclass(frozen=True)
class CacheRecord:
    """The engine cache entry an engine came from (``--cache``)."""

    dir: str
    key: str
    hit: bool


@dataclass(frozen=True)
class CustomOpRecord:
    """A custom op the engine needs (``trtdsl.custom_op``): its name, lowering, the sha256 of
    its source, and the file that defined it at build time (shown in messages, never loaded:
    ``--ops FILE.py`` on the command line registers ops)."""

    name: str
    lowering: Literal["composed", "plugin"]
    sha256: str
    file: str = ""

    def __post_init__(self) -> None:
        _check_digest(self.sha256, f"custom op {self.name!r}: sha256")


def custom_op_records(ops: Any) -> tuple[CustomOpRecord, ...]:
    """Records of the custom op classes among ``ops`` (op instances), by name."""
    from trtdsl.ir.ops.custom import CustomOp

    classes = {type(op).op_name: type(op) for op in ops if isinstance(op, CustomOp)}
    return tuple(
        CustomOpRecord(name, cls.lowering, cls.source_sha256, cls.source_file)  # type: ignore[arg-type]
        for name, cls in sorted(classes.items())
    )


def check_custom_ops(sidecar: EngineSidecar, engine: str) -> None:
    """UsageError naming the first plugin op the engine needs that is not registered, or is
    registered from other source, and the ``--ops FILE.py`` that provides it. A composed op
    is plain TensorRT layers in the plan: running or inspecting its engine needs nothing (a
    command that rebuilds the graph, as refit does, needs the op to load the model). The
    records are only compared with registered ops: nothing in them is imported."""
    from trtdsl.errors import UsageError
    from trtdsl.ir.ops.custom import user_ops

    registered = user_ops()
    for record in sidecar.custom_ops:
        if record.lowering != "plugin":
            continue
        where = f" (built from {record.file})" if record.file else ""
        cls = registered.get(record.name)
        if cls is None:
            raise UsageError(
                f"{engine}: the engine needs custom op {record.name!r} ({record.lowering}), which "
                f"is not registered: pass --ops FILE.py, the file that defines it{where}"
            )
        if cls.source_sha256 != record.sha256:
            raise UsageError(
                f"{engine}: custom op {record.name!r} is registered from "
                f"{cls.source_file or 'a file'} with other source than the engine was built "
                f"with (sha256 {record.sha256[:12]}...{where}): pass that file with --ops, or "
                "rebuild the engine"
            )


@dataclass(frozen=True)
class EngineSidecar:
    """An engine's sidecar (see the module docstring).

    Attributes:
        product, version, backend: what built it (``backend``: tensorrt or tensorrt-rtx).
        compute_capabilities, targets: TensorRT-RTX's ahead-of-time targets, and in words.
        engine_sha256, engine_bytes: the engine this sidecar belongs to.
        check: the build-time numeric check as ``compile`` reported it (shown, never used to
            decide anything).
    """

    trtdsl: str
    product: str
    version: str
    backend: str
    targets: str
    precision: Literal["fp32", "tf32", "fp16", "bf16", "int8", "fp8"]
    model: ModelRecord
    weights: WeightsRecord
    options: OptionsRecord
    io: IORecord
    engine_bytes: Annotated[int, Bounds(0, 2**62)]
    engine_sha256: str
    compute_capabilities: tuple[Annotated[int, Bounds(10, 999)], ...] | None = None
    build_machine_gpu: str | None = None
    layers: tuple[str, ...] = ()
    builder_layer_information: tuple[str, ...] = ()
    build_seconds: Annotated[float, Bounds(0, 1e9)] = 0.0
    notes: tuple[str, ...] = ()
    check: Any = None
    cache: CacheRecord | None = None
    refit: RefitRecord | None = None
    custom_ops: tuple[CustomOpRecord, ...] = ()
    """The custom ops the engine needs (absent in sidecars written before trtdsl had them)."""

    def __post_init__(self) -> None:
        _check_digest(self.engine_sha256, "engine_sha256")
        if self.backend not in BACKENDS:
            raise ValueError(
                f"backend: expected one of {', '.join(BACKENDS)}, got {self.backend!r}"
            )

    def input_ranges(self) -> dict[str, ValueRange]:
        """The declared value ranges of the engine's integer inputs, by name."""
        return {t.name: ValueRange(*t.range) for t in self.io.inputs if t.range is not None}

    def to_json(self) -> bytes:
        """The sidecar file's bytes (indented JSON)."""
        return (json.dumps(record_to_json(self), indent=2) + "\n").encode()


def sidecar_path(engine: str | os.PathLike[str]) -> str:
    """``ENGINE.json``: where an engine's sidecar lives."""
    return f"{os.fspath(engine)}.json"


def read_sidecar(engine: str | os.PathLike[str]) -> EngineSidecar | None:
    """The sidecar beside ``engine`` (None when there is no file ``ENGINE.json``).

    Raises:
        FileError or FileFormatError naming ``ENGINE.json`` (and the field) when it exists
        but is not a regular file, not JSON, or not a sidecar.
    """
    path = sidecar_path(engine)
    if not os.path.lexists(path):
        return None
    return parse_record(EngineSidecar, read_json(path), path)

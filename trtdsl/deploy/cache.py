"""The engine cache: serialized engines kept in a directory under a key of everything that
changes the engine, so a repeated build is a file read.

Layout of a cache directory: ``<key>.engine`` (the plan, byte for byte as the builder returned
it) and ``<key>.json`` (the key's fields and what the build reported), written in that order,
each atomically; an entry exists once its ``.json`` does. ``locks/<key>.lock`` serialize the
builders of one key across processes (``fcntl.flock``), so two concurrent builds of one key
build once and never leave a half-written entry.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import logging
import os
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import numpy as np

from trtdsl.backends.trt import BuildConfig, BuildResult, EmittedNetwork, profile_shapes
from trtdsl.backends.trt.layers import network_io, network_layers
from trtdsl.backends.trt.module import backend_of, is_emulator, is_rtx, product_name
from trtdsl.errors import FileError, TrtdslError, UsageError
from trtdsl.files import Bounds, parse_record, read_bytes, read_json, record_to_json, write_files
from trtdsl.files.locking import hold_lock
from trtdsl.files.paths import writable_problem
from trtdsl.files.writing import remove_file

_log = logging.getLogger("trtdsl")

CACHE_FORMAT = 1
"""Version of the key and entry layout; a change makes every old entry a miss."""

KEY_OPTIONS_LEFT_OUT = ("timing_cache",)
"""BuildConfig fields that are not part of the key. A timing cache only makes tactic
selection faster; an engine built with or without one computes the same network at the same
precision for the same targets, so sharing it is correct (and its path says nothing about its
content anyway)."""

_ENTRY = re.compile(r"^[0-9a-f]{64}\.(engine|json)$")


@dataclass(frozen=True)
class CacheKey:
    """What an engine depends on, and its digest (the entry's file name).

    Attributes:
        fields: JSON-ready: trtdsl version, product and version, targets or GPU, the emitted
            network (graph as emitted, its layers and I/O tensors), a hash of every weight
            buffer handed to TensorRT, precision, calibration, profiles and builder options.
    """

    fields: Mapping[str, Any]

    @property
    def digest(self) -> str:
        """sha256 of the fields as canonical JSON."""
        text = json.dumps(self.fields, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class KeyRecord:
    """A key's fields as an entry's record holds them (see ``cache_key``)."""

    format: int
    trtdsl: str
    product: str
    version: str
    backend: str
    graph_sha256: str
    network_sha256: str
    weights_sha256: str
    precision: str
    targets: tuple[Annotated[int, Bounds(10, 999)], ...] | None = None
    gpu: str | None = None
    calibration: str | None = None
    profiles: dict[str, str] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class EntryRecord:
    """An entry's ``.json`` record: its key, what built it and the plan's digest."""

    key: KeyRecord
    model: str
    created: str
    engine_bytes: Annotated[int, Bounds(0, 2**62)]
    engine_sha256: str
    build_seconds: Annotated[float, Bounds(0, 1e9)] = 0.0
    layer_information: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class CacheEntry:
    """One cached engine: its key digest, the ``.json`` record and where the plan lives."""

    digest: str
    record: EntryRecord
    engine_path: Path

    @property
    def size(self) -> int:
        return self.record.engine_bytes


def cache_key(
    emitted: EmittedNetwork, config: BuildConfig, calibration: str | None = None
) -> CacheKey:
    """The key of building ``emitted`` with ``config``.

    Args:
        emitted: the network as emitted (after batch-norm folding, precision and any debug
            outputs): its graph, layers, I/O tensors and weight buffers are hashed, so a change
            to the model, the weights, the precision pass or an emitter changes the key.
        config: the build options (the timing cache is left out, see KEY_OPTIONS_LEFT_OUT).
        calibration: the sha256 of an int8/fp8 calibration's scales (None: no calibration).
    """
    from trtdsl import __version__

    trt = emitted.trt
    options = {k: v for k, v in config.to_dict().items() if k not in KEY_OPTIONS_LEFT_OUT}
    inputs, outputs = network_io(emitted.network)
    layers = [
        [la.name, la.type, [t.format() for t in la.inputs], [t.format() for t in la.outputs]]
        for la in network_layers(trt, emitted.network)
    ]
    profiles = {name: r.format() for name, r in profile_shapes(emitted.graph, config).items()}
    fields = {
        "format": CACHE_FORMAT,
        "trtdsl": __version__,
        "product": product_name(trt),
        "version": str(trt.__version__),
        "backend": backend_of(trt),
        "targets": list(config.compute_capabilities) if is_rtx(trt) else None,
        "gpu": _build_gpu(trt),
        "graph_sha256": hashlib.sha256(emitted.graph.format().encode()).hexdigest(),
        "network_sha256": _sha256_json(
            {"layers": layers, "io": [t.format() for t in inputs + outputs]}
        ),
        "weights_sha256": sha256_buffers(emitted.keep),
        "precision": config.precision.value,
        "calibration": calibration,
        "profiles": profiles,
        "options": options,
    }
    return CacheKey(fields)


def _build_gpu(trt: Any) -> str | None:
    """The GPU a TensorRT engine is built for (TensorRT builds for the GPU it runs on);
    None for TensorRT-RTX (ahead of time: its targets are in the key) and the emulator."""
    if is_emulator(trt) or is_rtx(trt):
        return None
    from trtdsl.runtime.cuda import gpu_compute_capability

    cc, description = gpu_compute_capability()
    return f"sm_{cc} {description}" if cc is not None else description


def _sha256_json(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def sha256_buffers(buffers: list[Any]) -> str:
    """sha256 over the NumPy arrays in ``buffers`` in order (dtype, shape and bytes of each);
    other objects (TensorRT Weights wrapping an array that is also listed) are skipped."""
    h = hashlib.sha256()
    for item in buffers:
        if not isinstance(item, np.ndarray):
            continue
        a = np.ascontiguousarray(item)
        h.update(f"{a.dtype.str}:{a.shape};".encode())
        h.update(a.reshape(-1).view(np.uint8).data)
    return h.hexdigest()


class EngineCache:
    """A directory of cached engines.

    Args:
        directory: created if missing (its parent must exist) unless ``create`` is False.
        option: how the directory was given, for messages (``--cache``).
        writable: check that files can be created there (False: only read it).
    Raises:
        UsageError: ``directory`` is a file, is missing (``create=False``), cannot be created,
            or is not writable.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        option: str = "--cache",
        create: bool = True,
        writable: bool = True,
    ) -> None:
        self.directory = Path(directory)
        self.option = option
        self.last_hit: bool | None = None
        self.last_digest: str | None = None
        where = f"{option} {os.fspath(directory)}".strip()
        if self.directory.exists() and not self.directory.is_dir():
            raise UsageError(f"{where}: is a file, not a directory")
        if not self.directory.exists():
            if not create:
                raise UsageError(f"{where}: no such directory")
            parent = self.directory.absolute().parent
            if not parent.is_dir():
                raise UsageError(f"{where}: directory {parent} does not exist")
            try:
                self.directory.mkdir()
            except FileExistsError:
                pass
            except OSError as e:
                raise UsageError(f"{where}: cannot create it: {e.strerror or e}") from None
        if writable:
            _check_writable(self.directory, where)

    # -- reading ---------------------------------------------------------------------------

    def get(self, key: CacheKey) -> tuple[bytes, EntryRecord] | None:
        """The plan and record of ``key``, or None (missing, or damaged: then logged)."""
        digest = key.digest
        record = self._read_record(digest)
        if record is None:
            return None
        path = self.directory / f"{digest}.engine"
        try:
            plan = read_bytes(path, limit=record.engine_bytes, updated=True)
        except TrtdslError as e:
            _log.warning("engine cache: %s; rebuilding", e)
            return None
        if hashlib.sha256(plan).hexdigest() != record.engine_sha256:
            _log.warning("engine cache: %s does not match its record; rebuilding", path)
            return None
        return plan, record

    def entries(self) -> list[CacheEntry]:
        """Every complete entry, oldest first (damaged records are skipped)."""
        result = []
        for path in sorted(self.directory.glob("*.json")):
            if not _ENTRY.match(path.name):
                continue
            record = self._read_record(path.stem)
            engine = self.directory / f"{path.stem}.engine"
            if record is not None and engine.is_file():
                result.append(CacheEntry(path.stem, record, engine))
        return sorted(result, key=lambda e: e.record.created)

    def _read_record(self, digest: str) -> EntryRecord | None:
        """The record of ``digest`` (None: missing; or damaged, forged or another key's:
        then logged, and the entry counts as missing and is rebuilt). Entries are read as
        files the cache may rewrite, not as inputs a command must not overwrite."""
        path = self.directory / f"{digest}.json"
        if not path.exists():
            return None
        try:
            record = parse_record(EntryRecord, read_json(path, updated=True), str(path))
        except TrtdslError as e:
            _log.warning("engine cache: %s; ignoring the entry", e)
            return None
        if CacheKey(record_to_json(record.key)).digest != digest:
            _log.warning("engine cache: %s holds another key's record; ignoring the entry", path)
            return None
        return record

    # -- writing ---------------------------------------------------------------------------

    @contextmanager
    def lock(self, digest: str) -> Iterator[None]:
        """Hold the lock of one key (blocks while another process holds it)."""
        locks = self.directory / "locks"
        try:
            locks.mkdir(exist_ok=True)
        except OSError as e:
            raise FileError(
                f"{locks}: cannot create the lock directory: {e.strerror or e}"
            ) from None
        if not locks.is_dir() or locks.is_symlink():
            raise FileError(f"{locks}: expected the cache's directory of lock files")
        with hold_lock(locks / f"{digest}.lock"):
            yield

    def put(self, key: CacheKey, result: BuildResult, model: str) -> Path:
        """Store a built plan under ``key`` (call it holding ``lock(key.digest)``)."""
        digest = key.digest
        path = self.directory / f"{digest}.engine"
        record = {
            "key": dict(key.fields),
            "model": model,
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "engine_bytes": len(result.plan),
            "engine_sha256": hashlib.sha256(result.plan).hexdigest(),
            "build_seconds": round(result.seconds, 3),
            "layer_information": list(result.layer_information),
            "notes": list(result.notes),
        }
        parse_record(EntryRecord, record, "the new cache record")  # what readers will accept
        # The plan, then its record (an entry exists once its record does), as one group.
        write_files(
            [
                (path, result.plan),
                (self.directory / f"{digest}.json", (json.dumps(record, indent=2) + "\n").encode()),
            ],
            self.option or "--cache",
        )
        return path

    def build(
        self, key: CacheKey, build: Callable[[], BuildResult], model: str
    ) -> tuple[BuildResult, bool]:
        """The cached result of ``key``, else ``build()`` stored under it; and whether it was
        a hit. Builders of one key wait for each other, so the second one finds the first
        one's engine."""
        self.last_digest = key.digest
        with self.lock(key.digest):
            cached = self.get(key)
            if cached is not None:
                plan, record = cached
                self.last_hit = True
                _log.info("engine cache hit %s (%s)", key.digest[:12], self.directory)
                result = BuildResult(
                    plan, record.build_seconds, record.layer_information, record.notes
                )
                return result, True
            result = build()
            self.put(key, result, model)
            self.last_hit = False
            return result, False

    def plan_builder(self) -> Callable[[EmittedNetwork, BuildConfig], bytes]:
        """A ``(emitted, config) -> plan`` function that goes through this cache (for
        ``build_in_memory``); ``last_hit`` says what the last call did."""
        from trtdsl.backends.trt import build_network

        def build(emitted: EmittedNetwork, config: BuildConfig) -> bytes:
            result, _ = self.build(
                cache_key(emitted, config),
                lambda: build_network(emitted, config),
                emitted.graph.name,
            )
            return result.plan

        return build

    def clear(self) -> tuple[int, int]:
        """Remove every entry (each under its lock); returns (entries, bytes) removed. Only
        files (or links) with entry names go; anything else there is logged and left."""
        count = size = 0
        digests = {p.name.split(".")[0] for p in self.directory.iterdir() if _ENTRY.match(p.name)}
        for digest in sorted(digests):
            with self.lock(digest):
                removed = False
                for suffix in (".json", ".engine"):  # the record first: no entry without plan
                    path = self.directory / f"{digest}{suffix}"
                    freed = remove_file(path)
                    if freed is None and os.path.lexists(path):
                        _log.warning("engine cache: %s is not a file; left as it is", path)
                    elif freed is not None:
                        size += freed
                        removed = True
                count += removed
        return count, size


def _check_writable(directory: Path, where: str) -> None:
    """FileError unless a file can be created in ``directory`` (tried, not guessed)."""
    problem = writable_problem(directory)
    if problem:
        raise FileError(f"{where}: is not writable ({problem})")

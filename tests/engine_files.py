"""Engine files for tests: an emulated plan written where ``compile`` writes a real engine,
with the sidecar ``compile`` writes beside one (``compile --emulate`` writes no file)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from trtdsl import BuildConfig, emit_network, import_trt, load_model, prepare_graph, random_weights
from trtdsl.backends.trt import build_network
from trtdsl.backends.trt.sidecar import (
    EngineSidecar,
    IORecord,
    IOTensorRecord,
    ModelRecord,
    OptionsRecord,
    ProfileRecord,
    WeightsRecord,
    sidecar_path,
)
from trtdsl.files import parse_record


def emulated_plan(model: Path, seed: int = 0, refittable: bool = False) -> bytes:
    """The emulated plan of ``model`` with ``random_weights(seed)``."""
    graph = load_model(str(model))
    prepared, weights = prepare_graph(graph, random_weights(graph, seed=seed))
    emitted = emit_network(import_trt("emulated"), prepared, weights)
    return build_network(emitted, BuildConfig(refittable=refittable)).plan


def write_emulated_engine(
    path: Path,
    model: Path,
    seed: int = 0,
    refittable: bool = False,
    sidecar: bool = True,
    spec: str | None = None,
) -> Path:
    """Write ``path`` (an emulated plan of ``model``) and, with ``sidecar``, ``path.json``
    recording ``spec`` (default: the model's path) as the model it was built from."""
    plan = emulated_plan(model, seed, refittable)
    path.write_bytes(plan)
    if sidecar:
        graph = load_model(str(model))
        config = BuildConfig(refittable=refittable)
        digest = hashlib.sha256(plan).hexdigest()
        inputs = []
        for name in graph.inputs:
            t = graph.types[name]
            shapes = [t.concrete(graph.sizes(which)) for which in ("min", "opt", "max")]
            profile = None if t.is_static else ProfileRecord(*shapes)
            dims = tuple(d if isinstance(d, int) else -1 for d in t.shape)
            declared = graph.input_ranges.get(name)
            values = (declared.low, declared.high) if declared is not None else None
            inputs.append(IOTensorRecord(name, t.dtype.value, dims, profile, values))
        record = EngineSidecar(
            trtdsl="0.1.0",
            product="trtdsl emulator",
            version="11.4.0-emulated",
            backend="emulated",
            targets="the CPU emulator",
            precision="fp32",
            model=ModelRecord(
                graph.name,
                spec if spec is not None else str(model),
                hashlib.sha256(graph.format().encode()).hexdigest(),
            ),
            weights=WeightsRecord(f"random:{seed}", digest),
            options=parse_record(OptionsRecord, config.to_dict(), "options"),
            io=IORecord(tuple(inputs), ()),
            engine_bytes=len(plan),
            engine_sha256=digest,
        )
        Path(sidecar_path(path)).write_bytes(record.to_json())
    return path

"""Engine layers mapped back to DSL nodes: the engine inspector's JSON, parsed defensively.

The TensorRT backend names every layer after its IR node (auxiliary layers ``node/part``) and
stores the node name in ``ILayer.metadata``. TensorRT may fuse layers ("conv1 + relu1") and
then reports all their metadata in the inspector's ``Metadata`` field; this module turns
either back into node names.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from trtdsl.errors import BackendError

_SEPARATORS = re.compile(r"\x1e|\s\+\s|\n|;|\|")
_BRACKETED = re.compile(r"[\[\]{}()]")


@dataclass(frozen=True)
class TensorDesc:
    """One tensor of an engine layer as the inspector describes it (fields may be empty)."""

    name: str
    dimensions: str
    format: str
    dtype: str
    location: str


@dataclass(frozen=True)
class EngineLayer:
    """One engine layer (possibly several fused network layers).

    Attributes:
        index: position in the engine.
        name: the engine layer name (``"layer1.0.conv1 + layer1.0.relu"`` when fused).
        nodes: the DSL node names it implements, in order, without duplicates.
        layer_type: e.g. ``CaskConvolution``; empty with LAYER_NAMES_ONLY verbosity.
        tactic: the chosen tactic name (and value), or empty.
        inputs, outputs: tensor descriptions (format, precision, dimensions).
        raw: the inspector's JSON object for the layer.
    """

    index: int
    name: str
    nodes: tuple[str, ...]
    layer_type: str = ""
    tactic: str = ""
    inputs: tuple[TensorDesc, ...] = ()
    outputs: tuple[TensorDesc, ...] = ()
    raw: dict[str, Any] = field(default_factory=dict, compare=False)


def node_names(text: str, known: Iterable[str] | None = None) -> tuple[str, ...]:
    """The DSL node names mentioned in a layer name or metadata string.

    Args:
        text: ``"a.conv + a.relu"``, ``"a.conv\\x1ea.relu"``, ``"a.linear/bias"``, ...
        known: the graph's node names in graph order, when available; names not among them
            are dropped (TensorRT-internal layers such as reformatters map to no node), and a
            Myelin range ``first...last`` becomes every node from first to last.
    """
    order = list(known) if known is not None else None
    known_set = set(order) if order is not None else None
    found: list[str] = []
    for piece in _SEPARATORS.split(text):
        piece = _BRACKETED.sub(" ", piece).strip()
        for token in piece.split():
            if "..." in token and order is not None:
                # Myelin names a fused region by its first and last layer: "{ForeignNode[a...b]}"
                first, _, last = token.partition("...")
                first, last = first.split("/", 1)[0], last.split("/", 1)[0]
                if first in known_set and last in known_set:  # type: ignore[operator]
                    lo, hi = order.index(first), order.index(last)
                    found.extend(n for n in order[lo : hi + 1] if n not in found)
                continue
            token = token.split("/", 1)[0].rstrip(",")
            if not token or token in found:
                continue
            if known_set is not None and token not in known_set:
                continue
            found.append(token)
    return tuple(found)


def engine_layers(
    engine: Any, trt: ModuleType, context: Any = None, known: Iterable[str] | None = None
) -> list[EngineLayer]:
    """Every engine layer, from the engine inspector, mapped to DSL node names.

    Args:
        engine: a deserialized engine; ``context``: optional execution context with all input
            shapes set (concrete dimensions instead of -1).
        known: the graph's node names, if the model is at hand.
    """
    info = engine_information(engine, trt, context)
    known_list = list(known) if known is not None else None
    layers = []
    for index, raw in enumerate(info.get("Layers", [])):
        layers.append(_parse_layer(index, raw, known_list))
    return layers


def engine_information(engine: Any, trt: ModuleType, context: Any = None) -> dict[str, Any]:
    """The inspector's engine-level JSON as a dict (``{"Layers": [...], "I/O Tensors": ...}``)."""
    inspector = engine.create_engine_inspector()
    if inspector is None:
        raise BackendError("create_engine_inspector() returned None")
    if context is not None:
        inspector.execution_context = context
    text = inspector.get_engine_information(trt.LayerInformationFormat.JSON)
    try:
        info = json.loads(str(text))
    except json.JSONDecodeError as e:
        raise BackendError(f"engine inspector returned invalid JSON: {e}") from None
    if not isinstance(info, dict):
        raise BackendError(f"engine inspector returned {type(info).__name__}, not an object")
    return info


def _parse_layer(index: int, raw: Any, known: list[str] | None) -> EngineLayer:
    if isinstance(raw, str):  # LAYER_NAMES_ONLY: the layer is just its name
        return EngineLayer(index, raw, node_names(raw, known), raw={"Name": raw})
    if not isinstance(raw, dict):
        return EngineLayer(index, str(raw), (), raw={})
    name = str(raw.get("Name", f"layer {index}"))
    metadata = str(raw.get("Metadata", "") or "")
    nodes = node_names(metadata, known) if metadata else ()
    if not nodes:
        nodes = node_names(name, known)
    tactic = str(raw.get("TacticName", "") or "")
    if "TacticValue" in raw:
        tactic = f"{tactic} ({raw['TacticValue']})" if tactic else str(raw["TacticValue"])
    return EngineLayer(
        index,
        name,
        nodes,
        str(raw.get("LayerType", "") or ""),
        tactic,
        tuple(_tensor(t) for t in raw.get("Inputs", []) or []),
        tuple(_tensor(t) for t in raw.get("Outputs", []) or []),
        raw,
    )


def _tensor(raw: Any) -> TensorDesc:
    if not isinstance(raw, dict):
        return TensorDesc(str(raw), "", "", "", "")
    fmt = str(raw.get("Format", "") or "")
    dtype = str(raw.get("DataType", raw.get("Datatype", "")) or "")
    combined = raw.get("Format/Datatype")  # TensorRT 10.x: "Row major linear FP32"
    if combined and not fmt:
        fmt = str(combined)
    dims = raw.get("Dimensions", "")
    if isinstance(dims, list):
        dims = "x".join(str(d) for d in dims)
    return TensorDesc(
        str(raw.get("Name", "")), str(dims), fmt, dtype, str(raw.get("Location", "") or "")
    )


@dataclass(frozen=True)
class EngineInspection:
    """What ``trtdsl inspect`` shows.

    Attributes:
        description: the engine kind ("TensorRT 11.4.0" or the emulator's, saying "emulated").
        layers: engine layers mapped to DSL nodes.
        io_tensors: the inspector's ``"I/O Tensors"`` objects (11.x), or ones built from the
            engine's I/O API when the inspector gives none.
        profiles: per optimization profile, input name -> (min, opt, max) shapes.
        raw: the inspector's engine-level JSON.
    """

    description: str
    emulated: bool
    layers: tuple[EngineLayer, ...]
    io_tensors: tuple[dict[str, Any], ...]
    profiles: tuple[dict[str, tuple[list[int], list[int], list[int]]], ...]
    raw: dict[str, Any] = field(default_factory=dict, compare=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "engine": self.description,
            "emulated": self.emulated,
            "num_layers": len(self.layers),
            "io_tensors": list(self.io_tensors),
            "profiles": [
                {name: {"min": r[0], "opt": r[1], "max": r[2]} for name, r in p.items()}
                for p in self.profiles
            ],
            "layers": [
                {
                    "index": layer.index,
                    "name": layer.name,
                    "nodes": list(layer.nodes),
                    "type": layer.layer_type,
                    "tactic": layer.tactic,
                    "inputs": [_desc_json(t) for t in layer.inputs],
                    "outputs": [_desc_json(t) for t in layer.outputs],
                }
                for layer in self.layers
            ],
            "inspector": self.raw,
        }


def inspect_engine(
    engine: Any,
    trt: ModuleType,
    description: str,
    context: Any = None,
    known: Iterable[str] | None = None,
) -> EngineInspection:
    """Inspect ``engine``: layers mapped to DSL nodes, I/O tensors and optimization profiles."""
    info = engine_information(engine, trt, context)
    known_list = list(known) if known is not None else None
    layers = tuple(_parse_layer(i, raw, known_list) for i, raw in enumerate(info.get("Layers", [])))
    io = info.get("I/O Tensors")
    io_tensors = tuple(io) if isinstance(io, list) else tuple(_io_from_api(engine))
    profiles = []
    for p in range(int(engine.num_optimization_profiles)):
        shapes = {}
        for i in range(engine.num_io_tensors):
            name = engine.get_tensor_name(i)
            dims = [int(d) for d in engine.get_tensor_shape(name)]
            if _mode(engine.get_tensor_mode(name)) != "INPUT" or all(d >= 0 for d in dims):
                continue
            lo, opt, hi = engine.get_tensor_profile_shape(name, p)
            shapes[name] = ([int(d) for d in lo], [int(d) for d in opt], [int(d) for d in hi])
        profiles.append(shapes)
    emulated = trt.__name__.startswith("trtdsl.emulator")
    return EngineInspection(description, emulated, layers, io_tensors, tuple(profiles), info)


def _io_from_api(engine: Any) -> list[dict[str, Any]]:
    result = []
    for i in range(engine.num_io_tensors):
        name = engine.get_tensor_name(i)
        dtype = engine.get_tensor_dtype(name)
        result.append(
            {
                "Name": name,
                "IOMode": _mode(engine.get_tensor_mode(name)),
                "DataType": str(getattr(dtype, "name", dtype)).rsplit(".", 1)[-1],
                "Dimensions": [int(d) for d in engine.get_tensor_shape(name)],
            }
        )
    return result


def _mode(mode: Any) -> str:
    return str(getattr(mode, "name", mode)).rsplit(".", 1)[-1].upper()


def _desc_json(t: TensorDesc) -> dict[str, str]:
    return {
        "name": t.name,
        "dimensions": t.dimensions,
        "format": t.format,
        "dtype": t.dtype,
        "location": t.location,
    }

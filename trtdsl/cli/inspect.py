"""``trtdsl inspect``: an engine's layers (fused, tactics, formats, precisions) mapped back to
DSL nodes, with its I/O tensors and optimization profiles."""

from __future__ import annotations

import argparse
import re
from typing import TYPE_CHECKING, Any

from trtdsl.cli._engine_args import add_source_arguments, load_source
from trtdsl.cli.format import Column, add_format_option, print_json, print_table
from trtdsl.errors import EngineNotRunnableError

if TYPE_CHECKING:
    from trtdsl.backends.trt.sidecar import EngineSidecar

EXAMPLES = """examples:
  trtdsl inspect resnet50.engine
  trtdsl inspect resnet50.engine --shape x=8x3x224x224 --format json
  trtdsl inspect zoo/resnet50.yaml --weights random --backend emulated

Layer details need an engine built with ProfilingVerbosity.DETAILED (trtdsl's default); with
LAYER_NAMES_ONLY only names (and the nodes they map to) are shown. An engine this machine
cannot run (e.g. TensorRT-RTX without a supported GPU) is shown from its sidecar: targets,
I/O tensors and profiles, and the builder's own layer information.
"""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "inspect",
        help="show an engine's layers mapped to DSL nodes, its I/O tensors and profiles",
        description=(
            "Ask TensorRT's engine inspector for every engine layer (fused layers, layer type, "
            "tactic, input/output formats and precisions) and map each back to the DSL nodes "
            "it implements through the layer metadata trtdsl records. Input shapes are set "
            "(profile opt, or --shape) so dimensions are concrete."
        ),
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_source_arguments(parser)
    add_format_option(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from trtdsl.cli._engine_args import open_engine_with_inputs
    from trtdsl.runtime.engines import is_engine_path, read_engine_file
    from trtdsl.runtime.layers import inspect_engine
    from trtdsl.runtime.runner import engine_io

    if is_engine_path(args.source):
        # The engine and its sidecar are read and checked to belong together first: a
        # sidecar is never shown for an engine it does not describe.
        engine = read_engine_file(args.source)
        try:
            loaded, feed = open_engine_with_inputs(args, engine)
        except EngineNotRunnableError as e:
            if engine.sidecar is None:
                raise
            return _print_sidecar(args, engine.sidecar, str(e))
    else:
        source = load_source(args)
        loaded, feed = source.loaded, source.feed
    context = loaded.engine.create_execution_context()
    for t in engine_io(loaded.engine):
        if t.is_input and any(d < 0 for d in t.shape):
            context.set_input_shape(t.name, feed[t.name].shape)
    info = inspect_engine(
        loaded.engine, loaded.trt, loaded.description, context, loaded.node_names()
    )
    if args.format == "json":
        data = info.to_json()
        data["source"] = loaded.source
        print_json(data)
        return 0
    header = f"engine: {info.description} ({loaded.source}); {len(info.layers)} layers"
    if info.emulated:
        header += "\n!! EMULATED: this engine was built by trtdsl's CPU emulator, not TensorRT"
    print(header)
    io_rows = [
        {
            "name": t.get("Name", ""),
            "mode": t.get("IOMode", ""),
            "dtype": t.get("DataType", ""),
            "dims": _dims(t.get("Dimensions", "")),
            "profile": "; ".join(
                f"{_dims(p.get('MinShape'))} .. {_dims(p.get('OptShape'))} .. "
                f"{_dims(p.get('MaxShape'))}"
                for p in t.get("ProfileInfo", []) or []
                if isinstance(p, dict)
            ),
        }
        for t in info.io_tensors
        if isinstance(t, dict)
    ]
    print_table(
        [
            Column("name", "I/O tensor"),
            Column("mode", "mode"),
            Column("dtype", "dtype"),
            Column("dims", "dims"),
            Column("profile", "profile min .. opt .. max"),
        ],
        io_rows,
    )
    print()
    layer_rows = [
        {
            "index": layer.index,
            "name": layer.name,
            "nodes": ", ".join(layer.nodes) or "-",
            "type": layer.layer_type,
            "tactic": layer.tactic,
            "in": " ".join(_tensor_text(t) for t in layer.inputs),
            "out": " ".join(_tensor_text(t) for t in layer.outputs),
        }
        for layer in info.layers
    ]
    print_table(
        [
            Column("index", "#", "right"),
            Column("name", "engine layer"),
            Column("nodes", "DSL nodes"),
            Column("type", "type"),
            Column("tactic", "tactic"),
            Column("in", "inputs (dims format dtype)"),
            Column("out", "outputs"),
        ],
        layer_rows,
    )
    return 0


_BUILDER_LINE = re.compile(r"^Name: (?P<name>.*?), LayerType: (?P<type>.*?), ")
_TACTIC = re.compile(r", TacticName: (?P<tactic>.*?), StreamId: ")
_METADATA = re.compile(r", Metadata: (?P<metadata>.*)$")


def builder_layers(lines: list[str]) -> list[dict[str, Any]]:
    """The builder's layer-information lines (sidecar ``builder_layer_information``) as rows:
    engine layer name, type, tactic and the DSL nodes its metadata names."""
    rows = []
    for index, line in enumerate(lines):
        head = _BUILDER_LINE.match(line)
        if head is None:
            continue
        tactic = _TACTIC.search(line)
        metadata = _METADATA.search(line)
        nodes = [n for n in (metadata.group("metadata") if metadata else "").split("\x1f") if n]
        rows.append(
            {
                "index": index,
                "name": head.group("name"),
                "type": head.group("type"),
                "tactic": tactic.group("tactic") if tactic else "",
                "nodes": nodes,
            }
        )
    return rows


def _print_sidecar(args: argparse.Namespace, sidecar: EngineSidecar, why: str) -> int:
    """What can be read without running the engine: its sidecar and the builder's layers."""
    from trtdsl.files import record_to_json

    layers = builder_layers(list(sidecar.builder_layer_information))
    io = sidecar.io
    if args.format == "json":
        print_json(
            {
                "source": args.source,
                "runnable_here": False,
                "why": why,
                "product": sidecar.product,
                "version": sidecar.version,
                "targets": sidecar.targets,
                "precision": sidecar.precision,
                "io": record_to_json(io),
                "builder_layers": layers,
            }
        )
        return 0
    print(
        f"engine: {sidecar.product} {sidecar.version} ({args.source}), built for "
        f"{sidecar.targets}, precision {sidecar.precision}; {len(layers)} engine layers"
    )
    print(f"!! not run: {why}; shown from {args.source}.json (the builder's layer information)")
    io_rows = [
        {
            "name": t.name,
            "mode": mode,
            "dtype": t.dtype,
            "dims": _dims(list(t.shape)),
            "profile": " .. ".join(
                _dims(list(shape)) for shape in (t.profile.min, t.profile.opt, t.profile.max)
            )
            if t.profile is not None
            else "",
        }
        for mode, tensors in (("inputs", io.inputs), ("outputs", io.outputs))
        for t in tensors
    ]
    print_table(
        [
            Column("name", "I/O tensor"),
            Column("mode", "mode"),
            Column("dtype", "dtype"),
            Column("dims", "dims"),
            Column("profile", "profile min .. opt .. max"),
        ],
        io_rows,
    )
    print()
    print_table(
        [
            Column("index", "#", "right"),
            Column("name", "engine layer"),
            Column("nodes", "DSL nodes"),
            Column("type", "type"),
            Column("tactic", "tactic"),
        ],
        [{**row, "nodes": ", ".join(row["nodes"]) or "-"} for row in layers],
    )
    return 0


def _dims(value: object) -> str:
    if isinstance(value, (list, tuple)):
        return "x".join(str(d) for d in value)
    return str(value or "")


def _tensor_text(t: object) -> str:
    dims = getattr(t, "dimensions", "")
    parts = [p for p in (dims, getattr(t, "format", ""), getattr(t, "dtype", "")) if p]
    return f"[{' '.join(parts)}]"

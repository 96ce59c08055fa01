"""``trtdsl inspect``: an engine's layers (fused, tactics, formats, precisions) mapped back to
DSL nodes, with its I/O tensors and optimization profiles."""

from __future__ import annotations

import argparse

from trtdsl.cli._engine_args import add_source_arguments, load_source
from trtdsl.cli.format import Column, add_format_option, print_json, print_table

EXAMPLES = """examples:
  trtdsl inspect resnet50.engine
  trtdsl inspect resnet50.engine --shape x=8x3x224x224 --format json
  trtdsl inspect zoo/resnet50.yaml --weights random --backend emulated

Layer details need an engine built with ProfilingVerbosity.DETAILED (trtdsl's default); with
LAYER_NAMES_ONLY only names (and the nodes they map to) are shown.
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
    from trtdsl.runtime.layers import inspect_engine
    from trtdsl.runtime.runner import engine_io

    source = load_source(args)
    loaded = source.loaded
    context = loaded.engine.create_execution_context()
    for t in engine_io(loaded.engine):
        if t.is_input and any(d < 0 for d in t.shape):
            context.set_input_shape(t.name, source.feed[t.name].shape)
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


def _dims(value: object) -> str:
    if isinstance(value, (list, tuple)):
        return "x".join(str(d) for d in value)
    return str(value or "")


def _tensor_text(t: object) -> str:
    dims = getattr(t, "dimensions", "")
    parts = [p for p in (dims, getattr(t, "format", ""), getattr(t, "dtype", "")) if p]
    return f"[{' '.join(parts)}]"

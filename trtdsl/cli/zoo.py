"""``trtdsl zoo``: the zoo's models with their inputs, parameter counts and MACs."""

from __future__ import annotations

import argparse
import re
from dataclasses import asdict, dataclass
from typing import Any

from trtdsl.cli.format import Column, add_format_option, print_json, print_table
from trtdsl.frontend.load import load_model, resolve_model_path, zoo_models

EXAMPLES = """examples:
  trtdsl zoo                              # every zoo model
  trtdsl zoo resnet50 mobilenet_v2        # some of them
  trtdsl zoo --format json | jq '.[] | {model, params}'

params are trainable parameters as PyTorch counts them (BatchNorm running statistics are
buffers, not counted), equal to torchvision's published counts; MACs are multiply-accumulates
of conv and linear layers for one image (each symbolic dimension at 1) at the declared input
size. Node names are torchvision state_dict prefixes: a torchvision state_dict saved as
safetensors binds with no renaming (trtdsl info MODEL --weights FILE).
"""

COLUMNS = (
    Column("model", "model"),
    Column("input", "input"),
    Column("params", "params", "right"),
    Column("macs", "MACs", "right"),
    Column("nodes", "nodes", "right"),
    Column("file", "file"),
)


@dataclass(frozen=True)
class ZooEntry:
    """One zoo model as ``trtdsl zoo`` lists it."""

    model: str
    input: str
    """Input type(s), e.g. ``"x float32[N,3,224,224]"``."""
    params: int
    """Trainable parameter elements (``Graph.num_parameters``)."""
    macs: int
    """Multiply-accumulates for one image (symbols at 1)."""
    nodes: int
    file: str
    """The model file, relative to the zoo directory."""


def natural_key(name: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key putting ``resnet18`` before ``resnet101`` (digit runs compare as numbers)."""
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in re.split(r"(\d+)", name) if p)


def zoo_entry(name: str) -> ZooEntry:
    """Load zoo model ``name`` and summarize it (ModelError for an unknown name)."""
    graph = load_model(name)
    return ZooEntry(
        model=name,
        input=", ".join(f"{n} {graph.types[n]}" for n in graph.inputs),
        params=graph.num_parameters(),
        macs=graph.num_macs(),
        nodes=len(graph.nodes),
        file=resolve_model_path(name).name,
    )


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "zoo",
        help="list the zoo's models with parameter counts and MACs",
        description="List the models of the zoo (torchvision-compatible YAML models): input, "
        "trainable parameters, MACs per image, node count and file.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "models", nargs="*", metavar="MODEL", help="zoo model names (default: every model)"
    )
    add_format_option(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    names = list(args.models) or sorted(zoo_models(), key=natural_key)
    entries = [zoo_entry(name) for name in names]
    if args.format == "json":
        print_json([asdict(e) for e in entries])
        return 0
    rows = [{**asdict(e), "macs": f"{e.macs / 1e9:.2f} G"} for e in entries]
    footer = [
        f"{len(entries)} model(s); params as PyTorch counts them (BatchNorm running statistics "
        "excluded); MACs of conv and linear layers for one image"
    ]
    print_table(COLUMNS, rows, title="trtdsl zoo", footer=footer)
    return 0

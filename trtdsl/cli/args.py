"""Arguments several subcommands share: MODEL, ``--shape``, ``--weights`` and ``--rename``,
and loading the graph and bound weights they name."""

from __future__ import annotations

import argparse

from trtdsl.ir.graph import Graph
from trtdsl.weights import BoundWeights

MODEL_HELP = "a .yaml or .py model file, or a zoo name (trtdsl zoo lists them)"
WEIGHTS_HELP = "a .safetensors file, or random[:SEED] for seeded random weights"


def add_model_argument(parser: argparse.ArgumentParser) -> None:
    """The positional MODEL."""
    parser.add_argument("model", metavar="MODEL", help=MODEL_HELP)


def add_shape_option(parser: argparse.ArgumentParser) -> None:
    """``--shape NAME=DxD...`` (repeatable): static input shapes; the model is re-inferred."""
    parser.add_argument(
        "--shape",
        action="append",
        default=[],
        metavar="NAME=DIMS",
        help="a static input shape, e.g. x=1x3x224x224 (repeatable; every type is re-inferred)",
    )


def add_weights_options(
    parser: argparse.ArgumentParser, required: bool = True, help: str = WEIGHTS_HELP
) -> None:
    """``--weights W`` and ``--rename PATTERN REPLACEMENT`` (for foreign checkpoints)."""
    parser.add_argument("--weights", required=required, metavar="W", help=help)
    add_rename_option(parser)


def add_rename_option(parser: argparse.ArgumentParser) -> None:
    """``--rename PATTERN REPLACEMENT`` (repeatable, applied in order with ``re.sub``)."""
    parser.add_argument(
        "--rename",
        nargs=2,
        action="append",
        default=[],
        metavar=("PATTERN", "REPLACEMENT"),
        help="rename checkpoint keys matching the regex PATTERN (re.sub; repeatable, in order)",
    )


def load_graph(spec: str, args: argparse.Namespace) -> Graph:
    """The model ``spec`` with the ``--shape`` overrides in ``args`` (if any) applied."""
    from trtdsl.frontend.load import load_model, parse_shape_override

    shapes = dict(parse_shape_override(text) for text in getattr(args, "shape", None) or ())
    return load_model(spec, shapes or None)


def load_bound_weights(args: argparse.Namespace, graph: Graph) -> BoundWeights:
    """``args.weights`` bound to ``graph``, with the ``--rename`` rules in ``args`` applied."""
    from trtdsl.weights import load_weights

    renames = [(pattern, replacement) for pattern, replacement in args.rename or ()]
    return load_weights(args.weights, graph, rename=renames or None)

"""``trtdsl weights``: write seeded random weights, list a file's tensors, check a binding."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

import numpy as np

from trtdsl.cli.args import add_weights_options, check_command_outputs, load_bound_weights
from trtdsl.cli.format import Column, add_format_option, format_count, print_json, print_table
from trtdsl.errors import UsageError
from trtdsl.files import write_file
from trtdsl.ir.graph import Graph

EXAMPLES = """examples:
  trtdsl weights init resnet50 -o resnet50-random.safetensors --seed 1
  trtdsl weights show resnet50.safetensors
  trtdsl weights show resnet50.safetensors --format json | jq '.tensors | length'
  trtdsl weights check resnet50 --weights resnet50.safetensors
  trtdsl weights check zoo/resnet50.yaml --weights ddp.safetensors --rename '^module\\.' ''

A checkpoint binds when its keys (after --rename rules) are exactly the model's parameter
keys with the expected shapes; every problem is listed at once. Export torchvision weights
with weights/export_torchvision.py.
"""

SHOW_COLUMNS = (
    Column("key", "key"),
    Column("dtype", "dtype"),
    Column("shape", "shape"),
    Column("numel", "elements", "right"),
    Column("nbytes", "bytes", "right"),
)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "weights",
        help="create, list and check safetensors weights",
        description="Work with safetensors weights: write seeded random weights for a model, "
        "list a file's tensors, or check that a file binds to a model.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    init = actions.add_parser(
        "init",
        help="write seeded random weights for MODEL",
        description="Write seeded random weights (PyTorch-like default init) for every "
        "parameter of MODEL to a safetensors file, atomically.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    init.add_argument("model", metavar="MODEL", help="a .yaml or .py model file or a zoo name")
    init.add_argument(
        "-o", "--output", required=True, metavar="FILE.safetensors", help="the file to write"
    )
    init.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    init.set_defaults(func=run_init)

    show = actions.add_parser(
        "show",
        help="list the tensors of a safetensors file",
        description="List each tensor's key, dtype, shape and size, and the file's metadata.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    show.add_argument("file", metavar="FILE", help="a .safetensors file")
    add_format_option(show)
    show.set_defaults(func=run_show)

    check = actions.add_parser(
        "check",
        help="check that weights bind to MODEL",
        description="Bind WEIGHTS to MODEL and print the binding report, or every problem.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    check.add_argument("model", metavar="MODEL", help="a .yaml or .py model file or a zoo name")
    check.add_argument(
        "weights_file",
        nargs="?",
        metavar="WEIGHTS",
        help="the same as --weights (the older spelling)",
    )
    add_weights_options(check, required=False)
    check.set_defaults(func=run_check)


def run_init(args: argparse.Namespace) -> int:
    from trtdsl.frontend.load import load_model
    from trtdsl.weights import random_weights

    if args.seed < 0:
        raise UsageError(f"--seed must be a non-negative integer, got {args.seed}")
    check_command_outputs(args, [("-o", args.output)])
    graph = load_model(args.model)
    arrays = random_weights(graph, args.seed)
    metadata = {
        "format": "pt",
        "trtdsl.model": graph.name,
        "trtdsl.init": f"random:{args.seed}",
    }
    write_safetensors(args.output, arrays, metadata)
    print(
        f"wrote {args.output}: {len(arrays)} tensors ({_format_mib(_nbytes(arrays))} float32) "
        f"for model {graph.name}, seed {args.seed}: {count_elements(graph, arrays)}"
    )
    return 0


def count_elements(graph: Graph, arrays: Mapping[str, np.ndarray]) -> str:
    """``25,557,032 parameters + 53,120 buffer elements (...)``: the parameters counted as
    ``trtdsl info`` and PyTorch count them, and the saved buffers beside them."""
    buffers = {key for key, _node, _role, spec in graph.params() if spec.buffer}
    params = sum(int(a.size) for key, a in arrays.items() if key not in buffers)
    text = f"{format_count(params)} parameters"
    held = sum(int(a.size) for key, a in arrays.items() if key in buffers)
    if held:
        text += (
            f" + {format_count(held)} buffer elements (BatchNorm running statistics: saved "
            "and bound, but not parameters, as trtdsl info and PyTorch count them)"
        )
    return text


def _nbytes(arrays: Mapping[str, np.ndarray]) -> int:
    return sum(int(a.nbytes) for a in arrays.values())


def write_safetensors(path: str, arrays: dict[str, np.ndarray], metadata: dict[str, str]) -> None:
    """Write ``arrays`` as a safetensors file, atomically (``trtdsl.files.write_file``)."""
    from safetensors.numpy import save

    contiguous = {k: np.ascontiguousarray(v) for k, v in arrays.items()}
    write_file(path, save(contiguous, metadata), "-o")


def run_show(args: argparse.Namespace) -> int:
    from trtdsl.weights import open_safetensors

    f = open_safetensors(args.file)
    infos = f.infos()
    rows = [
        {
            "key": i.key,
            "dtype": i.dtype,
            "shape": "x".join(map(str, i.shape)) or "scalar",
            "numel": int(np.prod(i.shape, dtype=np.int64)),
            "nbytes": i.nbytes,
        }
        for i in infos
    ]
    if args.format == "json":
        print_json(
            {
                "file": args.file,
                "metadata": f.metadata,
                "tensors": [
                    {**row, "shape": list(i.shape), "data_offsets": [i.begin, i.end]}
                    for row, i in zip(rows, infos, strict=True)
                ],
                "total_bytes": f.data_bytes,
            }
        )
        return 0
    dtypes: dict[str, int] = {}
    for i in infos:
        dtypes[i.dtype] = dtypes.get(i.dtype, 0) + 1
    numel = sum(int(np.prod(i.shape, dtype=np.int64)) for i in infos)
    footer = [
        f"total: {len(infos)} tensors, {format_count(numel)} elements, "
        f"{_format_mib(f.data_bytes)} ("
        + ", ".join(f"{k} x{n}" for k, n in sorted(dtypes.items()))
        + ")"
    ]
    if f.metadata:
        footer.append("metadata: " + ", ".join(f"{k}={v}" for k, v in sorted(f.metadata.items())))
    print_table(SHOW_COLUMNS, rows, title=args.file, footer=footer)
    return 0


def run_check(args: argparse.Namespace) -> int:
    from trtdsl.frontend.load import load_model

    if args.weights and args.weights_file:
        raise UsageError("weights check: give the weights once, as --weights W")
    args.weights = args.weights or args.weights_file
    if not args.weights:
        raise UsageError("weights check: --weights W is required (a .safetensors file or random)")
    graph = load_model(args.model)
    bound = load_bound_weights(args, graph)
    print(f"model {graph.name}: weights bind")
    print(bound.report())
    return 0


def _format_mib(n: int) -> str:
    return f"{n / 2**20:.1f} MiB"

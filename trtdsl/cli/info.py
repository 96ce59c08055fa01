"""``trtdsl info``: one row per layer (shapes, dtypes, parameters, MACs) and the totals."""

from __future__ import annotations

import argparse
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from trtdsl.cli.args import (
    add_model_argument,
    add_shape_option,
    add_weights_options,
    load_bound_weights,
    load_graph,
)
from trtdsl.cli.format import (
    Column,
    add_format_option,
    format_count,
    format_giga,
    print_json,
    print_table,
)
from trtdsl.ir.graph import Graph

EXAMPLES = """examples:
  trtdsl info zoo/resnet50.yaml                    # layer table of a YAML model
  trtdsl info resnet50                             # a zoo model by name
  trtdsl info zoo/resnet50.py --shape x=1x3x224x224
  trtdsl info resnet18 --format json | jq '.totals'
  trtdsl info resnet50 --weights resnet50.safetensors   # append the weights binding report

Symbolic dimensions are shown by name (Nx64x56x56); MACs are counted at each symbol's
opt size (or give static shapes with --shape).
"""

COLUMNS = (
    Column("index", "#", "right"),
    Column("name", "name"),
    Column("op", "op"),
    Column("inputs", "inputs"),
    Column("shape", "output shape"),
    Column("dtype", "dtype"),
    Column("params", "params", "right"),
    Column("macs", "MACs", "right"),
)


@dataclass(frozen=True)
class LayerRow:
    """One node of the graph as ``trtdsl info`` shows it."""

    index: int
    name: str
    op: str
    inputs: tuple[str, ...]
    shape: str
    """Output shape(s), ``x``-joined, symbols by name; several outputs joined by ``", "``."""
    dtype: str
    params: int
    """Trainable parameter elements, as PyTorch counts them (BatchNorm running stats excluded)."""
    buffers: int
    """Elements of saved non-trainable state (BatchNorm running statistics), bound but not
    counted in ``params``."""
    macs: int
    """Multiply-accumulates at ``GraphSummary.sizes``."""


@dataclass(frozen=True)
class GraphSummary:
    """What ``trtdsl info`` reports about a graph."""

    name: str
    inputs: tuple[tuple[str, str], ...]
    """``(name, type)`` pairs, e.g. ``("x", "float32[N,3,224,224]")``."""
    outputs: tuple[tuple[str, str], ...]
    sizes: Mapping[str, int]
    """The size each symbolic dimension takes for MAC counts (its opt size)."""
    rows: tuple[LayerRow, ...]
    ranges: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    """Input name -> the declared value range ``(low, high)``, both included (integer inputs
    that declare ``range``)."""

    @property
    def total_params(self) -> int:
        return sum(r.params for r in self.rows)

    @property
    def total_buffers(self) -> int:
        return sum(r.buffers for r in self.rows)

    @property
    def total_macs(self) -> int:
        return sum(r.macs for r in self.rows)


def summarize_graph(graph: Graph) -> GraphSummary:
    """Per-node shapes, parameter counts and MACs; symbols sized at their opt value."""
    sizes = graph.sizes("opt")
    rows = []
    for index, node in enumerate(graph.nodes):
        in_types = graph.input_types(node)
        out_types = graph.output_types(node)
        specs = [s for s in node.op.params(in_types).values() if not s.optional]
        params = sum(math.prod(s.shape) for s in specs if not s.buffer)
        buffers = sum(math.prod(s.shape) for s in specs if s.buffer)
        rows.append(
            LayerRow(
                index=index,
                name=node.name,
                op=node.op.op_name,
                inputs=node.inputs,
                shape=", ".join(t.format_shape() for t in out_types),
                dtype=", ".join(sorted({t.dtype.value for t in out_types})),
                params=params,
                buffers=buffers,
                macs=node.op.macs(in_types, out_types, sizes),
            )
        )
    return GraphSummary(
        name=graph.name,
        inputs=tuple((name, str(graph.types[name])) for name in graph.inputs),
        outputs=tuple((p.name, str(graph.types[p.value])) for p in graph.outputs),
        sizes=sizes,
        rows=tuple(rows),
        ranges={n: (r.low, r.high) for n, r in graph.input_ranges.items()},
    )


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "info",
        help="show a model's layers, shapes, parameters and MACs",
        description="Load a model (YAML file, Python file or zoo name) and print one row per "
        "layer: name, op, inputs, output shape, dtype, parameter count and MACs, then totals.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_model_argument(parser)
    add_shape_option(parser)
    add_weights_options(
        parser,
        required=False,
        help="also bind weights W (a .safetensors file or random[:SEED]) and append the report",
    )
    add_format_option(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    graph = load_graph(args.model, args)
    summary = summarize_graph(graph)
    bound = None
    if getattr(args, "weights", None):
        bound = load_bound_weights(args, graph)
    if args.format == "json":
        data = summary_to_json(summary)
        if bound is not None:
            data["weights"] = {
                "source": bound.source,
                "tensors": len(bound.arrays),
                "bytes": bound.nbytes,
                "report": bound.report(),
            }
        print_json(data)
    else:
        print_summary(summary)
        if bound is not None:
            print(bound.report())
    return 0


def summary_to_json(summary: GraphSummary) -> dict[str, Any]:
    """The summary as JSON-ready data (``layers``, ``totals``, ``macs_at``)."""
    return {
        "model": summary.name,
        "inputs": [
            {"name": n, "type": t}
            | ({"range": list(summary.ranges[n])} if n in summary.ranges else {})
            for n, t in summary.inputs
        ],
        "outputs": [{"name": n, "type": t} for n, t in summary.outputs],
        "macs_at": dict(summary.sizes),
        "layers": [{**asdict(r), "inputs": list(r.inputs)} for r in summary.rows],
        "totals": {
            "params": summary.total_params,
            "buffers": summary.total_buffers,
            "macs": summary.total_macs,
            "custom_ops": len(_custom_rows(summary)),
        },
    }


def _custom_rows(summary: GraphSummary) -> list[str]:
    """The ops of the rows that are user-defined ops (``trtdsl.custom_op``)."""
    from trtdsl.ir.ops.custom import user_ops

    custom = user_ops()
    return [r.op for r in summary.rows if r.op in custom]


def print_summary(summary: GraphSummary) -> None:
    """The layer table with a title naming inputs/outputs and a totals footer."""
    rows = [{**asdict(r), "inputs": ", ".join(r.inputs)} for r in summary.rows]
    shown = [
        f"{n} {t} in [{summary.ranges[n][0]}, {summary.ranges[n][1]}]"
        if n in summary.ranges
        else f"{n} {t}"
        for n, t in summary.inputs
    ]
    title = (
        f"{summary.name}: "
        + ", ".join(shown)
        + " -> "
        + ", ".join(f"{n} {t}" for n, t in summary.outputs)
    )
    at = ", ".join(f"{k}={v}" for k, v in summary.sizes.items())
    footer = [
        f"total: {len(summary.rows)} layers, {format_count(summary.total_params)} params, "
        f"{format_giga(summary.total_macs)}MACs" + (f" (at opt size {at})" if at else ""),
        f"params are trainable parameters as PyTorch counts them; BatchNorm running statistics "
        f"({format_count(summary.total_buffers)} elements) are buffers, bound but not counted",
    ]
    custom = _custom_rows(summary)
    if custom:
        names = ", ".join(sorted(set(custom)))
        footer.append(
            f"custom ops (the user's, --ops or the model's file): {len(custom)} layers ({names})"
        )
    print_table(COLUMNS, rows, title=title, footer=footer)

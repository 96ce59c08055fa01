"""``trtdsl compare``: a TensorRT (or emulated) build against the NumPy reference, node by node."""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from trtdsl.backends.trt import BuildConfig
from trtdsl.cli._engine_args import add_memory_argument, add_source_arguments
from trtdsl.cli.args import add_threads_option, build_config, plan_builder, with_threads
from trtdsl.cli.format import Column, add_format_option, print_json, print_table
from trtdsl.debug.quantization import KeepSearch, LayerLoss
from trtdsl.errors import UsageError
from trtdsl.ir.graph import Graph

if TYPE_CHECKING:
    from trtdsl.runtime.engines import PlanBuilder

EXIT_MISMATCH = 3
"""Exit status when some node exceeds the tolerance (0: all within it; 2: usage error)."""

EXAMPLES = """examples:
  trtdsl compare zoo/resnet50.yaml --weights resnet50.safetensors --input image.npy
  trtdsl compare resnet50 --weights random --backend emulated --bisect
  trtdsl compare resnet50 --weights random --backend emulated --perturb layer2.0.conv1.weight=0.5
  trtdsl compare model.yaml --weights w.safetensors --tolerance 1e-2 --format json

Exit status: 0 when every node is within tolerance, 3 when one is not, 2 on a usage error.
Intermediate values are marked as outputs in a separate debug build: marking prevents fusion
across them, so the debug engine is not the production engine.
"""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "compare",
        help="compare a TensorRT build with the reference layer by layer",
        description=(
            "Build MODEL with every node output marked as an engine output (a separate debug "
            "build), run it and the NumPy reference on the same inputs, and print one row per "
            "node: op, shape, max |ref|, max abs error, relative error, cosine similarity. "
            "Names the first node whose relative error exceeds --tolerance. --bisect marks a "
            "few outputs per build instead of all of them. Batch-norms are folded into their "
            "convolutions first (as for a real build), so the reference runs the folded graph."
        ),
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_source_arguments(parser, engine_ok=False)
    parser.add_argument(
        "--tolerance",
        type=float,
        default=None,
        help="relative error (max abs error / max |ref|) above which a node is bad "
        "(default: the precision's, as compile checks: fp32 1e-4, tf32 and fp16 2e-2, bf16 "
        "1e-1, int8 and fp8 5e-1); also the margin of an argmax's ties",
    )
    parser.add_argument(
        "--bisect",
        action="store_true",
        help="find the first bad node by marking --probes outputs per debug build",
    )
    parser.add_argument("--probes", type=int, default=4, help="outputs marked per build (4)")
    parser.add_argument(
        "--perturb",
        metavar="KEY[=SCALE]",
        help="plant an error: add Gaussian noise of relative size SCALE (default 0.1) to weight "
        "KEY in the backend build only (the reference keeps the true weights)",
    )
    parser.add_argument(
        "--against",
        metavar="ACTS.npz",
        help="compare trtdsl's reference, node by node, against activations saved elsewhere "
        "(e.g. by weights/torch_activations.py or trtdsl run --save-outputs all), keyed by "
        "node name; inputs come from arrays named like the model's inputs unless --input",
    )
    parser.add_argument(
        "--name-map",
        metavar="MAP.json",
        help="with --against: a JSON object mapping node names to the .npz's keys",
    )
    add_memory_argument(parser)
    add_format_option(parser)
    add_threads_option(parser)
    parser.set_defaults(func=with_threads(run))


def run(args: argparse.Namespace) -> int:
    from trtdsl.backends.trt import prepare_for_build, prepare_graph
    from trtdsl.cli._engine_args import load_model_and_inputs
    from trtdsl.debug.compare import compare_layerwise, perturb_weights

    if args.against:
        return _run_against(args)
    if args.name_map:
        raise UsageError("--name-map applies to --against")
    graph, weights, inputs = load_model_and_inputs(args)
    tolerance, tolerance_source = _tolerance(args)
    notes = []
    backend_weights: Mapping[str, np.ndarray] = weights
    if args.perturb:
        key, scale = parse_perturb(args.perturb)
        backend_weights = perturb_weights(weights, key, scale)
        notes.append(f"planted error: {key} perturbed by noise of relative size {scale:g}")
    config = build_config(args)
    reference_graph, reference_weights = prepare_graph(graph, weights)
    built_graph, built_weights = prepare_for_build(graph, backend_weights, config)
    folded = [n.name for n in graph.nodes if n.name not in {m.name for m in reference_graph.nodes}]
    if folded:
        notes.append(
            f"{len(folded)} node(s) folded into the preceding convolution before the build "
            f"(reported on the convolution's row): {', '.join(folded[:6])}"
            + (" ..." if len(folded) > 6 else "")
        )
    if config.precision.value != "fp32":
        notes.append(f"backend built at {config.precision.value}; reference in float32")
    run_marked = _RunMarked(
        built_graph, built_weights, inputs, args.backend, args.memory, config, plan_builder(args)
    )
    quantized = config.precision.quantized is not None
    report = compare_layerwise(
        reference_graph,
        reference_weights,
        inputs,
        run_marked,
        tolerance=tolerance,
        bisect=args.bisect and not quantized,  # quantized: --bisect searches keep-fp16 layers
        probes=args.probes,
        notes=notes,
    )
    report = dataclasses.replace(
        report,
        notes=(*report.notes, f"backend: {run_marked.description}"),
        tolerance_source=tolerance_source,
    )
    losses = search = None
    if quantized:
        from trtdsl.debug.quantization import rank_quantization_loss

        losses = rank_quantization_loss(report, reference_graph, config.keep_fp32)
        if args.bisect:
            search = _search_keep_fp16(args, graph, weights, inputs, config, losses, tolerance)
    if args.format == "json":
        data = report.to_json()
        data.update(
            model=graph.name,
            backend=args.backend,
            ran_on=run_marked.description,
            emulated="emulated" in run_marked.description,
        )
        if losses is not None:
            data["quantization_loss"] = [dataclasses.asdict(loss) for loss in losses]
        if search is not None:
            data["keep_fp16"] = {
                "layers": list(search.keep),
                "output_error": search.error,
                "all_quantized_error": search.quantized_error,
                "met_tolerance": search.met,
                "builds": search.builds,
            }
        print_json(data)
    else:
        _print_report(report)
        if losses:
            ranked = ", ".join(f"{loss.node} {loss.added:+.3g}" for loss in losses[:10])
            print(f"most accuracy lost to {config.precision.value} (added rel error): {ranked}")
        if search is not None:
            print(_describe_search(search, tolerance))
    if search is not None:
        return 0 if search.met else EXIT_MISMATCH
    return EXIT_MISMATCH if report.first_bad else 0


def _describe_search(search: KeepSearch, tolerance: float) -> str:
    if not search.keep:
        return f"keep in fp16: nothing needed: output rel error {search.error:.3g}"
    verdict = "meets" if search.met else "does NOT meet"
    options = " ".join(f"--keep-fp16 '{name}'" for name in search.keep)
    return (
        f"keep in fp16: {', '.join(search.keep)}: output rel error {search.error:.3g} (all "
        f"quantized: {search.quantized_error:.3g}), {verdict} --tolerance {tolerance:g}; "
        f"{search.builds} engines built; build with {options}"
    )


def _search_keep_fp16(
    args: argparse.Namespace,
    graph: Graph,
    weights: Mapping[str, np.ndarray],
    inputs: Mapping[str, np.ndarray],
    config: BuildConfig,
    losses: Sequence[LayerLoss],
    tolerance: float,
) -> KeepSearch:
    """The smallest set of quantized layers (greedy by added error, then pruned) to leave in
    fp16 for the outputs to meet --tolerance; each trial builds and runs one engine."""
    from trtdsl.backends.reference import run_reference
    from trtdsl.backends.trt import prepare_graph
    from trtdsl.debug.compare import compare_arrays
    from trtdsl.debug.quantization import search_fp16_layers
    from trtdsl.runtime.engines import EngineBackend

    want = run_reference(graph, weights, inputs)
    backend = EngineBackend(args.backend, memory=args.memory, config=config, prepared=True)

    def output_error(keep: tuple[str, ...]) -> float:
        prepared, prepared_weights = prepare_graph(
            graph,
            weights,
            config.precision,
            config.keep_fp32,
            calibration=config.calibration,
            unquantized=(*config.keep_fp16, *keep),
        )
        got = backend(prepared, prepared_weights, inputs)
        return max(compare_arrays(want[k], got[k])[2] for k in want)

    return search_fp16_layers(output_error, [loss.node for loss in losses], tolerance)


def _tolerance(args: argparse.Namespace) -> tuple[float, str]:
    """``--tolerance``, else the precision's default (``debug/tolerances.py``), and where it
    came from, for the output."""
    from trtdsl.debug.tolerances import default_tolerance

    if args.tolerance is not None:
        return args.tolerance, "--tolerance"
    precision = getattr(args, "precision", None) or "fp32"
    return default_tolerance(precision), f"the {precision} default"


def parse_perturb(text: str) -> tuple[str, float]:
    """``"KEY=0.5"`` -> ``("KEY", 0.5)``; the scale defaults to 0.1."""
    key, sep, scale = text.partition("=")
    if not key:
        raise UsageError(f"--perturb {text!r}: expected KEY[=SCALE]")
    if not sep:
        return key, 0.1
    try:
        return key, float(scale)
    except ValueError:
        raise UsageError(f"--perturb {text!r}: SCALE must be a number, got {scale!r}") from None


class _RunMarked:
    """Builds a debug engine marking the requested values and runs it (one build per call)."""

    def __init__(
        self,
        graph: object,
        weights: Mapping[str, np.ndarray],
        inputs: Mapping[str, np.ndarray],
        backend: str,
        memory: str,
        config: BuildConfig,
        build: PlanBuilder | None = None,
    ) -> None:
        self.graph = graph
        self.weights = weights
        self.inputs = inputs
        self.backend = backend
        self.memory = memory
        self.config = config
        self.build = build
        self.builds = 0
        self.description = ""

    def __call__(self, values: Sequence[str]) -> dict[str, np.ndarray]:
        from trtdsl.runtime.engines import build_in_memory, describe_run
        from trtdsl.runtime.runner import EngineRunner

        self.builds += 1
        loaded = build_in_memory(
            self.graph,  # type: ignore[arg-type]
            self.weights,
            self.backend,
            debug_outputs=values,
            prepared=True,
            config=self.config,
            emulate_if_not_runnable=True,
            build=self.build,
        )
        with EngineRunner(loaded.engine, loaded.trt, self.memory) as runner:
            outputs = runner.infer(self.inputs)
            self.description = describe_run(loaded, runner.memory.kind)
        ports = {p.name: p.value for p in loaded.graph.outputs}  # type: ignore[union-attr]
        return {ports.get(name, name): array for name, array in outputs.items()}


def _run_against(args: argparse.Namespace) -> int:
    """``compare MODEL --against ACTS.npz``: the model's reference against saved activations.

    The archive is read lazily: every array's header is checked (the inputs against the
    model's declared shapes and ranges, all of them together against the memory budget)
    before any data is decompressed, and only the arrays the model names are read."""
    from trtdsl.cli.args import check_input_shape, load_bound_weights, load_graph
    from trtdsl.cli.inputs import model_inputs
    from trtdsl.debug.against import compare_against
    from trtdsl.debug.inputs import require_graph_memory
    from trtdsl.files import NpzArchive, format_bytes, require_memory

    graph = load_graph(args.source, args)
    if not args.weights:
        raise UsageError(f"{args.source}: a MODEL needs --weights (a .safetensors file or random)")
    weights = load_bound_weights(args, graph).arrays
    name_map = _load_name_map(args.name_map) if args.name_map else {}
    label = f"--against {args.against}"
    with NpzArchive(args.against, label) as saved:
        if args.input:
            inputs = model_inputs(graph, args.input, args.seed)
        else:
            missing = [n for n in graph.inputs if name_map.get(n, n) not in saved]
            if missing:
                raise UsageError(
                    f"{label}: no array for input(s) {', '.join(missing)}; "
                    "give --input NAME=FILE.npy (the input the activations were saved for)"
                )
            for n in graph.inputs:
                shape = saved.header(name_map.get(n, n)).shape
                check_input_shape(graph, n, shape, f"{label}[{name_map.get(n, n)}]")
            require_graph_memory(
                graph, {n: saved.header(name_map.get(n, n)).shape for n in graph.inputs}
            )
            inputs = {n: saved.read(name_map.get(n, n)) for n in graph.inputs}

        def key(value: str) -> str:
            node = graph.producer(value)
            name = node.name if node is not None and node.outputs == (value,) else value
            return name_map.get(value, name_map.get(name, name))

        wanted = {key(v) for n in graph.nodes for v in n.outputs if key(v) in saved}
        total = sum(saved.header(k).nbytes for k in wanted)
        require_memory(total, f"{label}: its {len(wanted)} activations ({format_bytes(total)})")
        arrays = {k: saved.read(k) for k in sorted(wanted)}

    found = sum(1 for n in graph.nodes for v in n.outputs if key(v) in arrays)
    total = sum(len(n.outputs) for n in graph.nodes)
    notes = [
        f"trtdsl's reference (NumPy, the model as written) against the framework's "
        f"{args.against}: {found} of {total} node values found there by name; errors are "
        "relative to the framework's values; where a framework value differs from its "
        "node's, it is also matched in its own layout and against the nodes after it"
    ]
    tolerance, tolerance_source = _tolerance(args)
    report = compare_against(
        graph, weights, inputs, arrays, key, tolerance, notes, tolerance_source
    )
    if args.format == "json":
        data = report.to_json()
        data.update(model=graph.name, against=args.against)
        print_json(data)
    else:
        _print_report(report)
    return EXIT_MISMATCH if report.first_bad else 0


def _load_name_map(path: str) -> dict[str, str]:
    from trtdsl.files import read_json

    data = read_json(path, f"--name-map {path}", limit=64 << 20)
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in data.items()
    ):
        raise UsageError(f"--name-map {path}: expected a JSON object of node name -> npz key")
    return data


def _print_report(report: object) -> None:
    from trtdsl.debug.compare import LayerwiseReport, format_number, verdict

    assert isinstance(report, LayerwiseReport)
    rows = [
        {
            "node": r.node if r.value == r.node else f"{r.node} ({r.value})",
            "op": r.op,
            "shape": "x".join(map(str, r.shape)) or "scalar",
            "max_ref": format_number(r.max_ref),
            "abs": format_number(r.max_abs_error),
            "rel": format_number(r.rel_error),
            "cos": format_number(r.cosine, 6),
            "status": r.status.upper() if r.status == "bad" else r.status,
            "detail": r.detail,
        }
        for r in report.rows
    ]
    footer = [f"note: {n}" for n in report.notes]
    if report.expected != "reference":
        mode = "all values compared"
    else:
        mode = (
            f"bisection, {report.builds} debug builds" if report.bisect else "all values compared"
        )
    if report.first_nonfinite:
        footer.append(
            f"first node with inf or NaN ({report.expected} finite): {report.first_nonfinite}"
        )
    footer.append(verdict(report, mode))
    print_table(
        [
            Column("node", "node"),
            Column("op", "op"),
            Column("shape", "shape"),
            Column("max_ref", f"max |{report.expected}|", "right"),
            Column("abs", f"max |{report.actual} - {report.expected}|", "right"),
            Column("rel", "rel err", "right"),
            Column("cos", "cosine", "right"),
            Column("status", "status"),
            Column("detail", ""),
        ],
        rows,
        footer=footer,
    )

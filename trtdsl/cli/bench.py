"""``trtdsl bench``: latency and throughput of an engine, in the manner of trtexec."""

from __future__ import annotations

import argparse

from trtdsl.cli._engine_args import (
    add_memory_argument,
    add_source_arguments,
    load_source,
    progress_bar,
)
from trtdsl.cli.args import add_threads_option, with_threads
from trtdsl.cli.format import Column, add_format_option, print_json, print_table

EXAMPLES = """examples:
  trtdsl bench resnet50.engine --iterations 200
  trtdsl bench resnet50.engine --duration 5 --cuda-graph --format json
  trtdsl bench resnet50.engine --shape x=32x3x224x224 --profile
  trtdsl bench zoo/resnet50.yaml --weights random --backend emulated --iterations 3 --warmup 1

Timings of --backend emulated (or of an engine compiled with --emulate) are timings of trtdsl's
CPU emulator (NumPy), never of TensorRT; the report says so.
"""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "bench",
        help="measure latency and throughput of an engine (trtexec-style)",
        description=(
            "Run an engine repeatedly on one input set: warm-up iterations, then timed "
            "iterations (a count or a duration). Reports latency min/mean/median/p90/p95/p99, "
            "throughput, and the host-to-device / compute / device-to-host split measured with "
            "CUDA events. --profile adds TensorRT's per-layer times mapped to DSL nodes."
        ),
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_source_arguments(parser)
    parser.add_argument("--warmup", type=int, default=10, help="warm-up iterations (default 10)")
    parser.add_argument(
        "--iterations", type=int, help="timed iterations (default 100, or as many as --duration)"
    )
    parser.add_argument("--duration", type=float, metavar="SECONDS", help="time at least this long")
    parser.add_argument(
        "--cuda-graph",
        action="store_true",
        help="capture copies + execution in a CUDA graph and replay it (no per-stage split)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also report per-layer times (IProfiler) mapped to DSL nodes, slowest first",
    )
    parser.add_argument(
        "--profile-iterations", type=int, default=10, help="runs averaged by --profile (10)"
    )
    add_memory_argument(parser)
    add_format_option(parser)
    add_threads_option(parser)
    parser.set_defaults(func=with_threads(run))


def run(args: argparse.Namespace) -> int:
    from trtdsl.runtime.bench import (
        EMULATED_WARNING,
        benchmark,
        format_bench,
        profile_layers,
    )
    from trtdsl.runtime.runner import EngineRunner

    source = load_source(args)
    loaded = source.loaded
    layers = None
    with EngineRunner(loaded.engine, loaded.trt, args.memory, args.cuda_graph) as runner:
        total = args.iterations if args.duration is None else None
        with progress_bar("benchmarking", total or args.iterations or 100) as advance:
            result = benchmark(
                runner,
                source.feed,
                warmup=args.warmup,
                iterations=args.iterations,
                duration_s=args.duration,
                engine=f"{loaded.description} ({loaded.source})",
                progress=advance,  # type: ignore[arg-type]
            )
        if args.profile:
            runner.cuda_graph = False  # the profiler reports per enqueue, not per replay
            layers = profile_layers(
                runner, source.feed, args.profile_iterations, loaded.node_names()
            )
    if args.format == "json":
        data = result.to_json()
        if layers is not None:
            data["layers"] = [
                {"layer": r.layer, "nodes": list(r.nodes), "ms": r.ms, "percent": r.percent}
                for r in layers
            ]
        print_json(data)
        return 0
    print(format_bench(result))
    if layers is not None:
        rows = [
            {
                "layer": r.layer,
                "nodes": ", ".join(r.nodes) or "-",
                "ms": f"{r.ms:.4f}",
                "percent": f"{r.percent:.1f}",
            }
            for r in layers
        ]
        columns = [
            Column("ms", "ms", "right"),
            Column("percent", "%", "right"),
            Column("layer", "engine layer"),
            Column("nodes", "DSL nodes"),
        ]
        total_ms = sum(r.ms for r in layers)
        footer = [f"total {total_ms:.4f} ms over {len(layers)} layers (profiled runs are slower)"]
        if result.emulated:
            footer.append(EMULATED_WARNING)
        print()
        print_table(columns, rows, title="per-layer times", footer=footer)
    return 0

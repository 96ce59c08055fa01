"""``trtdsl compile``: model + weights -> TensorRT engine (+ JSON sidecar), checked against the
reference executor."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import numpy as np

from trtdsl.backends.trt import (
    BuildConfig,
    BuildProgress,
    build_engine,
    emit_network,
    import_trt,
    network_layers,
    parse_shapes,
    prepare_graph,
    profile_shapes,
)
from trtdsl.backends.trt.files import write_atomic
from trtdsl.backends.trt.layers import network_io
from trtdsl.backends.trt.module import describe_version, is_emulator
from trtdsl.cli.args import add_model_argument, add_weights_options, load_bound_weights, load_graph
from trtdsl.cli.format import Column, print_table
from trtdsl.debug.check import check_engine
from trtdsl.errors import BackendError, UsageError
from trtdsl.ir.graph import Graph
from trtdsl.ir.types import Precision

EXAMPLES = """examples:
  trtdsl compile zoo/resnet50.yaml --weights random --emulate
  trtdsl compile zoo/resnet50.yaml --weights random --emulate --print-layers
  trtdsl compile resnet50 --weights resnet50.safetensors -o resnet50.engine
  trtdsl compile resnet50 --weights resnet50.safetensors --precision fp16 --keep-fp32 'fc'
  trtdsl compile resnet50 --weights resnet50.safetensors \\
      --shapes x=1x3x224x224:8x3x224x224:32x3x224x224 --timing-cache resnet50.cache
"""

PRECISION_HELP = (
    "compute precision: fp32 (default; exact float32 with TF32 disabled, so results match the "
    "reference), tf32 (float32 with TF32 tensor-core math allowed), fp16 or bf16 (half "
    "precision inside, float32 inputs and outputs)"
)

CHECK_TOLERANCE = {
    Precision.FP32: 1e-4,
    Precision.TF32: 2e-2,
    Precision.FP16: 2e-2,
    Precision.BF16: 1e-1,
}
"""Largest accepted error relative to max |reference|, per precision, before compile fails."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "compile",
        help="build a TensorRT engine from a model and its weights",
        description=(
            "Compile MODEL with weights W into a TensorRT engine: fold batch norms, make the "
            "precision explicit (casts and typed weights), emit the network layer by layer, "
            "build and serialize it, then run it on a seeded random input and print its error "
            "against the NumPy reference. Writes OUT.engine and OUT.engine.json (hashes, "
            "TensorRT version, GPU, options, I/O tensors) atomically. Without TensorRT, "
            "--emulate does all of it with trtdsl's CPU emulator of the TensorRT API and "
            "writes no engine."
        ),
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_model_argument(parser)
    add_weights_options(parser)
    parser.add_argument(
        "-o",
        "--output",
        metavar="OUT.engine",
        help="the engine file to write (default: <model name>.engine)",
    )
    parser.add_argument(
        "--precision",
        choices=[p.value for p in Precision],
        default=Precision.FP32.value,
        help=PRECISION_HELP,
    )
    parser.add_argument(
        "--keep-fp32",
        action="append",
        default=[],
        metavar="PATTERN",
        help="keep nodes whose name matches this glob in float32 (e.g. '*.softmax'); repeatable",
    )
    parser.add_argument(
        "--shapes",
        action="append",
        default=[],
        metavar="NAME=MIN:OPT:MAX",
        help=(
            "optimization-profile shapes of an input, each AxBxCxD, e.g. "
            "x=1x3x224x224:8x3x224x224:32x3x224x224, or NAME=SHAPE for one fixed shape "
            "(default: the model's declared dimension ranges); repeatable"
        ),
    )
    parser.add_argument(
        "--workspace",
        metavar="SIZE",
        help="workspace memory limit, e.g. 4G or 512M (default: TensorRT's, all device memory)",
    )
    parser.add_argument(
        "--opt-level",
        type=int,
        metavar="N",
        help="builder optimization level 0..5 (default: TensorRT's, 3)",
    )
    parser.add_argument(
        "--timing-cache",
        metavar="F",
        help="timing cache file: read before the build if it exists, written after",
    )
    parser.add_argument(
        "--refittable", action="store_true", help="allow refitting the weights later, by name"
    )
    parser.add_argument(
        "--print-layers",
        action="store_true",
        help="print every layer of the network as emitted (index, name, type, inputs, outputs)",
    )
    parser.add_argument(
        "--emulate",
        action="store_true",
        help="use trtdsl's CPU emulator of TensorRT (no GPU needed; writes no engine)",
    )
    parser.add_argument(
        "--no-check", action="store_true", help="skip running the engine against the reference"
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the random check input (default: 0)"
    )
    parser.set_defaults(func=run)


def parse_size(text: str | None) -> int | None:
    """``"4G"`` -> 4 << 30; ``"512M"``, ``"64K"``, plain bytes; None stays None."""
    if text is None:
        return None
    match = re.fullmatch(r"\s*(\d+)\s*([KMG]?)i?B?\s*", text, re.IGNORECASE)
    if not match:
        raise UsageError(f"--workspace {text!r}: expected a size like 4G, 512M or 1048576")
    shift = {"": 0, "K": 10, "M": 20, "G": 30}[match.group(2).upper()]
    return int(match.group(1)) << shift


def run(args: argparse.Namespace) -> int:
    trt = import_trt("emulated" if args.emulate else "auto")
    emulated = is_emulator(trt)
    out = _Output(sys.stdout)
    graph = load_graph(args.model, args)
    config = BuildConfig(
        precision=Precision.parse(args.precision),
        keep_fp32=tuple(args.keep_fp32),
        workspace=parse_size(args.workspace),
        shapes=parse_shapes(args.shapes),
        optimization_level=args.opt_level,
        timing_cache=args.timing_cache,
        refittable=args.refittable,
    )
    profiles = profile_shapes(graph, config)
    bound = load_bound_weights(args, graph)
    prepared, weights = prepare_graph(graph, bound.arrays, config.precision, config.keep_fp32)
    emitted = emit_network(trt, prepared, weights)
    layers = network_layers(trt, emitted.network)
    out.line(
        f"model: {graph.name} ({args.model}): {len(graph.nodes)} nodes -> "
        f"{len(layers)} TensorRT layers"
    )
    out.line(f"weights: {bound.source}")
    out.line(f"backend: {describe_version(trt)}")
    out.line(f"options: {config.describe()}")
    if args.print_layers:
        _print_layers(layers)
    with _progress_bar(sys.stderr) as progress:
        start = time.perf_counter()
        plan = build_engine(emitted, config, progress=progress)
        build_seconds = time.perf_counter() - start
    label = " (emulated)" if emulated else ""
    out.line(f"build{label}: {build_seconds:.2f} s, {len(plan):,} bytes")
    check: dict[str, Any] | None = None
    if not args.no_check:
        check = _check(trt, plan, graph, bound.arrays, profiles, config, args.seed, out)
    if emulated:
        out.line("emulated: no engine written (the emulator's plan is not a TensorRT engine)")
        return 0
    path = args.output or f"{graph.name}.engine"
    sidecar = _sidecar(args, graph, bound.arrays, trt, config, emitted, plan, build_seconds, check)
    _write_outputs(path, plan, sidecar)
    out.line(f"engine: {path} ({len(plan):,} bytes) and {path}.json")
    return 0


class _Output:
    def __init__(self, stream: Any) -> None:
        self.stream = stream

    def line(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()


def _print_layers(layers: list[Any]) -> None:
    columns = [
        Column("index", "#", "right"),
        Column("name", "layer"),
        Column("type", "type"),
        Column("inputs", "inputs"),
        Column("outputs", "outputs"),
    ]
    rows = [
        {
            "index": la.index,
            "name": la.name,
            "type": la.type,
            "inputs": ", ".join(t.format() for t in la.inputs) or "-",
            "outputs": ", ".join(t.format() for t in la.outputs),
        }
        for la in layers
    ]
    print_table(columns, rows, title=f"network: {len(layers)} layers (as emitted)")


@contextmanager
def _progress_bar(stream: Any) -> Iterator[Callable[[BuildProgress], None] | None]:
    """A rich progress bar on ``stream`` (a terminal only) fed by BuildProgress events."""
    if not stream.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=Console(file=stream),
        transient=True,
    ) as bar:
        tasks: dict[str, Any] = {}

        def update(event: BuildProgress) -> None:
            if event.phase not in tasks:
                tasks[event.phase] = bar.add_task(event.phase, total=max(event.total, 1))
            bar.update(tasks[event.phase], completed=event.step)
            if event.finished:
                bar.remove_task(tasks.pop(event.phase))

        yield update


def _check(
    trt: Any,
    plan: bytes,
    graph: Graph,
    weights: Mapping[str, np.ndarray],
    profiles: Mapping[str, Any],
    config: BuildConfig,
    seed: int,
    out: _Output,
) -> dict[str, Any]:
    shapes = {name: r.min for name, r in profiles.items()}
    result = check_engine(trt, plan, graph, weights, shapes, seed)
    label = " (emulated)" if is_emulator(trt) else ""
    tolerance = CHECK_TOLERANCE[config.precision]
    for name, err in result["outputs"].items():
        out.line(
            f"check{label}: {name}: max abs error {err['max_abs']:.3g}, max rel error "
            f"{err['max_rel']:.3g} (relative to max |reference| {err['ref_max']:.3g}) on "
            f"seeded input {result['inputs']} (seed {seed})"
        )
    for name, top in result["top5"].items():
        agree = "same" if top["engine"] == top["reference"] else "DIFFERENT"
        out.line(
            f"check{label}: {name} top-5 classes (row 0): reference {top['reference']}, "
            f"engine {top['engine']} ({agree})"
        )
    worst = max((e["max_rel"] for e in result["outputs"].values()), default=0.0)
    result["tolerance"] = tolerance
    if not worst <= tolerance:
        raise BackendError(
            f"the engine's outputs differ from the reference: max rel error {worst:.3g} > "
            f"{tolerance:g} for {config.precision.value}; nothing written (--no-check skips this)"
        )
    return result


def _sha256_file(path: str) -> str | None:
    try:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        return h.hexdigest()
    except OSError:
        return None


def _sha256_arrays(arrays: Mapping[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    for key in sorted(arrays):
        a = np.ascontiguousarray(arrays[key])
        h.update(f"{key}:{a.dtype.str}:{a.shape};".encode())
        h.update(a.reshape(-1).view(np.uint8).data)
    return h.hexdigest()


def _gpu_name() -> str | None:
    try:
        from cuda.bindings import runtime as cudart

        err, props = cudart.cudaGetDeviceProperties(0)
        name = props.name
        return (name.decode() if isinstance(name, bytes) else str(name)).rstrip("\x00")
    except Exception:  # noqa: BLE001  (the sidecar records None when the GPU is unknown)
        return None


def _sidecar(
    args: argparse.Namespace,
    graph: Graph,
    weights: Mapping[str, np.ndarray],
    trt: Any,
    config: BuildConfig,
    emitted: Any,
    plan: bytes,
    build_seconds: float,
    check: dict[str, Any] | None,
) -> dict[str, Any]:
    from trtdsl import __version__
    from trtdsl.frontend.load import resolve_model_path

    try:
        model_path = str(resolve_model_path(args.model))
    except Exception:  # noqa: BLE001
        model_path = None
    inputs, outputs = network_io(emitted.network)
    return {
        "trtdsl": __version__,
        "model": {
            "name": graph.name,
            "spec": args.model,
            "file_sha256": _sha256_file(model_path) if model_path else None,
            "graph_sha256": hashlib.sha256(graph.format().encode()).hexdigest(),
        },
        "weights": {"source": args.weights, "sha256": _sha256_arrays(weights)},
        "tensorrt": str(trt.__version__),
        "gpu": _gpu_name(),
        "options": config.to_dict(),
        "io": {
            "inputs": [_io(t) for t in inputs],
            "outputs": [_io(t) for t in outputs],
        },
        "layers": int(emitted.network.num_layers),
        "build_seconds": round(build_seconds, 3),
        "engine_bytes": len(plan),
        "engine_sha256": hashlib.sha256(plan).hexdigest(),
        "check": check,
    }


def _io(t: Any) -> dict[str, Any]:
    return {"name": t.name, "dtype": t.dtype, "shape": list(t.shape)}


def _write_outputs(path: str, plan: bytes, sidecar: Mapping[str, Any]) -> None:
    """The engine, then its sidecar, each atomically; no engine stays without its sidecar."""
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise UsageError(f"-o {path}: directory {directory} does not exist")
    write_atomic(path, plan)
    try:
        write_atomic(path + ".json", (json.dumps(sidecar, indent=2) + "\n").encode())
    except BaseException:
        os.unlink(path)
        raise

"""``trtdsl compile``: model + weights -> TensorRT engine (+ JSON sidecar), checked against the
reference executor."""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import numpy as np

from trtdsl.backends.trt import (
    BuildConfig,
    BuildProgress,
    BuildResult,
    build_engine,
    build_network,
    emit_network,
    import_trt,
    network_layers,
    prepare_for_build,
    profile_shapes,
)
from trtdsl.backends.trt.layers import network_io
from trtdsl.backends.trt.module import (
    backend_of,
    describe_targets,
    describe_version,
    is_emulator,
    product_name,
)
from trtdsl.backends.trt.sidecar import (
    CacheRecord,
    EngineSidecar,
    IORecord,
    IOTensorRecord,
    ModelRecord,
    OptionsRecord,
    ProfileRecord,
    WeightsRecord,
    custom_op_records,
    sidecar_path,
)
from trtdsl.cli._engine_args import add_input_options
from trtdsl.cli.args import (
    add_backend_option,
    add_build_options,
    add_detection_options,
    add_model_argument,
    add_precision_options,
    add_threads_option,
    add_weights_options,
    build_config,
    check_command_outputs,
    load_bound_weights,
    load_graph,
    open_cache,
    with_threads,
)
from trtdsl.cli.format import Column, print_table
from trtdsl.debug.check import check_engine_runs, check_problems
from trtdsl.debug.inputs import seeded_inputs
from trtdsl.debug.tolerances import TOLERANCES
from trtdsl.errors import BackendError, EngineNotRunnableError, TrtdslError
from trtdsl.files import write_files
from trtdsl.ir.graph import Graph
from trtdsl.ir.types import ShapeRange, ValueRange
from trtdsl.runtime.engines import not_runnable_reason

EXAMPLES = """examples:
  trtdsl compile zoo/resnet50.yaml --weights random
  trtdsl compile zoo/resnet50.yaml --weights random --backend tensorrt-rtx \\
      --compute-capability 86,89
  trtdsl compile zoo/resnet50.yaml --weights random --emulate --print-layers
  trtdsl compile resnet50 --weights resnet50.safetensors --precision fp16 --keep-fp32 'fc'
  trtdsl compile resnet50 --weights resnet50.safetensors \\
      --shape x=1x3x224x224:8x3x224x224:32x3x224x224 --timing-cache resnet50.cache

Without a GPU, --backend tensorrt-rtx (auto picks it when TensorRT is absent) builds a real
engine ahead of time; its numerics are then checked through trtdsl's CPU emulator, and the
output says so.
"""

CHECK_TOLERANCE = TOLERANCES
"""Largest accepted error relative to max |reference|, per precision, before compile fails:
the one table ``compare`` and ``refit`` use too (``trtdsl.debug.tolerances``; int8/fp8: a
gross-error guard only; quantization accuracy is measured on real data, see ``trtdsl
calibrate`` and ``compare --precision int8``)."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "compile",
        help="build a TensorRT engine from a model and its weights",
        description=(
            "Compile MODEL with weights W into a TensorRT engine: fold batch norms, make the "
            "precision explicit (casts and typed weights), emit the network layer by layer, "
            "build and serialize it, then check it against the NumPy reference on seeded "
            "inputs at the min, opt and max of every dynamic profile (or on --input). Writes "
            "OUT.engine and OUT.engine.json (product and version, targets, hashes, options, "
            "I/O tensors and profiles, layers) atomically. --backend emulated does all of it "
            "with trtdsl's CPU emulator of the TensorRT API and writes no engine."
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
    add_backend_option(parser, what="builds the engine")
    add_precision_options(parser)
    add_build_options(parser)
    add_detection_options(parser)
    add_input_options(parser, ranges=True)
    parser.add_argument(
        "--print-layers",
        action="store_true",
        help="print every layer of the network as emitted (index, name, type, inputs, outputs)",
    )
    parser.add_argument(
        "--no-check", action="store_true", help="skip running the engine against the reference"
    )
    add_threads_option(parser)
    parser.set_defaults(func=with_threads(run))


def run(args: argparse.Namespace) -> int:
    trt = import_trt(args.backend)
    emulated = is_emulator(trt)
    out = _Output(sys.stdout)
    graph = load_graph(args.model, args)
    config = build_config(args)
    cache = open_cache(args)
    profiles = profile_shapes(graph, config)
    path = None if emulated else (args.output or f"{graph.name}.engine")
    target = path or args.output  # an emulated build writes none, but -o must still be sane
    check_command_outputs(
        args,
        [
            ("-o", target),
            ("-o", sidecar_path(target) if target else None),
            ("--timing-cache", config.timing_cache),
        ],
    )
    bound = load_bound_weights(args, graph)
    check_inputs = _check_inputs(args, graph, profiles)
    prepared, weights = prepare_for_build(graph, bound.arrays, config)
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
    cached: CacheRecord | None = None
    if cache is None:
        with _progress_bar(sys.stderr) as progress:
            result = build_network(emitted, config, progress=progress)
    else:
        result, cached = _build_through_cache(cache, emitted, config, out)
    for note in result.notes:
        out.line(f"note: {note}")
    label = (
        " (emulated)" if emulated else f" ({describe_targets(trt, config.compute_capabilities)})"
    )
    if cached is not None and cached.hit:
        out.line(
            f"build{label}: skipped (cached; built in {result.seconds:.2f} s), "
            f"{len(result.plan):,} bytes"
        )
    else:
        out.line(f"build{label}: {result.seconds:.2f} s, {len(result.plan):,} bytes")
    check: dict[str, Any] | None = None
    if not args.no_check:
        check = _check(trt, result.plan, graph, bound.arrays, check_inputs, config, out)
    if path is None:
        out.line("emulated: no engine written (the emulator's plan is not a TensorRT engine)")
        return 0
    sidecar = _sidecar(args, graph, bound.arrays, trt, config, emitted, result, profiles, check)
    if cached is not None:
        sidecar = dataclasses.replace(sidecar, cache=cached)
    # The engine and its sidecar together or neither; a previous pair stays intact on failure.
    write_files([(path, result.plan), (sidecar_path(path), sidecar.to_json())])
    out.line(f"engine: {path} ({len(result.plan):,} bytes) and {path}.json")
    return 0


def _build_through_cache(
    cache: Any, emitted: Any, config: BuildConfig, out: _Output
) -> tuple[BuildResult, CacheRecord]:
    """Read the engine from ``--cache`` or build it and store it there; says which."""
    from trtdsl.deploy.cache import cache_key

    key = cache_key(emitted, config)
    with _progress_bar(sys.stderr) as progress:
        result, hit = cache.build(
            key, lambda: build_network(emitted, config, progress=progress), emitted.graph.name
        )
    where = f"{cache.directory}/{key.digest}.engine"
    if hit:
        out.line(f"cache: hit {key.digest[:12]}: build skipped, engine read from {where}")
    else:
        out.line(f"cache: miss {key.digest[:12]}: built and stored as {where}")
    return result, CacheRecord(str(cache.directory), key.digest, hit)


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


def _check_inputs(
    args: argparse.Namespace, graph: Graph, profiles: Mapping[str, ShapeRange]
) -> list[dict[str, np.ndarray]]:
    """The inputs the engine is checked on: ``--input``, else seeded inputs at the min, opt
    and max of every dynamic profile (one set when the model is static)."""
    if args.input:
        from trtdsl.cli.inputs import model_inputs, photo_inputs

        photos, specs = photo_inputs(graph, args.input, args.model)
        return [model_inputs(graph, specs, args.seed, given=photos)]
    sets: list[dict[str, np.ndarray]] = []
    seen: set[tuple[tuple[int, ...], ...]] = set()
    for which in ("min", "opt", "max"):
        shapes = {name: getattr(r, which) for name, r in profiles.items()}
        key = tuple(shapes[n] for n in sorted(shapes))
        if key not in seen:
            seen.add(key)
            sets.append(seeded_inputs(graph, args.seed, shapes, at=which))
    return sets


def _check(
    trt: Any,
    plan: bytes,
    graph: Graph,
    weights: Mapping[str, np.ndarray],
    inputs: list[dict[str, np.ndarray]],
    config: BuildConfig,
    out: _Output,
) -> dict[str, Any]:
    """Run the engine where this machine can; else the same network through the emulator.

    Returns the check record for the sidecar (``level``: ``engine``, ``emulated`` or
    ``emulated-fallback`` with ``why``).
    """
    level, why = ("emulated", None) if is_emulator(trt) else ("engine", None)
    tolerance = CHECK_TOLERANCE[config.precision]
    try:
        runs = check_engine_runs(trt, plan, graph, weights, inputs, tolerance)
    except EngineNotRunnableError as e:
        level, why = "emulated-fallback", str(e)
        out.line(
            f"check: numerics emulated: the {describe_version(trt)} plan above is real, but "
            f"{not_runnable_reason(why)}; the same network was built and run by trtdsl's CPU "
            "emulator"
        )
        emulator = import_trt("emulated")
        prepared, prepared_weights = prepare_for_build(graph, weights, config)
        # The same network and profile; no ahead-of-time targets or cache for the emulator.
        emulator_config = config.for_emulator()
        emulated_network = emit_network(
            emulator, prepared, prepared_weights, product=backend_of(trt)
        )
        emulated_plan = build_engine(emulated_network, emulator_config)
        runs = check_engine_runs(emulator, emulated_plan, graph, weights, inputs, tolerance)
    label = "" if level == "engine" else " (emulated)"
    out.line(f"check{label}: tolerance {tolerance:g} (the {config.precision.value} default)")
    for result in runs:
        for name, err in result["outputs"].items():
            out.line(
                f"check{label}: {name}: max abs error {err['max_abs']:.3g}, max rel error "
                f"{err['max_rel']:.3g} (relative to max |reference| {err['ref_max']:.3g}) on "
                f"input {result['inputs']}"
            )
        for name, found in result["discrete"].items():
            out.line(
                f"check{label}: {name}: {_describe_discrete(found)} on input {result['inputs']}"
            )
        for name, top in result["top5"].items():
            agree = "same" if top["engine"] == top["reference"] else "DIFFERENT"
            out.line(
                f"check{label}: {name} top-5 classes (row 0): reference {top['reference']}, "
                f"engine {top['engine']} ({agree})"
            )
        if "detections" in result:
            _report_detections(result["detections"], result["inputs"], label, out)
    problems = check_problems(runs, tolerance, config.precision.value)
    if problems:
        raise BackendError(f"{problems[0]}; nothing written (--no-check skips this)")
    return {"level": level, "why": why, "tolerance": tolerance, "runs": runs}


def _describe_discrete(found: Mapping[str, Any]) -> str:
    """A ``DiscreteComparison.to_json()`` record in words."""
    from trtdsl.debug.discrete import DiscreteComparison

    fields = ("positions", "differ", "ties", "margin", "argmax")
    return DiscreteComparison(**{k: found[k] for k in fields}).describe()


def _report_detections(found: dict[str, Any], inputs: str, label: str, out: _Output) -> None:
    """The NMS stage's check lines (``debug.detections.check_detections``)."""
    out.line(
        f"check{label}: detections: {list(found['rows'])} per image (reference "
        f"{list(found['reference_rows'])}), each a reference candidate within "
        f"{found['box_error']:.3g} px (boxes up to {found['box_scale']:.3g}) and "
        f"{found['score_error']:.3g} in score, together an NMS of the candidates"
        f"{'' if not found['problems'] else ' EXCEPT: ' + found['problems'][0]} on input "
        f"{inputs}"
    )


def _sidecar(
    args: argparse.Namespace,
    graph: Graph,
    weights: Mapping[str, np.ndarray],
    trt: Any,
    config: BuildConfig,
    emitted: Any,
    result: BuildResult,
    profiles: Mapping[str, ShapeRange],
    check: dict[str, Any] | None,
) -> EngineSidecar:
    """The engine's sidecar: what built it, for which GPUs, from what, how it checked."""
    from trtdsl import __version__
    from trtdsl.calibration.result import weights_digest  # (not at start-up: every command)
    from trtdsl.files import parse_record, sha256_file
    from trtdsl.frontend.load import resolve_model_path
    from trtdsl.runtime.cuda import gpu_compute_capability

    try:
        model_sha256: str | None = sha256_file(resolve_model_path(args.model))
    except TrtdslError:
        model_sha256 = None
    inputs, outputs = network_io(emitted.network)
    cc, gpu = gpu_compute_capability()
    return EngineSidecar(
        trtdsl=__version__,
        product=product_name(trt),
        version=str(trt.__version__),
        backend=backend_of(trt),
        compute_capabilities=tuple(config.compute_capabilities) or None,
        targets=describe_targets(trt, config.compute_capabilities),
        build_machine_gpu=gpu if cc is not None else None,
        precision=config.precision.value,
        model=ModelRecord(
            name=graph.name,
            spec=args.model,
            graph_sha256=hashlib.sha256(graph.format().encode()).hexdigest(),
            file_sha256=model_sha256,
        ),
        weights=WeightsRecord(args.weights, weights_digest(weights)),
        options=parse_record(OptionsRecord, config.to_dict(), "the build options"),
        io=IORecord(
            tuple(_io(t, profiles.get(t.name), graph.input_ranges.get(t.name)) for t in inputs),
            tuple(_io(t, None) for t in outputs),
        ),
        layers=tuple(la.name for la in network_layers(trt, emitted.network)),
        builder_layer_information=tuple(result.layer_information),
        build_seconds=round(result.seconds, 3),
        engine_bytes=len(result.plan),
        engine_sha256=hashlib.sha256(result.plan).hexdigest(),
        notes=tuple(result.notes),
        check=_json_ready(check),
        custom_ops=custom_op_records(node.op for node in graph.nodes),
    )


def _json_ready(value: Any) -> Any:
    """``value`` as plain JSON values (the check record holds tuples and NumPy scalars)."""
    return json.loads(
        json.dumps(value, default=lambda v: v.item() if hasattr(v, "item") else str(v))
    )


def _io(t: Any, profile: ShapeRange | None, values: ValueRange | None = None) -> IOTensorRecord:
    record = None
    if profile is not None:
        record = ProfileRecord(tuple(profile.min), tuple(profile.opt), tuple(profile.max))
    declared = (values.low, values.high) if values is not None else None
    return IOTensorRecord(t.name, t.dtype, tuple(t.shape), record, declared)

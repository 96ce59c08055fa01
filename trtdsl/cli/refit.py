"""``trtdsl refit ENGINE --weights NEW -o OUT``: a refittable engine with new weights, bound by
state_dict name, prepared exactly as at build time, checked against the reference."""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import os
from typing import Any

from trtdsl.cli.args import (
    add_rename_option,
    add_threads_option,
    check_command_outputs,
    with_threads,
)
from trtdsl.errors import UsageError

EXAMPLES = """examples:
  trtdsl compile resnet50 --weights old.safetensors --refittable -o r50.engine
  trtdsl refit r50.engine --weights new.safetensors -o r50-new.engine

The engine's sidecar (ENGINE.json, written by trtdsl compile) says which precision and keep-fp32
patterns built it, and the sha256 of the engine and of the model's graph: both are checked
before any weights are read. The model comes from --model (a zoo model recorded in the sidecar
is the default; a model file is never loaded because a sidecar names it), and the new
checkpoint must bind to it exactly (every key, no others, the same shapes).
TensorRT-RTX 1.7 cannot build refittable engines without a GPU, and refitting needs a GPU
that runs the engine; the emulator refits emulated plans on a CPU.
"""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "refit",
        help="replace the weights of a refittable engine with a new checkpoint",
        description=(
            "Refit ENGINE (built with trtdsl compile --refittable) with the weights W: they "
            "are bound to the model recorded in ENGINE.json, batch norms are folded and the "
            "precision applied as at build time, and every refittable weight is set by its "
            "state_dict name through TensorRT's Refitter. The refitted engine is checked "
            "against the reference and written atomically to OUT with its sidecar."
        ),
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("engine", metavar="ENGINE", help="a refittable engine with its .json")
    parser.add_argument(
        "--weights", required=True, metavar="W", help="the new .safetensors (or random[:SEED])"
    )
    add_rename_option(parser)
    parser.add_argument(
        "-o", "--output", required=True, metavar="OUT.engine", help="the engine to write"
    )
    parser.add_argument(
        "--model",
        metavar="MODEL",
        help="the model the engine was built from (default: the zoo model ENGINE.json "
        "records; a model file is never taken from the sidecar, so give it here)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the check's inputs (0)")
    parser.add_argument(
        "--no-check", action="store_true", help="skip running the engine against the reference"
    )
    add_threads_option(parser)
    parser.set_defaults(func=with_threads(run))


def run(args: argparse.Namespace) -> int:
    from trtdsl.backends.trt import BuildConfig, import_trt, prepare_graph
    from trtdsl.backends.trt.module import describe_version
    from trtdsl.backends.trt.sidecar import RefitRecord, WeightsRecord, sidecar_path
    from trtdsl.calibration.result import weights_digest
    from trtdsl.deploy.refit import refit_plan
    from trtdsl.files import write_files
    from trtdsl.frontend.load import load_model
    from trtdsl.ir.types import Precision
    from trtdsl.runtime.engines import read_engine_file
    from trtdsl.weights import load_weights

    engine_path = args.engine
    check_command_outputs(
        args, [("-o", args.output), ("-o", sidecar_path(args.output))], [sidecar_path(engine_path)]
    )
    # The engine and its sidecar are read and checked to belong together (sha256) before
    # anything in the sidecar is believed.
    engine = read_engine_file(engine_path, sidecar_required=True)
    sidecar = engine.sidecar
    assert sidecar is not None
    options = sidecar.options
    if not options.refittable:
        raise UsageError(
            f"{engine_path} was built without --refittable; build it with trtdsl compile "
            "... --refittable to refit it"
        )
    precision = Precision.parse(sidecar.precision)
    if precision.quantized is not None:
        raise UsageError(
            f"{engine_path} is {precision.value}: its quantization scales were calibrated for "
            "the old weights; calibrate the new weights and compile again"
        )
    spec = args.model or _recorded_model(engine_path, sidecar.model.spec)
    shapes = options.profile_shapes()
    fixed = {name: r.opt for name, r in shapes.items() if r.is_fixed}
    graph = load_model(spec, fixed) if fixed else load_model(spec)
    if hashlib.sha256(graph.format().encode()).hexdigest() != sidecar.model.graph_sha256:
        raise UsageError(
            f"model {spec}: not the model {engine_path} was built from (its graph differs from "
            "the one recorded in the sidecar); pass --model with that model"
        )
    renames = [(pattern, replacement) for pattern, replacement in args.rename or ()]
    bound = load_weights(args.weights, graph, rename=renames or None)
    keep_fp32 = tuple(options.keep_fp32)
    prepared, weights = prepare_graph(graph, bound.arrays, precision, keep_fp32)
    trt = import_trt(engine.backend)
    result = refit_plan(engine.plan, trt, prepared, weights, engine_path)
    print(f"engine: {engine_path} ({describe_version(trt)})")
    print(f"weights: {bound.source}")
    print(
        f"refit: {len(result.names)} named weights set"
        + (f", {result.unnamed} unnamed constants kept" if result.unnamed else "")
    )
    check = None
    if not args.no_check:
        config = BuildConfig(precision=precision, keep_fp32=keep_fp32, shapes=shapes)
        check = _check(trt, result.plan, graph, bound.arrays, config, args.seed)
    new_sidecar = dataclasses.replace(
        sidecar,
        weights=WeightsRecord(args.weights, weights_digest(bound.arrays)),
        engine_bytes=len(result.plan),
        engine_sha256=hashlib.sha256(result.plan).hexdigest(),
        refit=RefitRecord(
            os.path.abspath(engine_path),
            hashlib.sha256(engine.plan).hexdigest(),
            tuple(result.names),
        ),
        check=_json_ready(check),
        cache=None,
    )
    write_files([(args.output, result.plan), (sidecar_path(args.output), new_sidecar.to_json())])
    print(f"engine: {args.output} ({len(result.plan):,} bytes) and {args.output}.json")
    return 0


def _recorded_model(engine_path: str, spec: str) -> str:
    """The model a sidecar records, when it is a zoo name (package data trtdsl ships); a
    path is never loaded from a sidecar: a downloaded engine must not run a file of its
    choosing. UsageError asking for ``--model`` otherwise."""
    from trtdsl.frontend.load import is_zoo_name

    if is_zoo_name(spec):
        return spec
    raise UsageError(
        f"{engine_path}.json records the model {spec!r}, a file; refit loads a model only "
        "from the command line: pass --model MODEL (the model the engine was built from)"
    )


def _json_ready(value: Any) -> Any:
    from trtdsl.cli.compile import _json_ready as json_ready

    return json_ready(value)


def _check(
    trt: Any, plan: bytes, graph: Any, weights: Any, config: Any, seed: int
) -> dict[str, Any]:
    """The refitted engine against the reference at the opt shapes of its profile."""
    from trtdsl.backends.trt import profile_shapes
    from trtdsl.backends.trt.module import is_emulator
    from trtdsl.cli.compile import _describe_discrete
    from trtdsl.debug.check import check_engine, check_problems
    from trtdsl.debug.inputs import seeded_inputs
    from trtdsl.debug.tolerances import default_tolerance
    from trtdsl.errors import BackendError

    shapes = {name: r.opt for name, r in profile_shapes(graph, config).items()}
    tolerance = default_tolerance(config.precision)
    feed = seeded_inputs(graph, seed, shapes)
    result = check_engine(trt, plan, graph, weights, feed, tolerance)
    label = " (emulated)" if is_emulator(trt) else ""
    print(f"check{label}: tolerance {tolerance:g} (the {config.precision.value} default)")
    for name, err in result["outputs"].items():
        print(
            f"check{label}: {name}: max rel error {err['max_rel']:.3g} (relative to max "
            f"|reference| {err['ref_max']:.3g}) on input {result['inputs']}"
        )
    for name, found in result["discrete"].items():
        print(f"check{label}: {name}: {_describe_discrete(found)} on input {result['inputs']}")
    problems = check_problems([result], tolerance, config.precision.value)
    if problems:
        message = problems[0].replace("the engine's", "the refitted engine's", 1)
        raise BackendError(f"{message}; nothing written")
    return {"level": "engine" if not label else "emulated", "tolerance": tolerance, **result}

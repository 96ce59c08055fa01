"""``trtdsl refit ENGINE --weights NEW -o OUT``: a refittable engine with new weights, bound by
state_dict name, prepared exactly as at build time, checked against the reference."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
from typing import Any

from trtdsl.cli.args import add_rename_option, check_output_directory
from trtdsl.errors import UsageError, WeightError

EXAMPLES = """examples:
  trtdsl compile resnet50 --weights old.safetensors --refittable -o r50.engine
  trtdsl refit r50.engine --weights new.safetensors -o r50-new.engine

The engine's sidecar (ENGINE.json, written by trtdsl compile) says which model, precision and
keep-fp32 patterns built it; the new checkpoint must bind to that model exactly (every key, no
others, the same shapes). TensorRT-RTX 1.7 cannot build refittable engines without a GPU, and
refitting needs a GPU that runs the engine; the emulator refits emulated plans on a CPU.
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
        help="the model file, when the path in ENGINE.json no longer resolves (it must be the "
        "same model)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the check's inputs (0)")
    parser.add_argument(
        "--no-check", action="store_true", help="skip running the engine against the reference"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from trtdsl.backends.trt import BuildConfig, import_trt, prepare_graph
    from trtdsl.backends.trt.files import write_atomic
    from trtdsl.backends.trt.module import describe_version
    from trtdsl.deploy.refit import refit_plan
    from trtdsl.frontend.load import load_model
    from trtdsl.ir.types import Precision, parse_shapes
    from trtdsl.runtime.engines import plan_backend, read_sidecar
    from trtdsl.weights import load_weights

    engine_path = args.engine
    try:
        with open(engine_path, "rb") as f:
            plan = f.read()
    except OSError as e:
        raise UsageError(f"{engine_path}: cannot read the engine: {e.strerror or e}") from None
    sidecar = read_sidecar(engine_path)
    if sidecar is None:
        raise UsageError(
            f"{engine_path}.json: missing or unreadable; refit needs the sidecar trtdsl compile "
            "wrote beside the engine (it records the model, precision and options)"
        )
    options = sidecar.get("options") or {}
    if not options.get("refittable"):
        raise UsageError(
            f"{engine_path} was built without --refittable; build it with trtdsl compile "
            "... --refittable to refit it"
        )
    precision = Precision.parse(sidecar.get("precision", "fp32"))
    if precision.quantized is not None:
        raise UsageError(
            f"{engine_path} is {precision.value}: its quantization scales were calibrated for "
            "the old weights; calibrate the new weights and compile again"
        )
    check_output_directory(args.output, "-o")
    model = sidecar.get("model") or {}
    spec = args.model or model.get("spec")
    if not spec:
        raise UsageError(f"{engine_path}.json names no model; pass --model MODEL")
    shapes = parse_shapes([f"{n}={r}" for n, r in (options.get("shapes") or {}).items()])
    fixed = {name: r.opt for name, r in shapes.items() if r.is_fixed}
    graph = load_model(spec, fixed) if fixed else load_model(spec)
    recorded = model.get("graph_sha256")
    if recorded and hashlib.sha256(graph.format().encode()).hexdigest() != recorded:
        raise UsageError(
            f"model {spec}: not the model {engine_path} was built from (its graph differs from "
            "the one recorded in the sidecar); pass --model with that model"
        )
    renames = [(pattern, replacement) for pattern, replacement in args.rename or ()]
    try:
        bound = load_weights(args.weights, graph, rename=renames or None)
    except WeightError as e:
        raise WeightError(_one_line(str(e))) from None
    keep_fp32 = tuple(options.get("keep_fp32") or ())
    prepared, weights = prepare_graph(graph, bound.arrays, precision, keep_fp32)
    trt = import_trt(plan_backend(plan))
    result = refit_plan(plan, trt, prepared, weights, engine_path)
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
    from trtdsl.cli.compile import _sha256_arrays

    new_sidecar: dict[str, Any] = dict(sidecar)
    new_sidecar.update(
        weights={"source": args.weights, "sha256": _sha256_arrays(bound.arrays)},
        engine_bytes=len(result.plan),
        engine_sha256=hashlib.sha256(result.plan).hexdigest(),
        refit={
            "from": os.path.abspath(engine_path),
            "from_engine_sha256": hashlib.sha256(plan).hexdigest(),
            "weights": list(result.names),
        },
        check=check,
    )
    new_sidecar.pop("cache", None)
    write_atomic(args.output, result.plan)
    try:
        write_atomic(args.output + ".json", (json.dumps(new_sidecar, indent=2) + "\n").encode())
    except BaseException:
        os.unlink(args.output)
        raise
    print(f"engine: {args.output} ({len(result.plan):,} bytes) and {args.output}.json")
    return 0


def _check(
    trt: Any, plan: bytes, graph: Any, weights: Any, config: Any, seed: int
) -> dict[str, Any]:
    """The refitted engine against the reference at the opt shapes of its profile."""
    from trtdsl.backends.trt import profile_shapes
    from trtdsl.backends.trt.module import is_emulator
    from trtdsl.cli.compile import CHECK_TOLERANCE
    from trtdsl.debug.check import check_engine
    from trtdsl.debug.inputs import seeded_inputs
    from trtdsl.errors import BackendError

    shapes = {name: r.opt for name, r in profile_shapes(graph, config).items()}
    result = check_engine(trt, plan, graph, weights, seeded_inputs(graph, seed, shapes))
    label = " (emulated)" if is_emulator(trt) else ""
    tolerance = CHECK_TOLERANCE[config.precision]
    for name, err in result["outputs"].items():
        print(
            f"check{label}: {name}: max rel error {err['max_rel']:.3g} (relative to max "
            f"|reference| {err['ref_max']:.3g}) on input {result['inputs']}"
        )
    worst = max((e["max_rel"] for e in result["outputs"].values()), default=0.0)
    if not worst <= tolerance:
        raise BackendError(
            f"the refitted engine differs from the reference: max rel error {worst:.3g} > "
            f"{tolerance:g}; nothing written"
        )
    return {"level": "engine" if not label else "emulated", "tolerance": tolerance, **result}


def _one_line(message: str) -> str:
    """A binding report (a summary line and one line per key) on one line."""
    first, *rest = [line.strip() for line in message.splitlines() if line.strip()]
    return first + (": " + "; ".join(" ".join(r.split()) for r in rest) if rest else "")

"""``trtdsl export --triton REPO`` and ``--polygraphy SCRIPT``: the deployment outputs of
``trtdsl export`` (its ``--onnx`` output lives in ``export.py``)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from trtdsl.cli.args import (
    add_backend_option,
    add_build_options,
    add_precision_options,
    build_config,
    check_command_outputs,
    command_inputs,
    load_bound_weights,
    load_graph,
    open_cache,
)
from trtdsl.errors import UsageError


def add_deploy_options(parser: argparse.ArgumentParser, outputs: Any) -> None:
    """``--triton REPO`` and ``--polygraphy SCRIPT`` (in the ``outputs`` group that holds
    ``--onnx``), the Triton options, and the build options of the Triton engine."""
    outputs.add_argument(
        "--triton",
        metavar="REPO",
        help="build an engine and write a Triton model repository entry REPO/NAME "
        "(config.pbtxt and 1/model.plan), all at once or nothing",
    )
    outputs.add_argument(
        "--polygraphy",
        metavar="SCRIPT.py",
        help="write a Polygraphy network script whose load_network() returns the network "
        "trtdsl emits (polygraphy run/inspect model/convert SCRIPT.py)",
    )
    triton = parser.add_argument_group("Triton (--triton)")
    triton.add_argument("--name", help="the model's name in the repository (default: the model's)")
    triton.add_argument(
        "--max-batch-size",
        type=int,
        metavar="B",
        help="largest batch Triton sends (default: the profile's largest batch)",
    )
    triton.add_argument(
        "--instances", type=int, default=1, metavar="K", help="engine instances per GPU (1)"
    )
    add_backend_option(parser, what="builds the --triton engine")
    add_precision_options(parser)
    add_build_options(parser)


_BUILD_OPTIONS = (
    "compute_capability",
    "workspace",
    "opt_level",
    "timing_cache",
    "refittable",
    "cache",
    "name",
    "max_batch_size",
)


def refuse_deploy_options(args: argparse.Namespace) -> None:
    """UsageError for an engine or Triton option given with ``--onnx``."""
    given = [o for o in _BUILD_OPTIONS if getattr(args, o, None)]
    if args.backend != "auto" or args.precision != "fp32" or args.keep_fp32:
        given.insert(0, "backend/precision")
    if args.instances != 1:
        given.append("instances")
    if given:
        names = ", ".join("--" + o.replace("_", "-") for o in given)
        raise UsageError(f"{names}: apply to --triton (and --polygraphy), not --onnx")


def run_deploy(args: argparse.Namespace) -> int:
    """``--triton`` or ``--polygraphy``."""
    if args.fold_bn:
        raise UsageError("--fold-bn applies to --onnx (engines always fold batch norms)")
    if args.polygraphy:
        return _run_polygraphy(args)
    return _run_triton(args)


def _run_triton(args: argparse.Namespace) -> int:
    from trtdsl.backends.trt import build_network, emit_network, import_trt, prepare_for_build
    from trtdsl.backends.trt.build import profile_shapes
    from trtdsl.backends.trt.layers import network_io
    from trtdsl.backends.trt.module import describe_targets, describe_version, is_emulator, is_rtx
    from trtdsl.cli.compile import _sidecar
    from trtdsl.deploy.triton import (
        batching,
        check_model_name,
        check_repository,
        triton_config,
        write_triton_model,
    )

    graph = load_graph(args.model, args)
    name = check_model_name(args.name if args.name is not None else graph.name)
    if args.instances < 1:
        raise UsageError(f"--instances {args.instances}: expected at least 1")
    config = build_config(args)
    cache = open_cache(args)
    profiles = profile_shapes(graph, config)
    batch = batching(graph, profiles, args.max_batch_size)
    check_repository(args.triton, name, inputs=command_inputs(args))
    check_command_outputs(args, [("--timing-cache", config.timing_cache)])
    trt = import_trt(args.backend)
    if is_emulator(trt):
        raise UsageError("--triton needs a real engine; --backend emulated builds none")
    bound = load_bound_weights(args, graph)
    prepared, weights = prepare_for_build(graph, bound.arrays, config)
    emitted = emit_network(trt, prepared, weights)
    print(f"model: {graph.name} ({args.model}); weights: {bound.source}")
    print(
        f"backend: {describe_version(trt)} ({describe_targets(trt, config.compute_capabilities)})"
    )
    if cache is None:
        result = build_network(emitted, config)
        print(f"build: {result.seconds:.2f} s, {len(result.plan):,} bytes")
    else:
        from trtdsl.deploy.cache import cache_key

        key = cache_key(emitted, config)
        result, hit = cache.build(key, lambda: build_network(emitted, config), graph.name)
        said = "hit: build skipped" if hit else "miss: built and stored"
        print(f"cache: {said} ({key.digest[:12]} in {cache.directory})")
    inputs, outputs = network_io(emitted.network)
    text = triton_config(name, inputs, outputs, batch, args.instances)
    sidecar = _sidecar(args, graph, bound.arrays, trt, config, emitted, result, profiles, None)
    directory = write_triton_model(
        args.triton, name, text, result.plan, {"model.plan.json": sidecar.to_json()}
    )
    batching_text = (
        f"max_batch_size {batch.max_batch_size}, preferred batch sizes "
        f"{list(batch.preferred) or 'none'}"
        if batch.max_batch_size
        else "no batching (max_batch_size 0)"
    )
    print(
        f"triton: {directory}/config.pbtxt ({batching_text}, {args.instances} instance(s) per "
        f"GPU) and {directory}/1/model.plan ({len(result.plan):,} bytes)"
    )
    if is_rtx(trt):
        print(
            "note: model.plan is a TensorRT-RTX engine; Triton's tensorrt_plan backend loads "
            "engines of the TensorRT version it was built with, so export on the serving "
            "machine with TensorRT installed (--backend auto picks it) to serve it",
            file=sys.stderr,
        )
    return 0


def _run_polygraphy(args: argparse.Namespace) -> int:
    from trtdsl.backends.trt.build import profile_shapes
    from trtdsl.cli.args import shape_args
    from trtdsl.deploy.polygraphy import polygraphy_script
    from trtdsl.files import write_file
    from trtdsl.frontend.load import resolve_model_path

    engine_only = [o for o in _BUILD_OPTIONS if getattr(args, o, None)]
    if args.backend != "auto" or args.instances != 1 or engine_only:
        raise UsageError(
            "--polygraphy takes --precision/--keep-fp32/--shape; Polygraphy's own options "
            "choose the backend and the build (--backend, build and Triton options refused)"
        )
    path = args.polygraphy
    if not path.endswith(".py"):
        raise UsageError(f"--polygraphy {path}: Polygraphy takes network scripts ending in .py")
    check_command_outputs(args, [("--polygraphy", path)])
    graph = load_graph(args.model, args)
    load_bound_weights(args, graph)  # a checkpoint that does not bind fails here, not later
    config = build_config(args)
    weights = args.weights
    if not weights.startswith("random"):
        weights = os.path.abspath(weights)
    fixed = {n: r.opt for n, r in shape_args(args).items() if r.is_fixed}
    text = polygraphy_script(
        graph,
        str(resolve_model_path(args.model)),
        weights,
        config.precision.value,
        config.keep_fp32,
        fixed,
        [(p, r) for p, r in args.rename or ()],
        profile_shapes(graph, config),
        os.path.basename(path),
    )
    write_file(path, text.encode(), "--polygraphy")
    print(f"polygraphy: {path}: load_network() for {graph.name} ({args.model}, {args.weights})")
    return 0

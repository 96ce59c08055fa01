"""Arguments shared by ``bench``, ``inspect`` and ``compare``: an engine file or a model built
in memory, its inputs, and where its buffers live."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from trtdsl.cli.args import (
    add_backend_option,
    add_cache_option,
    add_detection_options,
    add_precision_options,
    add_shape_option,
    add_weights_options,
    build_config,
    load_bound_weights,
    load_graph,
    plan_builder,
    shape_args,
)
from trtdsl.errors import UsageError
from trtdsl.ir.graph import Graph
from trtdsl.runtime.engines import EngineFile, LoadedEngine, is_engine_path

MEMORY_CHOICES = ("auto", "device", "host")


@dataclass
class Source:
    """What the command runs: the engine, its inputs, and the model when built from one."""

    loaded: LoadedEngine
    feed: dict[str, np.ndarray]
    weights: Mapping[str, np.ndarray] | None = None


def add_source_arguments(parser: argparse.ArgumentParser, engine_ok: bool = True) -> None:
    """SOURCE, --weights, --backend, --precision, --input, --shape, --seed."""
    what = "an engine file (.engine/.plan/.trt), or " if engine_ok else ""
    parser.add_argument(
        "source",
        metavar="ENGINE|MODEL" if engine_ok else "MODEL",
        help=f"{what}a .yaml/.py model or zoo name (built in memory with --weights)",
    )
    add_weights_options(
        parser, required=False, help="for a MODEL: a .safetensors file or random[:SEED]"
    )
    add_backend_option(parser, what="builds a MODEL in memory")
    add_precision_options(parser)
    add_detection_options(parser)
    add_input_options(parser)
    add_cache_option(parser)


def add_input_options(parser: argparse.ArgumentParser, ranges: bool = False) -> None:
    """``--input``, ``--shape`` and ``--seed``, as on every command that runs something
    (``ranges``: ``--shape`` also takes a MIN:OPT:MAX profile, for commands that build)."""
    parser.add_argument(
        "--input",
        action="append",
        default=[],
        metavar="[NAME=]SOURCE",
        help="SOURCE is FILE.npy or random[:SEED]; default: seeded random for every input",
    )
    add_shape_option(parser, ranges)
    parser.add_argument("--seed", type=int, default=0, help="seed of random inputs (default 0)")


def add_memory_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--memory",
        choices=MEMORY_CHOICES,
        default="auto",
        help="device: CUDA buffers through cuda-python; host: NumPy buffers (emulated engine "
        "only, no GPU needed); auto (default): device when a GPU is visible",
    )


def load_source(args: argparse.Namespace, engine_ok: bool = True) -> Source:
    """Open the engine file, or load the model and weights and build it in memory."""
    from trtdsl.runtime.engines import build_in_memory

    if is_engine_path(args.source):
        if not engine_ok:
            raise UsageError(f"{args.source}: expected a MODEL (.yaml/.py/zoo name), not an engine")
        loaded, feed = open_engine_with_inputs(args, args.source)
        return Source(loaded, feed)
    graph, weights, feed = load_model_and_inputs(args)
    loaded = build_in_memory(
        graph, weights, args.backend, config=build_config(args), build=plan_builder(args)
    )
    return Source(loaded, feed, weights)


def open_engine_with_inputs(
    args: argparse.Namespace, engine: str | EngineFile
) -> tuple[LoadedEngine, dict[str, np.ndarray]]:
    """An engine file (a path, or the file already read) and its inputs from
    ``--input``/``--shape``/``--seed``; the options that only apply to a MODEL are refused
    (before the engine is read)."""
    from trtdsl.backends.trt import import_trt
    from trtdsl.cli.inputs import engine_inputs
    from trtdsl.runtime.engines import deserialize, read_engine_file
    from trtdsl.runtime.runner import engine_io

    if args.weights:
        raise UsageError("--weights applies to a MODEL; an engine file holds its weights")
    if getattr(args, "fold_bn", False):
        raise UsageError("--fold-bn applies to a MODEL; an engine is already built")
    if getattr(args, "cache", None):
        raise UsageError("--cache applies to a MODEL built in memory; an engine is already built")
    if getattr(args, "precision", "fp32") != "fp32" or getattr(args, "keep_fp32", None):
        raise UsageError("--precision/--keep-fp32 apply to a MODEL; an engine is already built")
    file = read_engine_file(engine) if isinstance(engine, str) else engine
    targets = file.sidecar.targets if file.sidecar is not None else None
    loaded = deserialize(file.plan, import_trt(file.backend), file.path, targets)
    inputs = [t for t in engine_io(loaded.engine) if t.is_input]
    shapes = {name: r.opt for name, r in shape_args(args).items()}
    ranges = file.sidecar.input_ranges() if file.sidecar is not None else {}
    return loaded, engine_inputs(inputs, args.input, shapes, args.seed, ranges)


def load_model_and_inputs(
    args: argparse.Namespace, spec: str | None = None, inputs: bool = True
) -> tuple[Graph, Mapping[str, np.ndarray], dict[str, np.ndarray]]:
    """(graph, weights, inputs) of a MODEL with ``--weights``, ``--shape`` and ``--input``
    (inputs empty when not ``inputs``: the caller makes them)."""
    from trtdsl.cli.inputs import model_inputs, photo_inputs

    spec = spec or args.source
    if not args.weights:
        raise UsageError(f"{spec}: a MODEL needs --weights (a .safetensors file or random)")
    graph = load_graph(spec, args)
    weights = load_bound_weights(args, graph).arrays
    if not inputs:
        return graph, weights, {}
    photos, specs = photo_inputs(graph, args.input, spec)
    return graph, weights, model_inputs(graph, specs, args.seed, given=photos)


@contextmanager
def progress_bar(label: str, total: int | None) -> Iterator[object]:
    """A rich progress bar on stderr when it is a terminal; yields ``advance(done)``."""
    if not sys.stderr.isatty():
        yield lambda done: None
        return
    from rich.console import Console
    from rich.progress import Progress

    with Progress(transient=True, console=Console(stderr=True)) as progress:
        task = progress.add_task(label, total=total)
        yield lambda done: progress.update(task, completed=done)

"""Arguments shared by ``bench``, ``inspect`` and ``compare``: an engine file or a model built
in memory, its inputs, and where its buffers live."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from trtdsl.cli.args import add_weights_options, load_bound_weights, load_graph
from trtdsl.errors import UsageError
from trtdsl.runtime.engines import BUILD_BACKENDS, LoadedEngine, is_engine_path

MEMORY_CHOICES = ("auto", "device", "host")


@dataclass
class Source:
    """What the command runs: the engine, its inputs, and the model when built from one."""

    loaded: LoadedEngine
    feed: dict[str, np.ndarray]
    weights: Mapping[str, np.ndarray] | None = None


def add_source_arguments(parser: argparse.ArgumentParser, engine_ok: bool = True) -> None:
    """SOURCE, --weights, --backend, --input, --shape, --seed."""
    what = "an engine file (.engine/.plan/.trt), or " if engine_ok else ""
    parser.add_argument(
        "source",
        metavar="ENGINE|MODEL" if engine_ok else "MODEL",
        help=f"{what}a .yaml/.py model or zoo name (built in memory with --weights)",
    )
    add_weights_options(
        parser, required=False, help="for a MODEL: a .safetensors file or random[:SEED]"
    )
    parser.add_argument(
        "--backend",
        choices=BUILD_BACKENDS,
        default="auto",
        help="for a MODEL: build with TensorRT, TensorRT-RTX or trtdsl's CPU emulator "
        "(emulated; results and timings are the emulator's, labelled so); auto (default): "
        "tensorrt if installed, else tensorrt-rtx",
    )
    parser.add_argument(
        "--input",
        action="append",
        default=[],
        metavar="[NAME=]SOURCE",
        help="SOURCE is FILE.npy or random[:SEED]; default: seeded random for every input",
    )
    parser.add_argument(
        "--shape",
        action="append",
        default=[],
        metavar="NAME=DIMS",
        help="input shape, e.g. x=8x3x224x224 (a MODEL is re-inferred with it; an ENGINE's "
        "dynamic dimensions default to the profile's opt shape)",
    )
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
    from trtdsl.runtime.engines import build_in_memory, open_engine
    from trtdsl.runtime.inputs import engine_feed, parse_shape_specs
    from trtdsl.runtime.runner import engine_io

    if is_engine_path(args.source):
        if not engine_ok:
            raise UsageError(f"{args.source}: expected a MODEL (.yaml/.py/zoo name), not an engine")
        if args.weights:
            raise UsageError("--weights applies to a MODEL; an engine file holds its weights")
        loaded = open_engine(args.source)
        inputs = [t for t in engine_io(loaded.engine) if t.is_input]
        shapes = parse_shape_specs(args.shape, inputs)
        return Source(loaded, engine_feed(inputs, args.input, shapes, args.seed))
    graph, weights, feed = load_model_and_inputs(args)
    return Source(build_in_memory(graph, weights, args.backend), feed, weights)


def load_model_and_inputs(args: argparse.Namespace) -> tuple:  # type: ignore[type-arg]
    """(graph, weights, inputs) of a MODEL with ``--weights``, ``--shape`` and ``--input``."""
    from trtdsl.cli.run import parse_inputs

    if not args.weights:
        raise UsageError(f"{args.source}: a MODEL needs --weights (a .safetensors file or random)")
    graph = load_graph(args.source, args)
    weights = load_bound_weights(args, graph).arrays
    return graph, weights, parse_inputs(graph, args.input, args.seed)


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


def run_engine_file(args: argparse.Namespace) -> int:
    """``trtdsl run ENGINE``: run a serialized engine on ``--input`` and summarise its outputs,
    with the same conventions as ``trtdsl run MODEL``."""
    from trtdsl.cli.format import print_json
    from trtdsl.cli.run import save_npz, summarize_output
    from trtdsl.runtime.engines import describe_run, open_engine
    from trtdsl.runtime.inputs import engine_feed, parse_shape_specs
    from trtdsl.runtime.runner import EngineRunner, engine_io

    if args.weights:
        raise UsageError("--weights applies to a MODEL; an engine file holds its weights")
    if getattr(args, "fold_bn", False):
        raise UsageError("--fold-bn applies to a MODEL; an engine is already built")
    loaded = open_engine(args.model)
    inputs = [t for t in engine_io(loaded.engine) if t.is_input]
    feed = engine_feed(inputs, args.input, parse_shape_specs(args.shape, inputs), args.seed)
    with EngineRunner(loaded.engine, loaded.trt) as runner:
        outputs = runner.infer(feed)
        detail = describe_run(loaded, runner.memory.kind)
    if args.output:
        save_npz(args.output, outputs)
    if args.format == "json":
        print_json(
            {
                "engine": args.model,
                "backend": detail,
                "emulated": loaded.emulated,
                "inputs": {k: _describe(v) for k, v in feed.items()},
                "outputs": {k: _describe(v) for k, v in outputs.items()},
                "saved": args.output,
            }
        )
        return 0
    lines = [f"engine {args.model}: {detail}"]
    for name, array in feed.items():
        lines.append(f"input {name}: {array.dtype.name}[{'x'.join(map(str, array.shape))}]")
    for name, array in outputs.items():
        lines.extend(summarize_output(name, array))
    if args.output:
        lines.append(f"wrote {args.output} ({', '.join(outputs)})")
    print("\n".join(lines))
    return 0


def _describe(array: np.ndarray) -> dict[str, object]:
    info: dict[str, object] = {"shape": list(array.shape), "dtype": array.dtype.name}
    if array.size and array.dtype.kind in "fiub":
        values = array.astype(np.float64)
        info.update(min=float(values.min()), max=float(values.max()), mean=float(values.mean()))
    return info

"""``trtdsl run``: run a model on inputs (files or seeded random) and summarise its outputs."""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from trtdsl.backends.reference import run_reference
from trtdsl.backends.summary import is_classifier_output, top_classes
from trtdsl.cli.args import add_shape_option, add_weights_options, load_bound_weights, load_graph
from trtdsl.errors import UsageError
from trtdsl.ir.graph import Graph
from trtdsl.ir.ops.base import suggest
from trtdsl.runtime.engines import BUILD_BACKENDS, EngineBackend, is_engine_path

Backend = Callable[
    [Graph, Mapping[str, np.ndarray], Mapping[str, np.ndarray]], dict[str, np.ndarray]
]

BACKENDS: dict[str, Backend] = {
    "reference": run_reference,
    **{name: EngineBackend(name) for name in BUILD_BACKENDS},
}
"""``--backend`` name -> ``run(graph, weights, inputs) -> {output name: array}``. Backends that
are not the real thing (the TensorRT emulator) must have "emulated" in their name."""

EXAMPLES = """examples:
  trtdsl run resnet50 --weights random
  trtdsl run zoo/resnet50.yaml --weights resnet50.safetensors --input image.npy -o out.npz
  trtdsl run resnet50 --weights random --input x=random:3 --shape x=1x3x224x224
  trtdsl run model.yaml --weights w.safetensors --input a=a.npy --input b=b.npy --format json
  trtdsl run zoo/resnet50.yaml --weights random --backend emulated
  trtdsl run resnet50.engine --input x=image.npy -o out.npz
"""

_ROWS_SHOWN = 4


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run a model on inputs and summarise (and save) its outputs",
        description=(
            "Run MODEL with weights W on the given inputs and print a summary of each output "
            "(shape, dtype, min/max/mean; top-5 classes for classifier logits). Inputs are "
            "NAME=FILE.npy, NAME=random[:SEED], or a bare FILE.npy when the model has one "
            "input; without --input every input is seeded random (symbolic dimensions at "
            "their opt size unless --shape fixes them)."
        ),
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "model",
        metavar="MODEL|ENGINE",
        help="a .yaml or .py model, a zoo name, or an engine file (.engine/.plan/.trt)",
    )
    add_weights_options(
        parser,
        required=False,
        help="a .safetensors file, or random[:SEED] for seeded random weights (MODEL only)",
    )
    parser.add_argument(
        "--input",
        action="append",
        default=[],
        metavar="[NAME=]SOURCE",
        help="SOURCE is FILE.npy or random[:SEED]; repeat for each input",
    )
    add_shape_option(parser)
    parser.add_argument(
        "--backend", choices=sorted(BACKENDS), default="reference", help="default: reference"
    )
    parser.add_argument(
        "--fold-bn",
        action="store_true",
        help="fold batch-norms into convs first and report the folding error",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of random inputs without their own (default 0)"
    )
    parser.add_argument(
        "-o", "--output", metavar="OUT.npz", help="write every output to this .npz file"
    )
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if is_engine_path(args.model):
        from trtdsl.cli._engine_args import run_engine_file

        return run_engine_file(args)
    if not args.weights:
        raise UsageError(f"{args.model}: a MODEL needs --weights (a .safetensors file or random)")
    graph = load_graph(args.model, args)
    weights: Mapping[str, np.ndarray] = load_bound_weights(args, graph).arrays
    lines = [f"model {graph.name}: {len(graph.nodes)} nodes; weights {args.weights}"]
    if args.fold_bn:
        from trtdsl.passes import fold_batchnorm, foldable_batchnorms, folding_error

        count = len(foldable_batchnorms(graph))
        error = folding_error(graph, weights, seed=args.seed)
        graph, weights = fold_batchnorm(graph, weights)
        lines.append(
            f"folded {count} batch-norm(s); max abs folding error {error:.3g} "
            f"(seeded random input, reference backend)"
        )
    inputs = parse_inputs(graph, args.input, args.seed)
    outputs = BACKENDS[args.backend](graph, weights, inputs)
    if args.output:
        save_npz(args.output, outputs)
    if args.format == "json":
        report = {
            "model": graph.name,
            "backend": args.backend,
            "inputs": {k: _describe(v) for k, v in inputs.items()},
            "outputs": {k: _describe(v) for k, v in outputs.items()},
            "saved": args.output,
        }
        print(json.dumps(report, indent=2))
        return 0
    lines.append(f"backend {args.backend}")
    if getattr(BACKENDS[args.backend], "last_description", ""):
        lines.append(f"ran on {BACKENDS[args.backend].last_description}")  # type: ignore[attr-defined]
    for name, array in inputs.items():
        lines.append(f"input {name}: {_stats(array)}")
    for name, array in outputs.items():
        lines.extend(summarize_output(name, array))
    if args.output:
        lines.append(f"wrote {args.output} ({', '.join(outputs)})")
    print("\n".join(lines))
    return 0


def parse_inputs(graph: Graph, specs: Sequence[str], seed: int = 0) -> dict[str, np.ndarray]:
    """The input arrays named by ``--input`` specs; no specs means random for every input.

    A spec is ``NAME=FILE.npy``, ``NAME=random[:SEED]``, or, for a one-input model, a bare
    ``FILE.npy`` / ``random[:SEED]``. Random inputs are standard normal (integers 0..9) with
    the input's shape, symbolic dimensions at their opt size.

    Raises:
        UsageError for an unknown name, a name given twice, a missing input, or an unreadable
        ``.npy`` file.
    """
    if not specs:
        return {name: random_input(graph, name, seed) for name in graph.inputs}
    inputs: dict[str, np.ndarray] = {}
    for spec in specs:
        name, sep, source = spec.partition("=")
        bare_file = sep and name not in graph.inputs and os.path.exists(spec)
        if not sep or bare_file:
            if len(graph.inputs) != 1:
                raise UsageError(
                    f"--input {spec!r}: the model has {len(graph.inputs)} inputs "
                    f"({', '.join(graph.inputs)}); write NAME=SOURCE"
                )
            name, source = graph.inputs[0], spec
        if name not in graph.inputs:
            raise UsageError(
                f"--input {spec!r}: the model has no input {name!r}"
                f"{suggest(name, graph.inputs)} (inputs: {', '.join(graph.inputs)})"
            )
        if name in inputs:
            raise UsageError(f"--input {spec!r}: input {name!r} given twice")
        inputs[name] = _read_source(graph, name, source, seed, spec)
    missing = [n for n in graph.inputs if n not in inputs]
    if missing:
        raise UsageError(
            f"no --input for {', '.join(missing)}; give NAME=FILE.npy or NAME=random for each"
        )
    return inputs


def random_input(graph: Graph, name: str, seed: int) -> np.ndarray:
    """A seeded random array for input ``name`` (symbolic dimensions at their opt size)."""
    t = graph.types[name]
    shape = t.concrete(graph.sizes("opt"))
    rng = np.random.default_rng(seed)
    dtype = t.dtype.to_numpy()
    if t.dtype.is_float:
        return rng.standard_normal(shape).astype(dtype)
    return rng.integers(0, 10, shape).astype(dtype)


def save_npz(path: str, arrays: Mapping[str, np.ndarray]) -> None:
    """Write ``arrays`` to ``path`` as an uncompressed .npz, atomically."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".npz", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)  # type: ignore[arg-type]
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def summarize_output(name: str, array: np.ndarray) -> list[str]:
    """Lines describing one output: type and statistics; top-5 per row for class logits."""
    lines = [f"output {name}: {_stats(array)}"]
    if is_classifier_output(array):
        shown = array[:_ROWS_SHOWN]
        for row, top in enumerate(top_classes(shown)):
            ranked = ", ".join(f"{int(i)} ({float(array[row, i]):.4g})" for i in top)
            lines.append(f"  row {row} top-{len(top)}: {ranked}")
        if array.shape[0] > _ROWS_SHOWN:
            lines.append(f"  ... {array.shape[0] - _ROWS_SHOWN} more row(s) in the .npz")
    return lines


def _read_source(graph: Graph, name: str, source: str, seed: int, spec: str) -> np.ndarray:
    if source == "random" or source.startswith("random:"):
        text = source.partition(":")[2]
        if source != "random" and not text.isdigit():
            raise UsageError(f"--input {spec!r}: expected random or random:SEED (SEED an int)")
        return random_input(graph, name, int(text) if text else seed)
    try:
        array = np.load(source, allow_pickle=False)
    except (OSError, ValueError, EOFError) as e:
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise UsageError(f"--input {spec!r}: cannot read {source!r} as .npy: {reason}") from None
    if not isinstance(array, np.ndarray):
        raise UsageError(f"--input {spec!r}: {source!r} is an .npz archive, expected one .npy")
    return array


def _stats(array: np.ndarray) -> str:
    shape = "x".join(map(str, array.shape)) or "scalar"
    text = f"{array.dtype.name}[{shape}]"
    if array.size and array.dtype.kind in "fiub":
        values = array.astype(np.float64)
        text += f" min {values.min():.4g} max {values.max():.4g} mean {values.mean():.4g}"
    return text


def _describe(array: np.ndarray) -> dict[str, object]:
    info: dict[str, object] = {"shape": list(array.shape), "dtype": array.dtype.name}
    if array.size and array.dtype.kind in "fiub":
        values = array.astype(np.float64)
        info.update(min=float(values.min()), max=float(values.max()), mean=float(values.mean()))
    if is_classifier_output(array):
        info["top5"] = [
            [[int(i), float(row[i])] for i in top]
            for row, top in zip(array, top_classes(array), strict=True)
        ]
    return info

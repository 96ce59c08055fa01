"""``trtdsl run``: run a model on inputs (files or seeded random) and summarise its outputs."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping

import numpy as np

from trtdsl.backends.reference import capture_reference, run_reference
from trtdsl.backends.summary import is_logits, top_classes
from trtdsl.backends.trt import BuildConfig
from trtdsl.cli._engine_args import (
    add_input_options,
    load_model_and_inputs,
    open_engine_with_inputs,
)
from trtdsl.cli.args import (
    add_backend_option,
    add_cache_option,
    add_detection_options,
    add_precision_options,
    add_threads_option,
    add_weights_options,
    build_config,
    check_command_outputs,
    plan_builder,
    with_threads,
)
from trtdsl.cli.format import print_json
from trtdsl.cli.inputs import letterboxed_photo, model_inputs
from trtdsl.errors import UsageError
from trtdsl.ir.graph import Graph
from trtdsl.runtime.engines import EngineBackend, is_engine_path

Backend = Callable[
    [Graph, Mapping[str, np.ndarray], Mapping[str, np.ndarray]], dict[str, np.ndarray]
]

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
    add_input_options(parser)
    add_backend_option(parser, reference=True, what="runs a MODEL")
    add_precision_options(parser)
    add_cache_option(parser)
    parser.add_argument(
        "--fold-bn",
        action="store_true",
        help="fold batch-norms into convs first and report the folding error",
    )
    parser.add_argument(
        "-o", "--output", metavar="OUT.npz", help="write every output to this .npz file"
    )
    parser.add_argument(
        "--save-outputs",
        choices=("outputs", "all"),
        default="outputs",
        help="with -o: the model's outputs (default), or all: every node's value by node name "
        "and the inputs, for `trtdsl compare --against` (an engine backend marks every value "
        "as an output in a debug build, which prevents fusion across them)",
    )
    parser.add_argument(
        "--mask",
        metavar="OUT.png",
        help="segmenters: write image 0's per-pixel classes (argmax of (N, classes, H, W) "
        "logits, or an argmax output) as a colour PNG with a legend of class names",
    )
    parser.add_argument(
        "--boxes",
        metavar="OUT.png",
        help="detectors: letterbox the --input photo as Ultralytics does, run with --nms "
        "(added when the model lacks it) and draw the detections with class names",
    )
    add_detection_options(parser)
    parser.add_argument("--format", choices=("text", "json"), default="text")
    add_threads_option(parser)
    parser.set_defaults(func=with_threads(run))


def run(args: argparse.Namespace) -> int:
    check_command_outputs(
        args, [("-o", args.output), ("--mask", args.mask), ("--boxes", args.boxes)]
    )
    if args.save_outputs == "all" and not args.output:
        raise UsageError("--save-outputs all writes to the .npz named by -o OUT.npz")
    if is_engine_path(args.model):
        return run_engine_file(args)
    photo = None
    if args.boxes:
        graph, weights, _ = load_model_and_inputs(args, args.model, inputs=False)
        spec, name, array, photo = letterboxed_photo(graph, args.input)
        rest = [s for s in args.input if s != spec]
        inputs = model_inputs(graph, rest, args.seed, given={name: array})
    else:
        graph, weights, inputs = load_model_and_inputs(args, args.model)
    lines = [f"model {graph.name}: {len(graph.nodes)} nodes; weights {args.weights}"]
    if args.fold_bn:
        from trtdsl.debug.folding import folding_error
        from trtdsl.passes import fold_batchnorm, foldable_batchnorms

        count = len(foldable_batchnorms(graph))
        error = folding_error(graph, weights, seed=args.seed)
        graph, weights = fold_batchnorm(graph, weights)
        lines.append(
            f"folded {count} batch-norm(s); max abs folding error {error:.3g} "
            f"(seeded random input, reference backend)"
        )
    backend = backend_runner(args)
    values = backend(graph, weights, inputs)
    description = getattr(backend, "last_description", "") or "the NumPy reference executor"
    outputs = {p.name: values[p.name] for p in graph.outputs}
    if args.output:
        saved = {**inputs, **values} if args.save_outputs == "all" else outputs
        save_npz(args.output, saved)
    if args.format == "json":
        print_json(
            {
                "model": graph.name,
                "backend": args.backend,
                "ran_on": description,
                "emulated": "emulated" in description,
                "inputs": {k: _describe(v) for k, v in inputs.items()},
                "outputs": {
                    p.name: _describe(outputs[p.name], graph, p.value) for p in graph.outputs
                },
                "saved": args.output,
            }
        )
        return 0
    lines.append(f"backend {args.backend}: {description}")
    for name, array in inputs.items():
        lines.append(f"input {name}: {_stats(array)}")
    ports = {p.name: p.value for p in graph.outputs}
    for name, array in outputs.items():
        lines.extend(summarize_output(name, array, graph, ports[name]))
    if args.mask:
        from trtdsl.vision import class_names, mask_labels, write_mask_png

        first = next(iter(outputs.values()))
        labels = mask_labels(first)
        count = int(first.shape[1]) if first.ndim == 4 else int(labels.max(initial=0)) + 1
        present = write_mask_png(args.mask, labels, class_names(count))
        shown = ", ".join(f"{n} {f:.1%}" for _, n, f in present[:5])
        lines.append(f"wrote {args.mask}: {len(present)} class(es) present ({shown})")
    if photo is not None:
        from trtdsl.vision import write_boxes_png

        count = write_boxes_png(args.boxes, photo[1], photo[0], outputs)
        lines.append(f"wrote {args.boxes}: {count} detection(s) drawn on the photo")
    if args.output and args.save_outputs == "all":
        lines.append(f"wrote {args.output} ({len(values)} node values and the inputs)")
    elif args.output:
        lines.append(f"wrote {args.output} ({', '.join(outputs)})")
    print("\n".join(lines))
    return 0


def backend_runner(args: argparse.Namespace) -> Backend:
    """``--backend`` as ``run(graph, weights, inputs) -> {output name: array}``: the reference
    executor, or an engine built in memory with ``--precision`` (labelled emulated when it is
    the emulator's)."""
    every_value = args.save_outputs == "all"
    if args.backend == "reference":
        if args.cache:
            raise UsageError("--cache needs an engine backend, not reference")
        config = build_config(args)
        if config.precision.quantized is not None:
            return _QuantizedReference(config, every_value)
        if config.precision.value != "fp32" or config.keep_fp32:
            raise UsageError(
                "--precision fp16/bf16/tf32 and --keep-fp32 need an engine backend; the "
                "reference runs float32 (and int8/fp8 quantized graphs, float32 elsewhere)"
            )
        return _capture_all if every_value else run_reference
    return EngineBackend(
        args.backend, config=build_config(args), build=plan_builder(args), every_value=every_value
    )


class _QuantizedReference:
    """The reference on the int8/fp8 graph: Q/DQ with the calibration's scales where the build
    puts them, float32 elsewhere (the NumPy reference runs float32 weights only)."""

    def __init__(self, config: BuildConfig, every_value: bool) -> None:
        self.config = config
        self.every_value = every_value
        self.last_description = (
            f"the NumPy reference executor on the {config.precision.value} quantized graph "
            "(quantize/dequantize as built; float32 elsewhere)"
        )

    def __call__(
        self, graph: Graph, weights: Mapping[str, np.ndarray], inputs: Mapping[str, np.ndarray]
    ) -> dict[str, np.ndarray]:
        from trtdsl.backends.trt import prepare_graph

        c = self.config
        prepared, prepared_weights = prepare_graph(
            graph,
            weights,
            c.precision,
            c.keep_fp32,
            calibration=c.calibration,
            fallback="fp32",
            unquantized=c.keep_fp16,
        )
        run = _capture_all if self.every_value else run_reference
        return run(prepared, prepared_weights, inputs)


def _capture_all(
    graph: Graph, weights: Mapping[str, np.ndarray], inputs: Mapping[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """The reference's outputs (by port name), then every node value (by value name)."""
    values = capture_reference(graph, weights, inputs)
    result = {p.name: values[p.value] for p in graph.outputs}
    result.update((v, values[v]) for n in graph.nodes for v in n.outputs if v not in result)
    return result


def run_engine_file(args: argparse.Namespace) -> int:
    """``trtdsl run ENGINE``: run a serialized engine on ``--input`` and summarise its outputs,
    with the same conventions as ``trtdsl run MODEL``."""
    from trtdsl.runtime.engines import describe_run
    from trtdsl.runtime.runner import EngineRunner

    loaded, feed = open_engine_with_inputs(args, args.model)
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
        lines.append(f"input {name}: {_stats(array)}")
    for name, array in outputs.items():
        lines.extend(summarize_output(name, array))
    if args.output:
        lines.append(f"wrote {args.output} ({', '.join(outputs)})")
    print("\n".join(lines))
    return 0


def save_npz(path: str, arrays: Mapping[str, np.ndarray]) -> None:
    """Write ``arrays`` to ``path`` as an uncompressed .npz, atomically."""
    from trtdsl.files import write_file

    write_file(path, lambda f: np.savez(f, **arrays), "-o")  # type: ignore[arg-type]


def summarize_output(
    name: str, array: np.ndarray, graph: Graph | None = None, value: str | None = None
) -> list[str]:
    """Lines describing one output: type and statistics; top-5 per row for class logits
    (``is_logits``: with the model's ``graph``, not for a pooled embedding)."""
    lines = [f"output {name}: {_stats(array)}"]
    if is_logits(array, graph, value):
        from trtdsl.vision.classes import class_names

        names = class_names(int(array.shape[-1])) or ()
        shown = array[:_ROWS_SHOWN]
        for row, top in enumerate(top_classes(shown)):
            ranked = ", ".join(
                f"{int(i)}{' ' + names[int(i)] if names else ''} ({float(array[row, i]):.4g})"
                for i in top
            )
            lines.append(f"  row {row} top-{len(top)}: {ranked}")
        if array.shape[0] > _ROWS_SHOWN:
            lines.append(f"  ... {array.shape[0] - _ROWS_SHOWN} more row(s) in the .npz")
    return lines


def _stats(array: np.ndarray) -> str:
    shape = "x".join(map(str, array.shape)) or "scalar"
    text = f"{array.dtype.name}[{shape}]"
    if array.size and array.dtype.kind in "fiub":
        values = array.astype(np.float64)
        text += f" min {values.min():.4g} max {values.max():.4g} mean {values.mean():.4g}"
    return text


def _describe(
    array: np.ndarray, graph: Graph | None = None, value: str | None = None
) -> dict[str, object]:
    info: dict[str, object] = {"shape": list(array.shape), "dtype": array.dtype.name}
    if array.size and array.dtype.kind in "fiub":
        values = array.astype(np.float64)
        info.update(min=float(values.min()), max=float(values.max()), mean=float(values.mean()))
    if is_logits(array, graph, value):
        info["top5"] = [
            [[int(i), float(row[i])] for i in top]
            for row, top in zip(array, top_classes(array), strict=True)
        ]
    return info

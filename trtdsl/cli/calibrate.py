"""``trtdsl calibrate``: run the model over calibration data on the fastest executor present and
write the INT8/FP8 scales file that ``--precision int8|fp8 --calibration SCALES.json`` reads."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from trtdsl.cli.args import (
    add_backend_option,
    add_model_argument,
    add_shape_option,
    add_threads_option,
    add_weights_options,
    load_bound_weights,
    load_graph,
    with_threads,
)

EXAMPLES = """examples:
  trtdsl calibrate resnet50 --weights resnet50.safetensors --data photos/ -o resnet50.scales.json
  trtdsl calibrate resnet50 --weights random --data batch.npy --method percentile:99.9 -o s.json
  trtdsl calibrate model.yaml --weights w.safetensors --data inputs.npz --limit 512 -o s.json
  trtdsl calibrate digits.yaml --weights w.safetensors --data x.npy --method entropy \\
      --method-for 'x=max' --method-for 'layer4.*=percentile:99.9' -o s.json
  trtdsl calibrate resnet50 --weights w.safetensors --data photos/ --executor reference \\
      --workers 8 -o s.json
  trtdsl calibrate resnet50 --weights w.safetensors --data photos/ --executor engine \\
      --backend emulated -o s.json
  trtdsl compile resnet50 --weights resnet50.safetensors --precision int8 --calibration s.json

DATA is an .npy file (single-input models; axis 0 holds the samples), an .npz file (one array
per input name) or a folder of images. Images are resized (shorter side), center-cropped to the
input's size (or letterboxed, for detectors), scaled to [0, 1] and normalized by mean/std, as
declared under preprocess: in the model YAML (keys resize, crop, mean, std, channels,
letterbox) or by the options below; the default is torchvision's ImageNet preprocessing
(resize 256 for a 224 crop, ImageNet mean and std, RGB). The YOLO zoo models declare
letterbox with mean 0 and std 1, as Ultralytics.

methods (amax = the |x| mapped to the top of the int8/fp8 range):
  max            the largest |x| seen
  percentile[:P] the P-th percentile (default 99.99) of the non-zero |x| (zeros quantize
                 exactly, so a mostly-zero tensor keeps its range)
  entropy        TensorRT's KL-divergence search over 2048 bins, robust on discrete data:
                 a threshold whose last bin is empty, that leaves fewer than two non-empty
                 bins in range (a single spike: the divergence is 0 or undefined) or that
                 clips more than half of the values is never chosen; exact ties go to the
                 larger threshold; when nothing is left, max; a threshold below mse's whose
                 squared error is more than 0.5 dB above mse's gives way to mse's (heavy
                 tails, which KL clips too hard)
  mse            the threshold of least INT8 quantization error of the histogram
--method-for PATTERN=METHOD (repeatable) gives the tensors whose name matches the glob
another method; the first matching rule wins, a rule matching no tensor is an error, and the
scales file records each tensor's method. The output lists every tensor with its method, amax
and the fraction of its calibration values above that amax; a warning names every tensor
whose amax clips more than 1% of them and suggests --method-for 'NAME=max'.

executors (--executor, the output names the one that ran):
  engine         a TensorRT engine (fp32, or --engine-precision tf32) with the calibrated
                 tensors marked as outputs, on this machine's GPU; --backend emulated runs it
                 in trtdsl's CPU emulator
  onnxruntime    trtdsl's ONNX export on onnxruntime's CPU provider, the histograms' inputs
                 computed inside the graph
  reference      the NumPy reference (needs nothing else)
  auto           the engine where a GPU can run it (or whenever --backend is given), else
                 onnxruntime where installed, else the reference
--workers N (default: the cores) runs N batches at once, each on one thread; histograms
merge exactly, so any N gives the same scales. Every value enters min, max and amax; the
histograms bin about --histogram-sample values per sample and tensor (a regular grid of each
feature map; 'all': every value), the same positions on every executor.
"""


EXECUTORS = ("auto", "engine", "onnxruntime", "reference")
"""``trtdsl.calibration.EXECUTORS`` (spelt out: the CLI imports no calibration code to start)."""
SAMPLE_VALUES = 8192
"""``trtdsl.calibration.SAMPLE_VALUES``."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "calibrate",
        help="compute INT8/FP8 scales from calibration data",
        description=(
            "Run MODEL with weights W over DATA (on an engine, onnxruntime or the NumPy "
            "reference, with data-parallel workers), stream a histogram of every tensor that "
            "--precision int8|fp8 quantizes (the inputs of convolutions, linear layers and "
            "matrix products, and residual inputs), and write each tensor's amax to "
            "SCALES.json with its method, the fraction of values it clips, the data's digest "
            "and the model's and weights' digests (a scales file for another model or weights "
            "is refused)."
        ),
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_model_argument(parser)
    add_weights_options(parser)
    add_shape_option(parser)
    parser.add_argument(
        "--data", required=True, metavar="DATA", help="an .npy or .npz file or an image folder"
    )
    parser.add_argument(
        "-o", "--output", required=True, metavar="SCALES.json", help="the scales file to write"
    )
    parser.add_argument(
        "--method",
        default="entropy",
        metavar="METHOD",
        help="entropy (default; TensorRT's KL algorithm, made robust), max, percentile[:P] "
        "(default 99.99) or mse",
    )
    parser.add_argument(
        "--method-for",
        action="append",
        default=[],
        metavar="PATTERN=METHOD",
        help="calibrate the tensors whose name matches the glob with METHOD (e.g. 'x=max'); "
        "repeatable, the first matching rule wins",
    )
    parser.add_argument(
        "--executor",
        choices=EXECUTORS,
        default="auto",
        help="what runs the model: auto (default), engine, onnxruntime or reference",
    )
    add_backend_option(parser, what="builds the engine of --executor engine")
    parser.add_argument(
        "--engine-precision",
        choices=["fp32", "tf32"],
        default="fp32",
        help="the engine executor's precision (default fp32: TF32 off)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="batches run at once, one thread each (default: this machine's cores)",
    )
    parser.add_argument(
        "--batch-size", type=int, default=8, metavar="B", help="samples per run (default 8)"
    )
    parser.add_argument("--limit", type=int, metavar="N", help="use the first N samples only")
    parser.add_argument(
        "--histogram-sample",
        default=str(SAMPLE_VALUES),
        metavar="N|all",
        help=f"values per sample and tensor binned (default {SAMPLE_VALUES}; all: every one)",
    )
    group = parser.add_argument_group("image preprocessing (override the model's preprocess:)")
    group.add_argument("--resize", type=int, metavar="N", help="shorter side after resizing")
    group.add_argument("--crop", metavar="HxW", help="center crop (must equal the input size)")
    group.add_argument("--mean", metavar="M,M,M", help="per-channel mean on the [0, 1] scale")
    group.add_argument("--std", metavar="S,S,S", help="per-channel std on the [0, 1] scale")
    group.add_argument("--channels", choices=["rgb", "bgr"], help="channel order (default rgb)")
    group.add_argument(
        "--letterbox",
        action="store_true",
        default=None,
        help="fit the photo inside the input and pad with gray (Ultralytics' detectors)",
    )
    add_threads_option(parser)
    parser.set_defaults(func=with_threads(run))


def _histogram_sample(text: str) -> int | None:
    from trtdsl.errors import UsageError

    if text == "all":
        return None
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise UsageError(f"--histogram-sample {text!r}: expected a positive count or all")
    return value


def run(args: argparse.Namespace) -> int:
    from trtdsl.calibration import CalibrationData, Method, MethodRule, Preprocess, calibrate
    from trtdsl.calibration.calibrate import check_arguments
    from trtdsl.calibration.data import read_model_preprocess
    from trtdsl.calibration.executors import auto_executor
    from trtdsl.calibration.workers import default_workers
    from trtdsl.cli.args import check_command_outputs
    from trtdsl.files import check_output
    from trtdsl.frontend.load import resolve_model_path

    method = Method.parse(args.method)
    rules = [MethodRule.parse(text) for text in args.method_for]
    sample = _histogram_sample(args.histogram_sample)
    workers = default_workers() if args.workers is None else args.workers
    check_arguments(args.executor, args.batch_size, workers, sample)  # before any output
    # Before any work: -o is none of the inputs (MODEL, --weights, --data; links included).
    check_command_outputs(args, [("-o", args.output)])
    graph = load_graph(args.model, args)
    bound = load_bound_weights(args, graph)
    declared = read_model_preprocess(resolve_model_path(args.model))
    options = {
        key: getattr(args, key)
        for key in ("resize", "crop", "mean", "std", "channels", "letterbox")
        if getattr(args, key) is not None
    }
    where = f"{args.model}: preprocess" + (" (with the options given)" if options else "")
    preprocess = Preprocess.from_mapping({**declared, **options}, where)
    data = CalibrationData(args.data, graph, preprocess, args.limit)
    check_output(args.output, "-o", data.files)  # nor one of the photos of a --data folder
    from trtdsl.calibration.executors.base import static_batch

    batch_size = static_batch(graph) or args.batch_size  # a batch the inputs fix wins
    executor, why = (args.executor, "")
    if executor == "auto":
        executor, why = auto_executor(args.backend)
    out = sys.stdout
    out.write(
        f"model: {graph.name} ({args.model}); weights: {bound.source}\n"
        f"data: {args.data}: {data.samples} sample(s) ({data.kind}); method: {method}"
        + "".join(f"; --method-for {r}" for r in rules)
        + f"; batch size {batch_size}\n"
        f"executor: {executor}{f' ({why})' if why else ''}; {workers} worker(s)\n"
    )
    out.flush()
    with _progress_bar(sys.stderr, data.samples) as progress:
        result = calibrate(
            graph,
            bound.arrays,
            data,
            method,
            args.batch_size,
            progress,
            method_for=rules,
            executor=executor,
            workers=workers,
            backend=args.backend,
            engine_precision=args.engine_precision,
            histogram_sample=sample,
        )
    result.save(args.output, "-o")
    rate = data.samples / result.seconds if result.seconds > 0 else float("inf")
    out.write(_table(result))
    out.write(
        f"calibrated {len(result.amax)} tensors in {result.seconds:.2f} s "
        f"({rate:.1f} samples/s) on {result.executor}\n"
        f"scales: {args.output}\n"
    )
    return 0


def _table(result: Any) -> str:
    """One line per calibrated tensor: method, amax, max |x| and the fraction clipped."""
    names = list(result.amax)
    width = max([len("tensor"), *map(len, names)])
    lines = [f"{'tensor':<{width}}  {'method':<15} {'amax':>11} {'max |x|':>11} {'clipped':>8}"]
    for name in names:
        stats = result.stats.get(name, {})
        largest = max(-stats.get("min", 0.0), stats.get("max", 0.0), 0.0)
        lines.append(
            f"{name:<{width}}  {str(result.method_of(name)):<15} {result.amax[name]:>11.5g} "
            f"{largest:>11.5g} {result.clipped.get(name, 0.0):>8.3%}"
        )
    return "\n".join(lines) + "\n"


@contextmanager
def _progress_bar(stream: Any, total: int) -> Iterator[Callable[[int, int], None] | None]:
    """A rich progress bar with images/s on ``stream`` (a terminal only) fed with (done,
    total) from the calibration's worker threads."""
    if not stream.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        Task,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class _Rate(ProgressColumn):
        def render(self, task: Task) -> Text:
            speed = task.finished_speed or task.speed
            return Text("-- images/s" if speed is None else f"{speed:.1f} images/s")

    with Progress(
        TextColumn("calibrating"),
        BarColumn(),
        MofNCompleteColumn(),
        _Rate(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(file=stream),
        transient=True,
    ) as bar:
        task = bar.add_task("calibrate", total=total)

        def update(done: int, _total: int) -> None:
            bar.update(task, completed=done)

        yield update

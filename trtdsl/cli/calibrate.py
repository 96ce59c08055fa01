"""``trtdsl calibrate``: run the NumPy reference over calibration data and write the INT8/FP8
scales file that ``--precision int8|fp8 --calibration SCALES.json`` reads."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from trtdsl.cli.args import (
    add_model_argument,
    add_shape_option,
    add_weights_options,
    load_bound_weights,
    load_graph,
)

EXAMPLES = """examples:
  trtdsl calibrate resnet50 --weights resnet50.safetensors --data photos/ -o resnet50.scales.json
  trtdsl calibrate resnet50 --weights random --data batch.npy --method percentile:99.9 -o s.json
  trtdsl calibrate model.yaml --weights w.safetensors --data inputs.npz --limit 512 -o s.json
  trtdsl compile resnet50 --weights resnet50.safetensors --precision int8 --calibration s.json

DATA is an .npy file (single-input models; axis 0 holds the samples), an .npz file (one array
per input name) or a folder of images. Images are resized (shorter side), center-cropped to the
input's size (or letterboxed, for detectors), scaled to [0, 1] and normalized by mean/std, as
declared under preprocess: in the model YAML (keys resize, crop, mean, std, channels,
letterbox) or by the options below; the default is torchvision's ImageNet preprocessing
(resize 256 for a 224 crop, ImageNet mean and std, RGB). The YOLO zoo models declare
letterbox with mean 0 and std 1, as Ultralytics.
"""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "calibrate",
        help="compute INT8/FP8 scales from calibration data",
        description=(
            "Run MODEL with weights W through the NumPy reference on DATA, stream a histogram "
            "of every tensor that --precision int8|fp8 quantizes (the inputs of convolutions, "
            "linear layers and matrix products, and residual inputs), and write each tensor's "
            "amax to SCALES.json with the method, the data's digest and the model's and "
            "weights' digests (a scales file for another model or weights is refused)."
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
        help="entropy (default; TensorRT's KL algorithm), max, percentile[:P] (default 99.99) "
        "or mse",
    )
    parser.add_argument(
        "--batch-size", type=int, default=8, metavar="B", help="samples per run (default 8)"
    )
    parser.add_argument("--limit", type=int, metavar="N", help="use the first N samples only")
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
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from trtdsl.calibration import CalibrationData, Method, Preprocess, calibrate
    from trtdsl.calibration.data import read_model_preprocess
    from trtdsl.cli.args import check_command_outputs
    from trtdsl.files import check_output
    from trtdsl.frontend.load import resolve_model_path

    method = Method.parse(args.method)
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
    out = sys.stdout
    out.write(
        f"model: {graph.name} ({args.model}); weights: {bound.source}\n"
        f"data: {args.data}: {data.samples} sample(s) ({data.kind}); method: {method}; "
        f"batch size {args.batch_size}\n"
    )
    out.flush()
    with _progress_bar(sys.stderr, data.samples) as progress:
        result = calibrate(graph, bound.arrays, data, method, args.batch_size, progress)
    result.save(args.output, "-o")
    rate = data.samples / result.seconds if result.seconds > 0 else float("inf")
    out.write(
        f"calibrated {len(result.amax)} tensors in {result.seconds:.2f} s "
        f"({rate:.1f} samples/s, NumPy reference)\n"
        f"scales: {args.output}\n"
    )
    return 0


@contextmanager
def _progress_bar(stream: Any, total: int) -> Iterator[Callable[[int, int], None] | None]:
    """A rich progress bar on ``stream`` (a terminal only) fed with (done, total)."""
    if not stream.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    with Progress(
        TextColumn("calibrating"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(file=stream),
        transient=True,
    ) as bar:
        task = bar.add_task("calibrate", total=total)

        def update(done: int, _total: int) -> None:
            bar.update(task, completed=done)

        yield update

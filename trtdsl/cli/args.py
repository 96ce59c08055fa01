"""Argument groups the subcommands share, each defined once so an option means the same on
every command: MODEL, ``--weights``/``--rename``, ``--shape``, ``--backend`` (with its
``--emulate`` alias), ``--precision``/``--keep-fp32``, and the build options; plus loading the
graph and bound weights they name."""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from trtdsl.errors import TrtdslError, UsageError
from trtdsl.ir.graph import Graph
from trtdsl.ir.ops.detection import NMS_DEFAULT_CANDIDATES
from trtdsl.ir.types import ShapeRange
from trtdsl.weights import BoundWeights

Parser = argparse.ArgumentParser | argparse._ArgumentGroup
"""Where the option groups below add their options: a parser or one of its argument groups."""

if TYPE_CHECKING:
    from trtdsl.backends.trt import BuildConfig, EmittedNetwork
    from trtdsl.deploy.cache import EngineCache
    from trtdsl.runtime.engines import PlanBuilder

MODEL_HELP = "a .yaml or .py model file, or a zoo name (trtdsl zoo lists them)"
WEIGHTS_HELP = "a .safetensors file, or random[:SEED] for seeded random weights"


def add_model_argument(parser: Parser) -> None:
    """The positional MODEL."""
    parser.add_argument("model", metavar="MODEL", help=MODEL_HELP)


def add_ops_option(parser: Parser) -> None:
    """``--ops FILE.py`` (repeatable): Python files defining custom ops (``@trtdsl.custom_op``),
    run before the model or engine is loaded (``load_ops_files``). Only a file named on the
    command line runs: a YAML model uses registered ops by name and never names code."""
    parser.add_argument(
        "--ops",
        action="append",
        default=[],
        metavar="FILE.py",
        help="a Python file defining custom ops (@trtdsl.custom_op), loaded before the model or "
        "engine: for YAML models and engines that use them; repeatable",
    )


def load_ops_files(args: argparse.Namespace) -> None:
    """Run each ``--ops FILE.py`` of ``args`` (``trtdsl.load_ops``), registering its ops."""
    from trtdsl.frontend.load import load_ops

    for path in getattr(args, "ops", None) or ():
        load_ops(path)


def add_shape_option(parser: Parser, ranges: bool = False) -> None:
    """``--shape NAME=DIMS`` (repeatable; ``--shapes`` is an alias): an input's shape.

    With ``ranges`` (commands that build an engine) it also takes ``NAME=MIN:OPT:MAX``, the
    optimization profile; elsewhere a range is refused. A shape must lie inside the range the
    model declares for its symbolic dimensions.
    """
    if ranges:
        metavar, help_text = (
            "NAME=DIMS|MIN:OPT:MAX",
            "an input's shape, e.g. x=8x3x224x224, or its optimization profile "
            "x=1x3x224x224:8x3x224x224:32x3x224x224 (default: the model's declared ranges); "
            "repeatable",
        )
    else:
        metavar, help_text = (
            "NAME=DIMS",
            "an input's shape, e.g. x=8x3x224x224, inside the model's declared ranges "
            "(repeatable; every type is re-inferred)",
        )
    parser.add_argument(
        "--shape",
        "--shapes",
        dest="shape",
        action="append",
        default=[],
        metavar=metavar,
        help=help_text,
    )
    parser.set_defaults(shape_ranges=ranges)


def add_backend_option(
    parser: Parser, reference: bool = False, what: str = "builds or runs"
) -> None:
    """``--backend auto|tensorrt|tensorrt-rtx|emulated[|reference]`` and ``--emulate``."""
    from trtdsl.backends.trt.module import BACKENDS

    choices = (*BACKENDS, "reference") if reference else BACKENDS
    parser.add_argument(
        "--backend",
        choices=choices,
        default="auto",
        help=f"what {what}: tensorrt (TensorRT on this GPU), tensorrt-rtx (TensorRT-RTX; builds "
        "even without a GPU), emulated (trtdsl's CPU emulator of TensorRT; results labelled "
        "emulated)"
        + (", reference (the NumPy reference executor)" if reference else "")
        + "; auto (default): tensorrt if installed, else tensorrt-rtx",
    )
    parser.add_argument(
        "--emulate",
        dest="backend",
        action="store_const",
        const="emulated",
        help="the same as --backend emulated",
    )


PRECISION_HELP = (
    "compute precision: fp32 (default; exact float32 with TF32 disabled, so results match the "
    "reference), tf32 (float32 with TF32 tensor-core math allowed), fp16 or bf16 (half "
    "precision inside, float32 inputs and outputs), int8 or fp8 (quantize/dequantize on conv, "
    "linear and matmul inputs with --calibration scales; the other layers in fp16)"
)


def add_precision_options(parser: Parser) -> None:
    """``--precision`` and ``--keep-fp32 PATTERN`` (the precision of a build)."""
    from trtdsl.ir.types import Precision

    parser.add_argument(
        "--precision",
        choices=[p.value for p in Precision],
        default=Precision.FP32.value,
        help=PRECISION_HELP,
    )
    parser.add_argument(
        "--keep-fp32",
        action="append",
        default=[],
        metavar="PATTERN",
        help="keep nodes whose name matches this glob in float32 (e.g. '*.softmax'); repeatable",
    )
    parser.add_argument(
        "--keep-fp16",
        action="append",
        default=[],
        metavar="PATTERN",
        help="with --precision int8 or fp8: leave nodes matching this glob unquantized, in fp16 "
        "(`compare --precision int8 --bisect` finds which); repeatable",
    )
    parser.add_argument(
        "--calibration",
        metavar="SCALES.json",
        help="with --precision int8 or fp8: the activation scales `trtdsl calibrate` wrote for "
        "this model and these weights",
    )


def shape_args(args: argparse.Namespace) -> dict[str, ShapeRange]:
    """The ``--shape`` items of ``args`` (UsageError for a range where one shape is meant)."""
    from trtdsl.ir.types import parse_shapes

    shapes = parse_shapes(getattr(args, "shape", None) or [])
    if not getattr(args, "shape_ranges", False):
        for name, r in shapes.items():
            if not r.is_fixed:
                raise UsageError(
                    f"--shape {name}={r.format()}: this command runs one shape; give NAME=DIMS "
                    "(a MIN:OPT:MAX profile applies to commands that build an engine)"
                )
    return shapes


def add_weights_options(parser: Parser, required: bool = True, help: str = WEIGHTS_HELP) -> None:
    """``--weights W`` and ``--rename PATTERN REPLACEMENT`` (for foreign checkpoints)."""
    parser.add_argument("--weights", required=required, metavar="W", help=help)
    add_rename_option(parser)


def add_rename_option(parser: Parser) -> None:
    """``--rename PATTERN REPLACEMENT`` (repeatable, applied in order with ``re.sub``)."""
    parser.add_argument(
        "--rename",
        nargs=2,
        action="append",
        default=[],
        metavar=("PATTERN", "REPLACEMENT"),
        help="rename checkpoint keys matching the regex PATTERN (re.sub; repeatable, in order)",
    )


def load_graph(spec: str, args: argparse.Namespace) -> Graph:
    """The model ``spec``; fixed ``--shape`` items in ``args`` replace the declared input
    shapes (every type re-inferred). A symbolic dimension must stay inside its declared
    range; a static one may change (e.g. a classifier run at 32x32), but a detector's height
    and width stay multiples of its largest stride (``frontend.strides``). A
    ``MIN:OPT:MAX`` item leaves the model as declared (it is a profile, for the build); each of
    its corners must fit the declared shape and ranges."""
    from trtdsl.frontend.load import load_model

    graph = load_model(spec)
    given = shape_args(args)
    for name, r in given.items():
        if not r.is_fixed:  # a profile: each corner inside the declared ranges
            for which in ("min", "opt", "max"):
                check_input_shape(graph, name, getattr(r, which), f"--shape ({which})")
    shapes = {name: r.opt for name, r in given.items() if r.is_fixed}
    if shapes:
        for name, shape in shapes.items():
            check_input_shape(graph, name, shape, "--shape", static_may_change=True)
        graph = load_model(spec, {**_shared_sizes(graph, shapes), **shapes})
    return with_detection_stage(graph, args)


def _shared_sizes(graph: Graph, shapes: dict[str, tuple[int, ...]]) -> dict[str, tuple[int, ...]]:
    """Shapes for the inputs not given a ``--shape`` whose symbolic dimensions all appear in
    the given ones (a BERT's ``attention_mask`` takes ``input_ids=1x64``'s B and L)."""
    sizes: dict[str, int] = {}
    for name, shape in shapes.items():
        for dim, size in zip(graph.types[name].shape, shape, strict=True):
            if isinstance(dim, str):
                if sizes.setdefault(dim, size) != size:
                    other = sizes[dim]
                    raise UsageError(
                        f"--shape {name}: {dim}={size}, but another --shape gives {dim}={other}"
                    )
    result = {}
    for name in graph.inputs:
        t = graph.types[name]
        if name not in shapes and t.symbols and all(d in sizes for d in t.symbols):
            result[name] = tuple(d if isinstance(d, int) else sizes[d] for d in t.shape)
    return result


def add_detection_options(parser: Parser) -> None:
    """``--nms`` with ``--conf``, ``--iou``, ``--max-det`` and ``--max-candidates``: a
    detector's NMS in the engine."""
    parser.add_argument(
        "--nms",
        action="store_true",
        help="detectors (raw (N, 4 + classes, anchors) output, as YOLO's): append class-aware "
        "NMS in the engine; outputs boxes, scores, classes and count",
    )
    parser.add_argument(
        "--conf",
        type=float,
        default=0.25,
        metavar="T",
        help="with --nms: the score a detection must exceed (0..1, default 0.25)",
    )
    parser.add_argument(
        "--iou",
        type=float,
        default=0.7,
        metavar="T",
        help="with --nms: the IoU above which a box of the same class is dropped (default 0.7)",
    )
    parser.add_argument(
        "--max-det",
        type=int,
        default=300,
        metavar="K",
        help="with --nms: detections kept per image (default 300)",
    )
    parser.add_argument(
        "--max-candidates",
        type=int,
        default=NMS_DEFAULT_CANDIDATES,
        metavar="K",
        help="with --nms: the best-scoring candidates per image that NMS considers (default "
        f"{NMS_DEFAULT_CANDIDATES}, TensorRT-RTX's most; fewer save the (K, K) IoU memory "
        "of TensorRT-RTX's NMS)",
    )


def with_detection_stage(graph: Graph, args: argparse.Namespace) -> Graph:
    """``graph`` with the NMS stage when ``--nms`` asks for it (or ``--boxes`` needs it)."""
    wanted = getattr(args, "nms", False) or getattr(args, "boxes", None)
    if not wanted:
        return graph
    from trtdsl.passes.nms import NMS_OUTPUTS, add_nms_stage

    if set(NMS_OUTPUTS) <= {p.name for p in graph.outputs}:
        return graph
    return add_nms_stage(
        graph,
        score_threshold=args.conf,
        iou_threshold=args.iou,
        max_det=args.max_det,
        max_candidates=args.max_candidates,
    )


def check_input_shape(
    graph: Graph,
    name: str,
    shape: tuple[int, ...],
    what: str,
    static_may_change: bool = False,
) -> None:
    """UsageError unless ``shape`` fits input ``name``: its rank, its static sizes (unless
    ``static_may_change``), and the declared min..max range of each symbolic dimension."""
    if name not in graph.inputs:
        from trtdsl.ir.ops.base import suggest

        raise UsageError(
            f"{what} {name}: the model has no input {name!r}{suggest(name, graph.inputs)} "
            f"(inputs: {', '.join(graph.inputs)})"
        )
    declared = graph.types[name]
    text = "x".join(map(str, shape))
    if len(shape) != declared.rank:
        raise UsageError(
            f"{what} {name}={text}: expected {declared.rank} dimensions ({declared.format_shape()})"
        )
    for dim, size in zip(declared.shape, shape, strict=True):
        if isinstance(dim, int):
            if dim != size and not static_may_change:
                raise UsageError(
                    f"{what} {name}={text}: does not fit the declared shape "
                    f"{declared.format_shape()}"
                )
            continue
        r = graph.dim(dim)
        if not r.min <= size <= r.max:
            raise UsageError(
                f"{what} {name}={text}: {dim}={size} is outside the declared profile "
                f"{declared.format_shape()} with {dim} in {r.min}..{r.max}"
            )


def load_bound_weights(args: argparse.Namespace, graph: Graph) -> BoundWeights:
    """``args.weights`` bound to ``graph``, with the ``--rename`` rules in ``args`` applied."""
    from trtdsl.weights import load_weights

    renames = [(pattern, replacement) for pattern, replacement in args.rename or ()]
    return load_weights(args.weights, graph, rename=renames or None, interface="cli")


def add_build_options(parser: Parser) -> None:
    """The builder options of every command that builds an engine file."""
    parser.add_argument(
        "--compute-capability",
        metavar="CC[,CC...]",
        help="TensorRT-RTX only: build ahead of time for these GPUs, e.g. 86,89,120 (sm_86 = "
        "RTX 30xx, sm_89 = RTX 40xx, sm_120 = RTX 50xx; default: TensorRT-RTX's portable set)",
    )
    parser.add_argument(
        "--workspace",
        metavar="SIZE",
        help="workspace memory limit, e.g. 4G or 512M (default: TensorRT's, all device memory)",
    )
    parser.add_argument(
        "--opt-level",
        type=int,
        metavar="N",
        help="builder optimization level 0..5 (default: TensorRT's, 3)",
    )
    parser.add_argument(
        "--timing-cache",
        metavar="F",
        help="timing cache file: read before the build if it exists, written after (never "
        "overwritten when TensorRT could not read it)",
    )
    parser.add_argument(
        "--refittable", action="store_true", help="allow refitting the weights later, by name"
    )
    add_cache_option(parser)


def add_cache_option(parser: Parser) -> None:
    """``--cache DIR``: the engine cache of every command that builds an engine."""
    parser.add_argument(
        "--cache",
        metavar="DIR",
        help="engine cache directory (created if missing): an engine already built with the "
        "same model, weights, product and version, targets or GPU, precision, profiles and "
        "builder options is read from there instead of built (trtdsl cache ls|clear DIR)",
    )


def open_cache(args: argparse.Namespace) -> EngineCache | None:
    """The EngineCache of ``--cache`` (None without it); UsageError for a directory that is a
    file, cannot be created or is not writable (checked before any long work)."""
    directory = getattr(args, "cache", None)
    if directory is None:
        return None
    from trtdsl.deploy.cache import EngineCache

    return EngineCache(directory, "--cache")


def plan_builder(args: argparse.Namespace) -> PlanBuilder | None:
    """How a command that builds in memory builds with ``--cache`` (None without it): through
    the cache, saying each hit or miss on stderr (stdout may be JSON)."""
    cache = open_cache(args)
    if cache is None:
        return None
    through_cache = cache.plan_builder()

    def build(emitted: EmittedNetwork, config: BuildConfig) -> bytes:
        plan = through_cache(emitted, config)
        digest = (cache.last_digest or "")[:12]
        what = "hit: build skipped" if cache.last_hit else "miss: built and stored"
        print(f"cache: {what} ({digest} in {cache.directory})", file=sys.stderr)
        return plan

    return build


def build_config(args: argparse.Namespace) -> BuildConfig:
    """The BuildConfig of ``args`` (precision, shapes and the build options above)."""
    from trtdsl.backends.trt import BuildConfig
    from trtdsl.ir.types import Precision

    return BuildConfig(
        precision=Precision.parse(getattr(args, "precision", "fp32")),
        keep_fp32=tuple(getattr(args, "keep_fp32", ()) or ()),
        workspace=parse_size(getattr(args, "workspace", None)),
        shapes=shape_args(args),
        optimization_level=getattr(args, "opt_level", None),
        timing_cache=getattr(args, "timing_cache", None),
        refittable=bool(getattr(args, "refittable", False)),
        calibration=getattr(args, "calibration", None),
        keep_fp16=tuple(getattr(args, "keep_fp16", ()) or ()),
        compute_capabilities=parse_compute_capabilities(getattr(args, "compute_capability", None)),
    )


def parse_compute_capabilities(text: str | None) -> tuple[int, ...]:
    """``"86,89,120"`` (or ``"8.6,sm_89"``) -> ``(86, 89, 120)``; None -> ``()``."""
    if not text:
        return ()
    result = []
    for part in text.split(","):
        item = part.strip().lower().removeprefix("sm_").removeprefix("sm")
        digits = item.replace(".", "")
        if not digits.isdigit() or not 2 <= len(digits) <= 3:
            raise UsageError(
                f"--compute-capability {text!r}: expected numbers like 86,89,120 (sm_86, ...)"
            )
        result.append(int(digits))
    return tuple(dict.fromkeys(result))


def parse_size(text: str | None) -> int | None:
    """``"4G"`` -> 4 << 30; ``"512M"``, ``"64K"``, plain bytes; None stays None."""
    if text is None:
        return None
    match = re.fullmatch(r"\s*(\d+)\s*([KMG]?)i?B?\s*", text, re.IGNORECASE)
    if not match:
        raise UsageError(f"--workspace {text!r}: expected a size like 4G, 512M or 1048576")
    shift = {"": 0, "K": 10, "M": 20, "G": 30}[match.group(2).upper()]
    return int(match.group(1)) << shift


INPUT_FILE_OPTIONS = ("weights", "data", "calibration", "against", "name_map")
"""``args`` attributes that name input files (besides MODEL/ENGINE and ``--input``)."""


def command_inputs(args: argparse.Namespace) -> list[str]:
    """Every input file ``args`` names: the model or engine (a zoo name resolved to its
    file), ``--weights`` (unless random), ``--input`` files, ``--data``, ``--calibration``,
    ``--against`` and ``--name-map``. Outputs are checked against these before any work
    (``check_command_outputs``); ``--timing-cache`` is read to be updated, so it is an output
    that must differ from these, not an input."""
    found: list[str] = []
    for attribute in ("model", "source", "engine"):
        spec = getattr(args, attribute, None)
        if isinstance(spec, str) and spec:
            found.append(_model_file(spec))
    for attribute in INPUT_FILE_OPTIONS:
        value = getattr(args, attribute, None)
        if isinstance(value, str) and value and not _is_random(value):
            found.append(value)
    found.extend(getattr(args, "ops", None) or ())
    for spec in getattr(args, "input", None) or ():
        source = spec.partition("=")[2] if "=" in spec and not os.path.exists(spec) else spec
        if not _is_random(source):
            found.append(source)
    return found


def _is_random(value: str) -> bool:
    return value == "random" or value.startswith("random:")


def _model_file(spec: str) -> str:
    """The file of a MODEL spec (a zoo name resolved), or the spec itself."""
    from trtdsl.frontend.load import resolve_model_path

    try:
        return str(resolve_model_path(spec))
    except TrtdslError:
        return spec


def check_command_outputs(
    args: argparse.Namespace,
    outputs: Sequence[tuple[str, str | None]],
    inputs: Sequence[str] = (),
) -> None:
    """FileError unless every ``(option, path)`` output (None: not asked for) can be written:
    its directory exists and is writable, it is no directory or device, it is none of the
    command's inputs (``command_inputs``; hard and symbolic links included) and no other
    output. ``inputs``: more input files than the command line names (an engine's sidecar).
    Called before any long work, so nothing is built only to fail at the end."""
    from trtdsl.files import check_outputs

    wanted = [(option, path) for option, path in outputs if path is not None]
    check_outputs(wanted, [*command_inputs(args), *inputs])


def check_output_directory(path: str, option: str) -> None:
    """FileError unless ``path`` can be an output file (``trtdsl.files.check_output``)."""
    from trtdsl.files import check_output

    check_output(path, option)


def add_threads_option(parser: Parser) -> None:
    """``--threads N``: the threads of trtdsl's NumPy kernels (the reference, the emulator and
    every check computed with them); results are the same, bit for bit, for every N."""
    from trtdsl.kernels import available_cores

    parser.add_argument(
        "--threads",
        type=_thread_count,
        default=None,
        metavar="N",
        help="threads for the NumPy reference and emulator; results do not depend on it "
        f"(default: the cores this process may use, {available_cores()} here)",
    )


def with_threads(
    run: Callable[[argparse.Namespace], int],
) -> Callable[[argparse.Namespace], int]:
    """``run(args)`` with the kernels on ``args.threads`` threads (a command's ``run``)."""
    import functools

    from trtdsl.kernels import threads

    @functools.wraps(run)
    def wrapper(args: argparse.Namespace) -> int:
        with threads(getattr(args, "threads", None)):
            return run(args)

    return wrapper


def _thread_count(text: str) -> int:
    from trtdsl.kernels.parallel import MAX_THREADS

    try:
        count = int(text)
    except ValueError:
        count = 0
    if not 1 <= count <= MAX_THREADS:
        raise argparse.ArgumentTypeError(
            f"expected a whole number of threads from 1 to {MAX_THREADS}, got {text!r}"
        )
    return count

"""``trtdsl ops [NAME]``: the op catalogue, derived from the op classes and the backend tables.

``describe_ops`` collects, per op, its arguments (types, defaults), PyTorch equivalent, weights
and the backends that implement it (the op's own ``reference``, ``EMITTERS`` of the TensorRT
emitter, ``EXPORTERS`` of the ONNX export); ``render_markdown`` writes the op reference
(``docs/ops.md``). Only ``run`` prints.
"""

from __future__ import annotations

import argparse
import inspect
import itertools
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from trtdsl.cli.format import Column, add_format_option, print_json, print_table
from trtdsl.errors import TrtdslError, UsageError
from trtdsl.frontend.signatures import COMMON_KEYWORDS, display_default, op_arguments
from trtdsl.frontend.signatures import signature_text as _signature_text
from trtdsl.ir.ops import OPS, Op
from trtdsl.ir.types import DType, TensorType

EXAMPLES = """examples:
  trtdsl ops                        # every op: arguments, types, defaults, PyTorch, backends
  trtdsl ops conv2d                 # one op: its call, arguments, weights and description
  trtdsl ops --format json | jq '.[] | select(.onnx_opset > 11) | .name'
  trtdsl ops --markdown > docs/ops.md

In Python every op is a ModelBuilder method taking its inputs positionally and its arguments
as keywords (b.conv2d(x, out_channels=64, kernel_size=3)); in YAML it is a layer
{op: conv2d, out_channels: 64, kernel_size: 3}. Backends: "reference" is the NumPy
specification, "TensorRT" the emitter shared by the emulator and real TensorRT, "ONNX" the
export (with the oldest opset it needs).
"""

REFERENCE_DOC = "docs/ops.md"
"""Where the generated op reference lives in the repository."""


@dataclass(frozen=True)
class ArgumentInfo:
    """One attribute of an op: its name, type (as written on the dataclass) and default."""

    name: str
    type: str
    default: str | None
    """The default as source text; None when the argument is required."""


@dataclass(frozen=True)
class WeightInfo:
    """One weight of an op, for an example input: role, dtype, shape and what kind it is."""

    role: str
    dtype: str
    shape: tuple[int, ...]
    kind: str
    """``parameter``, ``buffer`` (saved state, not counted as parameters) or ``optional``."""


@dataclass(frozen=True)
class OpInfo:
    """What ``trtdsl ops`` says about one op."""

    name: str
    class_name: str
    summary: str
    description: str
    signature: str
    inputs: str
    """``1``, ``2``, ``1 or more`` or ``none``."""
    arguments: tuple[ArgumentInfo, ...]
    torch: str
    """The PyTorch equivalent named by the op's docstring (``torch.nn.Conv2d``), or ``""``."""
    reference: bool
    tensorrt: bool
    onnx: bool
    onnx_opset: int | None
    """The oldest ONNX opset its export needs (None without an exporter)."""
    weights: tuple[WeightInfo, ...]
    weights_example: str
    """The input and arguments ``weights`` were computed for (``""`` when none fitted)."""
    user: str = ""
    """For a user-defined op (``trtdsl.custom_op``): its lowering and file; else ``""``."""


def describe_ops(names: Sequence[str] | None = None) -> list[OpInfo]:
    """OpInfo for ``names`` (default: every registered op), sorted by name.

    Raises:
        UsageError for an unknown name, with a close match or the list of ops.
    """
    from trtdsl.frontend.builder import unknown_op_hint

    selected = sorted(OPS) if not names else list(names)
    for name in selected:
        if name not in OPS:
            raise UsageError(f"unknown op {name!r}{unknown_op_hint(name)}")
    emitters, exporters, opsets, floor = _backend_tables()
    return [_describe(name, OPS[name], emitters, exporters, opsets, floor) for name in selected]


def _is_custom(cls: type[Op]) -> bool:
    from trtdsl.ir.ops.custom import CustomOp

    return issubclass(cls, CustomOp)


def _backend_tables() -> tuple[Mapping[type[Op], Any], Mapping[type[Op], Any], Any, int]:
    # Importing the backends fills their registries; neither imports TensorRT, the emulator or
    # onnx until used.
    from trtdsl.backends.onnx_export import EXPORTERS
    from trtdsl.backends.onnx_ops import MIN_OPSET, OPSETS
    from trtdsl.backends.trt import EMITTERS

    return EMITTERS, EXPORTERS, OPSETS, MIN_OPSET


def _describe(
    name: str,
    cls: type[Op],
    emitters: Mapping[type[Op], Any],
    exporters: Mapping[type[Op], Any],
    opsets: Mapping[type[Op], tuple[int, str]],
    floor: int,
) -> OpInfo:
    description = inspect.cleandoc(cls.__doc__ or "")
    summary = description.split("\n\n", 1)[0].replace("\n", " ")
    arguments = tuple(
        ArgumentInfo(a.name, a.annotation, None if a.required else display_default(a.default))
        for a in op_arguments(cls)
        if a.kind == inspect.Parameter.KEYWORD_ONLY and a.name not in COMMON_KEYWORDS
    )
    torch = re.search(r"\bas ``(torch\.[\w.]+)", summary)
    weights, example = _example_weights(cls)
    return OpInfo(
        name=name,
        class_name=cls.__name__,
        summary=summary,
        description=description,
        signature=_signature_text(name, cls),
        inputs={None: "1 or more", 0: "none"}.get(cls.arity, str(cls.arity)),
        arguments=arguments,
        torch=torch.group(1) if torch else "",
        reference=cls.reference is not Op.reference,
        tensorrt=cls in emitters or _is_custom(cls),
        onnx=cls in exporters,
        onnx_opset=opsets.get(cls, (floor, ""))[0] if cls in exporters else None,
        weights=weights,
        weights_example=example,
        user=_user(cls),
    )


def _user(cls: type[Op]) -> str:
    """``"composed, from FILE"`` / ``"plugin, from FILE"`` for a custom op, else ``""``."""
    from trtdsl.ir.ops.custom import CustomOp

    if not issubclass(cls, CustomOp):
        return ""
    return f"{cls.lowering}, from {cls.source_file}" if cls.source_file else cls.lowering


# Values for required arguments, to compute an example of an op's weights; tried in order with
# a few input shapes until one is accepted. Ops without weights need none of them to fit.
_EXAMPLE_VALUES: dict[str, Sequence[object]] = {
    "out_channels": (8,),
    "kernel_size": (3,),
    "out_features": (16,),
    "output_size": (1,),
    "normalized_shape": (8,),
    "embed_dim": (8,),
    "num_heads": (2,),
    "groups": (2,),
    "dim": (1,),
    "dims": ((0, 1, 3, 2), (1, 0)),
    "shape": ((4,), (-1,)),
    "sizes": ((2, 4, 8, 8),),
    "dtype": ("float16",),
    "start": (0,),
    "length": (1,),
    "index": (0,),
    "dim0": (0,),
    "dim1": (1,),
}
_EXAMPLE_INPUTS = ((1, 4, 8, 8), (2, 8), (2, 4, 8))


def _example_weights(cls: type[Op]) -> tuple[tuple[WeightInfo, ...], str]:
    required = [a for a in op_arguments(cls) if a.kind == inspect.Parameter.KEYWORD_ONLY]
    required = [a for a in required if a.required]
    choices = [_EXAMPLE_VALUES.get(a.name, (1,)) for a in required]
    counts = [cls.arity] if cls.arity is not None else [1, 3, 2]
    for values in itertools.product(*choices):
        kwargs = {a.name: v for a, v in zip(required, values, strict=True)}
        try:
            op = cls(**kwargs)
        except (TrtdslError, TypeError, ValueError):
            continue
        for shape, count in itertools.product(_EXAMPLE_INPUTS, counts):
            inputs = [TensorType(DType.FLOAT32, shape)] * count
            try:
                op.infer_outputs(inputs)
                specs = op.params(inputs)
            except (TrtdslError, TypeError, ValueError, IndexError):
                continue
            weights = tuple(
                WeightInfo(
                    role,
                    spec.dtype.value,
                    spec.shape,
                    "optional" if spec.optional else "buffer" if spec.buffer else "parameter",
                )
                for role, spec in specs.items()
            )
            parts = [f"{k}={v!r}" for k, v in kwargs.items()]
            if count:
                parts.insert(0, f"{count} input{'s' if count > 1 else ''} {inputs[0]}")
            return weights, ", ".join(parts)
    return (), ""


# -- text ----------------------------------------------------------------------------------------

LIST_COLUMNS = (
    Column("op", "op"),
    Column("inputs", "inputs"),
    Column("argument", "argument"),
    Column("type", "type"),
    Column("default", "default"),
    Column("torch", "PyTorch"),
    Column("reference", "reference"),
    Column("tensorrt", "TensorRT"),
    Column("onnx", "ONNX"),
)


def catalogue_rows(infos: Sequence[OpInfo]) -> list[dict[str, Any]]:
    """One row per argument (the op's columns on its first row only); ops without arguments
    get one row."""
    rows: list[dict[str, Any]] = []
    for info in infos:
        arguments = info.arguments or (ArgumentInfo("-", "", ""),)
        for index, arg in enumerate(arguments):
            row: dict[str, Any] = {
                "argument": arg.name,
                "type": arg.type,
                "default": "required" if arg.default is None else arg.default,
            }
            if index == 0:
                row.update(
                    op=f"{info.name} (user)" if info.user else info.name,
                    inputs=info.inputs,
                    torch=info.torch or "-",
                    reference=_yes(info.reference),
                    tensorrt=_yes(info.tensorrt),
                    onnx=f"opset {info.onnx_opset}+" if info.onnx else "no",
                )
            rows.append(row)
    return rows


def format_op(info: OpInfo) -> str:
    """The detail of one op, as ``trtdsl ops NAME`` prints it."""
    yaml_args = ", ".join(f"{a.name}: ..." for a in info.arguments if a.default is None)
    lines = [
        f"{info.name} ({info.class_name}): {_plain(info.summary)}",
        "",
        f"  Python    b.{info.signature}",
        f"  YAML      {{op: {info.name}{', ' + yaml_args if yaml_args else ''}}}",
        f"  inputs    {info.inputs}",
        f"  PyTorch   {info.torch or '-'}",
        f"  backends  {_backends(info)}",
    ]
    if info.user:
        lines.insert(1, f"  the user's op ({info.user})")
    if info.arguments:
        lines += ["", "  argument" + " " * 14 + "type" + " " * 28 + "default"]
        for arg in info.arguments:
            default = "required" if arg.default is None else arg.default
            lines.append(f"  {arg.name:<21} {arg.type:<31} {default}")
    if info.weights:
        lines += ["", f"  weights (for {info.weights_example}):"]
        for w in info.weights:
            kind = "" if w.kind == "parameter" else f"  ({w.kind})"
            lines.append(f"    {_role(w.role):<20} {w.dtype} {_shape(w.shape)}{kind}")
    rest = info.description.split("\n\n", 1)[1:] if "\n\n" in info.description else []
    if rest:
        lines += [""] + ["  " + line if line else "" for line in _plain(rest[0]).splitlines()]
    return "\n".join(lines)


def render_markdown(infos: Sequence[OpInfo] | None = None) -> str:
    """The op reference (``docs/ops.md``): a summary table, then one section per op."""
    infos = describe_ops() if infos is None else infos
    lines = [
        "# Op reference",
        "",
        "<!-- Generated from the op classes by `trtdsl ops --markdown` "
        "(`python tools/generate_ops.py` rewrites this file); do not edit. -->",
        "",
        "Every op is a `ModelBuilder` method taking its input tensors positionally and its",
        "arguments as keywords (`b.conv2d(x, out_channels=64, kernel_size=3)`), and a YAML",
        "layer (`{op: conv2d, out_channels: 64, kernel_size: 3}`). Backends: *reference* is",
        "the NumPy specification every backend is checked against; *TensorRT* is the emitter",
        "shared by the CPU emulator and real TensorRT; *ONNX* is `trtdsl export`, with the",
        "oldest opset the op needs. `trtdsl ops NAME` prints the same on the command line.",
        "",
        "| op | PyTorch | inputs | reference | TensorRT | ONNX |",
        "|---|---|---|---|---|---|",
    ]
    for info in infos:
        onnx = f"opset {info.onnx_opset}+" if info.onnx else "no"
        torch = f"`{info.torch}`" if info.torch else "-"
        lines.append(
            f"| [`{info.name}`](#{info.name}) | {torch} | {info.inputs} | "
            f"{_yes(info.reference)} | {_yes(info.tensorrt)} | {onnx} |"
        )
    for info in infos:
        lines += ["", f"## {info.name}", "", f"`b.{info.signature}` ({info.class_name})", ""]
        lines += [info.summary, ""]
        details = info.description.split("\n\n", 1)[1:] if "\n\n" in info.description else []
        if details:  # formulas and layouts: verbatim (Markdown would read * and + as markup)
            lines += ["```text", details[0].strip("\n"), "```", ""]
        lines.append(f"Inputs: {info.inputs}. Backends: {_backends(info)}.")
        if info.arguments:
            lines += ["", "| argument | type | default |", "|---|---|---|"]
            for arg in info.arguments:
                default = "required" if arg.default is None else f"`{arg.default}`"
                kind = arg.type.replace("|", "\\|")  # a pipe in a table cell, even in code
                lines.append(f"| `{arg.name}` | `{kind}` | {default} |")
        if info.weights:
            lines += ["", f"Weights, for {info.weights_example}:", ""]
            for w in info.weights:
                kind = "" if w.kind == "parameter" else f" ({w.kind})"
                role = f"`{w.role}`" if w.role else _role(w.role)
                lines.append(f"- {role}: {w.dtype} {_shape(w.shape)}{kind}")
    return "\n".join(lines) + "\n"


def _role(role: str) -> str:
    """A weight role; the empty role is the node's own name (``parameter``)."""
    return role or "(the node name)"


def _plain(text: str) -> str:
    """Docstring text for a terminal: without reStructuredText's double backticks."""
    return text.replace("``", "")


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _backends(info: OpInfo) -> str:
    onnx = f"yes (opset >= {info.onnx_opset})" if info.onnx else "no"
    return (
        f"reference {_yes(info.reference)}; TensorRT (emulated and real) "
        f"{_yes(info.tensorrt)}; ONNX {onnx}"
    )


def _shape(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"


# -- the subcommand --------------------------------------------------------------------------


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "ops",
        help="list the ops: arguments, types, defaults, PyTorch equivalents, backends",
        description="List every op with its arguments (types, defaults), its PyTorch "
        "equivalent and the backends that implement it, or describe one op in detail.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("name", nargs="?", metavar="NAME", help="an op name, e.g. conv2d")
    parser.add_argument(
        "--markdown",
        action="store_true",
        help=f"print the op reference as Markdown (the text of {REFERENCE_DOC})",
    )
    add_format_option(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    infos = describe_ops([args.name] if args.name else None)
    if args.markdown:
        print(render_markdown(infos), end="")
    elif args.format == "json":
        print_json([asdict(info) for info in infos])
    elif args.name:
        print(format_op(infos[0]))
    else:
        footer = [
            f"{len(infos)} ops; trtdsl ops NAME describes one (weights, description); "
            f"the reference: {REFERENCE_DOC}",
        ]
        users = [info.name for info in infos if info.user]
        if users:
            footer.append(
                f"(user): {len(users)} ops of the user's (--ops FILE.py): {', '.join(users)}"
            )
        rows = catalogue_rows(infos)
        if sys.stdout.isatty():
            # NOTE: print_table hands cells to rich as markup, where "[int, int]" is a tag
            # and vanishes; escape them until cli/format.py passes cells as rich Text.
            from rich.markup import escape

            rows = [{k: escape(v) if isinstance(v, str) else v for k, v in r.items()} for r in rows]
        print_table(LIST_COLUMNS, rows, title="ops", footer=footer)
    return 0

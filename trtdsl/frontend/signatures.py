"""The builder-method signatures of the ops, derived from the op dataclasses.

``make_method`` makes the runtime method of one op (``op_methods.OpMethods``), ``render_stub``
the static declarations of all of them (``op_methods.pyi``), and ``signature_text`` the call as
error messages and ``trtdsl ops`` show it.
"""

from __future__ import annotations

import ast
import builtins
import dataclasses
import enum
import inspect
import sys
import textwrap
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from trtdsl.ir.ops import OPS, Op

if TYPE_CHECKING:
    from trtdsl.frontend.builder import ModelBuilder, Tensor

COMMON_KEYWORDS = ("name", "precision")
"""Keywords every op method takes besides the op's attributes."""


@dataclass(frozen=True)
class Argument:
    """One parameter of an op method: an input tensor or an attribute of the op."""

    name: str
    annotation: str
    """Source text of the type, as written on the op dataclass (``int | tuple[int, int]``)."""
    kind: inspect._ParameterKind
    default: Any = inspect.Parameter.empty
    """The attribute's default; ``inspect.Parameter.empty`` for required ones and inputs."""

    @property
    def required(self) -> bool:
        return self.default is inspect.Parameter.empty


def input_names(cls: type[Op]) -> tuple[str, ...]:
    """The names of an op's input parameters, after ``torch``: ``input``, ``input, other``,
    ``*tensors`` (``arity`` None: one or more)."""
    if cls.arity is None:
        return ("*tensors",)
    if cls.arity == 1:
        return ("input",)
    if cls.arity == 2:
        return ("input", "other")
    return tuple(f"input{i}" for i in range(cls.arity))


def op_arguments(cls: type[Op]) -> tuple[Argument, ...]:
    """The parameters of ``cls``'s builder method: inputs, then attributes, then name/precision.

    Raises:
        TypeError if an attribute name clashes with an input or common keyword, or a default
        cannot be written as source (a new op must then pick other names or defaults).
    """
    args: list[Argument] = []
    for name in input_names(cls):
        if name.startswith("*"):
            args.append(Argument(name[1:], "Tensor", inspect.Parameter.VAR_POSITIONAL))
        else:
            args.append(Argument(name, "Tensor", inspect.Parameter.POSITIONAL_ONLY))
    taken = {a.name for a in args} | set(COMMON_KEYWORDS) | {"self", "source"}
    for field in dataclasses.fields(cls):
        if field.name in taken:
            raise TypeError(f"{cls.__name__}.{field.name} clashes with a builder method keyword")
        default: Any = inspect.Parameter.empty
        if field.default is not dataclasses.MISSING:
            default = field.default
            format_default(default)  # raises for defaults that cannot be written as source
        elif field.default_factory is not dataclasses.MISSING:
            raise TypeError(f"{cls.__name__}.{field.name}: default_factory is not supported")
        annotation = field.type if isinstance(field.type, str) else _type_text(field.type)
        args.append(Argument(field.name, annotation, inspect.Parameter.KEYWORD_ONLY, default))
    args.append(Argument("name", "str | None", inspect.Parameter.KEYWORD_ONLY, None))
    args.append(Argument("precision", "DType | str | None", inspect.Parameter.KEYWORD_ONLY, None))
    return tuple(args)


def format_default(value: object) -> str:
    """Source text of a default value (literals and enum members)."""
    if isinstance(value, enum.Enum):
        return f"{type(value).__name__}.{value.name}"
    text = repr(value)
    if isinstance(value, str) and '"' not in value and "\\" not in value:
        text = f'"{value}"'  # as ruff format writes it
    try:
        same = ast.literal_eval(text) == value
    except (ValueError, SyntaxError):
        same = False
    if not same:
        raise TypeError(f"default {value!r} cannot be written as source")
    return text


def display_default(value: object) -> str:
    """A default as users write it in Python or YAML: ``1``, ``None``, ``"float32"``."""
    if isinstance(value, enum.Enum):
        return format_default(value.value)
    return format_default(value)


def returns(cls: type[Op]) -> str:
    """The method's return annotation: one Tensor, or a tuple for ops with several outputs."""
    return "Tensor" if cls.num_outputs is Op.num_outputs else "Tensor | tuple[Tensor, ...]"


def signature_text(op_name: str, cls: type[Op] | None = None) -> str:
    """``conv2d(input, /, *, out_channels, kernel_size, stride=1, ...)``: the call as written."""
    cls = cls or OPS[op_name]
    parts: list[str] = []
    star = False
    for arg in op_arguments(cls):
        if arg.name in COMMON_KEYWORDS:
            continue
        if arg.kind == inspect.Parameter.VAR_POSITIONAL:
            parts.append(f"*{arg.name}")
            star = True
            continue
        if arg.kind == inspect.Parameter.KEYWORD_ONLY and not star:
            parts.append("*")
            star = True
        text = arg.name if arg.required else f"{arg.name}={display_default(arg.default)}"
        parts.append(text)
    return f"{op_name}({', '.join(parts)})"


class _Annotation(str):
    """Shows as its text in ``inspect.signature`` (``int | None`` rather than ``'int | None'``)."""

    def __repr__(self) -> str:
        return str(self)


def _signature(cls: type[Op]) -> inspect.Signature:
    arguments = op_arguments(cls)
    positional = any(a.kind == inspect.Parameter.POSITIONAL_ONLY for a in arguments)
    kind = (
        inspect.Parameter.POSITIONAL_ONLY if positional else inspect.Parameter.POSITIONAL_OR_KEYWORD
    )
    params = [inspect.Parameter("self", kind)]
    params += [
        inspect.Parameter(a.name, a.kind, default=a.default, annotation=_Annotation(a.annotation))
        for a in arguments
    ]
    return inspect.Signature(params, return_annotation=_Annotation(returns(cls)))


def _docstring(op_name: str, cls: type[Op]) -> str:
    doc = inspect.cleandoc(cls.__doc__ or cls.__name__)
    usage = textwrap.fill(
        f"Adds one ``{op_name}`` node ({cls.__name__}) and returns its output. Inputs are "
        "positional, attributes are keywords; ``name`` is the node name in the current scope "
        "(default: the op name, numbered), ``precision`` its compute dtype.",
        width=88,
    )
    return f"{doc}\n\n{usage}"


def make_method(op_name: str, cls: type[Op]) -> Callable[..., Any]:
    """The builder method of one op (see ``ModelBuilder._call_op``)."""

    def method(
        self: ModelBuilder,
        *inputs: Any,
        name: str | None = None,
        precision: Any = None,
        **attributes: Any,
    ) -> Tensor | tuple[Tensor, ...]:
        return self._call_op(op_name, inputs, name, precision, attributes)

    method.__name__ = op_name
    method.__module__ = "trtdsl.frontend.builder"
    method.__qualname__ = f"ModelBuilder.{op_name}"
    method.__doc__ = _docstring(op_name, cls)
    method.__signature__ = _signature(cls)  # type: ignore[attr-defined]
    return method


# -- the stub ------------------------------------------------------------------------------------

STUB_HEADER = '''"""Static declarations of ModelBuilder's op methods, for IDEs and type checkers.

Generated from the op classes by ``trtdsl.frontend.signatures.render_stub``: do not edit; run
``python tools/generate_ops.py`` after adding or changing an op.
"""

from __future__ import annotations

'''


def render_stub(ops: Mapping[str, type[Op]] | None = None) -> str:
    """The text of ``op_methods.pyi``: ``class OpMethods`` with one typed method per op."""
    ops = OPS if ops is None else ops
    imports: dict[str, set[str]] = {
        "trtdsl.frontend.builder": {"Tensor"},
        "trtdsl.ir.types": {"DType"},
    }
    methods = []
    for op_name, cls in sorted(ops.items()):
        arguments = op_arguments(cls)
        for arg in arguments:
            _collect_imports(arg.annotation, cls, imports)
            if isinstance(arg.default, enum.Enum):
                kind = type(arg.default)
                imports.setdefault(kind.__module__, set()).add(kind.__name__)
        methods.append(_render_method(op_name, cls, arguments))
    lines = [STUB_HEADER.rstrip("\n"), ""]
    for module, names in sorted(imports.items()):
        lines.append(f"from {module} import {', '.join(sorted(names))}")
    lines += ["", "class OpMethods:"]
    lines.append('    """One method per registered op; ModelBuilder inherits them."""')
    for method in methods:
        lines.append("")
        lines.append(method)
    return "\n".join(lines) + "\n"


def _render_method(op_name: str, cls: type[Op], arguments: Sequence[Argument]) -> str:
    params = ["self"]
    positional = [a for a in arguments if a.kind == inspect.Parameter.POSITIONAL_ONLY]
    params += [f"{a.name}: {a.annotation}" for a in positional]
    if positional:
        params.append("/")
    variadic = [a for a in arguments if a.kind == inspect.Parameter.VAR_POSITIONAL]
    params += [f"*{a.name}: {a.annotation}" for a in variadic] or ["*"]
    for arg in arguments:
        if arg.kind == inspect.Parameter.KEYWORD_ONLY:
            default = "" if arg.required else f" = {format_default(arg.default)}"
            params.append(f"{arg.name}: {arg.annotation}{default}")
    doc = textwrap.indent(_docstring(op_name, cls).replace("\\", "\\\\"), " " * 8).strip()
    body = ",\n".join(f"        {p}" for p in params)
    return (
        f"    def {op_name}(\n{body},\n    ) -> {returns(cls)}:\n"
        f'        """{doc}\n        """\n'
        f"        ..."
    )


def _collect_imports(annotation: str, cls: type[Op], imports: dict[str, set[str]]) -> None:
    """Add the imports the names in ``annotation`` need (resolved in the op's module)."""
    namespace = vars(sys.modules[cls.__module__])
    for node in ast.walk(ast.parse(annotation, mode="eval")):
        if not isinstance(node, ast.Name) or node.id in ("Tensor", "DType"):
            continue
        if hasattr(builtins, node.id):
            continue
        value = namespace.get(node.id)
        if value is None or not hasattr(value, "__module__"):
            raise TypeError(f"{cls.__name__}: cannot resolve {node.id!r} in {annotation!r}")
        imports.setdefault(value.__module__, set()).add(node.id)


def _type_text(annotation: object) -> str:
    return annotation.__name__ if isinstance(annotation, type) else repr(annotation)

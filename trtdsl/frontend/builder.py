"""The Python DSL: a graph builder with name scopes that infers types at every call.

Example::

    b = ModelBuilder("tiny")
    x = b.input("x", ("N", 3, 32, 32), dims={"N": (1, 4, 8)})
    with b.scope("features"):
        y = b.conv2d(x, out_channels=16, kernel_size=3, padding=1, name="0")   # features.0
        y = b.relu(y, name="1")
    b.output(y, "y")
    graph = b.build()
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from trtdsl.errors import ModelError, TrtdslError
from trtdsl.frontend.op_methods import OpMethods
from trtdsl.frontend.signatures import make_method, signature_text
from trtdsl.ir.graph import Graph, Node, Port, output_names
from trtdsl.ir.ops import OPS, Op, make_op
from trtdsl.ir.ops.base import suggest
from trtdsl.ir.types import Dim, DimRange, DType, TensorType, ValueRange

_LOG = logging.getLogger("trtdsl")

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_ZOO_DIR = os.path.join(_PACKAGE_DIR, "zoo")
"""Zoo models are user code that happens to ship inside the package."""


@dataclass(frozen=True)
class Tensor:
    """A handle on one value of the graph being built: its name and inferred type."""

    name: str
    type: TensorType

    @property
    def shape(self) -> tuple[Dim, ...]:
        return self.type.shape

    @property
    def dtype(self) -> DType:
        return self.type.dtype


class ModelBuilder(OpMethods):
    """Builds a Graph one op at a time; each op call returns its output Tensor(s).

    Every registered op is a method taking its input tensors positionally and its attributes
    as keywords: ``b.conv2d(x, out_channels=64, kernel_size=7, name="conv1")`` (``trtdsl ops``
    lists them). Errors are raised at the call that caused them, as ModelError naming the
    caller's ``file:line``, the node and what was expected.
    """

    def __init__(self, name: str = "model") -> None:
        self.name = name
        self._inputs: list[str] = []
        self._outputs: list[Port] = []
        self._nodes: list[Node] = []
        self._types: dict[str, TensorType] = {}
        self._dims: dict[str, DimRange] = {}
        self._scope: list[str] = []
        self._precision: list[DType | None] = [None]
        self._auto: dict[str, int] = {}
        self._names: set[str] = set()
        self._renames: list[tuple[str, str]] = []
        self._ranges: dict[str, ValueRange] = {}
        self._declared: dict[str, str] = {}  # input name -> where it was declared

    # -- interface ---------------------------------------------------------------------------

    def dim(self, name: str, min: int, opt: int, max: int) -> str:
        """Declare a symbolic dimension with its profile range; returns its name for shapes."""
        rng = DimRange(name, min, opt, max)
        if self._dims.get(name, rng) != rng:
            raise ModelError(f"dimension {name!r} declared twice with different ranges")
        self._dims[name] = rng
        return name

    def input(
        self,
        name: str,
        shape: Sequence[Dim],
        dtype: DType | str = DType.FLOAT32,
        dims: Mapping[str, tuple[int, int, int]] | None = None,
        source: str | None = None,
        range: tuple[int, int] | ValueRange | None = None,
    ) -> Tensor:
        """Declare a graph input. ``dims`` declares symbols used in ``shape`` as (min, opt, max).

        ``range=(low, high)`` (both included) declares the values an integer input takes:
        ``(0, 30521)`` for the token ids of a 30522-word vocabulary, ``(0, 1)`` for a mask.
        Random inputs are drawn from it and input files are checked against it.
        """
        where = source or _caller()
        try:
            for dim_name, (lo, opt, hi) in (dims or {}).items():
                self.dim(dim_name, lo, opt, hi)
            t = TensorType(DType.parse(dtype), tuple(shape))
            undeclared = [d for d in t.symbols if d not in self._dims]
            if undeclared:
                raise ModelError(
                    f"dimension(s) {undeclared} used but not declared with min/opt/max"
                )
            value_range = _value_range(range)
            if value_range is not None:
                value_range.check_dtype(t.dtype)
            self._define(name)
        except TrtdslError as e:
            raise ModelError(f"{where}: input {name}: {e}") from None
        self._inputs.append(name)
        self._types[name] = t
        if value_range is not None:
            self._ranges[name] = value_range
        self._declared[name] = where
        return Tensor(name, t)

    def output(self, tensor: Tensor, name: str | None = None, source: str | None = None) -> None:
        """Mark ``tensor`` as a graph output called ``name`` (default: its value name)."""
        where = source or _caller()
        self._check_tensor(tensor, where)
        port = Port(name or tensor.name, tensor.name)
        if not isinstance(port.name, str) or not port.name:
            raise ModelError(f"{where}: output names must be non-empty strings, got {name!r}")
        if any(p.name == port.name for p in self._outputs):
            raise ModelError(f"{where}: output {port.name!r} declared twice")
        self._outputs.append(port)

    def rename_weights(self, pattern: str, replacement: str, source: str | None = None) -> None:
        """Declare a checkpoint-key rename rule (``re.sub(pattern, replacement, key)``).

        Rules apply in declaration order to every key of a checkpoint before binding; a rule
        ``("^module\\.", "")`` strips a ``module.`` prefix.
        """
        import re

        where = source or _caller()
        if not isinstance(pattern, str) or not isinstance(replacement, str):
            raise ModelError(
                f"{where}: weight rename rules are two strings, got {pattern!r}, {replacement!r}"
            )
        try:
            compiled = re.compile(pattern)
            compiled.sub(replacement, "")  # checks the replacement template's syntax
        except (re.error, IndexError) as e:
            raise ModelError(f"{where}: bad weight rename rule {pattern!r}: {e}") from None
        self._renames.append((pattern, replacement))

    @contextlib.contextmanager
    def scope(self, name: str | int, precision: DType | str | None = None) -> Iterator[None]:
        """Prefix node names inside the block with ``name.``; optionally set their precision."""
        self._scope.append(str(name))
        self._precision.append(DType.parse(precision) if precision else self._precision[-1])
        try:
            yield
        finally:
            self._scope.pop()
            self._precision.pop()

    @property
    def prefix(self) -> str:
        """The dotted scope prefix of node names created now (``""`` at the top level)."""
        return ".".join(self._scope)

    def path(self, name: str) -> str:
        """The full dotted node name ``name`` gets in the current scope."""
        return ".".join([*self._scope, name])

    @property
    def num_nodes(self) -> int:
        """How many nodes the model has so far."""
        return len(self._nodes)

    def node(
        self,
        op: Op | str,
        *inputs: Tensor,
        name: str | None = None,
        precision: DType | str | None = None,
        source: str | None = None,
        **attributes: Any,
    ) -> Tensor:
        """Add one node. ``op`` is an Op, or a registry name with ``attributes``.

        Returns the output Tensor (a tuple of Tensors for multi-output ops).
        """
        where = source or _caller()
        op_label = op if isinstance(op, str) else op.op_name
        path = self.path(name) if name is not None else self._auto_name(op_label)
        try:
            if isinstance(op, str):
                if op not in OPS:
                    raise ModelError(f"unknown op {op!r}{unknown_op_hint(op)}")
                op = make_op(op, attributes)
            elif attributes:
                raise ModelError("attributes given together with an Op instance")
            for t in inputs:
                self._check_tensor(t, where)
            in_types = tuple(self._types[t.name] for t in inputs)
            out_types = op.infer_outputs(in_types)
            op.params(in_types)  # weight shapes must be derivable too
            self._define(path)
            outs = output_names(path, len(out_types))
            for v in outs:
                if v != path:
                    self._define(v)
            prec = DType.parse(precision) if precision else self._precision[-1]
        except TrtdslError as e:
            message = str(e)
            if not message.startswith(f"{path}: "):
                message = f"{path}: {message}"
            raise ModelError(f"{where}: {message}") from None
        self._nodes.append(Node(path, op, tuple(t.name for t in inputs), outs, prec, where))
        self._types.update(zip(outs, out_types, strict=True))
        result = tuple(Tensor(v, t) for v, t in zip(outs, out_types, strict=True))
        return result[0] if len(result) == 1 else result  # type: ignore[return-value]

    def _call_op(
        self,
        op_name: str,
        inputs: tuple[Any, ...],
        name: str | None,
        precision: DType | str | None,
        attributes: dict[str, Any],
    ) -> Tensor | tuple[Tensor, ...]:
        """What every op method does: check the call's shape, then add the node."""
        where = attributes.pop("source", None) or _caller()
        cls = OPS[op_name]
        for index, value in enumerate(inputs):
            if not isinstance(value, Tensor):
                raise ModelError(f"{where}: {_misuse(op_name, cls, inputs, index, attributes)}")
        return self.node(
            op_name, *inputs, name=name, precision=precision, source=where, **attributes
        )

    if not TYPE_CHECKING:  # type checkers must flag a misspelled op, not accept any attribute

        def __getattr__(self, op_name: str) -> Callable[..., Tensor]:
            if op_name.startswith("_"):
                raise AttributeError(op_name)
            if op_name in OPS:  # registered after this module was imported
                return make_method(op_name, OPS[op_name]).__get__(self)
            raise UnknownOpError(
                f"{_caller()}: ModelBuilder has no op or method {op_name!r}"
                f"{unknown_op_hint(op_name)}"
            )

    def build(self, warn_unused: bool = True, source: str | None = None) -> Graph:
        """The finished, verified Graph.

        Args:
            warn_unused: log a warning (logger ``trtdsl``) for each node whose output reaches
                no graph output: it would be computed, and its weights bound, for nothing.
        Raises:
            ModelError at the caller's ``file:line`` (or ``source``) for a graph that does not
            verify (no outputs, ...).
        """
        graph = Graph(
            self.name,
            tuple(self._inputs),
            tuple(self._outputs),
            tuple(self._nodes),
            self._types,
            tuple(self._dims.values()),
            tuple(self._renames),
            self._ranges,
        )
        try:
            graph = graph.verify()
        except TrtdslError as e:
            hint = "" if self._outputs else "; mark one with b.output(tensor, name)"
            raise ModelError(f"{source or _caller()}: model {self.name}: {e}{hint}") from None
        _check_ranges_fit_embeddings(graph, self._declared)
        if warn_unused:
            for message in unused_node_warnings(graph):
                _LOG.warning("%s", message)
        return graph

    # -- internals ---------------------------------------------------------------------------

    def _define(self, value: str) -> None:
        if not value or not isinstance(value, str):
            raise ModelError(f"names must be non-empty strings, got {value!r}")
        if value in self._names:
            raise ModelError(f"duplicate name {value!r}")
        self._names.add(value)

    def _check_tensor(self, t: object, where: str) -> None:
        if not isinstance(t, Tensor):
            raise ModelError(f"{where}: expected a Tensor input, got {_describe(t)}")
        if self._types.get(t.name) != t.type:
            raise ModelError(f"{where}: tensor {t.name!r} does not belong to this builder")

    def _auto_name(self, op_name: str) -> str:
        base = self.path(op_name)
        count = self._auto.get(base, 0)
        self._auto[base] = count + 1
        name = base if count == 0 else f"{base}_{count}"
        while name in self._names:
            count += 1
            self._auto[base] = count + 1
            name = f"{base}_{count}"
        return name


def _check_ranges_fit_embeddings(graph: Graph, declared: Mapping[str, str]) -> None:
    """ModelError at the input's declaration when a declared range holds ids that an
    embedding reading the input directly has no row for (both ends of a range are included:
    a 30522-word vocabulary is ``[0, 30521]``)."""
    from trtdsl.ir.ops.indexing import Embedding

    for name, value_range in graph.input_ranges.items():
        for node in graph.consumers(name):
            if isinstance(node.op, Embedding) and not (
                0 <= value_range.low and value_range.high < node.op.num_embeddings
            ):
                rows, where = node.op.num_embeddings, declared.get(name, graph.name)
                raise ModelError(
                    f"{where}: input {name}: range {value_range} holds ids that embedding "
                    f"{node.name} has no row for ({rows} rows: ids 0..{rows - 1}); both ends "
                    f"of a range are included: write [0, {rows - 1}]"
                )


def _value_range(value: object) -> ValueRange | None:
    """``range=`` of ``ModelBuilder.input`` as a ValueRange (None: not declared)."""
    if value is None or isinstance(value, ValueRange):
        return value
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise ModelError(f"range: expected (low, high), got {value!r}")
    return ValueRange(value[0], value[1])


def _caller() -> str:
    """``file:line`` of the innermost stack frame outside the trtdsl package."""
    frame = sys._getframe(1)
    while frame is not None:
        filename = os.path.abspath(frame.f_code.co_filename)
        if not filename.startswith(_PACKAGE_DIR + os.sep) or filename.startswith(_ZOO_DIR + os.sep):
            return f"{os.path.relpath(filename)}:{frame.f_lineno}"
        frame = frame.f_back  # type: ignore[assignment]
    return "<trtdsl>"


class UnknownOpError(ModelError, AttributeError):
    """A ModelBuilder attribute that is no op and no method (an AttributeError too, so that
    ``hasattr`` and ``getattr(b, name, default)`` work)."""


def unknown_op_hint(name: str) -> str:
    """``; did you mean 'conv2d'?`` for a close op name, else the list of every op and how a
    custom op is registered."""
    close = suggest(name, sorted(OPS))
    return close or (
        f" (ops: {', '.join(sorted(OPS))}; a custom op is registered by --ops FILE.py; "
        "trtdsl ops describes them)"
    )


def unused_nodes(graph: Graph) -> tuple[Node, ...]:
    """Nodes none of whose outputs reaches a graph output, in graph order."""
    live = {port.value for port in graph.outputs}
    used: set[str] = set()
    for node in reversed(graph.nodes):
        if any(v in live for v in node.outputs):
            used.add(node.name)
            live.update(node.inputs)
    return tuple(n for n in graph.nodes if n.name not in used)


def unused_node_warnings(graph: Graph) -> list[str]:
    """One line per unused node: ``FILE:LINE: model M: layer N (op) reaches no output ...``."""
    lines = []
    for node in unused_nodes(graph):
        where = f"{node.source}: " if node.source else ""
        lines.append(
            f"{where}model {graph.name}: layer {node.name} ({node.op.op_name}) reaches no "
            "output: it is computed but never used"
        )
    return lines


def _describe(value: object) -> str:
    """``a list of 2``, ``int 4``, ``NoneType``: what a wrong argument is, briefly."""
    if isinstance(value, (list, tuple)):
        return f"a {type(value).__name__} of {len(value)}"
    if isinstance(value, (int, float, str)):
        return f"{type(value).__name__} {value!r}"
    return type(value).__name__


def _misuse(
    op_name: str,
    cls: type[Op],
    inputs: tuple[Any, ...],
    index: int,
    attributes: Mapping[str, Any],
) -> str:
    """Why positional argument ``index`` of an op call is wrong, and the call that is right."""
    value = inputs[index]
    call = signature_text(op_name, cls)
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, Tensor) for v in value):
        got = f"a {type(value).__name__} of {len(value)} tensor(s)"
        if cls.arity is None:
            return (
                f"{op_name}: got {got} as one argument; pass the tensors as separate "
                f"arguments: b.{op_name}(a, b, ...) (signature: {call})"
            )
        return f"{op_name}: got {got} as input {index}; pass the tensor itself (signature: {call})"
    fields = [f.name for f in dataclasses.fields(cls) if f.name not in attributes]
    extra = inputs[index:]
    hint = ""
    if 0 < len(extra) <= len(fields) and not any(isinstance(v, Tensor) for v in extra):
        mapping = ", ".join(f"{f}={v!r}" for f, v in zip(fields, extra, strict=False))
        hint = f"; did you mean {mapping}?"
    takes = "" if cls.arity is None else f"takes {cls.arity} input tensor(s); "
    return (
        f"{op_name}: positional argument {index + 1} is {_describe(value)}, not a Tensor "
        f"({takes}attributes are keywords){hint} (signature: {call})"
    )

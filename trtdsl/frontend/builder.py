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
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from trtdsl.errors import ModelError, TrtdslError
from trtdsl.ir.graph import Graph, Node, Port, output_names
from trtdsl.ir.ops import OPS, Op, make_op
from trtdsl.ir.ops.base import suggest
from trtdsl.ir.types import Dim, DimRange, DType, TensorType

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


class ModelBuilder:
    """Builds a Graph one op at a time; each op call returns its output Tensor(s).

    Any registered op is a method: ``b.conv2d(x, out_channels=64, kernel_size=7, name="conv1")``.
    Errors are raised at the call that caused them, as ModelError naming where and what.
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
    ) -> Tensor:
        """Declare a graph input. ``dims`` declares symbols used in ``shape`` as (min, opt, max)."""
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
            self._define(name)
        except TrtdslError as e:
            raise ModelError(f"{where}: input {name}: {e}") from None
        self._inputs.append(name)
        self._types[name] = t
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
            raise ModelError(f"{where}: {path}: {e}") from None
        self._nodes.append(Node(path, op, tuple(t.name for t in inputs), outs, prec, where))
        self._types.update(zip(outs, out_types, strict=True))
        result = tuple(Tensor(v, t) for v, t in zip(outs, out_types, strict=True))
        return result[0] if len(result) == 1 else result  # type: ignore[return-value]

    def __getattr__(self, op_name: str) -> Callable[..., Tensor]:
        if op_name.startswith("_") or op_name not in OPS:
            raise AttributeError(
                f"ModelBuilder has no op or attribute {op_name!r}{suggest(op_name, sorted(OPS))}"
            )

        def call(*inputs: Tensor, name: str | None = None, **attributes: Any) -> Tensor:
            return self.node(
                op_name,
                *inputs,
                name=name,
                source=attributes.pop("source", None) or _caller(),
                **attributes,
            )

        call.__name__ = op_name
        call.__doc__ = OPS[op_name].__doc__
        return call

    def build(self) -> Graph:
        """The finished, verified Graph."""
        graph = Graph(
            self.name,
            tuple(self._inputs),
            tuple(self._outputs),
            tuple(self._nodes),
            self._types,
            tuple(self._dims.values()),
            tuple(self._renames),
        )
        return graph.verify()

    # -- internals ---------------------------------------------------------------------------

    def _define(self, value: str) -> None:
        if not value or not isinstance(value, str):
            raise ModelError(f"names must be non-empty strings, got {value!r}")
        if value in self._names:
            raise ModelError(f"duplicate name {value!r}")
        self._names.add(value)

    def _check_tensor(self, t: object, where: str) -> None:
        if not isinstance(t, Tensor):
            raise ModelError(f"{where}: expected a Tensor input, got {type(t).__name__}")
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


def _caller() -> str:
    """``file:line`` of the innermost stack frame outside the trtdsl package."""
    frame = sys._getframe(1)
    while frame is not None:
        filename = os.path.abspath(frame.f_code.co_filename)
        if not filename.startswith(_PACKAGE_DIR + os.sep) or filename.startswith(_ZOO_DIR + os.sep):
            return f"{os.path.relpath(filename)}:{frame.f_lineno}"
        frame = frame.f_back  # type: ignore[assignment]
    return "<trtdsl>"

"""The IR: an immutable, single-assignment, topologically ordered graph of typed values."""

from __future__ import annotations

import math
import types
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from trtdsl.errors import ModelError
from trtdsl.ir.ops.base import Op, ParamSpec, param_key
from trtdsl.ir.types import DimRange, DType, TensorType, ValueRange


@dataclass(frozen=True)
class Node:
    """One op application.

    Attributes:
        name: unique dotted path, equal to the state_dict prefix of its weights
            (``layer1.0.conv1``); also its TensorRT layer name.
        op: the op and its attributes.
        inputs: names of the values it reads.
        outputs: names of the values it defines; ``(name,)`` for single-output ops,
            ``(f"{name}:0", f"{name}:1", ...)`` otherwise.
        precision: a per-node compute precision override, or None to follow the build's.
        source: where the node was written (``"model.yaml:12"``); not part of equality.
    """

    name: str
    op: Op
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    precision: DType | None = None
    source: str | None = field(default=None, compare=False)

    @property
    def output(self) -> str:
        """The single output value's name."""
        if len(self.outputs) != 1:
            raise ModelError(f"{self.name}: has {len(self.outputs)} outputs, not 1")
        return self.outputs[0]

    def where(self) -> str:
        """``"file:line: name"`` (or just the name) for error messages."""
        return f"{self.source}: {self.name}" if self.source else self.name


def output_names(node_name: str, count: int) -> tuple[str, ...]:
    """Value names of a node's outputs: its own name when single, ``name:i`` otherwise."""
    return (node_name,) if count == 1 else tuple(f"{node_name}:{i}" for i in range(count))


@dataclass(frozen=True)
class Port:
    """A graph output: the external tensor ``name`` bound to IR value ``value``."""

    name: str
    value: str


@dataclass(frozen=True)
class Graph:
    """A whole model. Equality is structural (names, ops, attributes, wiring, types).

    Attributes:
        name: model name.
        inputs: names of the input values, in order.
        outputs: the graph outputs, in order.
        nodes: nodes in topological order.
        types: the type of every value (inputs and node outputs).
        dims: the symbolic dimensions used in ``types``.
        weight_renames: ordered ``(regex, replacement)`` rules mapping checkpoint keys to node
            keys, declared with the model to adapt foreign checkpoints (``re.sub`` semantics;
            a prefix rule ``module.`` -> ``""`` is ``("^module\\.", "")``).
        input_ranges: input name -> the values it takes, for integer inputs that declare one
            (token ids, masks): random inputs are drawn from it and input files checked
            against it. Inputs without one get integers 0..9 (bools 0..1) when random.
    """

    name: str
    inputs: tuple[str, ...]
    outputs: tuple[Port, ...]
    nodes: tuple[Node, ...]
    types: Mapping[str, TensorType]
    dims: tuple[DimRange, ...] = ()
    weight_renames: tuple[tuple[str, str], ...] = ()
    input_ranges: Mapping[str, ValueRange] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "types", types.MappingProxyType(dict(self.types)))
        object.__setattr__(self, "input_ranges", types.MappingProxyType(dict(self.input_ranges)))
        object.__setattr__(self, "_by_name", {n.name: n for n in self.nodes})

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Graph):
            return NotImplemented
        return (
            self.name,
            self.inputs,
            self.outputs,
            self.nodes,
            dict(self.types),
            self.dims,
            self.weight_renames,
            dict(self.input_ranges),
        ) == (
            other.name,
            other.inputs,
            other.outputs,
            other.nodes,
            dict(other.types),
            other.dims,
            other.weight_renames,
            dict(other.input_ranges),
        )

    __hash__ = None  # type: ignore[assignment]

    def node(self, name: str) -> Node:
        """The node called ``name`` or ModelError."""
        try:
            return self._by_name[name]  # type: ignore[attr-defined,no-any-return]
        except KeyError:
            raise ModelError(f"no node named {name!r}") from None

    def producer(self, value: str) -> Node | None:
        """The node defining ``value`` (None for graph inputs)."""
        for n in self.nodes:
            if value in n.outputs:
                return n
        return None

    def consumers(self, value: str) -> list[Node]:
        return [n for n in self.nodes if value in n.inputs]

    def input_types(self, node: Node) -> tuple[TensorType, ...]:
        return tuple(self.types[v] for v in node.inputs)

    def output_types(self, node: Node) -> tuple[TensorType, ...]:
        return tuple(self.types[v] for v in node.outputs)

    def params(self) -> Iterator[tuple[str, Node, str, ParamSpec]]:
        """Every weight the graph needs: ``(key, node, role, spec)`` with key = node.role."""
        for n in self.nodes:
            for role, spec in n.op.params(self.input_types(n)).items():
                yield param_key(n.name, role), n, role, spec

    def num_parameters(self) -> int:
        """Trainable parameter elements, counted as PyTorch counts them (buffers excluded)."""
        return sum(math.prod(spec.shape) for _, _, _, spec in self.params() if not spec.buffer)

    def num_macs(self, sizes: Mapping[str, int] | None = None) -> int:
        """Multiply-accumulates of one run; symbols sized by ``sizes`` (default: 1 each)."""
        sizes = sizes if sizes is not None else {d.name: 1 for d in self.dims}
        return sum(n.op.macs(self.input_types(n), self.output_types(n), sizes) for n in self.nodes)

    def dim(self, name: str) -> DimRange:
        for d in self.dims:
            if d.name == name:
                return d
        raise ModelError(f"no dimension named {name!r}")

    def sizes(self, which: str = "opt") -> dict[str, int]:
        """Each symbol's ``min``, ``opt`` or ``max`` size."""
        return {d.name: getattr(d, which) for d in self.dims}

    def replace_nodes(self, nodes: tuple[Node, ...], types: Mapping[str, TensorType]) -> Graph:
        """A new graph with other nodes and types and the same interface (for passes)."""
        return Graph(
            self.name,
            self.inputs,
            self.outputs,
            nodes,
            types,
            self.dims,
            self.weight_renames,
            self.input_ranges,
        )

    def verify(self) -> Graph:
        """Check single assignment, topological order, declared dims and every node's types.

        Returns:
            self, so that ``Graph(...).verify()`` chains.
        Raises:
            ModelError naming the first offending node.
        """
        from trtdsl.errors import TrtdslError

        declared = {d.name for d in self.dims}
        if len(declared) != len(self.dims):
            raise ModelError("dimension declared twice")
        defined: set[str] = set()
        for name in self.inputs:
            if name in defined:
                raise ModelError(f"input {name!r} declared twice")
            if name not in self.types:
                raise ModelError(f"input {name!r} has no type")
            undeclared = set(self.types[name].symbols) - declared
            if undeclared:
                raise ModelError(f"input {name!r}: undeclared dimension(s) {sorted(undeclared)}")
            defined.add(name)
        for name, value_range in self.input_ranges.items():
            if name not in self.inputs:
                raise ModelError(f"range given for {name!r}, which is not an input")
            try:
                value_range.check_dtype(self.types[name].dtype)
            except TrtdslError as e:
                raise ModelError(f"input {name!r}: {e}") from None
        seen_nodes: set[str] = set()
        for n in self.nodes:
            if n.name in seen_nodes:
                raise ModelError(f"{n.where()}: duplicate node name {n.name!r}")
            seen_nodes.add(n.name)
            for v in n.inputs:
                if v not in defined:
                    raise ModelError(f"{n.where()}: input {v!r} is not defined before this node")
            try:
                inferred = n.op.infer_outputs(self.input_types(n))
            except TrtdslError as e:
                raise ModelError(f"{n.where()}: {e}") from None
            if len(inferred) != len(n.outputs):
                raise ModelError(
                    f"{n.where()}: op gives {len(inferred)} outputs, node declares {len(n.outputs)}"
                )
            for v, t in zip(n.outputs, inferred, strict=True):
                if v in defined:
                    raise ModelError(f"{n.where()}: value {v!r} assigned twice")
                if self.types.get(v) != t:
                    raise ModelError(
                        f"{n.where()}: recorded type {self.types.get(v)} of {v!r} "
                        f"differs from inferred {t}"
                    )
                defined.add(v)
        if not self.outputs:
            raise ModelError("the graph has no outputs")
        port_names = [p.name for p in self.outputs]
        if len(set(port_names)) != len(port_names):
            raise ModelError(f"duplicate output names in {port_names}")
        for p in self.outputs:
            if p.value not in defined:
                raise ModelError(f"output {p.name!r} refers to undefined value {p.value!r}")
        return self

    def format(self) -> str:
        """A plain-text listing, one line per input, node and output."""
        lines = [f"graph {self.name}"]
        for d in self.dims:
            lines.append(f"  dim {d.name} = {d.min}..{d.opt}..{d.max}")
        for name in self.inputs:
            value_range = self.input_ranges.get(name)
            extra = f" range {value_range}" if value_range is not None else ""
            lines.append(f"  input {name}: {self.types[name]}{extra}")
        for n in self.nodes:
            attrs = ", ".join(  # None: an optional attribute left unset
                f"{k}={v!r}" for k, v in n.op.attributes().items() if v is not None
            )
            outs = ", ".join(f"{v}: {self.types[v]}" for v in n.outputs)
            extra = f" precision={n.precision.value}" if n.precision else ""
            lines.append(f"  {outs} = {n.op.op_name}({', '.join(n.inputs)}; {attrs}){extra}")
        for p in self.outputs:
            lines.append(f"  output {p.name} = {p.value}: {self.types[p.value]}")
        return "\n".join(lines)

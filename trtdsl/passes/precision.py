"""The precision pass: make every node's compute dtype explicit with cast nodes and typed weights.

TensorRT 11 networks are strongly typed: a layer computes in the dtype of its inputs and there
are no builder precision flags. So precision lives in the graph: this pass decides each node's
compute dtype (the build's precision, a ``--keep-fp32`` pattern, or the node's own
``precision``), inserts ``cast`` nodes where a value's dtype differs from its reader's (graph
inputs are cast at entry), casts the weights to their node's dtype, and casts every graph output
back to its declared dtype. Run it after batch-norm folding (which works in float64).
"""

from __future__ import annotations

import dataclasses
import fnmatch
from collections.abc import Mapping, Sequence

import numpy as np

from trtdsl.errors import UsageError
from trtdsl.ir.graph import Graph, Node, Port
from trtdsl.ir.ops.base import ParamSpec, param_key
from trtdsl.ir.ops.cast import Cast, cast_array
from trtdsl.ir.ops.creation import Arange, ArangeLike, Full, FullLike
from trtdsl.ir.ops.custom import CustomOp
from trtdsl.ir.ops.indexing import Embedding, Gather, IndexSelect
from trtdsl.ir.ops.normalization import BatchNorm2d
from trtdsl.ir.ops.parameter import Parameter
from trtdsl.ir.ops.shape import (
    Concat,
    Dropout,
    Expand,
    Flatten,
    Identity,
    Permute,
    Reshape,
    Transpose,
)
from trtdsl.ir.ops.slicing import Select, Slice
from trtdsl.ir.types import DType, Precision, TensorType

__all__ = ["Precision", "apply_precision", "compute_dtypes"]

_DATA_MOVEMENT = (
    Flatten,
    Reshape,
    Permute,
    Identity,
    Dropout,
    Concat,
    Transpose,
    Expand,
    Select,
    Slice,
    Parameter,
    IndexSelect,
    Gather,
    Embedding,
    Arange,
    ArangeLike,
    Full,
    FullLike,
)
"""Ops that only move data: they follow their input's dtype instead of forcing a cast (a
``parameter``, an ``embedding`` table, ``arange`` and ``full`` keep their declared dtype;
their readers cast them)."""

_STATISTICS = (BatchNorm2d,)
"""Ops whose weights are statistics the emitter derives others from (kept in float32)."""


def compute_dtypes(
    graph: Graph, precision: Precision | str, keep_fp32: Sequence[str] = ()
) -> dict[str, DType | None]:
    """Node name -> the float dtype it should compute in (None: follows its input).

    Priority: the node's own ``precision``; else float32 if its name matches a ``keep_fp32``
    glob (``fnmatch``, e.g. ``"*.softmax"``); else None for data-movement ops; a custom
    op's declared input dtype unless it sets ``follows_precision``; else the build
    precision's dtype. Then weightless layers that lie between float32 layers (every
    float input made by one, and some reader one, or a graph output) stay float32 too,
    instead of casting down and straight back up (``conv`` kept, ``relu``, ``pool``, ``fc``
    kept: all float32; a half-precision reader casts for itself).
    """
    precision = Precision.parse(precision)
    result: dict[str, DType | None] = {}
    for node in graph.nodes:
        if node.precision is not None:
            result[node.name] = node.precision
        elif any(fnmatch.fnmatchcase(node.name, pattern) for pattern in keep_fp32):
            result[node.name] = DType.FLOAT32
        elif isinstance(node.op, _DATA_MOVEMENT):
            result[node.name] = None
        elif isinstance(node.op, CustomOp) and not node.op.follows_precision:
            result[node.name] = _declared_dtype(graph, node)
        else:
            result[node.name] = precision.dtype
    if precision.dtype is not DType.FLOAT32:
        result.update({name: DType.FLOAT32 for name in _sandwiched(graph, result)})
    return result


def _declared_dtype(graph: Graph, node: Node) -> DType | None:
    """The dtype a custom op's first float input has in the model as declared (a custom op
    that does not opt in with ``follows_precision`` keeps it); None without float inputs."""
    for value in node.inputs:
        dtype = graph.types[value].dtype
        if dtype.is_float:
            return dtype
    return None


def _sandwiched(graph: Graph, wanted: Mapping[str, DType | None]) -> set[str]:
    """Weightless nodes whose float inputs all come from float32 nodes and of whose readers
    one at least computes in float32 (chains included; a graph output counts as a float32
    reader): the largest such set, by a forward then a backward fixed point."""
    with_weights = {node.name for _, node, _, _ in graph.params()}
    producers = {v: n for n in graph.nodes for v in n.outputs}
    readers: dict[str, list[str]] = {n.name: [] for n in graph.nodes}
    for node in graph.nodes:
        for v in node.inputs:
            if v in producers:
                readers[producers[v].name].append(node.name)
    kept = {name for name, dtype in wanted.items() if dtype is DType.FLOAT32}
    candidates: set[str] = set()
    for node in graph.nodes:  # forward: every float input from a float32 node
        if node.name in kept or node.name in with_weights:
            continue
        sources = [
            producers[v].name
            for v in node.inputs
            if v in producers and graph.types[v].dtype.is_float
        ]
        if sources and all(s in kept or s in candidates for s in sources):
            candidates.add(node.name)
    changed = True
    outputs = {p.value for p in graph.outputs}
    while changed:  # backward: some reader computes in float32, or it is a graph output
        changed = False
        for name in sorted(candidates):
            if any(v in outputs for v in graph.node(name).outputs):
                continue
            if not any(r in kept or r in candidates for r in readers[name]):
                candidates.discard(name)
                changed = True
    return candidates


def apply_precision(
    graph: Graph,
    weights: Mapping[str, np.ndarray],
    precision: Precision | str = Precision.FP32,
    keep_fp32: Sequence[str] = (),
) -> tuple[Graph, dict[str, np.ndarray]]:
    """Rewrite ``graph`` so that every node computes in its chosen dtype, explicitly.

    Args:
        graph: a verified graph (after batch-norm folding).
        weights: ``"{node}.{role}"`` -> array (float64 allowed: it is cast here).
        precision: the build precision (``fp32``, ``tf32``, ``fp16``, ``bf16``).
        keep_fp32: glob patterns over node names that stay float32 (sensitive layers).
    Returns:
        (the new verified graph, the weights each cast to its node's compute dtype; bfloat16
        weights are float32 arrays holding bfloat16-representable values). Graph inputs and
        outputs keep their declared dtypes: cast nodes ``<value>.to_<dtype>`` convert at entry,
        between nodes of different dtypes, and at exit.
    """
    precision = Precision.parse(precision)
    unknown = [p for p in keep_fp32 if not any(fnmatch.fnmatchcase(n.name, p) for n in graph.nodes)]
    if unknown:
        raise UsageError(
            f"--keep-fp32 pattern(s) {', '.join(map(repr, unknown))} match no node of model "
            f"{graph.name!r} (patterns are globs over node names, e.g. '*.softmax')"
        )
    wanted = compute_dtypes(graph, precision, keep_fp32)
    rewriter = _Rewriter(graph)
    new_weights: dict[str, np.ndarray] = dict(weights)
    for node in graph.nodes:
        target = wanted[node.name]
        in_types = [rewriter.types[v] for v in node.inputs]
        if target is None:  # data movement: keep the first input's float dtype
            target = in_types[0].dtype if in_types and in_types[0].dtype.is_float else None
        inputs = tuple(
            rewriter.cast(v, target)
            if target is not None and rewriter.types[v].dtype.is_float
            else v
            for v in node.inputs
        )
        new_node = dataclasses.replace(node, inputs=inputs)
        rewriter.add(new_node)
        if target is not None and not isinstance(node.op, _STATISTICS):
            for key, _n, _role, spec in _params(rewriter, new_node):
                if key in new_weights and spec.dtype.is_float:
                    new_weights[key] = _cast_weight(new_weights[key], target)
        elif isinstance(node.op, _STATISTICS):
            for key, _n, _role, spec in _params(rewriter, new_node):
                if key in new_weights and spec.dtype.is_float:
                    new_weights[key] = _cast_weight(new_weights[key], DType.FLOAT32)
    outputs = []
    for port in graph.outputs:
        declared = graph.types[port.value].dtype
        outputs.append(Port(port.name, rewriter.cast(port.value, declared, at_exit=True)))
    new_graph = Graph(
        graph.name,
        graph.inputs,
        tuple(outputs),
        tuple(rewriter.nodes),
        rewriter.types,
        graph.dims,
        graph.weight_renames,
        graph.input_ranges,
    )
    return new_graph.verify(), new_weights


class _Rewriter:
    """The nodes and types of the graph being rebuilt, with one cast per (value, dtype)."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.nodes: list[Node] = []
        self.types: dict[str, TensorType] = {name: graph.types[name] for name in graph.inputs}
        self._casts: dict[tuple[str, DType], str] = {}
        self._names = {n.name for n in graph.nodes} | set(graph.types)

    def add(self, node: Node) -> None:
        out_types = node.op.infer_outputs([self.types[v] for v in node.inputs])
        self.nodes.append(node)
        self.types.update(zip(node.outputs, out_types, strict=True))

    def cast(self, value: str, dtype: DType, at_exit: bool = False) -> str:
        """The name of ``value`` converted to ``dtype`` (``value`` itself if it already is)."""
        if self.types[value].dtype == dtype:
            return value
        key = (value, dtype)
        if key not in self._casts:
            name = _unique(f"{value}.to_{_short(dtype)}", self._names)
            self._names.add(name)
            source = self._source(value)
            self.add(Node(name, Cast(dtype), (value,), (name,), source=source))
            self._casts[key] = name
        return self._casts[key]

    def _source(self, value: str) -> str | None:
        producer = self.graph.producer(value)
        return producer.source if producer is not None else None


def _params(rewriter: _Rewriter, node: Node) -> list[tuple[str, Node, str, ParamSpec]]:
    in_types = [rewriter.types[v] for v in node.inputs]
    return [
        (param_key(node.name, role), node, role, spec)
        for role, spec in node.op.params(in_types).items()
    ]


def _cast_weight(array: np.ndarray, dtype: DType) -> np.ndarray:
    if dtype is DType.BFLOAT16:
        return cast_array(array, dtype)
    if array.dtype == dtype.to_numpy():
        return array
    return np.ascontiguousarray(array, dtype=dtype.to_numpy())


def _short(dtype: DType) -> str:
    return {DType.FLOAT32: "fp32", DType.FLOAT16: "fp16", DType.BFLOAT16: "bf16"}.get(
        dtype, dtype.value
    )


def _unique(name: str, taken: set[str]) -> str:
    if name not in taken:
        return name
    i = 1
    while f"{name}_{i}" in taken:
        i += 1
    return f"{name}_{i}"

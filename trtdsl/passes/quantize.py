"""The quantization pass: explicit INT8/FP8 quantize/dequantize (Q/DQ) around the layers that
TensorRT runs in INT8/FP8, following NVIDIA's Q/DQ placement recommendations.

- The float inputs of every ``conv2d``, ``linear`` and ``matmul`` get a Q/DQ pair (activations
  per tensor); conv2d and linear become ``quantized_conv2d``/``quantized_linear``, whose
  weights are quantized per output channel (axis 0) with scales from the weights' own
  per-channel amax.
- The residual input of an ``add`` that reads a quantized convolution's output gets a Q/DQ
  pair too, so that TensorRT fuses the add (and a following ReLU) into that convolution.
  (When both inputs are convolution outputs, the second one is the residual.)
- Nothing else is quantized: no Q/DQ on convolution outputs, which TensorRT would have to
  keep as separate layers. Every other layer computes in the precision pass's dtype.
- Nodes matching a ``keep_fp32`` glob, and nodes with their own ``precision`` (YAML
  ``precision:``), are not quantized.

Activation scales are ``amax / 127`` (INT8) or ``amax / 448`` (FP8), with amax per value name
from a calibration (``trtdsl calibrate``). Run it after batch-norm folding and the precision
pass: a value is quantized where it is produced, before the precision pass's casts (a Q/DQ
pair converts as well), and the dequantize gives the consumer's compute dtype.
"""

from __future__ import annotations

import dataclasses
import fnmatch
from collections.abc import Mapping, Sequence

import numpy as np

from trtdsl.errors import UsageError
from trtdsl.ir.graph import Graph, Node, Port
from trtdsl.ir.ops import OPS
from trtdsl.ir.ops.base import Op
from trtdsl.ir.ops.cast import Cast
from trtdsl.ir.ops.conv import Conv2d
from trtdsl.ir.ops.elementwise import Add
from trtdsl.ir.ops.linear import Linear
from trtdsl.ir.ops.quantize import (
    Dequantize,
    Quantize,
    QuantizedConv2d,
    QuantizedLinear,
    quant_kind,
)
from trtdsl.ir.types import DType, Precision, TensorType
from trtdsl.kernels.quantize import scale_from_amax

__all__ = ["QuantizationPlan", "plan_quantization", "quantize_graph"]


def _quantized_op_classes() -> tuple[type[Op], ...]:
    """conv2d, linear and (where the registry has it) matmul: the ops whose inputs are
    quantized. ``matmul`` is looked up by name: it is an optional op family."""
    matmul = OPS.get("matmul")
    return (Conv2d, Linear) + ((matmul,) if matmul is not None else ())


@dataclasses.dataclass(frozen=True)
class QuantizationPlan:
    """Which values and nodes a quantization covers.

    Attributes:
        values: the value names that get a Q/DQ pair (activation inputs and residuals), in
            graph order; each needs an amax from the calibration.
        nodes: names of the conv2d/linear/matmul nodes whose inputs are quantized.
        excluded: names of conv2d/linear/matmul nodes left unquantized (keep_fp32 or their own
            precision).
        residuals: ``(add node name, input index)`` of the residual inputs that are quantized.
    """

    values: tuple[str, ...]
    nodes: tuple[str, ...]
    excluded: tuple[str, ...]
    residuals: tuple[tuple[str, int], ...] = ()


def _source(graph: Graph, value: str) -> str:
    """The value a chain of float-to-float casts starts from (the precision pass's casts)."""
    while True:
        producer = graph.producer(value)
        if producer is None or not isinstance(producer.op, Cast):
            return value
        origin = producer.inputs[0]
        if not (graph.types[origin].dtype.is_float and graph.types[value].dtype.is_float):
            return value
        value = origin


def plan_quantization(graph: Graph, keep_fp32: Sequence[str] = ()) -> QuantizationPlan:
    """The values and nodes ``quantize_graph`` will quantize (see the module docstring).

    Value names are those of ``graph`` with the precision pass's casts looked through, so a
    plan made on the float32 graph names the values a calibration of it measured.
    """
    targets = _quantized_op_classes()
    values: dict[str, None] = {}
    nodes: list[str] = []
    excluded: list[str] = []
    quantized_outputs: set[str] = set()
    residuals: list[tuple[str, int]] = []
    for node in graph.nodes:
        if isinstance(node.op, targets):
            if node.precision is not None or _matches(node.name, keep_fp32):
                excluded.append(node.name)
                continue
            nodes.append(node.name)
            readers = node.inputs[:1] if isinstance(node.op, (Conv2d, Linear)) else node.inputs
            for v in readers:
                if graph.types[v].dtype.is_float and not _dequantized(graph, v):
                    values[_source(graph, v)] = None
            if isinstance(node.op, Conv2d):
                quantized_outputs.update(node.outputs)
        elif isinstance(node.op, Add) and len(node.inputs) == 2 and node.precision is None:
            from_conv = [v in quantized_outputs for v in node.inputs]
            index = 0 if not from_conv[0] else 1
            residual = node.inputs[index]
            if any(from_conv) and graph.types[residual].dtype.is_float:
                if not _dequantized(graph, residual):
                    residuals.append((node.name, index))
                    values[_source(graph, residual)] = None
    order = {name: i for i, name in enumerate(graph.inputs)}
    for i, node in enumerate(graph.nodes):
        for v in node.outputs:
            order[v] = len(graph.inputs) + i
    ordered = tuple(sorted(values, key=order.__getitem__))
    return QuantizationPlan(ordered, tuple(nodes), tuple(excluded), tuple(residuals))


def _dequantized(graph: Graph, value: str) -> bool:
    """Whether ``value`` already comes out of a dequantize (a model with its own Q/DQ)."""
    producer = graph.producer(_source(graph, value))
    return producer is not None and isinstance(producer.op, Dequantize)


def _matches(name: str, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, p) for p in patterns)


def quantize_graph(
    graph: Graph,
    weights: Mapping[str, np.ndarray],
    amax: Mapping[str, float],
    precision: Precision | str = Precision.INT8,
    keep_fp32: Sequence[str] = (),
    float_weights: Mapping[str, np.ndarray] | None = None,
) -> tuple[Graph, dict[str, np.ndarray]]:
    """Insert Q/DQ pairs and quantize the weights of conv2d and linear nodes.

    Args:
        graph: a verified graph after batch-norm folding and the precision pass.
        weights: its weights (each in its node's compute dtype).
        amax: value name -> the calibrated absolute maximum of every value in the plan
            (``plan_quantization(graph, keep_fp32).values``); other names are ignored.
        precision: ``int8`` or ``fp8``.
        keep_fp32: glob patterns over node names that are not quantized.
        float_weights: the float32 (or float64) weights before the precision pass, used for
            the quantized weights and their scales (default: ``weights``).
    Returns:
        (the new verified graph, its weights: quantized layers keep float32 ``weight``s next
        to float32 ``weight_scale``s; every Q/DQ node has a float32 ``scale``).
    Raises:
        UsageError: the precision is not int8/fp8, or an amax is missing or not positive.
    """
    precision = Precision.parse(precision)
    dtype = precision.quantized
    if dtype is None:
        raise UsageError(f"quantize_graph: precision must be int8 or fp8, got {precision.value}")
    plan = plan_quantization(graph, keep_fp32)
    missing = [v for v in plan.values if v not in amax]
    if missing:
        shown = ", ".join(map(repr, missing[:5])) + (" ..." if len(missing) > 5 else "")
        raise UsageError(
            f"the calibration has no amax for {len(missing)} value(s) of model {graph.name!r} "
            f"that {precision.value} quantizes: {shown}"
        )
    bad = [v for v in plan.values if not (np.isfinite(amax[v]) and amax[v] >= 0)]
    if bad:
        raise UsageError(f"the calibration's amax of {bad[0]!r} is {amax[bad[0]]!r}")
    rewriter = _Rewriter(graph, weights, dtype)
    for v in plan.values:
        rewriter.scales[v] = scale_from_amax(amax[v], quant_kind(dtype))
    source_weights = float_weights if float_weights is not None else weights
    quantized_nodes = set(plan.nodes)
    residuals = dict(plan.residuals)
    for node in graph.nodes:
        if node.name in quantized_nodes:
            rewriter.add_quantized(node, source_weights)
        elif node.name in residuals:
            inputs = list(node.inputs)
            inputs[residuals[node.name]] = rewriter.dequantized(inputs[residuals[node.name]])
            rewriter.add(dataclasses.replace(node, inputs=tuple(inputs)))
        else:
            rewriter.add(node)
    return rewriter.finish()


class _Rewriter:
    """The nodes, types and weights of the graph being rebuilt."""

    def __init__(self, graph: Graph, weights: Mapping[str, np.ndarray], dtype: DType) -> None:
        self.graph = graph
        self.dtype = dtype
        self.weights: dict[str, np.ndarray] = dict(weights)
        self.nodes: list[Node] = []
        self.types: dict[str, TensorType] = {name: graph.types[name] for name in graph.inputs}
        self.scales: dict[str, np.ndarray] = {}
        self._quantized: dict[str, str] = {}
        self._dequantized: dict[tuple[str, DType], str] = {}
        self._names = {n.name for n in graph.nodes} | set(graph.types)

    def add(self, node: Node) -> None:
        out_types = node.op.infer_outputs([self.types[v] for v in node.inputs])
        self.nodes.append(node)
        self.types.update(zip(node.outputs, out_types, strict=True))

    def dequantized(self, value: str) -> str:
        """``value`` through its Q/DQ pair, dequantized to ``value``'s own dtype.

        The pair reads the cast chain's source (one quantize per source value); the
        dequantize converts to the reader's dtype, so the precision pass's cast is bypassed.
        """
        source = _source(self.graph, value)
        target = self.graph.types[value].dtype
        key = (source, target)
        if key in self._dequantized:
            return self._dequantized[key]
        scale = self.scales[source]
        if source not in self._quantized:
            name = self._unique(f"{source}.quantize")
            node = Node(name, Quantize(self.dtype), (source,), (name,), source=self._where(source))
            self.weights[f"{name}.scale"] = scale
            self.add(node)
            self._quantized[source] = name
        q = self._quantized[source]
        suffix = "" if target is self.graph.types[source].dtype else f"_{target.value}"
        name = self._unique(f"{source}.dequantize{suffix}")
        self.weights[f"{name}.scale"] = scale
        self.add(Node(name, Dequantize(target), (q,), (name,), source=self._where(source)))
        self._dequantized[key] = name
        return name

    def add_quantized(self, node: Node, source_weights: Mapping[str, np.ndarray]) -> None:
        """A conv2d/linear/matmul node with Q/DQ on its float inputs (and weights)."""
        op = node.op
        count = 1 if isinstance(op, (Conv2d, Linear)) else len(node.inputs)
        inputs = tuple(
            self.dequantized(v) if i < count and _source(self.graph, v) in self.scales else v
            for i, v in enumerate(node.inputs)
        )
        new_op: Op = op
        if isinstance(op, Conv2d):
            new_op = QuantizedConv2d(**op.attributes(), dtype=self.dtype)
        elif isinstance(op, Linear):
            new_op = QuantizedLinear(op.out_features, op.bias, dtype=self.dtype)
        if new_op is not op:
            key = f"{node.name}.weight"
            weight = np.ascontiguousarray(source_weights[key], dtype=np.float32)
            channel_amax = np.abs(weight.reshape(weight.shape[0], -1)).max(axis=1)
            self.weights[key] = weight
            self.weights[f"{node.name}.weight_scale"] = scale_from_amax(
                channel_amax, quant_kind(self.dtype)
            )
        self.add(dataclasses.replace(node, op=new_op, inputs=inputs))

    def finish(self) -> tuple[Graph, dict[str, np.ndarray]]:
        """Drop casts nothing reads any more, and build the verified graph."""
        outputs = {p.value for p in self.graph.outputs}
        nodes = list(self.nodes)
        while True:
            read = {v for n in nodes for v in n.inputs} | outputs
            dead = [n for n in nodes if isinstance(n.op, Cast) and n.output not in read]
            if not dead:
                break
            nodes = [n for n in nodes if n not in dead]
        kept = {v for n in nodes for v in n.outputs} | set(self.graph.inputs)
        types = {v: t for v, t in self.types.items() if v in kept}
        graph = Graph(
            self.graph.name,
            self.graph.inputs,
            tuple(Port(p.name, p.value) for p in self.graph.outputs),
            tuple(nodes),
            types,
            self.graph.dims,
            self.graph.weight_renames,
            self.graph.input_ranges,
        )
        return graph.verify(), self.weights

    def _unique(self, name: str) -> str:
        candidate, i = name, 1
        while candidate in self._names:
            candidate = f"{name}_{i}"
            i += 1
        self._names.add(candidate)
        return candidate

    def _where(self, value: str) -> str | None:
        producer = self.graph.producer(value)
        return producer.source if producer is not None else None

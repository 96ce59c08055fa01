"""ONNX exporters of the IR ops: one function per op class, registered in ``EXPORTERS``.

Each adds the ONNX nodes computing one IR node to a ``Context``; the ONNX node producing the IR
node's output is named after it, helper nodes ``<node>/<step>``. See ``onnx_export.py``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from trtdsl.errors import BackendError
from trtdsl.ir.graph import Graph, Node
from trtdsl.ir.ops import activation as act
from trtdsl.ir.ops import cast, linear, normalization, pooling, shape, shuffle, slicing
from trtdsl.ir.ops import elementwise as ew
from trtdsl.ir.ops.base import Op, param_key
from trtdsl.ir.ops.conv import Conv2d
from trtdsl.ir.ops.quantize import QuantizedConv2d
from trtdsl.ir.types import DType, TensorType

__all__ = ["EXPORTERS", "MIN_OPSET", "ONNX_DTYPES", "OPSETS", "Context", "value_info"]

MIN_OPSET = 11
"""The oldest default-domain opset trtdsl exports: Clip with min/max inputs, Slice with inputs
and pooling's ``ceil_mode`` are all there from opset 11. Ops that need more say so in
``OPSETS``; a node may also need more for one of its dtypes (``Context.require_opset``)."""

ONNX_DTYPES = {
    DType.FLOAT32: 1,  # TensorProto.FLOAT
    DType.UINT8: 2,
    DType.INT8: 3,
    DType.INT32: 6,
    DType.INT64: 7,
    DType.BOOL: 9,
    DType.FLOAT16: 10,
    DType.BFLOAT16: 16,
    DType.FLOAT8_E4M3: 17,  # FLOAT8E4M3FN (opset >= 19)
}


class Context:
    """Collects ONNX nodes and initializers while the graph is walked."""

    def __init__(self, graph: Graph, weights: Mapping[str, np.ndarray], opset: int = 17) -> None:
        import onnx
        from onnx import helper, numpy_helper

        self.onnx = onnx
        self.helper = helper
        self.numpy_helper = numpy_helper
        self.graph = graph
        self.weights = weights
        self.opset = opset
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self._initialized: set[str] = set()

    def add(
        self, op_type: str, inputs: list[str], output: str, name: str, **attributes: Any
    ) -> str:
        """Append one ONNX node; returns its output name."""
        self.nodes.append(self.helper.make_node(op_type, inputs, [output], name=name, **attributes))
        return output

    def weight(self, node: Node, role: str) -> str:
        """The initializer for ``node.role`` (added once); returns its name (the key)."""
        key = param_key(node.name, role)
        if key not in self._initialized:
            array = np.ascontiguousarray(self.weights[key])
            self.initializers.append(self.numpy_helper.from_array(array, key))
            self._initialized.add(key)
        return key

    def constant(self, name: str, value: Any, dtype: np.dtype | type) -> str:
        """A constant initializer called ``name`` (unique per node by construction)."""
        self.initializers.append(self.numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def require_opset(self, node: Node, version: int, needs: str) -> None:
        """Raise BackendError naming ``node`` and its op when the opset is older than
        ``version``, which ``needs`` (the ONNX operator or feature) requires."""
        if self.opset < version:
            raise BackendError(opset_error(node, version, needs, self.opset))

    def in_type(self, node: Node, index: int = 0) -> TensorType:
        return self.graph.types[node.inputs[index]]

    def out_type(self, node: Node) -> TensorType:
        return self.graph.types[node.output]


Exporter = Callable[[Context, Node], None]
EXPORTERS: dict[type[Op], Exporter] = {}
"""Op class -> function adding the ONNX nodes that compute it."""

OPSETS: dict[type[Op], tuple[int, str]] = {}
"""Op class -> (the oldest opset its export needs, the ONNX operator that needs it), for the
ops that need more than ``MIN_OPSET``."""


def _exporter(
    *classes: type[Op], opset: int = MIN_OPSET, needs: str = ""
) -> Callable[[Exporter], Exporter]:
    """Register ``fn`` as the exporter of ``classes``; ``opset`` is the oldest opset it
    supports when newer than ``MIN_OPSET``, because of ``needs`` (an ONNX operator)."""

    def register(fn: Exporter) -> Exporter:
        for cls in classes:
            EXPORTERS[cls] = fn
            if opset > MIN_OPSET:
                OPSETS[cls] = (opset, needs)
        return fn

    return register


def opset_error(node: Node, version: int, needs: str, opset: int) -> str:
    """``FILE:LINE: NODE: ONNX export: OP needs opset >= V (WHY), got opset N``."""
    return (
        f"{node.where()}: ONNX export: {node.op.op_name} needs opset >= {version} ({needs}), "
        f"got opset {opset}"
    )


def value_info(ctx: Context, name: str, t: TensorType) -> Any:
    """The ONNX ValueInfo of a graph input or output (symbols become ``dim_param``)."""
    if t.dtype not in ONNX_DTYPES:
        raise BackendError(f"ONNX export: value {name!r} has unsupported dtype {t.dtype}")
    return ctx.helper.make_tensor_value_info(name, ONNX_DTYPES[t.dtype], list(t.shape))


# -- convolution, normalization, linear -------------------------------------------------------


@_exporter(Conv2d)
def _conv2d(ctx: Context, node: Node) -> None:
    assert isinstance(node.op, Conv2d)
    add_conv(ctx, node, node.op, ctx.weight(node, "weight"))


def add_conv(ctx: Context, node: Node, op: Conv2d | QuantizedConv2d, weight: str) -> None:
    """An ONNX Conv computing ``node`` (a conv2d or its quantized form ``op``) with the weight
    value ``weight`` (the float weights, or their quantize-dequantize)."""
    inputs = [node.inputs[0], weight]
    if op.bias:
        inputs.append(ctx.weight(node, "bias"))
    ph, pw = op.padding  # type: ignore[misc]
    ctx.add(
        "Conv",
        inputs,
        node.output,
        node.name,
        kernel_shape=list(op.kernel_size),  # type: ignore[arg-type]
        strides=list(op.stride),  # type: ignore[arg-type]
        pads=[ph, pw, ph, pw],
        dilations=list(op.dilation),  # type: ignore[arg-type]
        group=op.groups,
    )


@_exporter(normalization.BatchNorm2d)
def _batch_norm2d(ctx: Context, node: Node) -> None:
    op = node.op
    assert isinstance(op, normalization.BatchNorm2d)
    roles = ("weight", "bias", "running_mean", "running_var")
    ctx.add(
        "BatchNormalization",
        [node.inputs[0], *(ctx.weight(node, r) for r in roles)],
        node.output,
        node.name,
        epsilon=op.eps,
    )


@_exporter(linear.Linear)
def _linear(ctx: Context, node: Node) -> None:
    op = node.op
    assert isinstance(op, linear.Linear)
    x, weight = node.inputs[0], ctx.weight(node, "weight")
    if ctx.in_type(node).rank == 2:
        inputs = [x, weight] + ([ctx.weight(node, "bias")] if op.bias else [])
        ctx.add("Gemm", inputs, node.output, node.name, transB=1)
        return
    transposed = ctx.add(
        "Transpose", [weight], f"{node.name}/weight_t", f"{node.name}/t", perm=[1, 0]
    )
    if not op.bias:
        ctx.add("MatMul", [x, transposed], node.output, node.name)
        return
    product = ctx.add("MatMul", [x, transposed], f"{node.name}/matmul", f"{node.name}/matmul")
    ctx.add("Add", [product, ctx.weight(node, "bias")], node.output, node.name)


@_exporter(normalization.Softmax, opset=13, needs="ONNX Softmax flattens to 2-D before 13")
def _softmax(ctx: Context, node: Node) -> None:
    op = node.op
    assert isinstance(op, normalization.Softmax)
    ctx.add("Softmax", [node.inputs[0]], node.output, node.name, axis=op.dim)


# -- pooling ----------------------------------------------------------------------------------


@_exporter(pooling.MaxPool2d, pooling.AvgPool2d)
def _pool2d(ctx: Context, node: Node) -> None:
    op = node.op
    assert isinstance(op, (pooling.MaxPool2d, pooling.AvgPool2d))
    ph, pw = op.padding  # type: ignore[misc]
    attributes: dict[str, Any] = {
        "kernel_shape": list(op.kernel_size),  # type: ignore[arg-type]
        "strides": list(op.stride),  # type: ignore[arg-type]
        "pads": [ph, pw, ph, pw],
        "ceil_mode": int(op.ceil_mode),
    }
    if isinstance(op, pooling.AvgPool2d):
        attributes["count_include_pad"] = int(op.count_include_pad)
        ctx.add("AveragePool", [node.inputs[0]], node.output, node.name, **attributes)
    else:
        ctx.add("MaxPool", [node.inputs[0]], node.output, node.name, **attributes)


@_exporter(pooling.AdaptiveAvgPool2d)
def _adaptive_avg_pool2d(ctx: Context, node: Node) -> None:
    x_type, out_type = ctx.in_type(node), ctx.out_type(node)
    x = node.inputs[0]
    if out_type.shape[2:] == (1, 1):  # also for symbolic input sizes
        ctx.add("GlobalAveragePool", [x], node.output, node.name)
        return
    h, w = int(x_type.shape[2]), int(x_type.shape[3])
    oh, ow = int(out_type.shape[2]), int(out_type.shape[3])
    if h % oh == 0 and w % ow == 0:
        ctx.add(
            "AveragePool",
            [x],
            node.output,
            node.name,
            kernel_shape=[h // oh, w // ow],
            strides=[h // oh, w // ow],
        )
    else:
        # Uneven bins (PyTorch: start = floor(i*H/oh), end = ceil((i+1)*H/oh)): one
        # Slice + ReduceMean per output cell, then Concat rows and columns.
        rows = []
        for i in range(oh):
            cells = []
            for j in range(ow):
                tag = f"{node.name}/cell{i}_{j}"
                h0, h1 = (i * h) // oh, -((-(i + 1) * h) // oh)
                w0, w1 = (j * w) // ow, -((-(j + 1) * w) // ow)
                starts = ctx.constant(f"{tag}/starts", [h0, w0], np.int64)
                ends = ctx.constant(f"{tag}/ends", [h1, w1], np.int64)
                axes = ctx.constant(f"{tag}/axes", [2, 3], np.int64)
                window = ctx.add("Slice", [x, starts, ends, axes], f"{tag}/window", f"{tag}/slice")
                cells.append(_reduce_mean(ctx, window, f"{tag}/mean", [2, 3]))
            rows.append(
                ctx.add("Concat", cells, f"{node.name}/row{i}", f"{node.name}/row{i}", axis=3)
            )
        ctx.add("Concat", rows, node.output, node.name, axis=2)


# -- activations ------------------------------------------------------------------------------


def _reduce_mean(ctx: Context, x: str, name: str, axes: list[int]) -> str:
    """ReduceMean over ``axes``: an attribute up to opset 17, an input from opset 18."""
    if ctx.opset >= 18:
        return ctx.add("ReduceMean", [x, ctx.constant(f"{name}/axes", axes, np.int64)], name, name)
    return ctx.add("ReduceMean", [x], name, name, axes=axes)


_SIMPLE = {act.ReLU: "Relu", act.Sigmoid: "Sigmoid", act.Tanh: "Tanh"}


@_exporter(*_SIMPLE)
def _simple_activation(ctx: Context, node: Node) -> None:
    ctx.add(_SIMPLE[type(node.op)], [node.inputs[0]], node.output, node.name)  # type: ignore[index]


@_exporter(act.Hardswish, opset=14, needs="ONNX HardSwish")
def _hardswish(ctx: Context, node: Node) -> None:
    ctx.add("HardSwish", [node.inputs[0]], node.output, node.name)


@_exporter(act.ReLU6, act.Clip)
def _clip(ctx: Context, node: Node) -> None:
    op = node.op
    low, high = (0.0, 6.0) if isinstance(op, act.ReLU6) else (op.min, op.max)  # type: ignore[attr-defined]
    dtype = ctx.in_type(node).dtype.to_numpy()
    inputs = [node.inputs[0]]
    inputs.append("" if low is None else ctx.constant(f"{node.name}/min", low, dtype))
    if high is not None:
        inputs.append(ctx.constant(f"{node.name}/max", high, dtype))
    ctx.add("Clip", inputs, node.output, node.name)


@_exporter(act.LeakyReLU)
def _leaky_relu(ctx: Context, node: Node) -> None:
    op = node.op
    assert isinstance(op, act.LeakyReLU)
    ctx.add("LeakyRelu", [node.inputs[0]], node.output, node.name, alpha=op.negative_slope)


@_exporter(act.Hardsigmoid)
def _hardsigmoid(ctx: Context, node: Node) -> None:
    # torch's hardsigmoid is relu6(x + 3) / 6, i.e. ONNX HardSigmoid with alpha 1/6, beta 1/2.
    ctx.add("HardSigmoid", [node.inputs[0]], node.output, node.name, alpha=1.0 / 6.0, beta=0.5)


@_exporter(act.SiLU)
def _silu(ctx: Context, node: Node) -> None:
    x = node.inputs[0]
    gate = ctx.add("Sigmoid", [x], f"{node.name}/sigmoid", f"{node.name}/sigmoid")
    ctx.add("Mul", [x, gate], node.output, node.name)


@_exporter(act.GELU)
def _gelu(ctx: Context, node: Node) -> None:
    op = node.op
    assert isinstance(op, act.GELU)
    x, name = node.inputs[0], node.name
    dtype = ctx.in_type(node).dtype.to_numpy()

    def const(tag: str, value: float) -> str:
        return ctx.constant(f"{name}/{tag}", value, dtype)

    if op.approximate == "tanh":
        # x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3))) / 2
        cube = ctx.add("Mul", [x, x], f"{name}/x2", f"{name}/x2")
        cube = ctx.add("Mul", [cube, x], f"{name}/x3", f"{name}/x3")
        scaled = ctx.add("Mul", [cube, const("c", 0.044715)], f"{name}/cx3", f"{name}/cx3")
        inner = ctx.add("Add", [x, scaled], f"{name}/inner", f"{name}/inner")
        inner = ctx.add(
            "Mul", [inner, const("k", math.sqrt(2.0 / math.pi))], f"{name}/kinner", f"{name}/kin"
        )
        core = ctx.add("Tanh", [inner], f"{name}/tanh", f"{name}/tanh")
    else:
        # x * (1 + erf(x / sqrt(2))) / 2
        inner = ctx.add("Div", [x, const("sqrt2", math.sqrt(2.0))], f"{name}/xs", f"{name}/div")
        core = ctx.add("Erf", [inner], f"{name}/erf", f"{name}/erf")
    one_plus = ctx.add("Add", [core, const("one", 1.0)], f"{name}/1p", f"{name}/add")
    half_x = ctx.add("Mul", [x, const("half", 0.5)], f"{name}/hx", f"{name}/half")
    ctx.add("Mul", [half_x, one_plus], node.output, name)


# -- elementwise ------------------------------------------------------------------------------

_BINARY = {ew.Add: "Add", ew.Sub: "Sub", ew.Mul: "Mul", ew.Div: "Div"}


@_exporter(*_BINARY)
def _binary(ctx: Context, node: Node) -> None:
    inputs = list(node.inputs)
    other = node.op.other  # type: ignore[attr-defined]
    if other is not None:  # a scalar operand, in the input's dtype
        dtype = ctx.in_type(node).dtype.to_numpy()
        inputs.append(ctx.constant(f"{node.name}/other", other, dtype))
    ctx.add(_BINARY[type(node.op)], inputs, node.output, node.name)  # type: ignore[index]


# -- shape ------------------------------------------------------------------------------------


@_exporter(shape.Identity, shape.Dropout)
def _identity(ctx: Context, node: Node) -> None:
    ctx.add("Identity", [node.inputs[0]], node.output, node.name)


@_exporter(cast.Cast)
def _cast(ctx: Context, node: Node) -> None:
    op = node.op
    assert isinstance(op, cast.Cast)
    target = ONNX_DTYPES.get(DType.parse(op.dtype))
    if target is None:
        raise BackendError(f"{node.where()}: ONNX export: cannot cast to {op.dtype}")
    if DType.BFLOAT16 in (DType.parse(op.dtype), ctx.in_type(node).dtype):
        ctx.require_opset(node, 13, "bfloat16 in ONNX Cast")
    ctx.add("Cast", [node.inputs[0]], node.output, node.name, to=target)


@_exporter(shape.Permute)
def _permute(ctx: Context, node: Node) -> None:
    op = node.op
    assert isinstance(op, shape.Permute)
    rank = ctx.in_type(node).rank
    perm = [d % rank for d in op.dims]
    ctx.add("Transpose", [node.inputs[0]], node.output, node.name, perm=perm)


@_exporter(shape.Concat)
def _concat(ctx: Context, node: Node) -> None:
    op = node.op
    assert isinstance(op, shape.Concat)
    ctx.add("Concat", list(node.inputs), node.output, node.name, axis=op.dim)


@_exporter(shape.Flatten, shape.Reshape)
def _reshape(ctx: Context, node: Node) -> None:
    x_type, out_type = ctx.in_type(node), ctx.out_type(node)
    op = node.op
    if (
        isinstance(op, shape.Flatten)
        and x_type.rank >= 2
        and op.start_dim % x_type.rank == 1
        and op.end_dim % x_type.rank == x_type.rank - 1
    ):
        ctx.add("Flatten", [node.inputs[0]], node.output, node.name, axis=1)
        return
    # ONNX Reshape: 0 copies the input's size at the same axis, -1 is inferred (once).
    target = []
    for axis, d in enumerate(out_type.shape):
        if isinstance(d, int):
            target.append(d)
        elif axis < x_type.rank and x_type.shape[axis] == d:
            target.append(0)
        else:
            target.append(-1)
    if target.count(-1) > 1:
        raise BackendError(
            f"{node.where()}: ONNX export: cannot express {x_type} -> {out_type} as one Reshape"
        )
    shape_name = ctx.constant(f"{node.name}/shape", target, np.int64)
    ctx.add("Reshape", [node.inputs[0], shape_name], node.output, node.name)


@_exporter(slicing.Narrow)
def _narrow(ctx: Context, node: Node) -> None:
    op = node.op
    assert isinstance(op, slicing.Narrow)
    axis = op.axis(ctx.in_type(node).rank)
    bounds = [
        ctx.constant(f"{node.name}/{what}", [value], np.int64)
        for what, value in (("starts", op.start), ("ends", op.start + op.length), ("axes", axis))
    ]
    ctx.add("Slice", [node.inputs[0], *bounds], node.output, node.name)


@_exporter(shuffle.ChannelShuffle)
def _channel_shuffle(ctx: Context, node: Node) -> None:
    # Reshape (0 copies N) -> Transpose axes 1, 2 -> Reshape back; only N may be dynamic.
    op = node.op
    assert isinstance(op, shuffle.ChannelShuffle)
    x = ctx.in_type(node)
    batch = x.shape[0] if isinstance(x.shape[0], int) else 0
    channels = int(x.shape[1])
    rest = [int(d) for d in x.shape[2:]]
    grouped_shape = ctx.constant(
        f"{node.name}/grouped_shape", [batch, op.groups, channels // op.groups, *rest], np.int64
    )
    grouped = ctx.add(
        "Reshape", [node.inputs[0], grouped_shape], f"{node.name}/grouped", f"{node.name}/grouped"
    )
    perm = [0, 2, 1, *range(3, x.rank + 1)]
    swapped = ctx.add(
        "Transpose", [grouped], f"{node.name}/swapped", f"{node.name}/swapped", perm=perm
    )
    shape_name = ctx.constant(f"{node.name}/shape", [batch, channels, *rest], np.int64)
    ctx.add("Reshape", [swapped, shape_name], node.output, node.name)

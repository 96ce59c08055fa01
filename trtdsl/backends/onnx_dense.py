"""ONNX exporters of the ops that dense prediction and vision transformers need: interpolate,
argmax, layer norm, matmul, multi-head attention, parameter, expand, transpose, select, slice,
conv_transpose2d (registered in ``onnx_ops.EXPORTERS``; see ``onnx_export.py``)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from trtdsl.backends.onnx_ops import Context, _exporter
from trtdsl.ir.graph import Node
from trtdsl.ir.ops.attention import MultiheadAttention
from trtdsl.ir.ops.conv import ConvTranspose2d
from trtdsl.ir.ops.matmul import MatMul
from trtdsl.ir.ops.normalization import LayerNorm
from trtdsl.ir.ops.parameter import Parameter
from trtdsl.ir.ops.reduce import ArgMax
from trtdsl.ir.ops.resize import Interpolate
from trtdsl.ir.ops.shape import Expand, Transpose
from trtdsl.ir.ops.slicing import Select, Slice

_INT64 = np.int64


def _step(ctx: Context, node: Node, op_type: str, inputs: list[str], step: str, **kw: Any) -> str:
    """A helper node ``<node>/<step>`` whose output has the same name."""
    name = f"{node.name}/{step}"
    return ctx.add(op_type, inputs, name, name, **kw)


def _dims(ctx: Context, node: Node, entries: list[int | tuple[int, int]], step: str) -> str:
    """A 1-D int64 tensor of sizes: ints, or ``(input index, axis)`` read with Shape/Slice."""
    pieces: list[str] = []
    for i, entry in enumerate(entries):
        if isinstance(entry, int):
            pieces.append(ctx.constant(f"{node.name}/{step}{i}", [entry], _INT64))
            continue
        source, axis = entry
        shape = _step(ctx, node, "Shape", [node.inputs[source]], f"{step}{i}_shape")
        bounds = [
            ctx.constant(f"{node.name}/{step}{i}_{what}", [value], _INT64)
            for what, value in (("start", axis), ("end", axis + 1))
        ]
        pieces.append(_step(ctx, node, "Slice", [shape, *bounds], f"{step}{i}"))
    return _step(ctx, node, "Concat", pieces, step, axis=0)


@_exporter(Interpolate, opset=13, needs="ONNX Resize without roi")
def _interpolate(ctx: Context, node: Node) -> None:
    op = node.op
    assert isinstance(op, Interpolate)
    attributes: dict[str, Any]
    if op.mode == "nearest":
        attributes = dict(
            mode="nearest", coordinate_transformation_mode="asymmetric", nearest_mode="floor"
        )
    else:
        transform = "align_corners" if op.corners else "half_pixel"
        attributes = dict(mode="linear", coordinate_transformation_mode=transform)
    x = node.inputs[0]
    if op.scale_factor is not None:
        sh, sw = op.scale_factor  # type: ignore[misc]
        scales = ctx.constant(f"{node.name}/scales", [1.0, 1.0, sh, sw], np.float32)
        ctx.add("Resize", [x, "", scales], node.output, node.name, **attributes)
        return
    x_type, out = ctx.in_type(node), ctx.out_type(node)
    entries: list[int | tuple[int, int]] = [
        d if isinstance(d, int) else (0, axis) for axis, d in enumerate(x_type.shape[:2])
    ]
    for axis, d in enumerate(out.shape[2:], start=2):
        like_axis = ctx.in_type(node, 1).rank - 4 + axis if len(node.inputs) == 2 else 0
        entries.append(d if isinstance(d, int) else (1, like_axis))
    if all(isinstance(e, int) for e in entries):
        sizes = ctx.constant(f"{node.name}/sizes", entries, _INT64)
    else:
        sizes = _dims(ctx, node, entries, "sizes")
    ctx.add("Resize", [x, "", "", sizes], node.output, node.name, **attributes)


@_exporter(ArgMax)
def _argmax(ctx: Context, node: Node) -> None:
    op = node.op
    assert isinstance(op, ArgMax)
    axis = op.axis(ctx.in_type(node).rank)
    ctx.add("ArgMax", [node.inputs[0]], node.output, node.name, axis=axis, keepdims=int(op.keepdim))


@_exporter(LayerNorm, opset=17, needs="ONNX LayerNormalization")
def _layer_norm(ctx: Context, node: Node) -> None:
    op = node.op
    assert isinstance(op, LayerNorm)
    roles = op.params([ctx.in_type(node)])
    dtype = ctx.in_type(node).dtype.to_numpy()
    shape = tuple(op.normalized_shape)  # type: ignore[arg-type]
    scale = (
        ctx.weight(node, "weight")
        if "weight" in roles
        else ctx.constant(f"{node.name}/ones", np.ones(shape), dtype)
    )
    bias = (
        ctx.weight(node, "bias")
        if "bias" in roles
        else ctx.constant(f"{node.name}/zeros", np.zeros(shape), dtype)
    )
    ctx.add(
        "LayerNormalization",
        [node.inputs[0], scale, bias],
        node.output,
        node.name,
        axis=-op.axes,
        epsilon=op.eps,
    )


@_exporter(MatMul)
def _matmul(ctx: Context, node: Node) -> None:
    ctx.add("MatMul", list(node.inputs), node.output, node.name)


@_exporter(MultiheadAttention)
def _multi_head_attention(ctx: Context, node: Node) -> None:
    op = node.op
    assert isinstance(op, MultiheadAttention)
    e, h, d = op.embed_dim, op.num_heads, op.head_dim
    dtype = ctx.in_type(node).dtype.to_numpy()
    w_in = ctx.weights[f"{node.name}.in_proj_weight"].astype(np.float64)
    b_in = ctx.weights[f"{node.name}.in_proj_bias"].astype(np.float64) if op.bias else None
    sources = list(node.inputs)
    if not op.batch_first:
        sources = [
            _step(ctx, node, "Transpose", [x], f"input{i}_batch_first", perm=[1, 0, 2])
            for i, x in enumerate(sources)
        ]
    inputs = sources if len(sources) == 3 else sources * 3
    heads = []
    for index, part in enumerate("qkv"):
        rows = slice(index * e, (index + 1) * e)
        factor = 1.0 / math.sqrt(d) if part == "q" else 1.0
        w = ctx.constant(f"{node.name}/{part}_weight_t", w_in[rows].T * factor, dtype)
        y = _step(ctx, node, "MatMul", [inputs[index], w], f"{part}_proj")
        if b_in is not None:
            b = ctx.constant(f"{node.name}/{part}_bias", b_in[rows] * factor, dtype)
            y = _step(ctx, node, "Add", [y, b], f"{part}_proj_add")
        shape = ctx.constant(f"{node.name}/{part}_heads_shape", [0, 0, h, d], _INT64)
        y = _step(ctx, node, "Reshape", [y, shape], f"{part}_split")
        perm = [0, 2, 3, 1] if part == "k" else [0, 2, 1, 3]  # k is transposed for q @ k^T
        heads.append(_step(ctx, node, "Transpose", [y], f"{part}_heads", perm=perm))
    scores = _step(ctx, node, "MatMul", heads[:2], "scores")
    probs = _step(ctx, node, "Softmax", [scores], "softmax", axis=-1)
    context = _step(ctx, node, "MatMul", [probs, heads[2]], "context")
    context = _step(ctx, node, "Transpose", [context], "merge", perm=[0, 2, 1, 3])
    shape = ctx.constant(f"{node.name}/merge_shape", [0, 0, e], _INT64)
    merged = _step(ctx, node, "Reshape", [context, shape], "merge_heads")
    w_out = ctx.constant(
        f"{node.name}/out_weight_t", ctx.weights[f"{node.name}.out_proj.weight"].T, dtype
    )
    last = not op.bias and op.batch_first
    out = (
        ctx.add("MatMul", [merged, w_out], node.output, node.name)
        if last
        else _step(ctx, node, "MatMul", [merged, w_out], "out_proj")
    )
    if op.bias:
        bias = ctx.weight(node, "out_proj.bias")
        if op.batch_first:
            ctx.add("Add", [out, bias], node.output, node.name)
            return
        out = _step(ctx, node, "Add", [out, bias], "out_proj_add")
    if not op.batch_first:
        ctx.add("Transpose", [out], node.output, node.name, perm=[1, 0, 2])


@_exporter(Parameter)
def _parameter(ctx: Context, node: Node) -> None:
    # The node's output value is named like its weight key: the initializer takes another name.
    value = ctx.constant(f"{node.name}/value", ctx.weights[node.name], ctx.weights[node.name].dtype)
    ctx.add("Identity", [value], node.output, node.name)


@_exporter(Expand)
def _expand(ctx: Context, node: Node) -> None:
    op = node.op
    assert isinstance(op, Expand)
    # ONNX Expand broadcasts both ways: 1 keeps the input's size (PyTorch's -1).
    entries: list[int | tuple[int, int]] = []
    for axis, d in enumerate(op.sizes):
        entries.append((1, axis) if isinstance(d, str) else (1 if d == -1 else d))
    if all(isinstance(e, int) for e in entries):
        shape = ctx.constant(f"{node.name}/shape", entries, _INT64)
    else:
        shape = _dims(ctx, node, entries, "shape")
    ctx.add("Expand", [node.inputs[0], shape], node.output, node.name)


@_exporter(Transpose)
def _transpose(ctx: Context, node: Node) -> None:
    op = node.op
    assert isinstance(op, Transpose)
    perm = list(op.permutation(ctx.in_type(node).rank))
    ctx.add("Transpose", [node.inputs[0]], node.output, node.name, perm=perm)


@_exporter(Select)
def _select(ctx: Context, node: Node) -> None:
    op = node.op
    assert isinstance(op, Select)
    axis, index = op.position(ctx.in_type(node))
    indices = ctx.constant(f"{node.name}/index", index, _INT64)
    ctx.add("Gather", [node.inputs[0], indices], node.output, node.name, axis=axis)


@_exporter(Slice)
def _slice(ctx: Context, node: Node) -> None:
    op = node.op
    assert isinstance(op, Slice)
    axis, first, length = op.bounds(ctx.in_type(node))
    values = (
        ("starts", first),
        ("ends", first + (length - 1) * op.step + 1),
        ("axes", axis),
        ("steps", op.step),
    )
    bounds = [ctx.constant(f"{node.name}/{what}", [v], _INT64) for what, v in values]
    ctx.add("Slice", [node.inputs[0], *bounds], node.output, node.name)


@_exporter(ConvTranspose2d)
def _conv_transpose2d(ctx: Context, node: Node) -> None:
    op = node.op
    assert isinstance(op, ConvTranspose2d)
    inputs = [node.inputs[0], ctx.weight(node, "weight")]
    if op.bias:
        inputs.append(ctx.weight(node, "bias"))
    ph, pw = op.padding  # type: ignore[misc]
    ctx.add(
        "ConvTranspose",
        inputs,
        node.output,
        node.name,
        kernel_shape=list(op.kernel_size),  # type: ignore[arg-type]
        strides=list(op.stride),  # type: ignore[arg-type]
        pads=[ph, pw, ph, pw],
        output_padding=list(op.output_padding),  # type: ignore[arg-type]
        dilations=list(op.dilation),  # type: ignore[arg-type]
        group=op.groups,
    )

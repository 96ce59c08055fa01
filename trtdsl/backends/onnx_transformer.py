"""ONNX exporters of the ops language transformers need: embedding, index_select, gather,
arange, arange_like, full, full_like, comparisons, where, abs, cumsum, hf_conv1d and
self_attention (registered in ``onnx_ops.EXPORTERS``; see ``onnx_export.py``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from trtdsl.backends.onnx_ops import ONNX_DTYPES, Context, _exporter
from trtdsl.ir.graph import Node
from trtdsl.ir.ops import elementwise as ew
from trtdsl.ir.ops.creation import Arange, ArangeLike, Full, FullLike
from trtdsl.ir.ops.hf_linear import HFConv1D
from trtdsl.ir.ops.indexing import Embedding, Gather, IndexSelect
from trtdsl.ir.ops.scan import Cumsum
from trtdsl.ir.ops.self_attention import SelfAttention
from trtdsl.ir.types import DType

_INT64 = np.int64


def _step(ctx: Context, node: Node, op_type: str, inputs: list[str], step: str, **kw: Any) -> str:
    """A helper node ``<node>/<step>`` whose output has the same name."""
    name = f"{node.name}/{step}"
    return ctx.add(op_type, inputs, name, name, **kw)


def _finish(ctx: Context, node: Node, value: str, dtype: DType, stored: DType) -> None:
    """The node's output: ``value`` (of ``stored``) cast to ``dtype``, or copied."""
    if dtype == stored:
        ctx.add("Identity", [value], node.output, node.name)
        return
    if DType.BFLOAT16 in (dtype, stored):
        ctx.require_opset(node, 13, "bfloat16 in ONNX Cast")
    ctx.add("Cast", [value], node.output, node.name, to=ONNX_DTYPES[dtype])


def _stored(dtype: DType) -> DType:
    """The dtype a constant holding values of ``dtype`` is written in (NumPy has no bfloat16)."""
    return DType.FLOAT32 if dtype is DType.BFLOAT16 else dtype


# -- indexing ---------------------------------------------------------------------------------


@_exporter(Embedding)
def _embedding(ctx: Context, node: Node) -> None:
    ctx.add("Gather", [ctx.weight(node, "weight"), node.inputs[0]], node.output, node.name, axis=0)


@_exporter(IndexSelect)
def _index_select(ctx: Context, node: Node) -> None:
    op = node.op
    assert isinstance(op, IndexSelect)
    axis = op.dim % ctx.in_type(node).rank
    ctx.add("Gather", list(node.inputs), node.output, node.name, axis=axis)


@_exporter(Gather)
def _gather(ctx: Context, node: Node) -> None:
    op = node.op
    assert isinstance(op, Gather)
    axis = op.dim % ctx.in_type(node).rank
    ctx.add("GatherElements", list(node.inputs), node.output, node.name, axis=axis)


# -- creation ---------------------------------------------------------------------------------


@_exporter(Arange)
def _arange(ctx: Context, node: Node) -> None:
    op = node.op
    assert isinstance(op, Arange)
    dtype: DType = op.dtype  # type: ignore[assignment]
    stored = _stored(dtype)
    values = ctx.constant(f"{node.name}/values", op.reference([], {}), stored.to_numpy())
    _finish(ctx, node, values, dtype, stored)


@_exporter(ArangeLike)
def _arange_like(ctx: Context, node: Node) -> None:
    """Range(start, start + n * step, step) with n read from the input's shape."""
    op = node.op
    assert isinstance(op, ArangeLike)
    axis = op.dim % ctx.in_type(node).rank
    shape = _step(ctx, node, "Shape", [node.inputs[0]], "shape")
    index = ctx.constant(f"{node.name}/axis", axis, _INT64)
    count = _step(ctx, node, "Gather", [shape, index], "count", axis=0)
    start = ctx.constant(f"{node.name}/start", op.start, _INT64)
    step = ctx.constant(f"{node.name}/step", op.step, _INT64)
    span = _step(ctx, node, "Mul", [count, step], "span")
    limit = _step(ctx, node, "Add", [span, start], "limit")
    values = _step(ctx, node, "Range", [start, limit, step], "range")
    _finish(ctx, node, values, op.dtype, DType.INT64)  # type: ignore[arg-type]


def _fill(ctx: Context, node: Node, shape: str, value: Any, dtype: DType) -> None:
    stored = _stored(dtype)
    one = ctx.numpy_helper.from_array(np.asarray([value], dtype=stored.to_numpy()), "value")
    filled = _step(ctx, node, "ConstantOfShape", [shape], "filled", value=one)
    _finish(ctx, node, filled, dtype, stored)


@_exporter(Full)
def _full(ctx: Context, node: Node) -> None:
    op = node.op
    assert isinstance(op, Full)
    shape = ctx.constant(f"{node.name}/size", list(op.size), _INT64)
    _fill(ctx, node, shape, op.fill_value, op.dtype)  # type: ignore[arg-type]


@_exporter(FullLike)
def _full_like(ctx: Context, node: Node) -> None:
    op = node.op
    assert isinstance(op, FullLike)
    shape = _step(ctx, node, "Shape", [node.inputs[0]], "shape")
    _fill(ctx, node, shape, op.fill_value, ctx.out_type(node).dtype)


# -- comparisons, where, abs, cumsum --------------------------------------------------------

_COMPARE = {ew.Eq: "Equal", ew.Lt: "Less", ew.Gt: "Greater"}


def _operands(ctx: Context, node: Node) -> list[str]:
    other = node.op.other  # type: ignore[attr-defined]
    if other is None:
        return list(node.inputs)
    dtype = ctx.in_type(node).dtype.to_numpy()
    return [node.inputs[0], ctx.constant(f"{node.name}/other", other, dtype)]


@_exporter(*_COMPARE)
def _compare(ctx: Context, node: Node) -> None:
    ctx.add(_COMPARE[type(node.op)], _operands(ctx, node), node.output, node.name)  # type: ignore[index]


@_exporter(ew.Ne)
def _ne(ctx: Context, node: Node) -> None:
    equal = _step(ctx, node, "Equal", _operands(ctx, node), "equal")
    ctx.add("Not", [equal], node.output, node.name)


@_exporter(ew.Le, ew.Ge)
def _or_equal(ctx: Context, node: Node) -> None:
    """Or(Less, Equal) (LessOrEqual needs opset 12); false for NaN, as PyTorch."""
    operands = _operands(ctx, node)
    strict = "Less" if isinstance(node.op, ew.Le) else "Greater"
    strictly = _step(ctx, node, strict, operands, strict.lower())
    equal = _step(ctx, node, "Equal", operands, "equal")
    ctx.add("Or", [strictly, equal], node.output, node.name)


@_exporter(ew.Where)
def _where(ctx: Context, node: Node) -> None:
    ctx.add("Where", list(node.inputs), node.output, node.name)


@_exporter(ew.Abs)
def _abs(ctx: Context, node: Node) -> None:
    ctx.add("Abs", [node.inputs[0]], node.output, node.name)


@_exporter(Cumsum)
def _cumsum(ctx: Context, node: Node) -> None:
    op = node.op
    assert isinstance(op, Cumsum)
    x = node.inputs[0]
    if ctx.in_type(node).dtype is DType.INT32:
        x = _step(ctx, node, "Cast", [x], "to_int64", to=ONNX_DTYPES[DType.INT64])
    axis = ctx.constant(f"{node.name}/axis", op.dim % ctx.in_type(node).rank, _INT64)
    ctx.add("CumSum", [x, axis], node.output, node.name)


# -- Hugging Face layers --------------------------------------------------------------------


@_exporter(HFConv1D)
def _hf_conv1d(ctx: Context, node: Node) -> None:
    op = node.op
    assert isinstance(op, HFConv1D)
    inputs = [node.inputs[0], ctx.weight(node, "weight")]
    if not op.bias:
        ctx.add("MatMul", inputs, node.output, node.name)
        return
    product = _step(ctx, node, "MatMul", inputs, "matmul")
    ctx.add("Add", [product, ctx.weight(node, "bias")], node.output, node.name)


def _project(ctx: Context, node: Node, x: str, name: str, output: str | None = None) -> str:
    """``x`` through projection ``name`` (initializers named by their keys; a Transpose of
    the weight for the ``linear`` layout); the node's output when ``output`` is given."""
    op = node.op
    assert isinstance(op, SelfAttention)
    weight = ctx.weight(node, f"{name}.weight")
    if op.weight_layout == "linear":
        weight = _step(ctx, node, "Transpose", [weight], f"{name}_weight_t", perm=[1, 0])
    if not op.bias:
        if output is not None:
            return ctx.add("MatMul", [x, weight], output, node.name)
        return _step(ctx, node, "MatMul", [x, weight], name)
    y = _step(ctx, node, "MatMul", [x, weight], name)
    bias = ctx.weight(node, f"{name}.bias")
    if output is not None:
        return ctx.add("Add", [y, bias], output, node.name)
    return _step(ctx, node, "Add", [y, bias], f"{name}_bias")


def _reduce_max(ctx: Context, node: Node, x: str) -> str:
    """ReduceMax over the last axis, kept: axes an attribute up to opset 17, an input from 18."""
    if ctx.opset >= 18:
        axes = ctx.constant(f"{node.name}/row_max_axes", [-1], _INT64)
        return _step(ctx, node, "ReduceMax", [x, axes], "row_max", keepdims=1)
    return _step(ctx, node, "ReduceMax", [x], "row_max", axes=[-1], keepdims=1)


@_exporter(SelfAttention)
def _self_attention(ctx: Context, node: Node) -> None:
    """Projections, heads (Reshape, Transpose), MatMul, scale, masks (Where / Add; the causal
    triangle from Range and Less), Softmax, rows attending to nothing zeroed, MatMul, merge,
    output projection."""
    op = node.op
    assert isinstance(op, SelfAttention)
    e, h, d = op.embed_dim, op.num_heads, op.head_dim
    dtype = ctx.in_type(node).dtype.to_numpy()
    x = node.inputs[0]
    if op.qkv_proj is not None:
        stacked = _project(ctx, node, x, op.qkv_proj)
        parts = []
        for index, kind in enumerate("qkv"):
            bounds = [
                ctx.constant(f"{node.name}/{kind}_{what}", [value], _INT64)
                for what, value in (("start", index * e), ("end", (index + 1) * e), ("axis", 2))
            ]
            parts.append(_step(ctx, node, "Slice", [stacked, *bounds], f"{kind}_part"))
    else:
        names = (op.q_proj, op.k_proj, op.v_proj)
        parts = [_project(ctx, node, x, name) for name in names]  # type: ignore[arg-type]
    heads = []
    for kind, part in zip("qkv", parts, strict=True):
        shape = ctx.constant(f"{node.name}/{kind}_heads_shape", [0, 0, h, d], _INT64)
        split = _step(ctx, node, "Reshape", [part, shape], f"{kind}_split")
        perm = [0, 2, 3, 1] if kind == "k" else [0, 2, 1, 3]  # k transposed for q @ k^T
        heads.append(_step(ctx, node, "Transpose", [split], f"{kind}_heads", perm=perm))
    scores = _step(ctx, node, "MatMul", heads[:2], "scores")
    scale = op.scale if op.scale is not None else 1.0 / np.sqrt(d)
    scale_value = ctx.constant(f"{node.name}/scale", scale, dtype)
    scores = _step(ctx, node, "Mul", [scores, scale_value], "scaled")
    neg_inf = ctx.constant(f"{node.name}/neg_inf", -np.inf, dtype)
    masked = len(node.inputs) == 2
    if masked:
        mask = node.inputs[1]
        if ctx.in_type(node, 1).rank == 2:
            shape = ctx.constant(f"{node.name}/mask_shape", [0, 1, 1, -1], _INT64)
            mask = _step(ctx, node, "Reshape", [mask, shape], "mask_4d")
        if ctx.in_type(node, 1).dtype is DType.BOOL:
            scores = _step(ctx, node, "Where", [mask, scores, neg_inf], "masked")
        else:
            scores = _step(ctx, node, "Add", [scores, mask], "masked")
    if op.causal:
        shape = _step(ctx, node, "Shape", [x], "x_shape")
        one = ctx.constant(f"{node.name}/one", 1, _INT64)
        length = _step(ctx, node, "Gather", [shape, one], "length", axis=0)
        zero = ctx.constant(f"{node.name}/zero_index", 0, _INT64)
        positions = _step(ctx, node, "Range", [zero, length, one], "positions")
        rows_shape = ctx.constant(f"{node.name}/rows_shape", [-1, 1], _INT64)
        rows = _step(ctx, node, "Reshape", [positions, rows_shape], "rows")
        future = _step(ctx, node, "Less", [rows, positions], "future")
        scores = _step(ctx, node, "Where", [future, neg_inf, scores], "causal")
    probs = _step(ctx, node, "Softmax", [scores], "softmax", axis=-1)
    if masked:  # rows attending to nothing: zeros, not NaN (as PyTorch 2.13)
        attended = _step(ctx, node, "Greater", [_reduce_max(ctx, node, scores), neg_inf], "any")
        zero_value = ctx.constant(f"{node.name}/zero", 0.0, dtype)
        probs = _step(ctx, node, "Where", [attended, probs, zero_value], "safe_softmax")
    context = _step(ctx, node, "MatMul", [probs, heads[2]], "context")
    context = _step(ctx, node, "Transpose", [context], "merge", perm=[0, 2, 1, 3])
    shape = ctx.constant(f"{node.name}/merge_shape", [0, 0, e], _INT64)
    if op.out_proj is None:
        ctx.add("Reshape", [context, shape], node.output, node.name)
        return
    merged = _step(ctx, node, "Reshape", [context, shape], "merge_heads")
    _project(ctx, node, merged, op.out_proj, output=node.output)

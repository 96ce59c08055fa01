"""Emitters for pooling ops, with PyTorch's semantics mapped onto TensorRT's explicitly.

NOTE: TensorRT's pooling defaults differ from PyTorch's: ``stride_nd`` defaults to 1 (PyTorch:
the window size), ``average_count_excludes_padding`` defaults to True (PyTorch's
``count_include_pad`` defaults to True, i.e. the opposite), and PyTorch's ``ceil_mode`` drops a
last window that would start in the end padding, which TensorRT's EXPLICIT_ROUND_UP does not.
All three are therefore always set here.
https://docs.nvidia.com/deeplearning/tensorrt/latest/_static/python-api/infer/Graph/Layers.html
"""

from __future__ import annotations

from typing import Any

import numpy as np

from trtdsl.backends.trt.context import EmitContext, emitter
from trtdsl.ir.graph import Node
from trtdsl.ir.ops.pooling import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d, _Pool2d


def _pool(ctx: EmitContext, node: Node, kind: str) -> Any:
    op: _Pool2d = node.op  # type: ignore[assignment]
    trt = ctx.trt
    layer = ctx.network.add_pooling_nd(
        ctx.input(node), getattr(trt.PoolingType, kind), op.kernel_size
    )
    if layer is None:
        return None
    layer.stride_nd = op.stride
    layer.padding_nd = op.padding
    layer.padding_mode = _padding_mode(ctx, node, op)
    if isinstance(op, AvgPool2d):
        layer.average_count_excludes_padding = not op.count_include_pad
    return layer


def _padding_mode(ctx: EmitContext, node: Node, op: _Pool2d) -> Any:
    """EXPLICIT_ROUND_UP where PyTorch's ceil_mode gives TensorRT's ceil size, else ROUND_DOWN.

    When PyTorch drops the last window (it would start in the end padding), its ceil-mode size
    equals the floor size, so EXPLICIT_ROUND_DOWN reproduces it exactly.
    """
    modes = ctx.trt.PaddingMode
    if not op.ceil_mode:
        return modes.EXPLICIT_ROUND_DOWN
    x = ctx.input_type(node)
    out = ctx.output_type(node)
    for axis in (0, 1):
        size = x.shape[2 + axis]
        k, s, p = op.kernel_size[axis], op.stride[axis], op.padding[axis]  # type: ignore[index]
        trt_ceil = -(-(size + 2 * p - k) // s) + 1  # type: ignore[operator]
        if trt_ceil != out.shape[2 + axis]:
            return modes.EXPLICIT_ROUND_DOWN
    return modes.EXPLICIT_ROUND_UP


@emitter(MaxPool2d)
def emit_max_pool2d(ctx: EmitContext, node: Node) -> Any:
    return _pool(ctx, node, "MAX")


@emitter(AvgPool2d)
def emit_avg_pool2d(ctx: EmitContext, node: Node) -> Any:
    return _pool(ctx, node, "AVERAGE")


@emitter(AdaptiveAvgPool2d)
def emit_adaptive_avg_pool2d(ctx: EmitContext, node: Node) -> Any:
    """Global pooling (output 1x1) as IReduceLayer AVG over axes 2 and 3 (keep_dims); an
    output that divides the input evenly as one AVERAGE pooling (window = stride = in/out);
    uneven bins (PyTorch's floor/ceil bin edges) as averaging matrices: ``Ah @ x @ Aw.T``.
    """
    x = ctx.input_type(node)
    out = ctx.output_type(node)
    (h, w), (oh, ow) = x.shape[2:], out.shape[2:]
    trt = ctx.trt
    if (oh, ow) == (1, 1):
        return ctx.network.add_reduce(
            ctx.input(node), trt.ReduceOperation.AVG, (1 << 2) | (1 << 3), True
        )
    if h % oh == 0 and w % ow == 0:  # type: ignore[operator]
        window = (h // oh, w // ow)  # type: ignore[operator]
        layer = ctx.network.add_pooling_nd(ctx.input(node), trt.PoolingType.AVERAGE, window)
        if layer is not None:
            layer.stride_nd = window
            layer.padding_nd = (0, 0)
        return layer
    dtype = ctx.compute_dtype(node)
    tensor = ctx.input(node)
    layer = None
    if ow != w:
        cols = ctx.constant(node, "columns", _bin_matrix(w, ow)[None, None], dtype)  # type: ignore[arg-type]
        layer = ctx.network.add_matrix_multiply(
            tensor, trt.MatrixOperation.NONE, cols, trt.MatrixOperation.TRANSPOSE
        )
        if oh == h:
            return layer
        tensor = ctx.add(node, layer, "average_columns").get_output(0)
    rows = ctx.constant(node, "rows", _bin_matrix(h, oh)[None, None], dtype)  # type: ignore[arg-type]
    return ctx.network.add_matrix_multiply(
        rows, trt.MatrixOperation.NONE, tensor, trt.MatrixOperation.NONE
    )


def _bin_matrix(size: int, out: int) -> np.ndarray:
    """(out, size) averaging matrix of PyTorch's adaptive bins: row i averages input
    floor(i*size/out) .. ceil((i+1)*size/out) - 1."""
    matrix = np.zeros((out, size), dtype=np.float64)
    for i in range(out):
        start, end = (i * size) // out, -(-(i + 1) * size // out)
        matrix[i, start:end] = 1.0 / (end - start)
    return matrix

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

from trtdsl.backends.trt.context import EmitContext, emitter
from trtdsl.errors import BackendError
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
    output that divides the input evenly as one AVERAGE pooling (window = stride = in/out).
    """
    x = ctx.input_type(node)
    out = ctx.output_type(node)
    (h, w), (oh, ow) = x.shape[2:], out.shape[2:]
    if (oh, ow) == (1, 1):
        return ctx.network.add_reduce(
            ctx.input(node), ctx.trt.ReduceOperation.AVG, (1 << 2) | (1 << 3), True
        )
    if h % oh or w % ow:  # type: ignore[operator]
        raise BackendError(
            f"{node.where()}: adaptive_avg_pool2d from {h}x{w} to {oh}x{ow} has uneven "
            f"windows, which one TensorRT pooling layer cannot express; use sizes that divide"
        )
    window = (h // oh, w // ow)  # type: ignore[operator]
    layer = ctx.network.add_pooling_nd(ctx.input(node), ctx.trt.PoolingType.AVERAGE, window)
    if layer is not None:
        layer.stride_nd = window
        layer.padding_nd = (0, 0)
    return layer

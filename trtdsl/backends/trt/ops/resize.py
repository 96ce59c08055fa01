"""Emitter for ``interpolate`` (IResizeLayer).

NOTE: PyTorch's modes map onto TensorRT's resize as: nearest = NEAREST with ASYMMETRIC
coordinates and FLOOR rounding; bilinear = LINEAR with HALF_PIXEL coordinates, or
ALIGN_CORNERS. https://docs.nvidia.com/deeplearning/tensorrt/latest/_static/python-api/infer/Graph/Layers.html#iresizelayer
"""

from __future__ import annotations

from typing import Any

from trtdsl.backends.trt.context import EmitContext, emitter, trt_dims
from trtdsl.backends.trt.ops.dynamic import DimSource, shape_tensor
from trtdsl.ir.graph import Node
from trtdsl.ir.ops.resize import Interpolate


@emitter(Interpolate)
def emit_interpolate(ctx: EmitContext, node: Node) -> Any:
    """One IResizeLayer. Its output size: ``scales`` (1, 1, sh, sw) for ``scale_factor``
    (TensorRT then maps coordinates with the given scales, as PyTorch does); ``shape`` for a
    static output; otherwise a shape tensor of the input's N and C and the output's H and W
    (static, or read from the second input's shape at run time).
    """
    op: Interpolate = node.op  # type: ignore[assignment]
    trt = ctx.trt
    out = ctx.output_type(node)
    size = None
    if op.scale_factor is None and not out.is_static:
        # Built before the resize layer: layers are added in an order where inputs come first.
        x = ctx.input_type(node)
        entries: list[DimSource] = [
            d if isinstance(d, int) else (0, axis) for axis, d in enumerate(x.shape[:2])
        ]
        for axis, d in enumerate(out.shape[2:], start=2):
            like_axis = ctx.input_type(node, 1).rank - 4 + axis if len(node.inputs) == 2 else 0
            entries.append(d if isinstance(d, int) else (1, like_axis))
        size = shape_tensor(ctx, node, entries, "size")
    layer = ctx.network.add_resize(ctx.input(node))
    if layer is None:
        return None
    if op.mode == "nearest":
        layer.resize_mode = trt.InterpolationMode.NEAREST
        layer.coordinate_transformation = trt.ResizeCoordinateTransformation.ASYMMETRIC
        layer.nearest_rounding = trt.ResizeRoundMode.FLOOR
    else:
        layer.resize_mode = trt.InterpolationMode.LINEAR
        layer.coordinate_transformation = (
            trt.ResizeCoordinateTransformation.ALIGN_CORNERS
            if op.corners
            else trt.ResizeCoordinateTransformation.HALF_PIXEL
        )
    if op.scale_factor is not None:
        sh, sw = op.scale_factor  # type: ignore[misc]
        layer.scales = [1.0, 1.0, float(sh), float(sw)]
    elif size is None:
        layer.shape = trt_dims(out)
    else:
        layer.set_input(1, size)
    return layer

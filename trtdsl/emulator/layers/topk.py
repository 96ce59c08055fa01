"""ITopKLayer: the k largest (or smallest) elements along one axis, and their indices."""

from __future__ import annotations

import numpy as np

from trtdsl.emulator.enums import DataType, LayerType, TopKOperation
from trtdsl.emulator.layers.base import (
    ILayer,
    Shape,
    axes_from_mask,
    float_compute,
    require,
    require_float,
    value_property,
)

_INDEX_TYPES = (DataType.INT32, DataType.INT64)


class ITopKLayer(ILayer):
    """Two outputs of the input's shape with ``k`` along the reduced axis: values (sorted,
    largest first for MAX) and indices (``indices_type``, INT32 by default). ``axes`` has one
    bit, one of the last four dims; k <= 3840 (TensorRT's documented limit). Ties keep the
    lower index first (TensorRT does not document its order; PyTorch's argmax does this).
    """

    _TYPE = LayerType.TOPK
    _TYPE_NAME = "TopK"
    _NUM_OUTPUTS = 2

    op = value_property("op", TopKOperation, "TopKOperation.")
    k = value_property("k", int, "How many elements to keep (<= 3840).")
    axes = value_property("axes", int, "Bitmask with the one reduced dim.")
    indices_type = value_property("indices_type", DataType, "INT32 (default) or INT64.")

    def _infer(self, shapes: list[Shape], dtypes: list[DataType]) -> list[tuple[Shape, DataType]]:
        shape, p = shapes[0], self._p
        require_float(dtypes[0], "topk input")
        axes = axes_from_mask(p["axes"], len(shape), "topk")
        require(len(axes) == 1, f"topk axes {p['axes']:#b} must name exactly one dimension")
        (axis,) = axes
        require(axis >= len(shape) - 4, f"topk reduces one of the last four dims, not {axis}")
        require(1 <= p["k"] <= 3840, f"topk k = {p['k']} must be in 1..3840")
        require(p["indices_type"] in _INDEX_TYPES, "topk indices must be INT32 or INT64")
        out = tuple(p["k"] if i == axis else d for i, d in enumerate(shape))
        return [(out, dtypes[0]), (out, p["indices_type"])]

    def _output_dtypes(self, dtypes: list[DataType]) -> list[DataType]:
        return [dtypes[0] if dtypes else DataType.FLOAT, self._p["indices_type"]]

    def _compute(self, xs: list[np.ndarray]) -> list[np.ndarray]:
        x, p = xs[0], self._p
        (axis,) = axes_from_mask(p["axes"], x.ndim, "topk")
        work = float_compute(x)
        largest = p["op"] == TopKOperation.MAX
        if p["k"] == 1 and not np.isnan(work).any():
            # The first maximum (minimum): what the stable sort below puts first, without
            # sorting (an arg-max over 21 classes of a 520x520 map: 10 ms instead of 70).
            pick = np.argmax if largest else np.argmin
            index = np.expand_dims(pick(work, axis=axis), axis)
        else:  # a NaN sorts last here, while argmax would pick it
            order = np.argsort(-work if largest else work, axis=axis, kind="stable")
            index = np.take(order, np.arange(p["k"]), axis=axis)
        values = np.take_along_axis(x, index, axis=axis)
        index_dtype = np.int64 if p["indices_type"] == DataType.INT64 else np.int32
        return [np.ascontiguousarray(values), np.ascontiguousarray(index.astype(index_dtype))]

"""Shape and gather layers: IShapeLayer (a tensor's dimensions as an int64 shape tensor) and
IGatherLayer (DEFAULT mode: ``np.take`` along one axis)."""

from __future__ import annotations

import numpy as np

from trtdsl.emulator.enums import DataType, GatherMode, LayerType
from trtdsl.emulator.layers.base import ILayer, Shape, normalize_axis, require, value_property
from trtdsl.emulator.types import EmulatorUnsupportedError

_INDEX_TYPES = (DataType.INT32, DataType.INT64)


class IShapeLayer(ILayer):
    """The input's dimensions as a 1-D INT64 tensor (TensorRT >= 10 gives INT64)."""

    _TYPE = LayerType.SHAPE
    _TYPE_NAME = "Shape"

    def _infer(self, shapes: list[Shape], dtypes: list[DataType]) -> list[tuple[Shape, DataType]]:
        return [((len(shapes[0]),), DataType.INT64)]

    def _output_dtypes(self, dtypes: list[DataType]) -> list[DataType]:
        return [DataType.INT64]

    def _compute(self, xs: list[np.ndarray]) -> list[np.ndarray]:
        return [np.asarray(xs[0].shape, dtype=np.int64)]


class IGatherLayer(ILayer):
    """Gather along ``axis`` (DEFAULT mode, as ONNX Gather): output = data.shape[:axis] +
    indices.shape + data.shape[axis+1:]; indices INT32 or INT64 (ELEMENT and ND modes are not
    emulated)."""

    _TYPE = LayerType.GATHER
    _TYPE_NAME = "Gather"
    _MAX_INPUTS = 2

    axis = value_property("axis", int, "The axis of the data to gather on.")
    mode = value_property("mode", GatherMode, "GatherMode. Default: DEFAULT.")
    num_elementwise_dims = value_property(
        "num_elementwise_dims", int, "Leading dims that index elementwise. Default: 0."
    )

    def _infer(self, shapes: list[Shape], dtypes: list[DataType]) -> list[tuple[Shape, DataType]]:
        (data, indices), p = shapes, self._p
        require(
            dtypes[1] in _INDEX_TYPES, f"gather indices must be INT32 or INT64, got {dtypes[1]}"
        )
        require(p["mode"] == GatherMode.DEFAULT, "the emulator has only GatherMode.DEFAULT")
        require(p["num_elementwise_dims"] == 0, "the emulator has no elementwise gather dims")
        axis = normalize_axis(p["axis"], len(data), "gather")
        return [(tuple(data[:axis]) + tuple(indices) + tuple(data[axis + 1 :]), dtypes[0])]

    def _compute(self, xs: list[np.ndarray]) -> list[np.ndarray]:
        data, indices = xs
        if self._p["mode"] != GatherMode.DEFAULT:
            raise EmulatorUnsupportedError("the emulator computes GatherMode.DEFAULT only")
        axis = self._p["axis"] % max(data.ndim, 1)
        index = np.where(indices < 0, indices + data.shape[axis], indices)
        return [np.ascontiguousarray(np.take(data, index.astype(np.int64), axis=axis))]

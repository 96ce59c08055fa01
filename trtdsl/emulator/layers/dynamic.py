"""Shape and gather layers: IShapeLayer (a tensor's dimensions as an int64 shape tensor) and
IGatherLayer (DEFAULT and ELEMENT modes: ``np.take`` and ``np.take_along_axis``)."""

from __future__ import annotations

import numpy as np

from trtdsl.emulator.enums import DataType, GatherMode, LayerType
from trtdsl.emulator.layers.base import ILayer, Shape, normalize_axis, require, value_property
from trtdsl.emulator.types import EmulatorRuntimeError, EmulatorUnsupportedError

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
    """Gather along ``axis``; indices INT32 or INT64 (negative: from the end).

    - DEFAULT (ONNX Gather): output = data.shape[:axis] + indices.shape + data.shape[axis+1:].
    - ELEMENT (ONNX GatherElements): indices of the data's rank, at most the data's extent on
      every other axis (a build-time check); output[..., i, ...] =
      data[..., indices[..., i, ...], ...] along ``axis``, in the indices' shape.

    ND mode and ``num_elementwise_dims`` are not emulated.
    """

    _TYPE = LayerType.GATHER
    _TYPE_NAME = "Gather"
    _MAX_INPUTS = 2
    _MIN_INPUTS = 2

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
        require(
            p["mode"] in (GatherMode.DEFAULT, GatherMode.ELEMENT),
            f"the emulator has GatherMode.DEFAULT and ELEMENT, not {p['mode']}",
        )
        require(p["num_elementwise_dims"] == 0, "the emulator has no elementwise gather dims")
        axis = normalize_axis(p["axis"], len(data), "gather")
        if p["mode"] == GatherMode.ELEMENT:
            require(
                len(indices) == len(data),
                f"ELEMENT gather indices {indices} must have the rank of the data {data}",
            )
            return [(tuple(indices), dtypes[0])]
        return [(tuple(data[:axis]) + tuple(indices) + tuple(data[axis + 1 :]), dtypes[0])]

    def _validate(self, shapes: list[Shape], dtypes: list[DataType]) -> None:
        (data, indices), p = shapes, self._p
        if p["mode"] != GatherMode.ELEMENT or len(indices) != len(data):
            return
        axis = normalize_axis(p["axis"], len(data), "gather")
        for i, (d, n) in enumerate(zip(data, indices, strict=True)):
            require(
                i == axis or d < 0 or n < 0 or n <= d,
                f"ELEMENT gather: the extent of dimension {i} of indices {indices} must be at "
                f"most that of the data {data}",
            )

    def _compute(self, xs: list[np.ndarray]) -> list[np.ndarray]:
        data, indices = xs
        if self._p["mode"] not in (GatherMode.DEFAULT, GatherMode.ELEMENT):
            raise EmulatorUnsupportedError("the emulator computes GatherMode.DEFAULT and ELEMENT")
        axis = self._p["axis"] % max(data.ndim, 1)
        size = data.shape[axis]
        outside = (indices < -size) | (indices >= size)
        if outside.any():
            # NOTE: TensorRT does not check gather indices (an out-of-range one reads undefined
            # memory); the emulator refuses to make up a value.
            raise EmulatorRuntimeError(
                f"{self._name}: gather index {int(indices[outside].flat[0])} is out of range "
                f"for axis {axis} of size {size}"
            )
        index = np.where(indices < 0, indices + data.shape[axis], indices).astype(np.int64)
        if self._p["mode"] == GatherMode.ELEMENT:
            extent = tuple(
                slice(None) if i == axis else slice(0, n) for i, n in enumerate(index.shape)
            )
            return [np.ascontiguousarray(np.take_along_axis(data[extent], index, axis=axis))]
        return [np.ascontiguousarray(np.take(data, index, axis=axis))]

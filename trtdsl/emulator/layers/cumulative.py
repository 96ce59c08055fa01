"""ICumulativeLayer: running reductions (CumulativeOperation.SUM) along one axis."""

from __future__ import annotations

import numpy as np

from trtdsl.emulator.enums import CumulativeOperation, DataType, LayerType
from trtdsl.emulator.layers.base import ILayer, Shape, float_compute, require, value_property
from trtdsl.emulator.types import EmulatorRuntimeError

_TYPES = (DataType.FLOAT, DataType.HALF, DataType.BF16, DataType.INT32, DataType.INT64)


class ICumulativeLayer(ILayer):
    """Running sums of input 0 along the axis given by input 1, a 0-D INT32 or INT64 tensor
    (TensorRT needs it to be a build-time constant). Output: the input's shape and type.

    ``exclusive``: y[j] sums x[0..j-1] (forward) instead of x[0..j]; ``reverse``: sums run from
    the end. The emulator reads the axis value when it runs (an axis outside the input's rank
    is an error then; TensorRT-RTX refuses it when it builds). Floats sum in float32.
    """

    _TYPE = LayerType.CUMULATIVE
    _TYPE_NAME = "Cumulative"
    _MAX_INPUTS = 2
    _MIN_INPUTS = 2

    op = value_property("op", CumulativeOperation, "CumulativeOperation (SUM).")
    exclusive = value_property("exclusive", bool, "Exclusive rather than inclusive sums.")
    reverse = value_property("reverse", bool, "Sums from the end of the axis.")

    def _infer(self, shapes: list[Shape], dtypes: list[DataType]) -> list[tuple[Shape, DataType]]:
        require(dtypes[0] in _TYPES, f"cumulative input type {dtypes[0]} is not supported")
        require(
            len(shapes[1]) == 0 and dtypes[1] in (DataType.INT32, DataType.INT64),
            f"cumulative axis must be a 0-D INT32 or INT64 tensor, got {dtypes[1]}{shapes[1]}",
        )
        require(len(shapes[0]) >= 1, "cumulative input must have rank >= 1")
        return [(shapes[0], dtypes[0])]

    def _compute(self, xs: list[np.ndarray]) -> list[np.ndarray]:
        x, axis_value = xs
        axis = int(axis_value)
        if not -x.ndim <= axis < x.ndim:
            raise EmulatorRuntimeError(
                f"{self._name}: cumulative axis {axis} is out of range for rank {x.ndim}"
            )
        data = float_compute(x) if x.dtype.kind == "f" else x
        if self._p["reverse"]:
            data = np.flip(data, axis=axis)
        y = np.cumsum(data, axis=axis, dtype=data.dtype)
        if self._p["exclusive"]:
            y = y - data
        if self._p["reverse"]:
            y = np.flip(y, axis=axis)
        return [np.ascontiguousarray(y, dtype=x.dtype)]

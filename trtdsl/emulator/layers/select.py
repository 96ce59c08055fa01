"""ISelectLayer: ``np.where(condition, then_input, else_input)`` with TensorRT broadcasting."""

from __future__ import annotations

import numpy as np

from trtdsl.emulator.enums import DataType, LayerType
from trtdsl.emulator.layers.base import ILayer, Shape, require
from trtdsl.emulator.layers.pointwise import broadcast_shape


class ISelectLayer(ILayer):
    """Elements of input 1 where the BOOL condition (input 0) is true, else of input 2.

    The three inputs have one rank; each dimension is equal across them or 1 (broadcast, as
    IElementWiseLayer: no rank promotion); the then and else inputs have one type, which is the
    output's (any type, BOOL included).
    """

    _TYPE = LayerType.SELECT
    _TYPE_NAME = "Select"
    _MAX_INPUTS = 3
    _MIN_INPUTS = 3

    def _infer(self, shapes: list[Shape], dtypes: list[DataType]) -> list[tuple[Shape, DataType]]:
        condition, then_type, else_type = dtypes
        require(condition == DataType.BOOL, f"select condition must be BOOL, got {condition}")
        require(
            then_type == else_type,
            f"select then and else inputs have different types {then_type} and {else_type}",
        )
        shape = broadcast_shape(shapes[0], shapes[1], "select")
        return [(broadcast_shape(shape, shapes[2], "select"), then_type)]

    def _output_dtypes(self, dtypes: list[DataType]) -> list[DataType]:
        return [dtypes[1] if len(dtypes) > 1 else DataType.FLOAT]

    def _compute(self, xs: list[np.ndarray]) -> list[np.ndarray]:
        condition, then_value, else_value = xs
        return [np.ascontiguousarray(np.where(condition, then_value, else_value))]

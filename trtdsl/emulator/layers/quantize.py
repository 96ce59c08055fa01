"""Quantize and dequantize layers (explicit quantization, symmetric: no zero point).

Numerics are ``trtdsl.kernels.quantize`` (round half to even, clamp to [-128, 127] for INT8 and
to +-448 for FP8 E4M3). FP8 tensors are held as float32 values on the E4M3 grid. As in
TensorRT-RTX (checked on its real builder): a scalar scale quantizes per tensor whatever
``axis`` says; a 1-D scale needs ``axis`` set to the axis it runs along (with the default -1,
shape inference fails with "ScaleMode is illegal"); the output type is checked at shape
inference, not when the layer is added.
"""

from __future__ import annotations

import numpy as np

from trtdsl.emulator.enums import DataType, LayerType
from trtdsl.emulator.layers.base import (
    FLOAT_TYPES,
    ILayer,
    Shape,
    as_dtype,
    dyn,
    require,
    require_float,
    value_property,
)
from trtdsl.emulator.types import EmulatorUnsupportedError
from trtdsl.kernels import quantize as qk

_QUANTIZED = {DataType.INT8: "int8", DataType.FP8: "fp8"}


def _scale_axis(layer: ILayer, shapes: list[Shape], dtypes: list[DataType]) -> int | None:
    """The per-channel axis (None per tensor) after checking the scale's type and shape."""
    shape, scale = shapes[0], shapes[1]
    what = f"{layer._TYPE_NAME} layer"
    require(
        dtypes[1] in FLOAT_TYPES, f"{what}: the scale must be FLOAT, HALF or BF16, got {dtypes[1]}"
    )
    if len(scale) == 0:
        return None
    if len(scale) > 1:
        raise EmulatorUnsupportedError(f"{what}: block quantization is not emulated")
    axis = layer._p["axis"]
    if scale[0] == 1 and -1 <= axis < len(shape):
        return None  # as TensorRT-RTX: a one-element 1-D scale is per tensor, whatever axis says
    require(0 <= axis < len(shape), f"{what}: ScaleMode is illegal (a 1-D scale, axis {axis})")
    require(
        dyn(scale[0], shape[axis]) or scale[0] == shape[axis],
        f"{what}: ScaleMode is illegal ({scale[0]} scales for dimension {shape[axis]} of axis "
        f"{axis})",
    )
    return int(axis)


class IQuantizeLayer(ILayer):
    """``q = clamp(round(x / scale))`` to ``to_type`` (INT8 or FP8); inputs x and scale."""

    _TYPE = LayerType.QUANTIZE
    _TYPE_NAME = "Quantize"
    _MAX_INPUTS = 2  # input 2 (a zero point, all zeros) is not emulated
    _MIN_INPUTS = 2

    axis = value_property("axis", int, "The quantization axis of a 1-D scale. Default: -1.")
    to_type = value_property("to_type", DataType, "The output type (INT8 or FP8).")

    def _infer(self, shapes: list[Shape], dtypes: list[DataType]) -> list[tuple[Shape, DataType]]:
        require(len(shapes) == 2, "Quantize layer: expected the input and a scale")
        require_float(dtypes[0], "Quantize layer input")
        to_type = self._p["to_type"]
        require(
            to_type in (DataType.INT8, DataType.FP8, DataType.INT4, DataType.FP4, DataType.UINT8),
            f"Quantize layer: output has type {to_type} but must have type FP8, FP4, Int4, "
            "Int8, or UInt8",
        )
        _scale_axis(self, shapes, dtypes)
        return [(shapes[0], to_type)]

    def _output_dtypes(self, dtypes: list[DataType]) -> list[DataType]:
        return [self._p["to_type"]]

    def _compute(self, xs: list[np.ndarray]) -> list[np.ndarray]:
        x, scale = xs
        kind = _QUANTIZED.get(self._p["to_type"])
        if kind is None:
            raise EmulatorUnsupportedError(f"the emulator cannot quantize to {self._p['to_type']}")
        axis = self._p["axis"] if scale.ndim == 1 else None
        return [qk.quantize(x, scale, kind, axis)]


class IDequantizeLayer(ILayer):
    """``y = q * scale`` to ``to_type`` (FLOAT, HALF or BF16); inputs q and scale."""

    _TYPE = LayerType.DEQUANTIZE
    _TYPE_NAME = "Dequantize"
    _MAX_INPUTS = 2  # input 2 (a zero point, all zeros) is not emulated
    _MIN_INPUTS = 2

    axis = value_property("axis", int, "The quantization axis of a 1-D scale. Default: -1.")
    to_type = value_property("to_type", DataType, "The output type (FLOAT, HALF or BF16).")

    def _infer(self, shapes: list[Shape], dtypes: list[DataType]) -> list[tuple[Shape, DataType]]:
        require(len(shapes) == 2, "Dequantize layer: expected the input and a scale")
        require(
            dtypes[0] in _QUANTIZED,
            f"Dequantize layer: input has type {dtypes[0]}; the emulator dequantizes INT8 or FP8",
        )
        to_type = self._p["to_type"]
        require(
            to_type in FLOAT_TYPES,
            f"Dequantize layer: output has type {to_type} but must have type Float, Half, or "
            "BFloat16",
        )
        _scale_axis(self, shapes, dtypes)
        return [(shapes[0], to_type)]

    def _output_dtypes(self, dtypes: list[DataType]) -> list[DataType]:
        return [self._p["to_type"]]

    def _compute(self, xs: list[np.ndarray]) -> list[np.ndarray]:
        q, scale = xs
        axis = self._p["axis"] if scale.ndim == 1 else None
        return [as_dtype(qk.dequantize(q, scale, axis), self._p["to_type"])]

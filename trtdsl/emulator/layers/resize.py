"""Resize (nearest and linear) with TensorRT's coordinate transformations and rounding modes."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from trtdsl.emulator.enums import (
    DataType,
    InterpolationMode,
    LayerType,
    ResizeCoordinateTransformation,
    ResizeRoundMode,
    ResizeSelector,
)
from trtdsl.emulator.layers.base import (
    ILayer,
    Shape,
    dyn,
    float_compute,
    require,
    value_property,
)
from trtdsl.emulator.layers.fields import DIMS, FLOATS, FieldError, PlanField, optional
from trtdsl.emulator.types import Dims, EmulatorUnsupportedError, check_type, to_dims

_ROUND: dict[ResizeRoundMode, Callable[[np.ndarray], np.ndarray]] = {
    ResizeRoundMode.HALF_UP: lambda x: np.floor(x + 0.5),
    ResizeRoundMode.HALF_DOWN: lambda x: np.ceil(x - 0.5),
    ResizeRoundMode.FLOOR: np.floor,
    ResizeRoundMode.CEIL: np.ceil,
}


class IResizeLayer(ILayer):
    """Resize to ``shape`` or by ``scales`` (output = floor(input * scale)).

    Source coordinate of output index x (lengths I in, O out), per NvInfer.h:
    ALIGN_CORNERS x*(I-1)/(O-1); ASYMMETRIC x*I/O (default); HALF_PIXEL (x+0.5)*I/O - 0.5.
    NEAREST rounds it with ``nearest_rounding`` (default FLOOR); LINEAR interpolates between
    the two neighbours (coordinates clamped to the input). Defaults: NEAREST, FORMULA selector.
    """

    _TYPE = LayerType.RESIZE
    _TYPE_NAME = "Resize"
    _MAX_INPUTS = 2  # input 1: the output shape as a shape tensor (see shape_values.py)
    _FIELDS = (PlanField("shape", optional(DIMS)), PlanField("scales", optional(FLOATS)))

    resize_mode = value_property("resize_mode", InterpolationMode, "Default: NEAREST.")
    coordinate_transformation = value_property(
        "coordinate_transformation", ResizeCoordinateTransformation, "Default: ASYMMETRIC."
    )
    selector_for_single_pixel = value_property(
        "selector_for_single_pixel", ResizeSelector, "Default: FORMULA."
    )
    nearest_rounding = value_property("nearest_rounding", ResizeRoundMode, "Default: FLOOR.")
    exclude_outside = value_property("exclude_outside", bool, "Cubic only. Default: False.")
    cubic_coeff = value_property("cubic_coeff", float, "Cubic only. Default: -0.75.")

    @property
    def shape(self) -> Dims | None:
        """Output dimensions; None when resizing by scales. Until ``shape`` or ``scales`` is
        set, the input's dimensions (TensorRT-RTX's default: an identity resize)."""
        value = self._p["shape"]
        if value is None and self._p["scales"] is None:
            source = self._inputs[0]
            if source is not None and self._network is not None:
                known, _ = self._network._infer(source)
                return known
        return None if value is None else Dims(value)

    @shape.setter
    def shape(self, value: Any) -> None:
        self._p["shape"], self._p["scales"] = to_dims(value, "IResizeLayer.shape"), None
        self._touch()

    @property
    def scales(self) -> list[float]:
        """Scale per dimension ([] when resizing to a shape)."""
        return list(self._p["scales"] or [])

    @scales.setter
    def scales(self, value: Any) -> None:
        check_type(value, (list, tuple), "IResizeLayer.scales")
        self._p["scales"] = tuple(check_type(v, float, "IResizeLayer.scales") for v in value)
        self._p["shape"] = None
        self._touch()

    @classmethod
    def _check_properties(cls, p: dict[str, Any]) -> None:
        if p["shape"] is not None and p["scales"] is not None:
            raise FieldError("'shape' and 'scales' are both set (setting one clears the other)")

    def _init_params(self) -> None:
        self._p.update(
            shape=None,
            scales=None,
            resize_mode=InterpolationMode.NEAREST,
            coordinate_transformation=ResizeCoordinateTransformation.ASYMMETRIC,
            selector_for_single_pixel=ResizeSelector.FORMULA,
            nearest_rounding=ResizeRoundMode.FLOOR,
            exclude_outside=False,
            cubic_coeff=-0.75,
        )

    def _infer(self, shapes: list[Shape], dtypes: list[DataType]) -> list[tuple[Shape, DataType]]:
        shape, p = shapes[0], self._p
        if p["shape"] is not None:
            out = tuple(p["shape"])
            require(len(out) == len(shape), f"resize shape {out} does not match rank of {shape}")
            # -1: an entry of a shape-tensor input not known until run time.
            require(all(d >= 1 or d == -1 for d in out), f"resize shape {out} must be positive")
        elif p["scales"] is None:
            # NOTE: as TensorRT-RTX (which logs a warning): neither shape nor scales set
            # resizes to the input's own dimensions.
            out = tuple(shape)
        else:
            scales = p["scales"]
            require(len(scales) == len(shape), f"{len(scales)} scales for rank {len(shape)}")
            require(all(s > 0 for s in scales), f"resize scales {scales} must be positive")
            out = tuple(
                -1 if dyn(d) else math.floor(d * s) for d, s in zip(shape, scales, strict=True)
            )
        if p["resize_mode"] == InterpolationMode.LINEAR:
            changed = [i for i, (a, b) in enumerate(zip(shape, out, strict=True)) if a != b]
            # NOTE: LINEAR is "linear, bilinear and trilinear": the innermost 3 dims at most.
            require(
                not changed or min(changed) >= len(shape) - 3,
                f"linear resize changes dims {changed} of {shape}; only the last 3 may change",
            )
        return [(out, dtypes[0])]

    def _source(self, length_in: int, length_out: int) -> np.ndarray:
        x = np.arange(length_out, dtype=np.float64)
        transform = self._p["coordinate_transformation"]
        if length_out == 1 and self._p["selector_for_single_pixel"] == ResizeSelector.UPPER:
            return np.zeros(1)
        if transform == ResizeCoordinateTransformation.ALIGN_CORNERS:
            return x * ((length_in - 1) / (length_out - 1) if length_out > 1 else 0.0)
        if transform == ResizeCoordinateTransformation.ASYMMETRIC:
            return x * (length_in / length_out)
        return (x + 0.5) * (length_in / length_out) - 0.5

    def _compute(self, xs: list[np.ndarray]) -> list[np.ndarray]:
        x = xs[0]
        (out_shape, _), mode = self._infer([x.shape], [DataType.FLOAT])[0], self._p["resize_mode"]
        if mode == InterpolationMode.CUBIC:
            raise EmulatorUnsupportedError("the emulator does not compute cubic resize")
        y = float_compute(x) if x.dtype.kind == "f" else x
        for axis, (n_in, n_out) in enumerate(zip(x.shape, out_shape, strict=True)):
            if n_in == n_out and self._p["coordinate_transformation"] != (
                ResizeCoordinateTransformation.ALIGN_CORNERS
            ):
                continue  # identity along this axis for every transformation but align-corners
            source = self._source(n_in, n_out)
            if mode == InterpolationMode.NEAREST:
                index = _ROUND[self._p["nearest_rounding"]](source)
                y = np.take(y, np.clip(index, 0, n_in - 1).astype(np.int64), axis=axis)
                continue
            source = np.clip(source, 0, n_in - 1)
            low = np.floor(source).astype(np.int64)
            high = np.minimum(low + 1, n_in - 1)
            shape = [1] * x.ndim
            shape[axis] = n_out
            frac = (source - low).reshape(shape).astype(np.float32)
            y = np.take(y, low, axis=axis) * (1 - frac) + np.take(y, high, axis=axis) * frac
        return [np.asarray(y, order="C").astype(x.dtype)]

"""Shape tensors: the build-time values of small int tensors computed from shapes, and the layer
inputs that take them in place of a property (a resize's output shape, a slice's size).

TensorRT folds shape tensors while it infers shapes: ``add_shape`` of a (-1, 3, -1, -1) tensor
holds (-1, 3, -1, -1), slices and concatenations of it keep the known entries, and a resize
whose shape input is that tensor has output dims (-1, 3, -1, -1). The emulator does the same:
``infer_with_values`` runs a layer's ``_infer`` with its shape inputs' values (-1: unknown
until run time) put in place of the properties they replace, and returns the values of the
layer's own outputs where they are shape tensors. At run time the values are concrete, and
``compute_with_values`` does the same substitution for ``_compute``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from trtdsl.emulator.enums import DataType
from trtdsl.emulator.layers.base import ILayer, LayerSpecError, Shape
from trtdsl.emulator.types import Dims, weights_array

Values = tuple[int, ...]
"""The entries of a 1-D (or scalar) int shape tensor; -1 where not known at build time."""

SHAPE_INPUTS: dict[str, dict[int, str]] = {
    "IResizeLayer": {1: "shape"},
    "ISliceLayer": {1: "start", 2: "shape", 3: "stride"},
}
"""Layer class -> {input index: the property that input replaces}."""

_INT_TYPES = (DataType.INT32, DataType.INT64)

_VALUES_LIMIT = 1 << 12
"""The longest int tensor whose values are followed: a shape input holds at most
``Dims.MAX_DIMS``, and a forged plan must not make inference build huge tuples."""


def _check_length(layer: ILayer, index: int, length: int) -> None:
    if length > Dims.MAX_DIMS:
        raise LayerSpecError(
            f"{type(layer).__name__} input {index} is a shape tensor of {length} entries; "
            f"at most {Dims.MAX_DIMS}"
        )


@contextmanager
def _substituted(layer: ILayer, values: Sequence[Values | None]) -> Iterator[int]:
    """The layer with each set shape input's value in place of its property (restored after);
    yields the number of inputs that are data (the first ones)."""
    slots = SHAPE_INPUTS.get(type(layer).__name__, {})
    data = min([i for i in slots if i < len(values)], default=len(values))
    saved = layer._p
    p = dict(saved)
    for index, key in slots.items():
        value = values[index] if index < len(values) else None
        if value is not None:
            _check_length(layer, index, len(value))
            p[key] = Dims(value)
            if key == "shape" and "scales" in p:
                p["scales"] = None
    layer._p = p
    try:
        yield data
    finally:
        layer._p = saved


def infer_with_values(
    layer: ILayer, shapes: list[Shape], dtypes: list[DataType], values: Sequence[Values | None]
) -> tuple[list[tuple[Shape, DataType]], list[Values | None]]:
    """``layer._infer`` on its data inputs with its shape inputs substituted, and the values of
    its outputs (None for outputs that are not shape tensors)."""
    values = _with_unknowns(layer, shapes, values)
    with _substituted(layer, values) as data:
        outs = layer._infer(shapes[:data], dtypes[:data])
        rule = _VALUE_RULES.get(type(layer).__name__)
        out_values = rule(layer, shapes, dtypes, values) if rule else None
    return outs, out_values or [None] * len(outs)


def validate_with_values(
    layer: ILayer, shapes: list[Shape], dtypes: list[DataType], values: Sequence[Values | None]
) -> None:
    """``layer._validate`` with its shape inputs substituted (as ``infer_with_values``)."""
    with _substituted(layer, _with_unknowns(layer, shapes, values)) as data:
        layer._validate(shapes[:data], dtypes[:data])


def compute_with_values(layer: ILayer, xs: list[np.ndarray]) -> list[np.ndarray]:
    """``layer._compute`` on its data inputs, with the run-time values of its shape inputs."""
    slots = SHAPE_INPUTS.get(type(layer).__name__, {})
    values: list[Values | None] = [
        tuple(int(v) for v in np.ravel(x)) if i in slots else None for i, x in enumerate(xs)
    ]
    with _substituted(layer, values) as data:
        return layer._compute(xs[:data])


def _with_unknowns(
    layer: ILayer, shapes: list[Shape], values: Sequence[Values | None]
) -> list[Values | None]:
    """Values per input; a shape input whose value is not known is all -1 (of its length)."""
    padded: list[Values | None] = list(values) + [None] * (len(shapes) - len(values))
    for index in SHAPE_INPUTS.get(type(layer).__name__, {}):
        if index < len(shapes) and padded[index] is None:
            shape = shapes[index]
            length = shape[0] if len(shape) == 1 and shape[0] >= 0 else 0
            _check_length(layer, index, length)
            padded[index] = (-1,) * length
    return padded


# -- layers whose outputs are shape tensors ------------------------------------------------------

ValueRule = Callable[[Any, list[Shape], list[DataType], list[Values | None]], list[Values | None]]


def _shape_values(
    layer: Any, shapes: list[Shape], dtypes: list[DataType], values: list[Values | None]
) -> list[Values | None]:
    return [tuple(int(d) for d in shapes[0])]


def _constant_values(
    layer: Any, shapes: list[Shape], dtypes: list[DataType], values: list[Values | None]
) -> list[Values | None]:
    weights = layer._w["weights"]
    if weights.dtype not in _INT_TYPES or len(layer._p["shape"]) > 1:
        return [None]
    if weights.size > _VALUES_LIMIT:
        return [None]
    return [tuple(int(v) for v in np.ravel(weights_array(weights)))]


def _slice_values(
    layer: Any, shapes: list[Shape], dtypes: list[DataType], values: list[Values | None]
) -> list[Values | None]:
    source = values[0]
    p = layer._p
    if len(shapes[0]) != 1 or dtypes[0] not in _INT_TYPES:
        return [None]
    length = p["shape"][0]
    if length > _VALUES_LIMIT:
        return [None]
    if source is None or length < 0 or any(v < 0 for v in (*p["start"], *p["stride"])):
        return [(-1,) * length] if length >= 0 else [None]
    start, stride = p["start"][0], p["stride"][0]
    picked = [start + i * stride for i in range(length)]
    if any(not 0 <= j < len(source) for j in picked):
        return [None]
    return [tuple(source[j] for j in picked)]


def _concat_values(
    layer: Any, shapes: list[Shape], dtypes: list[DataType], values: list[Values | None]
) -> list[Values | None]:
    if any(len(s) != 1 or s[0] < 0 for s in shapes) or dtypes[0] not in _INT_TYPES:
        return [None]
    if sum(s[0] for s in shapes) > _VALUES_LIMIT:
        return [None]
    joined: list[int] = []
    for shape, value in zip(shapes, values, strict=True):
        joined.extend(value if value is not None else (-1,) * shape[0])
    return [tuple(joined)]


_VALUE_RULES: dict[str, ValueRule] = {
    "IShapeLayer": _shape_values,
    "IConstantLayer": _constant_values,
    "ISliceLayer": _slice_values,
    "IConcatenationLayer": _concat_values,
}
"""Layer class -> the values of its outputs from its inputs' shapes and values."""

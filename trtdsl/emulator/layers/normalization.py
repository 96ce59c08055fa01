"""INormalizationLayer: (x - mean) / sqrt(var + epsilon) * scale + bias over bitmask axes."""

from __future__ import annotations

import numpy as np

from trtdsl import kernels
from trtdsl.emulator.enums import DataType, LayerType
from trtdsl.emulator.layers.base import (
    ILayer,
    Shape,
    axes_from_mask,
    dyn,
    float_compute,
    require,
    require_float,
    value_property,
)
from trtdsl.emulator.layers.fields import BOOL, PlanField
from trtdsl.emulator.types import EmulatorUnsupportedError


class INormalizationLayer(ILayer):
    """Normalization of input 0 over the ``axes`` bitmask with scale (input 1) and bias
    (input 2), tensors of the input's rank that broadcast to it. Mean and biased variance are
    computed in float32. ``num_groups`` > 1 (GroupNorm) is not emulated. ``is_v2`` tells
    ``add_normalization_v2`` from the deprecated ``add_normalization``.
    """

    _TYPE = LayerType.NORMALIZATION
    _TYPE_NAME = "Normalization"
    _MAX_INPUTS = 3
    _MIN_INPUTS = 3
    _FIELDS = (PlanField("is_v2", BOOL),)

    epsilon = value_property("epsilon", float, "Added to the variance. Default: 1e-5.")
    axes = value_property("axes", int, "Bitmask of the normalized dims.")
    num_groups = value_property("num_groups", int, "Groups of channels. Default: 1.")

    @property
    def is_v2(self) -> bool:
        """Whether the layer was made by ``add_normalization_v2``."""
        return bool(self._p["is_v2"])

    def _infer(self, shapes: list[Shape], dtypes: list[DataType]) -> list[tuple[Shape, DataType]]:
        (x, scale, bias), p = shapes, self._p
        require_float(dtypes[0], "normalization input")
        require(
            dtypes[1] == dtypes[0] and dtypes[2] == dtypes[0],
            f"normalization scale and bias must be {dtypes[0]}, got {dtypes[1]}, {dtypes[2]}",
        )
        axes_from_mask(p["axes"], len(x), "normalization")
        for name, t in (("scale", scale), ("bias", bias)):
            require(len(t) == len(x), f"normalization {name} {t} must have the rank of {x}")
            for a, b in zip(t, x, strict=True):
                require(a in (1, b) or dyn(a, b), f"normalization {name} {t} does not fit {x}")
        return [(x, dtypes[0])]

    def _compute(self, xs: list[np.ndarray]) -> list[np.ndarray]:
        if self._p["num_groups"] != 1:
            raise EmulatorUnsupportedError("the emulator does not compute grouped normalization")
        axes = axes_from_mask(self._p["axes"], xs[0].ndim, "normalization")
        rank, count = xs[0].ndim, len(axes)
        trailing = tuple(range(rank - count, rank))
        if tuple(sorted(axes)) == trailing and all(
            a.shape[: rank - count] == (1,) * (rank - count)
            and a.shape[rank - count :] in (xs[0].shape[rank - count :], (1,) * count)
            for a in xs[1:]
        ):  # a layer norm: the kernel (the same float32 formula, row by row)
            shape = xs[0].shape[rank - count :]
            scale, bias = (
                np.broadcast_to(float_compute(a), (1,) * (rank - count) + shape) for a in xs[1:]
            )
            y = kernels.layer_norm(
                xs[0], scale.reshape(shape), bias.reshape(shape), self._p["epsilon"], count
            )
            return [y]
        x, scale, bias = (float_compute(a) for a in xs)
        mean = x.mean(axis=axes, keepdims=True)
        var = np.square(x - mean).mean(axis=axes, keepdims=True)
        y = (x - mean) / np.sqrt(var + np.float32(self._p["epsilon"])) * scale + bias
        return [np.asarray(y, dtype=xs[0].dtype, order="C")]

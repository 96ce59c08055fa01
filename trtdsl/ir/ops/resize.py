"""Spatial resizing: ``interpolate``, as ``torch.nn.functional.interpolate`` (NCHW). MACs: 0."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from trtdsl.errors import OpArgumentError, ShapeError
from trtdsl.ir.ops.base import (
    Op,
    _is_finite,
    _is_int,
    check_choice,
    expect_float,
    expect_rank,
    register_op,
)
from trtdsl.ir.symbolic import dim_mul
from trtdsl.ir.types import Dim, TensorType
from trtdsl.kernels.resize import interpolate


def _pair_of(op: Op, name: str, value: object, kind: type) -> None:
    """Validate an int-or-pair (``kind`` int, >= 1) or number-or-pair (float, > 0) attribute
    that may be None; stores it as a pair."""
    if value is None:
        return
    items: list[object] = list(value) if isinstance(value, (list, tuple)) else [value, value]
    numbers = [
        float(v)
        for v in items
        if isinstance(v, (int, float, np.integer, np.floating))
        and not isinstance(v, bool)
        and _is_finite(v)
    ]
    ok = len(items) == 2 and len(numbers) == 2
    if kind is int:
        ok = ok and all(_is_int(v) for v in items) and min(numbers, default=0) >= 1
    else:
        ok = ok and all(math.isfinite(v) and v > 0 for v in numbers)
    if not ok:
        what = "ints >= 1" if kind is int else "positive numbers"
        raise OpArgumentError(f"{op.op_name}: {name} must be one or two {what}, got {value!r}")
    pair = (int(numbers[0]), int(numbers[1])) if kind is int else (numbers[0], numbers[1])
    object.__setattr__(op, name, pair)


@register_op
@dataclass(frozen=True)
class Interpolate(Op):
    """Resize H and W, as ``torch.nn.functional.interpolate`` on (N, C, H, W).

    The output size is one of:

    - ``size`` (an int or (h, w)): a static size;
    - ``scale_factor`` (a number or pair): ``floor(H * scale_factor)``; coordinates map with
      1/scale_factor as in PyTorch (``recompute_scale_factor=None``). A symbolic H needs an
      integer factor;
    - a second input ``like``: its last two dimensions (``size=like.shape[-2:]``, the way
      torchvision's segmentation heads return to the input's size), symbolic or not.

    ``mode``: ``"nearest"`` (source index floor(dst * H / Ho)) or ``"bilinear"``
    (``align_corners`` False: half-pixel centres; True: corners aligned). ``align_corners``
    applies to bilinear only (None means False). No weights.
    Example: FCN's head output (N, 21, (H+7)//8, (W+7)//8) with ``inputs: [head, x]`` ->
    (N, 21, H, W).
    """

    op_name = "interpolate"
    arity = None

    size: int | tuple[int, int] | None = None
    scale_factor: float | tuple[float, float] | None = None
    mode: str = "nearest"
    align_corners: bool | None = None

    def __post_init__(self) -> None:
        check_choice(self, "mode", ("nearest", "bilinear"))
        _pair_of(self, "size", self.size, int)
        _pair_of(self, "scale_factor", self.scale_factor, float)
        if self.size is not None and self.scale_factor is not None:
            raise OpArgumentError("interpolate: give size or scale_factor, not both")
        if self.align_corners is not None:
            if not isinstance(self.align_corners, bool):
                raise OpArgumentError(
                    f"interpolate: align_corners must be true, false or null, "
                    f"got {self.align_corners!r}"
                )
            if self.mode == "nearest":
                # PyTorch: "align_corners option can only be set with the interpolating modes".
                raise OpArgumentError("interpolate: align_corners applies to mode 'bilinear' only")

    @property
    def corners(self) -> bool:
        """``align_corners`` resolved (None is False)."""
        return bool(self.align_corners)

    def infer(self, inputs: Sequence[TensorType]) -> TensorType:
        x = inputs[0]
        expect_rank(self, x, 4, "NCHW input")
        expect_float(self, x)
        given = sum(v is not None for v in (self.size, self.scale_factor))
        if len(inputs) > 2:
            raise ShapeError(f"interpolate: expected 1 or 2 inputs, got {len(inputs)}")
        if len(inputs) == 2:
            if given:
                raise ShapeError(
                    "interpolate: a second input gives the output size; do not also give "
                    "size or scale_factor"
                )
            like = inputs[1]
            if like.rank < 2:
                raise ShapeError(f"interpolate: the size input must have rank >= 2, got {like}")
            out: tuple[Dim, Dim] = (like.shape[-2], like.shape[-1])
        elif not given:
            raise ShapeError("interpolate: give size, scale_factor or a second input")
        elif self.size is not None:
            out = self.size  # type: ignore[assignment]
        else:
            out = (self._scaled(x, 2), self._scaled(x, 3))
        return x.with_shape((x.shape[0], x.shape[1], *out))

    def _scaled(self, x: TensorType, axis: int) -> Dim:
        factor = self.scale_factor[axis - 2]  # type: ignore[index]
        size = x.shape[axis]
        if isinstance(size, int):
            out = math.floor(size * factor)
            if out < 1:
                raise ShapeError(f"interpolate: scale_factor {factor} gives an empty output of {x}")
            return out
        if factor != int(factor):
            raise ShapeError(
                f"interpolate: scale_factor {factor} of symbolic size {size!r} in {x}: only "
                f"integer factors keep a symbolic size exact"
            )
        return dim_mul(size, int(factor))

    def reference(
        self, inputs: Sequence[np.ndarray], params: Mapping[str, np.ndarray]
    ) -> np.ndarray:
        x = inputs[0]
        scales: tuple[float, float] | None = None
        if len(inputs) == 2:
            out_hw = (int(inputs[1].shape[-2]), int(inputs[1].shape[-1]))
        elif self.size is not None:
            out_hw = self.size  # type: ignore[assignment]
        else:
            scales = self.scale_factor  # type: ignore[assignment]
            assert scales is not None
            out_hw = (math.floor(x.shape[2] * scales[0]), math.floor(x.shape[3] * scales[1]))
        return interpolate(x, out_hw, self.mode, self.corners, scales)

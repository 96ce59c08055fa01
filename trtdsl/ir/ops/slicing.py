"""Slicing ops along one axis: ``narrow`` (one contiguous range, as ``torch.narrow``),
``select`` (one index, axis removed) and ``slice`` (Python's ``start:end:step``).

``x.chunk(k, dim)`` and ``x.split(size, dim)`` are written as one ``narrow`` per piece (each
node has one output, so each piece keeps its own name). MACs: 0.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from trtdsl.errors import BackendError, ShapeError
from trtdsl.ir.ops.base import Op, check_int, normalize_axis, register_op
from trtdsl.ir.types import TensorType


@register_op
@dataclass(frozen=True)
class Narrow(Op):
    """Elements ``start .. start + length - 1`` of axis ``dim``, as ``torch.narrow``.

    Input (d0, ..., d[dim], ..., dn) -> (d0, ..., length, ..., dn). ``dim`` may be negative;
    ``start`` is >= 0 (torch's negative start is not accepted); ``length`` >= 1. The sliced
    axis must be static and ``start + length`` at most its size; other axes may be symbolic.
    Example: ShuffleNetV2's ``x1, x2 = x.chunk(2, dim=1)`` on (N, 116, 28, 28) is
    ``narrow(dim=1, start=0, length=58)`` and ``narrow(dim=1, start=58, length=58)``.
    No weights.
    """

    op_name = "narrow"

    dim: int
    start: int
    length: int

    def __post_init__(self) -> None:
        check_int(self, "dim")
        check_int(self, "start", 0)
        check_int(self, "length", 1)

    def axis(self, rank: int) -> int:
        """``dim`` mapped into [0, rank)."""
        return normalize_axis(self, self.dim, rank, "dim")

    def infer(self, inputs: Sequence[TensorType]) -> TensorType:
        x = inputs[0]
        if x.rank == 0:
            raise ShapeError(f"narrow: expected an input of rank >= 1, got {x}")
        axis = self.axis(x.rank)
        size = x.shape[axis]
        if not isinstance(size, int):
            raise ShapeError(
                f"narrow: cannot slice symbolic dimension {size!r} (axis {axis}) of {x}; "
                f"the sliced axis must be static"
            )
        if self.start + self.length > size:
            raise ShapeError(
                f"narrow: start {self.start} + length {self.length} exceeds size {size} of "
                f"axis {axis} of {x}"
            )
        return x.with_shape((*x.shape[:axis], self.length, *x.shape[axis + 1 :]))

    def reference(
        self, inputs: Sequence[np.ndarray], params: Mapping[str, np.ndarray]
    ) -> np.ndarray:
        x = inputs[0]
        index = [slice(None)] * x.ndim
        index[self.axis(x.ndim)] = slice(self.start, self.start + self.length)
        return np.ascontiguousarray(x[tuple(index)])


@register_op
@dataclass(frozen=True)
class Select(Op):
    """Element ``index`` of axis ``dim``, that axis removed, as ``torch.select(x, dim, index)``
    (``x[:, 0]`` is ``select(dim=1, index=0)``).

    A negative ``index`` counts from the end and needs a static axis; with ``index >= 0`` the
    axis may be symbolic (an index beyond its run-time size is an error of the reference, as
    TensorRT's gather does not check it); other axes may be symbolic. Examples: ViT's
    class-token output ``x[:, 0]`` on (N, 197, 768) -> (N, 768); BERT's pooler input
    ``hidden_states[:, 0]`` on (N, L, 768) with a dynamic L -> (N, 768). No weights.
    """

    op_name = "select"

    dim: int
    index: int

    def __post_init__(self) -> None:
        check_int(self, "dim")
        check_int(self, "index")

    def position(self, x: TensorType) -> tuple[int, int]:
        """(axis, non-negative index) for input ``x``."""
        if x.rank == 0:
            raise ShapeError(f"select: expected an input of rank >= 1, got {x}")
        axis = normalize_axis(self, self.dim, x.rank, "dim")
        size = x.shape[axis]
        if not isinstance(size, int):
            if self.index < 0:
                raise ShapeError(
                    f"select: a negative index ({self.index}) counts from the end of a static "
                    f"axis; axis {axis} of {x} is symbolic ({size!r}): use an index >= 0"
                )
            return axis, self.index
        if not -size <= self.index < size:
            raise ShapeError(f"select: index {self.index} out of range for axis {axis} of {x}")
        return axis, self.index % size

    def infer(self, inputs: Sequence[TensorType]) -> TensorType:
        x = inputs[0]
        axis, _ = self.position(x)
        return x.with_shape((*x.shape[:axis], *x.shape[axis + 1 :]))

    def reference(
        self, inputs: Sequence[np.ndarray], params: Mapping[str, np.ndarray]
    ) -> np.ndarray:
        x = inputs[0]
        size = x.shape[self.dim]  # a symbolic axis is checked here, at its run-time size
        if not -size <= self.index < size:
            raise BackendError(
                f"select: index {self.index} is out of range for axis {self.dim % x.ndim} of "
                f"size {size} (valid: 0..{size - 1})"
            )
        # np.array, not ascontiguousarray: selecting from a rank-1 input gives rank 0.
        return np.array(np.take(x, self.index, axis=self.dim), order="C")


@register_op
@dataclass(frozen=True)
class Slice(Op):
    """Python slicing ``start:end:step`` along ``dim``, as ``x[..., start:end:step]``
    (``torch.Tensor.__getitem__`` with one slice).

    ``start`` and ``end`` may be negative (from the end) or null (the axis's ends) and are
    clamped to the axis as in Python; ``step`` >= 1. The sliced axis must be static; other axes
    may be symbolic. The result may not be empty. No weights.
    """

    op_name = "slice"

    dim: int
    start: int | None = None
    end: int | None = None
    step: int = 1

    def __post_init__(self) -> None:
        check_int(self, "dim")
        for name in ("start", "end"):
            if getattr(self, name) is not None:
                check_int(self, name)
        check_int(self, "step", 1)

    def bounds(self, x: TensorType) -> tuple[int, int, int]:
        """(axis, first index, number of elements) for input ``x``."""
        if x.rank == 0:
            raise ShapeError(f"slice: expected an input of rank >= 1, got {x}")
        axis = normalize_axis(self, self.dim, x.rank, "dim")
        size = x.shape[axis]
        if not isinstance(size, int):
            raise ShapeError(f"slice: axis {axis} of {x} must be static, got {size!r}")
        indices = range(size)[slice(self.start, self.end, self.step)]
        if not len(indices):
            raise ShapeError(
                f"slice: {self.start}:{self.end}:{self.step} of axis {axis} of {x} is empty"
            )
        return axis, indices.start, len(indices)

    def infer(self, inputs: Sequence[TensorType]) -> TensorType:
        x = inputs[0]
        axis, _, length = self.bounds(x)
        return x.with_shape((*x.shape[:axis], length, *x.shape[axis + 1 :]))

    def reference(
        self, inputs: Sequence[np.ndarray], params: Mapping[str, np.ndarray]
    ) -> np.ndarray:
        x = inputs[0]
        index = [slice(None)] * x.ndim
        index[self.dim % x.ndim] = slice(self.start, self.end, self.step)
        return np.ascontiguousarray(x[tuple(index)])

"""Shape ops: flatten, reshape, permute, transpose, expand, concat, and the inference no-ops
identity and dropout.

Symbolic (named) dimensions pass through where the op only moves them; an op that would have
to compute with one (flatten across it, reshape's -1 absorbing it, concat along it) raises a
ShapeError saying so. MACs: shape ops count 0.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from trtdsl.errors import OpArgumentError, ShapeError
from trtdsl.ir.ops.base import (
    Op,
    _is_int,
    check_float,
    check_int,
    check_int_tuple,
    normalize_axis,
    register_op,
)
from trtdsl.ir.types import Dim, TensorType


@register_op
@dataclass(frozen=True)
class Flatten(Op):
    """Merge dims start_dim..end_dim into one, as ``torch.flatten``.

    Input (d0, ..., dn) -> (d0, ..., d[start-1], prod(d[start..end]), d[end+1], ...).
    Merging a symbolic dimension with others is a ShapeError. No weights.
    """

    op_name = "flatten"

    start_dim: int = 1
    end_dim: int = -1

    def __post_init__(self) -> None:
        check_int(self, "start_dim")
        check_int(self, "end_dim")

    def _range(self, x: TensorType) -> tuple[int, int]:
        rank = max(x.rank, 1)  # torch treats a scalar as rank 1 here
        start = normalize_axis(self, self.start_dim, rank, "start_dim")
        end = normalize_axis(self, self.end_dim, rank, "end_dim")
        if start > end:
            raise ShapeError(
                f"flatten: start_dim {self.start_dim} comes after end_dim {self.end_dim} "
                f"for input {x}"
            )
        return start, end

    def infer(self, inputs: Sequence[TensorType]) -> TensorType:
        x = inputs[0]
        if x.rank == 0:
            self._range(x)
            return x.with_shape((1,))
        start, end = self._range(x)
        merged = x.shape[start : end + 1]
        if len(merged) == 1:
            return x
        symbols = [d for d in merged if isinstance(d, str)]
        if symbols:
            raise ShapeError(
                f"flatten: cannot merge symbolic dimension(s) {symbols} of {x} "
                f"(dims {start}..{end}); flatten only static dimensions"
            )
        size = math.prod(d for d in merged if isinstance(d, int))
        return x.with_shape((*x.shape[:start], size, *x.shape[end + 1 :]))

    def reference(
        self, inputs: Sequence[np.ndarray], params: Mapping[str, np.ndarray]
    ) -> np.ndarray:
        x = inputs[0]
        if x.ndim == 0:
            return x.reshape(1)
        start = self.start_dim % x.ndim
        end = self.end_dim % x.ndim
        merged = math.prod(x.shape[start : end + 1])
        return x.reshape(*x.shape[:start], merged, *x.shape[end + 1 :])


@register_op
@dataclass(frozen=True)
class Reshape(Op):
    """View the input with another shape of the same element count, as ``torch.reshape``.

    ``shape`` entries: an int >= 1; ``-1`` (at most once) for the size that keeps the element
    count; or the name of a symbolic dimension, which must be the input's dimension at the same
    position (it is copied, like TensorRT's and ONNX's ``0`` placeholder; where that dimension
    has been made static, e.g. by ``--shape``, its size is copied). ``-1`` may not absorb
    a symbolic dimension, and every symbolic input dimension must be kept that way.
    Example: (N, 512, 1, 1) with ``shape=["N", -1]`` -> (N, 512). No weights.
    """

    op_name = "reshape"

    shape: tuple[int | str, ...]

    def __post_init__(self) -> None:
        value = self.shape
        if isinstance(value, (str, int)) and not isinstance(value, bool):
            value = (value,)
        if not isinstance(value, (list, tuple)):
            raise OpArgumentError(
                f"reshape: shape must be a list of ints, -1 or dimension names, got {value!r}"
            )
        entries: list[int | str] = []
        for v in value:
            if isinstance(v, str) and v.isidentifier():
                entries.append(v)
            elif _is_int(v) and (int(v) >= 1 or int(v) == -1):
                entries.append(int(v))
            else:
                raise OpArgumentError(
                    f"reshape: shape entries must be ints >= 1, -1 or dimension names, "
                    f"got {v!r} in {value!r}"
                )
        if entries.count(-1) > 1:
            raise OpArgumentError(f"reshape: -1 may appear at most once, got {value!r}")
        object.__setattr__(self, "shape", tuple(entries))

    def infer(self, inputs: Sequence[TensorType]) -> TensorType:
        x = inputs[0]
        kept: set[int] = set()
        copied: dict[int, int] = {}
        for i, d in enumerate(self.shape):
            if isinstance(d, str):
                if i < x.rank and isinstance(x.shape[i], int) and d not in x.shape:
                    # The dimension was made static (``--shape x=1x3x640x640`` on a model
                    # declared with N, which then appears nowhere): the name copies it, as
                    # ONNX's 0. A name the input still has elsewhere is a misplaced symbol.
                    copied[i] = x.shape[i]  # type: ignore[assignment]
                    kept.add(i)
                    continue
                if i >= x.rank or x.shape[i] != d:
                    found = x.shape[i] if i < x.rank else "nothing"
                    raise ShapeError(
                        f"reshape: symbolic size {d!r} at position {i} must be the input's "
                        f"dimension {i}, but input {x} has {found!r} there"
                    )
                kept.add(i)
        dropped = [d for i, d in enumerate(x.shape) if isinstance(d, str) and i not in kept]
        if dropped:
            how = "-1 cannot absorb" if -1 in self.shape else "the new shape does not keep"
            raise ShapeError(
                f"reshape: {how} symbolic dimension(s) {dropped} of input {x}; "
                f"keep them by name at the same position"
            )
        static_in = math.prod(
            d for i, d in enumerate(x.shape) if i not in kept and isinstance(d, int)
        )
        static_out = math.prod(d for d in self.shape if isinstance(d, int) and d != -1)
        out: list[Dim] = [copied.get(i, d) for i, d in enumerate(self.shape)]
        if -1 in self.shape:
            if static_in % static_out:
                raise ShapeError(
                    f"reshape: cannot reshape {x} into {list(self.shape)}: "
                    f"{static_in} elements do not divide by {static_out}"
                )
            out[self.shape.index(-1)] = static_in // static_out
        elif static_in != static_out:
            raise ShapeError(
                f"reshape: cannot reshape {x} ({static_in} elements) into {list(self.shape)} "
                f"({static_out} elements)"
            )
        return x.with_shape(tuple(out))

    def reference(
        self, inputs: Sequence[np.ndarray], params: Mapping[str, np.ndarray]
    ) -> np.ndarray:
        x = inputs[0]
        shape = [x.shape[i] if isinstance(d, str) else d for i, d in enumerate(self.shape)]
        return x.reshape(shape)


@register_op
@dataclass(frozen=True)
class Permute(Op):
    """Reorder axes, as ``torch.permute``: output axis i is input axis ``dims[i]``.

    ``dims`` is a permutation of range(rank) (negative axes count from the end). No weights.
    """

    op_name = "permute"

    dims: tuple[int, ...]

    def __post_init__(self) -> None:
        check_int_tuple(self, "dims")

    def _axes(self, rank: int) -> tuple[int, ...]:
        if len(self.dims) != rank:
            raise ShapeError(
                f"permute: dims {list(self.dims)} has {len(self.dims)} entries, "
                f"expected one per axis of the rank-{rank} input"
            )
        axes = tuple(normalize_axis(self, d, rank, "dim") for d in self.dims)
        if sorted(axes) != list(range(rank)):
            raise ShapeError(
                f"permute: dims {list(self.dims)} is not a permutation of 0..{rank - 1}"
            )
        return axes

    def infer(self, inputs: Sequence[TensorType]) -> TensorType:
        x = inputs[0]
        axes = self._axes(x.rank)
        return x.with_shape(tuple(x.shape[a] for a in axes))

    def reference(
        self, inputs: Sequence[np.ndarray], params: Mapping[str, np.ndarray]
    ) -> np.ndarray:
        x = inputs[0]
        result: np.ndarray = np.transpose(x, self._axes(x.ndim)).copy()
        return result


@register_op
@dataclass(frozen=True)
class Concat(Op):
    """Join one or more inputs along ``dim``, as ``torch.cat``.

    Inputs: same dtype and rank, equal sizes except along ``dim``, where sizes must be static
    (they are summed). Output size along ``dim`` is the sum. No weights.
    """

    op_name = "concat"
    arity = None

    dim: int = 1

    def __post_init__(self) -> None:
        check_int(self, "dim")

    def infer(self, inputs: Sequence[TensorType]) -> TensorType:
        first = inputs[0]
        if first.rank == 0:
            raise ShapeError(f"concat: inputs must have rank >= 1, got {first}")
        axis = normalize_axis(self, self.dim, first.rank, "dim")
        total = 0
        for i, t in enumerate(inputs):
            if t.dtype != first.dtype:
                raise ShapeError(
                    f"concat: input {i} has dtype {t.dtype}, expected {first.dtype} "
                    f"like input 0; insert a cast"
                )
            if t.rank != first.rank:
                raise ShapeError(
                    f"concat: input {i} has rank {t.rank} ({t}), expected rank {first.rank}"
                )
            for a, (d, d0) in enumerate(zip(t.shape, first.shape, strict=True)):
                if a != axis and d != d0:
                    raise ShapeError(
                        f"concat: input {i} {t} differs from input 0 {first} at axis {a} "
                        f"({d!r} vs {d0!r}); only axis {axis} may differ"
                    )
            size = t.shape[axis]
            if not isinstance(size, int):
                raise ShapeError(
                    f"concat: cannot concatenate along symbolic dimension {size!r} of input {i} {t}"
                )
            total += size
        return first.with_shape((*first.shape[:axis], total, *first.shape[axis + 1 :]))

    def reference(
        self, inputs: Sequence[np.ndarray], params: Mapping[str, np.ndarray]
    ) -> np.ndarray:
        return np.concatenate(list(inputs), axis=self.dim)


@register_op
@dataclass(frozen=True)
class Identity(Op):
    """Returns its input unchanged, as ``torch.nn.Identity``. Any type; no weights."""

    op_name = "identity"
    is_noop = True

    def infer(self, inputs: Sequence[TensorType]) -> TensorType:
        return inputs[0]

    def reference(
        self, inputs: Sequence[np.ndarray], params: Mapping[str, np.ndarray]
    ) -> np.ndarray:
        return inputs[0]


@register_op
@dataclass(frozen=True)
class Dropout(Op):
    """Dropout at inference: the identity, as ``torch.nn.Dropout`` in eval mode.

    ``p`` (0 <= p <= 1) is kept only so that models round-trip. Any type; no weights.
    """

    op_name = "dropout"
    is_noop = True

    p: float = 0.5

    def __post_init__(self) -> None:
        p = check_float(self, "p")
        if not 0.0 <= p <= 1.0:
            raise OpArgumentError(f"dropout: p must be between 0 and 1, got {p}")

    def infer(self, inputs: Sequence[TensorType]) -> TensorType:
        return inputs[0]

    def reference(
        self, inputs: Sequence[np.ndarray], params: Mapping[str, np.ndarray]
    ) -> np.ndarray:
        return inputs[0]


@register_op
@dataclass(frozen=True)
class Transpose(Op):
    """Swap two axes, as ``torch.transpose(x, dim0, dim1)`` (negative axes count from the end).

    Example: (N, 768, 196) with ``dim0=1, dim1=2`` -> (N, 196, 768). No weights.
    """

    op_name = "transpose"

    dim0: int
    dim1: int

    def __post_init__(self) -> None:
        check_int(self, "dim0")
        check_int(self, "dim1")

    def permutation(self, rank: int) -> tuple[int, ...]:
        """The equivalent ``permute`` dims for a rank-``rank`` input."""
        a = normalize_axis(self, self.dim0, rank, "dim0")
        b = normalize_axis(self, self.dim1, rank, "dim1")
        axes = list(range(rank))
        axes[a], axes[b] = axes[b], axes[a]
        return tuple(axes)

    def infer(self, inputs: Sequence[TensorType]) -> TensorType:
        x = inputs[0]
        axes = self.permutation(max(x.rank, 1))  # torch treats a scalar as rank 1 here
        return x if x.rank == 0 else x.with_shape(tuple(x.shape[a] for a in axes))

    def reference(
        self, inputs: Sequence[np.ndarray], params: Mapping[str, np.ndarray]
    ) -> np.ndarray:
        x = inputs[0]
        if x.ndim == 0:
            return np.array(x)
        return np.ascontiguousarray(np.transpose(x, self.permutation(x.ndim)))


@register_op
@dataclass(frozen=True)
class Expand(Op):
    """Broadcast size-1 axes to ``sizes``, as ``torch.Tensor.expand(*sizes)``.

    ``sizes`` has one entry per output axis (at least the input's rank; extra leading axes are
    new): an int, ``-1`` (keep the input's size; not for new axes), or a symbolic dimension
    name, whose size is that of the same axis of the optional second input ``like`` (of the
    output's rank). Only size-1 axes may change. ViT's ``class_token.expand(n, -1, -1)`` with
    ``n = x.shape[0]`` is ``expand(class_token, x, sizes=[N, -1, -1])``. No weights.
    """

    op_name = "expand"
    arity = None

    sizes: tuple[int | str, ...]

    def __post_init__(self) -> None:
        value = self.sizes
        if isinstance(value, (int, str)) and not isinstance(value, bool):
            value = (value,)
        if not isinstance(value, (list, tuple)) or not value:
            raise OpArgumentError(f"expand: sizes must be a list, got {self.sizes!r}")
        entries: list[int | str] = []
        for v in value:
            if isinstance(v, str) and v.isidentifier():
                entries.append(v)
            elif _is_int(v) and (int(v) >= 1 or int(v) == -1):
                entries.append(int(v))
            else:
                raise OpArgumentError(
                    f"expand: sizes entries must be ints >= 1, -1 or dimension names, "
                    f"got {v!r} in {value!r}"
                )
        object.__setattr__(self, "sizes", tuple(entries))

    def infer(self, inputs: Sequence[TensorType]) -> TensorType:
        if len(inputs) > 2:
            raise ShapeError(f"expand: expected 1 or 2 inputs, got {len(inputs)}")
        x = inputs[0]
        new = len(self.sizes) - x.rank
        if new < 0:
            raise ShapeError(
                f"expand: sizes {list(self.sizes)} have fewer entries than {x} has axes"
            )
        out: list[Dim] = []
        for i, size in enumerate(self.sizes):
            current: Dim | None = x.shape[i - new] if i >= new else None
            if isinstance(size, str):
                like = inputs[1] if len(inputs) == 2 else None
                if (
                    like is not None
                    and like.rank == len(self.sizes)
                    and isinstance(like.shape[i], int)
                    and size not in like.shape
                ):
                    # The dimension was made static (``--shape x=1x3x224x224`` on a model
                    # declared with N): the name takes the second input's size, as reshape does.
                    size = like.shape[i]
                elif like is None or like.rank != len(self.sizes) or like.shape[i] != size:
                    raise ShapeError(
                        f"expand: symbolic size {size!r} at axis {i} needs a second input of "
                        f"rank {len(self.sizes)} with {size!r} at axis {i}, got "
                        f"{like if like is not None else 'none'}"
                    )
            if size == -1:
                if current is None:
                    raise ShapeError(f"expand: -1 is not allowed for the new axis {i}")
                out.append(current)
                continue
            if current is not None and current != 1 and current != size:
                raise ShapeError(
                    f"expand: axis {i - new} of {x} has size {current!r}, which cannot expand "
                    f"to {size!r} (only size-1 axes expand)"
                )
            out.append(size)
        return x.with_shape(tuple(out))

    def reference(
        self, inputs: Sequence[np.ndarray], params: Mapping[str, np.ndarray]
    ) -> np.ndarray:
        x = inputs[0]
        new = len(self.sizes) - x.ndim
        target = [
            inputs[1].shape[i]
            if isinstance(size, str)
            else x.shape[i - new]
            if size == -1
            else size
            for i, size in enumerate(self.sizes)
        ]
        return np.ascontiguousarray(np.broadcast_to(x, tuple(target)))

"""Ops that pick elements by integer indices held in a tensor: ``embedding`` (rows of a
weight, as ``torch.nn.Embedding``), ``index_select`` and ``gather``.

Indices are int32 or int64 and must lie in ``[0, size)`` of the indexed axis (PyTorch refuses
negative ones too). The reference raises for any other index, naming it; TensorRT's gather
layer does not check its indices (an out-of-range one reads undefined memory), so trtdsl
checks them where it can: the reference, and integer input ranges declared on the model.
MACs: 0.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from trtdsl.errors import BackendError, OpArgumentError, ShapeError
from trtdsl.ir.ops.base import Op, ParamSpec, check_int, normalize_axis, register_op
from trtdsl.ir.types import DType, TensorType

INDEX_DTYPES = (DType.INT32, DType.INT64)
"""The dtypes an index tensor may have."""


def expect_indices(op: Op, t: TensorType, what: str = "indices") -> None:
    """ShapeError unless ``t`` holds int32 or int64 indices."""
    if t.dtype not in INDEX_DTYPES:
        raise ShapeError(f"{op.op_name}: {what} must be int32 or int64, got {t}")


def check_indices(op: Op, indices: np.ndarray, size: int, what: str) -> None:
    """BackendError naming the first index outside ``[0, size)`` (``what`` says which axis)."""
    bad = (indices < 0) | (indices >= size)
    if bad.any():
        position = tuple(int(i) for i in np.argwhere(bad)[0])
        value = int(indices[position])
        raise BackendError(
            f"{op.op_name}: index {value} at position {list(position)} is out of range for "
            f"{what} of size {size} (valid: 0..{size - 1})"
        )


@register_op
@dataclass(frozen=True)
class Embedding(Op):
    """Rows of ``weight`` picked by integer ids, as ``torch.nn.Embedding`` (eval).

    Input: ids of any shape (*), int32 or int64, each in [0, num_embeddings) -> output
    (*, embedding_dim) float32. An id outside that range is an error of the reference, which
    names the node and the id (TensorRT's gather does not check it). ``padding_idx`` only
    matters in training (its row gets no gradient) and is kept so that models round-trip.
    Example: BERT's ``embeddings.word_embeddings`` (30522 x 768) on ``input_ids`` (N, L) ->
    (N, L, 768). The table keeps float32 in half-precision builds; its readers cast.

    Weight: ``weight`` (num_embeddings, embedding_dim).
    """

    op_name = "embedding"

    num_embeddings: int
    embedding_dim: int
    padding_idx: int | None = None

    def __post_init__(self) -> None:
        check_int(self, "num_embeddings", 1)
        check_int(self, "embedding_dim", 1)
        if self.padding_idx is not None:
            index = check_int(self, "padding_idx")
            if not -self.num_embeddings <= index < self.num_embeddings:
                raise OpArgumentError(
                    f"embedding: padding_idx {index} is out of range for num_embeddings "
                    f"{self.num_embeddings}"
                )

    def params(self, inputs: Sequence[TensorType]) -> dict[str, ParamSpec]:
        return {"weight": ParamSpec((self.num_embeddings, self.embedding_dim))}

    def infer(self, inputs: Sequence[TensorType]) -> TensorType:
        ids = inputs[0]
        expect_indices(self, ids, "ids")
        return TensorType(DType.FLOAT32, (*ids.shape, self.embedding_dim))

    def reference(
        self, inputs: Sequence[np.ndarray], params: Mapping[str, np.ndarray]
    ) -> np.ndarray:
        ids = inputs[0]
        check_indices(self, ids, self.num_embeddings, "num_embeddings")
        return np.ascontiguousarray(np.take(params["weight"], ids, axis=0))


def _indexed_axis(op: IndexSelect | Gather, x: TensorType, index: TensorType) -> int:
    """The axis ``op.dim`` of ``x`` (rank >= 1) that integer ``index`` picks from, or
    ShapeError naming ``op``."""
    if x.rank == 0:
        raise ShapeError(f"{op.op_name}: expected an input of rank >= 1, got {x}")
    axis = normalize_axis(op, op.dim, x.rank, "dim")
    expect_indices(op, index, "index")
    return axis


@register_op
@dataclass(frozen=True)
class IndexSelect(Op):
    """Entries ``index`` of axis ``dim``, as ``torch.index_select(input, dim, index)``.

    Inputs: ``input`` (d0, ..., dn) of any dtype and ``index`` (k,) int32 or int64 with every
    entry in [0, d[dim]) -> (d0, ..., k, ..., dn), the input's dtype. Either may have symbolic
    dimensions. Example: token rows (N, L, E) with ``dim=1`` and index (2,) -> (N, 2, E).
    No weights.
    """

    op_name = "index_select"
    arity = 2

    dim: int

    def __post_init__(self) -> None:
        check_int(self, "dim")

    def infer(self, inputs: Sequence[TensorType]) -> TensorType:
        x, index = inputs
        axis = _indexed_axis(self, x, index)
        if index.rank != 1:
            raise ShapeError(f"index_select: index must be 1-D, got {index}")
        return x.with_shape((*x.shape[:axis], index.shape[0], *x.shape[axis + 1 :]))

    def reference(
        self, inputs: Sequence[np.ndarray], params: Mapping[str, np.ndarray]
    ) -> np.ndarray:
        x, index = inputs
        axis = self.dim % x.ndim
        check_indices(self, index, x.shape[axis], f"axis {axis}")
        return np.ascontiguousarray(np.take(x, index, axis=axis))


@register_op
@dataclass(frozen=True)
class Gather(Op):
    """Elements along ``dim`` at ``index``, as ``torch.gather(input, dim, index)``:
    ``out[i][j][k] = input[index[i][j][k]][j][k]`` for ``dim=0``, likewise for other axes.

    Inputs: ``input`` of any dtype and ``index`` int32 or int64 of the same rank, no larger
    than ``input`` on every other axis, every entry in [0, input.shape[dim]) -> the index's
    shape, the input's dtype. Example: per-row picks of scores (N, C) with index (N, 1) and
    ``dim=1`` -> (N, 1). No weights.
    """

    op_name = "gather"
    arity = 2

    dim: int

    def __post_init__(self) -> None:
        check_int(self, "dim")

    def infer(self, inputs: Sequence[TensorType]) -> TensorType:
        x, index = inputs
        axis = _indexed_axis(self, x, index)
        if index.rank != x.rank:
            raise ShapeError(f"gather: index {index} must have the rank of the input {x}")
        for a, (d, n) in enumerate(zip(x.shape, index.shape, strict=True)):
            if a == axis or d == n:
                continue
            if not (isinstance(d, int) and isinstance(n, int)) or n > d:
                raise ShapeError(
                    f"gather: index {index} is larger than the input {x} on axis {a} "
                    f"({n!r} vs {d!r}; only axis {axis} may differ)"
                )
        return x.with_shape(index.shape)

    def reference(
        self, inputs: Sequence[np.ndarray], params: Mapping[str, np.ndarray]
    ) -> np.ndarray:
        x, index = inputs
        axis = self.dim % x.ndim
        check_indices(self, index, x.shape[axis], f"axis {axis}")
        window = tuple(slice(None) if a == axis else slice(0, n) for a, n in enumerate(index.shape))
        return np.ascontiguousarray(np.take_along_axis(x[window], index, axis=axis))

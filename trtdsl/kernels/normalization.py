"""Row-wise normalizations in float32 on the kernels' threads: ``layer_norm`` and ``softmax``.

Rows are cut into tiles of whole rows (each row's mean, variance, maximum and sum are computed
by one reduction over the whole row), a few hundred KiB at a time so that every pass over a
tile stays in cache; tiles are chosen from the shapes alone.
"""

from __future__ import annotations

import numpy as np

from trtdsl.kernels.parallel import parallel_for
from trtdsl.kernels.scratch import scratch

TILE_ELEMENTS = 1 << 16
"""Elements per tile (whole rows; at least one row)."""


def _rows_per_tile(rows: int, width: int) -> int:
    return max(1, min(rows, TILE_ELEMENTS // max(1, width)))


def layer_norm(
    x: np.ndarray,
    weight: np.ndarray | None,
    bias: np.ndarray | None,
    eps: float,
    axes: int = 1,
) -> np.ndarray:
    """``(x - mean) / sqrt(var + eps) * weight + bias`` over the last ``axes`` dimensions, as
    ``torch.nn.functional.layer_norm`` (biased variance).

    Args:
        x: (*, *normalized), float16/float32 (computed in float32).
        weight, bias: the normalized shape, or None.
        axes: how many trailing dimensions are normalized.
    Returns:
        x's shape and dtype, C-contiguous. Mean and variance are float32 two-pass reductions
        of each row (NumPy's pairwise sums).
    """
    dtype = x.dtype
    width = int(np.prod(x.shape[x.ndim - axes :], dtype=np.int64))
    x2 = np.ascontiguousarray(x, dtype=np.float32).reshape(-1, width)
    rows = x2.shape[0]
    y = np.empty((rows, width), np.float32)
    w = None if weight is None else weight.astype(np.float32, copy=False).reshape(width)
    b = None if bias is None else bias.astype(np.float32, copy=False).reshape(width)
    block = _rows_per_tile(rows, width)
    epsilon = np.float32(eps)

    def tile(i: int) -> None:
        r = slice(i * block, min(rows, (i + 1) * block))
        xs, out = x2[r], y[r]
        count = xs.shape[0]
        mean = scratch("norm.mean", (count, 1), np.float32)
        np.mean(xs, axis=1, keepdims=True, out=mean)
        np.subtract(xs, mean, out=out)
        square = scratch("norm.square", out.shape, np.float32)
        np.square(out, out=square)
        var = scratch("norm.var", (count, 1), np.float32)
        np.mean(square, axis=1, keepdims=True, out=var)
        np.add(var, epsilon, out=var)
        np.sqrt(var, out=var)
        np.divide(out, var, out=out)
        if w is not None:
            np.multiply(out, w, out=out)
        if b is not None:
            np.add(out, b, out=out)

    parallel_for(-(-rows // block), tile)
    return y.reshape(x.shape).astype(dtype, copy=False)


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """``exp(x - max) / sum(exp(x - max))`` along ``axis``, as ``torch.softmax``.

    Args:
        x: any shape, float16/float32 (computed in float32).
    Returns:
        x's shape and dtype, C-contiguous. A row of -inf only gives NaN (as torch).
    """
    dtype = x.dtype
    if x.ndim == 0:
        return np.ones_like(x)
    axis = axis % x.ndim
    shape = x.shape
    lead = int(np.prod(shape[:axis], dtype=np.int64))
    trail = int(np.prod(shape[axis + 1 :], dtype=np.int64))
    x3 = np.ascontiguousarray(x, dtype=np.float32).reshape(lead, shape[axis], trail)
    y = np.empty(x3.shape, np.float32)
    block = _rows_per_tile(lead, shape[axis] * trail)

    def tile(i: int) -> None:
        r = slice(i * block, min(lead, (i + 1) * block))
        xs, out = x3[r], y[r]
        top = scratch("softmax.max", (xs.shape[0], 1, trail), np.float32)
        np.max(xs, axis=1, keepdims=True, out=top)
        with np.errstate(invalid="ignore"):
            np.subtract(xs, top, out=out)
        np.exp(out, out=out)
        total = scratch("softmax.sum", top.shape, np.float32)
        np.sum(out, axis=1, keepdims=True, out=total)
        with np.errstate(invalid="ignore", divide="ignore"):
            np.divide(out, total, out=out)

    parallel_for(-(-lead // block), tile)
    return y.reshape(shape).astype(dtype, copy=False)

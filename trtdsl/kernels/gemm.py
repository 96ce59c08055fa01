"""Matrix products on the kernels' threads: ``linear`` (with a fused epilogue) and ``matmul``.

A product is cut into tiles of whole output rows and columns, each one GEMM over the full
reduction, chosen from the shapes alone (results never depend on the thread count).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from trtdsl.kernels.parallel import parallel_for
from trtdsl.kernels.pointwise import Activation, activate

Step = Activation | np.ndarray
"""An epilogue step: an activation, or an array of the output's shape to add."""

TILE_MACS = 1 << 24
"""Multiply-adds per tile at least, where a product is cut along its columns."""
PARALLEL_TILES = 16
"""Tiles per product to aim for (a constant: tiles never depend on the machine)."""
ROW_BLOCK = 256
"""Rows per tile of a product with more than 2 * ROW_BLOCK rows."""
MIN_COLUMNS = 128
"""Columns per tile at least, where a product is cut along its columns. Narrower tiles pack
the rows again for every tile: 128 against 256 cost ViT-B/16 3% on one thread and gave it 16%
on 16, where its 768-wide products had only 3 tiles (device CPU, benchmarks/README.md)."""


def gemm_tiles(m: int, n: int, k: int) -> tuple[int, int]:
    """(rows, columns) per tile of an (m, k) @ (k, n) product, from its shapes alone."""
    rows = m if m <= 2 * ROW_BLOCK else ROW_BLOCK
    row_parts = -(-m // rows)
    parts = min(-(-PARALLEL_TILES // row_parts), n // MIN_COLUMNS, rows * n * k // TILE_MACS)
    parts = max(1, parts)
    columns = -(-n // parts)
    if columns < n:
        columns = -(-columns // 16) * 16  # whole SIMD vectors per tile
    return rows, columns


def linear(
    x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None, epilogue: Sequence[Step] = ()
) -> np.ndarray:
    """``x @ w.T + b`` then the epilogue, as ``torch.nn.functional.linear``.

    Args:
        x: (*, K); w: (N, K); b: (N,) or None.
        epilogue: applied in order after the bias: an ``Activation``, or an array of the
            output's shape (*, N) to add. The values equal the separate ops'.
    Returns:
        (*, N), C-contiguous, x's dtype (half precision computed in float32, rounded once
        before the epilogue).
    """
    dtype = x.dtype
    compute = np.float32 if dtype == np.float16 else np.result_type(dtype, w.dtype)
    lead = x.shape[:-1]
    k = x.shape[-1]
    n = w.shape[0]
    x2 = np.ascontiguousarray(x, dtype=compute).reshape(math.prod(lead), k)
    wc = w.astype(compute, copy=False)
    if wc.strides[-1] != wc.itemsize and wc.strides[0] != wc.itemsize:
        wc = np.ascontiguousarray(wc)  # BLAS takes either layout, not arbitrary strides
    bc = None if b is None else b.astype(compute, copy=False)
    m = x2.shape[0]
    y = np.empty((m, n), compute)
    fused = tuple(epilogue) if compute == dtype else ()
    adds = [None if isinstance(s, Activation) else s.reshape(m, n) for s in fused]
    if y.size == 0 or k == 0:
        y[...] = 0 if bc is None else bc
        for step in fused:  # nothing to compute in tiles
            _finish(y, None, (step,), [None if isinstance(step, Activation) else
                    step.reshape(m, n)], (slice(None), slice(None)))  # fmt: skip
        return y.reshape(*lead, n).astype(dtype, copy=False)
    rows, columns = gemm_tiles(m, n, k)
    column_parts = -(-n // columns)

    def tile(index: int) -> None:
        i, j = divmod(index, column_parts)
        r0, r1 = i * rows, min(m, (i + 1) * rows)
        c0, c1 = j * columns, min(n, (j + 1) * columns)
        out = y[r0:r1, c0:c1]
        np.matmul(x2[r0:r1], wc[c0:c1].T, out=out)
        _finish(out, None if bc is None else bc[c0:c1], fused, adds, (slice(r0, r1), slice(c0, c1)))

    parallel_for(-(-m // rows) * column_parts, tile)
    return _rounded(y.reshape(*lead, n), dtype, epilogue)


def _finish(
    out: np.ndarray,
    bias: np.ndarray | None,
    steps: tuple[Step, ...],
    adds: list[np.ndarray | None],
    where: tuple[slice, slice],
) -> None:
    """Bias and epilogue on one (rows, columns) tile while it is in cache."""
    if bias is not None:
        np.add(out, bias, out=out)
    for step, add in zip(steps, adds, strict=True):
        if add is None:
            assert isinstance(step, Activation)
            step.apply_(out)
        else:
            rows = where[0] if add.shape[0] > 1 else slice(None)  # a bias row broadcasts
            np.add(out, add[rows, where[1]], out=out)


def matmul(a: np.ndarray, b: np.ndarray, epilogue: Sequence[Step] = ()) -> np.ndarray:
    """``a @ b`` as ``np.matmul`` (batched, broadcasting), on the kernels' threads, then the
    epilogue.

    Args:
        a: (*batch_a, n, k) or (k,); b: (*batch_b, k, m) or (k,); one float dtype.
        epilogue: applied in order to each tile (matrix operands only): an ``Activation``, or
            an array to add of the output's shape or of shape (1, ..., 1, m) (a bias). The
            values equal the separate ops'.
    Returns:
        the product, C-contiguous, a's dtype (half precision computed in float32, rounded
        before the epilogue).
    """
    dtype = a.dtype
    compute = np.float32 if dtype == np.float16 else dtype
    a = a.astype(compute, copy=False)
    b = b.astype(compute, copy=False)
    if a.ndim < 2 or b.ndim < 2 or 0 in (*a.shape, *b.shape):
        assert not epilogue
        return np.array(np.matmul(a, b), dtype=dtype, order="C")  # vector @ vector is rank 0
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    n, k, m = a.shape[-2], a.shape[-1], b.shape[-1]
    a3 = np.broadcast_to(a, (*batch, n, k)).reshape(-1, n, k)
    b3 = np.broadcast_to(b, (*batch, k, m)).reshape(-1, k, m)
    items = a3.shape[0]
    y = np.empty((items, n, m), compute)
    fused = tuple(epilogue) if compute == dtype else ()
    adds = [None if isinstance(s, Activation) else _per_item(s, items, n, m) for s in fused]
    rows, columns = gemm_tiles(n, m, k)
    row_parts, column_parts = -(-n // rows), -(-m // columns)
    per_item = row_parts * column_parts

    def tile(index: int) -> None:
        item, rest = divmod(index, per_item)
        i, j = divmod(rest, column_parts)
        r = slice(i * rows, min(n, (i + 1) * rows))
        c = slice(j * columns, min(m, (j + 1) * columns))
        out = y[item, r, c]
        np.matmul(a3[item, r], b3[item, :, c], out=out)
        if fused:
            parts = [None if add is None else add[item % add.shape[0]] for add in adds]
            _finish(out, None, fused, parts, (r, c))

    parallel_for(items * per_item, tile)
    return _rounded(y.reshape(*batch, n, m), dtype, epilogue)


def _rounded(out: np.ndarray, dtype: np.dtype, epilogue: Sequence[Step]) -> np.ndarray:
    """``out`` computed in float32 for a half-precision ``dtype``: rounded once, then the
    epilogue in ``dtype`` (the separate ops' values); ``out`` itself where nothing changes."""
    if out.dtype == dtype:
        return out
    out = out.astype(dtype)
    for step in epilogue:
        if isinstance(step, Activation):
            activate(out, step, out=out)
        else:
            np.add(out, step, out=out)
    return out


def _per_item(step: np.ndarray, items: int, n: int, m: int) -> np.ndarray:
    """An added array as (items or 1, rows or 1, m) for ``matmul``'s tiles."""
    if step.size == m:
        return step.reshape(1, 1, m)
    return step.reshape(items, n, m)

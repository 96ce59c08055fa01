"""Scaled dot-product attention in float32 on the kernels' threads, without full-size
temporaries: each tile (one batch-and-head item, a block of query rows) computes its scores,
softmax and weighted values in a per-thread buffer that stays in cache."""

from __future__ import annotations

import math

import numpy as np

from trtdsl.kernels.parallel import parallel_for
from trtdsl.kernels.scratch import scratch

SCORES_ELEMENTS = 1 << 16
"""Scores per tile at most (whole rows; at least one row): query rows per tile =
SCORES_ELEMENTS // S, chosen from the shapes alone."""


def scaled_dot_product_attention(
    q: np.ndarray,
    k: np.ndarray,
    v: np.ndarray,
    mask: np.ndarray | None = None,
    causal: bool = False,
    scale: float | None = None,
    all_excluded: float = math.nan,
) -> np.ndarray:
    """``softmax(q @ k^T * scale + mask) @ v``, as ``torch.nn.functional.
    scaled_dot_product_attention`` (no dropout).

    Args:
        q: (*batch, L, E), e.g. (N, heads, L, E); k: (*batch, S, E); v: (*batch, S, Ev); one
            float dtype (float16 computed in float32).
        mask: broadcastable to (*batch, L, S): boolean (True: the key takes part) or float
            (added to the scores; -inf excludes a key).
        causal: query i attends to keys j <= i only (the top-left aligned triangle, as torch),
            on top of ``mask``.
        scale: multiplies the scores; default 1 / sqrt(E). Applied to q before the product.
        all_excluded: the output of a query whose every key is excluded (or of every query,
            where there is no key): NaN by default; PyTorch 2.13 gives 0.
    Returns:
        (*batch, L, Ev), C-contiguous, q's dtype.
    """
    dtype = q.dtype
    *batch, length, depth = q.shape
    source = k.shape[-2]
    factor = np.float32(1.0 / math.sqrt(depth) if scale is None else scale)
    items = math.prod(batch)
    q3 = np.multiply(q, factor, dtype=np.float32).reshape(items, length, depth)
    k3 = np.ascontiguousarray(k, dtype=np.float32).reshape(items, source, depth)
    v3 = np.ascontiguousarray(v, dtype=np.float32).reshape(items, source, v.shape[-1])
    y = np.empty((items, length, v.shape[-1]), np.float32)
    masks = None
    if mask is not None:
        full = np.broadcast_to(mask, (*batch, length, source))
        masks = full.reshape(items, length, source)  # a view where the broadcast allows
    allowed = np.tri(length, source, dtype=np.bool_) if causal else None
    if source == 0:  # no key at all: as every key excluded
        y.fill(all_excluded)
        return y.reshape(*batch, length, v.shape[-1]).astype(dtype)
    rows = max(1, min(length, SCORES_ELEMENTS // max(1, source)))
    parts = -(-length // rows)

    def tile(index: int) -> None:
        item, part = divmod(index, parts)
        r = slice(part * rows, min(length, (part + 1) * rows))
        count = r.stop - r.start
        scores = scratch("attention.scores", (count, source), np.float32)
        np.matmul(q3[item, r], k3[item].T, out=scores)
        excluded = None
        if masks is not None:
            m = masks[item, r]
            if m.dtype == np.bool_:
                excluded = scratch("attention.excluded", scores.shape, np.bool_)
                np.logical_not(m, out=excluded)
            else:
                np.add(scores, m, out=scores, casting="unsafe")
        if allowed is not None:
            if excluded is None:
                excluded = scratch("attention.excluded", scores.shape, np.bool_)
                np.logical_not(allowed[r], out=excluded)
            else:
                np.logical_or(excluded, ~allowed[r], out=excluded)
        if excluded is not None:
            np.copyto(scores, np.float32(-np.inf), where=excluded)
        top = scratch("attention.max", (count, 1), np.float32)
        np.max(scores, axis=1, keepdims=True, out=top)
        with np.errstate(invalid="ignore", divide="ignore"):
            np.subtract(scores, top, out=scores)
            np.exp(scores, out=scores)
            total = scratch("attention.sum", (count, 1), np.float32)
            np.sum(scores, axis=1, keepdims=True, out=total)
            np.divide(scores, total, out=scores)
        np.matmul(scores, v3[item], out=y[item, r])
        if masks is not None or allowed is not None:
            y[item, r][top[:, 0] == -np.inf] = all_excluded  # softmax of nothing: NaN above

    parallel_for(items * parts, tile)
    return y.reshape(*batch, length, v.shape[-1]).astype(dtype, copy=False)

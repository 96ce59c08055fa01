"""2-D convolution (cross-correlation, as in PyTorch and TensorRT): one GEMM per output tile.

A tile is one image (or several small ones), cut along its output channels, then its output
rows, only while the batch gives fewer than PARALLEL_TILES tiles (or where its patches would
exceed COLS_ELEMENTS): ``y (Kb, P) = w (Kb, C*R*S) @ cols (C*R*S, P)`` over the full
reduction, where ``cols`` holds the tile's patches (im2col into a reused per-thread buffer;
padding is written as zeros, never copied; unstrided, unpadded 1x1 convolutions read the
input itself). The bias and an epilogue (activations, a batch norm's per-channel affine map,
residual adds) are applied to each tile right after its GEMM. Tiles are chosen from the shapes
alone, so a result never depends on the number of threads. Depthwise convolutions accumulate
one kernel tap at a time over blocks of channels instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from trtdsl.kernels.parallel import parallel_for
from trtdsl.kernels.pointwise import Activation
from trtdsl.kernels.scratch import scratch


@dataclass(frozen=True, eq=False)
class ChannelAffine:
    """``y * scale[k] + shift[k]`` per output channel k (a batch norm with running statistics),
    rounded after the product as the separate op computes it. ``scale``, ``shift``: (K,)."""

    scale: np.ndarray
    shift: np.ndarray


EpilogueStep = Activation | ChannelAffine | np.ndarray
"""An activation, a per-channel affine map, or an array of the output's shape added to it."""

PARALLEL_TILES = 16
"""Tiles per convolution to aim for: an image is cut (output channels first, then rows) only
while the batch gives fewer tiles than this (a constant: tiles never depend on the machine or
the thread count). Whole-image GEMMs are the fastest on one thread; cutting them buys
parallelism (measured on one thread, ResNet-50's convolutions: +18% at batch 1, +11% at batch 8
over whole images)."""
TILE_MACS = 1 << 23
"""Multiply-adds per tile at least, where an image is cut."""
MIN_PIXELS = 256
"""Output pixels per GEMM at least: smaller images are multiplied several at a time (groups
== 1), and an image is cut into row blocks of at least this many pixels."""
MIN_CHANNELS = 128
"""Output channels per tile at least, where an image is cut along its channels (BLAS repacks
the patches for every block: smaller blocks cost more than they run)."""
COLS_ELEMENTS = 1 << 21
"""Patch-matrix elements per tile at most (8 MiB of float32): large images are cut into row
blocks however large the batch, so that im2col memory stays bounded."""
DEPTHWISE_TILE = 1 << 16
"""Output elements per depthwise tile (whole channels)."""


def conv2d(
    x: np.ndarray,
    w: np.ndarray,
    b: np.ndarray | None,
    *,
    stride: tuple[int, int] = (1, 1),
    pad_begin: tuple[int, int] = (0, 0),
    pad_end: tuple[int, int] = (0, 0),
    dilation: tuple[int, int] = (1, 1),
    groups: int = 1,
    epilogue: Sequence[EpilogueStep] = (),
) -> np.ndarray:
    """Grouped, strided, dilated 2-D convolution with zero padding, and an optional epilogue.

    Args:
        x: input, shape (N, C, H, W), any memory layout.
        w: kernel, shape (K, C // groups, R, S) (PyTorch OIHW == TensorRT GKCRS flattened).
        b: bias, shape (K,), or None.
        stride, dilation: per spatial axis (h, w).
        pad_begin, pad_end: zero padding before/after each spatial axis (h, w).
        groups: C and K must both divide by it.
        epilogue: applied in order after the bias: an ``Activation``, a ``ChannelAffine``, or
            an array of the output's shape (N, K, Ho, Wo) to add (a residual). The values equal
            those of the separate ops applied to the convolution's (rounded) output.
    Returns:
        y, C-contiguous, shape (N, K, Ho, Wo), Ho = (H + pb + pe - d*(R-1) - 1) // s + 1; dtype
        ``result_type(x, w)``. Half-precision inputs are computed in float32 and rounded once
        (before the epilogue).
    """
    n, c, h, wd = x.shape
    k, cg, r, s = w.shape
    assert c == cg * groups and k % groups == 0, (x.shape, w.shape, groups)
    dtype = np.result_type(x.dtype, w.dtype)
    compute = np.float32 if dtype == np.float16 else dtype
    x = x.astype(compute, copy=False)
    w = np.ascontiguousarray(w, dtype=compute)
    ho = (h + pad_begin[0] + pad_end[0] - dilation[0] * (r - 1) - 1) // stride[0] + 1
    wo = (wd + pad_begin[1] + pad_end[1] - dilation[1] * (s - 1) - 1) // stride[1] + 1
    geometry = _Geometry((h, wd), (r, s), (ho, wo), stride, pad_begin, dilation)
    y = np.empty((n, k, ho, wo), dtype=compute)
    bias = None if b is None else b.astype(compute, copy=False)
    fused = tuple(epilogue) if compute == dtype else ()
    if y.size == 0:
        pass
    elif cg == 1 and groups > 1 and k == c:
        _depthwise(x, w, bias, y, geometry, fused)
    else:
        _gemm_tiles(x, w, bias, y, geometry, groups, fused)
    if compute != dtype:
        y = y.astype(dtype)
        for step in epilogue:
            _apply(step, y, (slice(None),) * 4)
    return y


@dataclass(frozen=True)
class _Geometry:
    """Input size, kernel, output size, stride, begin padding and dilation, each (h, w)."""

    size: tuple[int, int]
    kernel: tuple[int, int]
    out: tuple[int, int]
    stride: tuple[int, int]
    pad: tuple[int, int]
    dilation: tuple[int, int]

    def taps(self, axis: int, first: int, stop: int) -> list[tuple[int, int, int, int]]:
        """Per kernel tap along ``axis``: (lo, hi, input start, input stop) for the outputs
        ``first:stop``; outputs outside ``lo:hi`` read padding (zero)."""
        size, s, d, p = self.size[axis], self.stride[axis], self.dilation[axis], self.pad[axis]
        out = []
        for tap in range(self.kernel[axis]):
            offset = tap * d - p  # input index of output o is o*s + offset
            lo = max(first, -(offset // s))  # the first o with o*s + offset >= 0
            hi = min(stop, (size - 1 - offset) // s + 1) if size - 1 - offset >= 0 else first
            hi = max(hi, lo)
            out.append((lo, hi, lo * s + offset, (hi - 1) * s + offset + 1))
        return out

    @property
    def identity(self) -> bool:
        """Whether the input itself is the patch matrix (1x1, unstrided, unpadded)."""
        return self.kernel == (1, 1) and self.stride == (1, 1) and self.out == self.size


def _gemm_tiles(
    x: np.ndarray,
    w: np.ndarray,
    bias: np.ndarray | None,
    y: np.ndarray,
    geometry: _Geometry,
    groups: int,
    epilogue: tuple[EpilogueStep, ...],
) -> None:
    n = x.shape[0]
    k, cg, r, s = w.shape
    ho, wo = geometry.out
    pixels, rows_in = ho * wo, cg * r * s
    kg = k // groups
    w_groups = w.reshape(groups, kg, rows_in)
    images, rows, k_block = _plan(n, k, rows_in * groups, geometry, groups)
    padded = x if geometry.identity else _padded(x, geometry)
    row_parts, k_parts, image_parts = -(-ho // rows), -(-k // k_block), -(-n // images)
    # Cut along the channels, the patches of a block of rows are built once and shared.
    shared: np.ndarray | None = None
    if k_parts > 1 and not geometry.identity:
        # In this (calling) thread's buffer: it waits in parallel_for while the pool fills it.
        block_size = x.shape[1] * r * s * images * rows * wo
        shared = scratch("conv.shared", (image_parts * row_parts, block_size), x.dtype)

        def patches(index: int) -> None:
            i, row_index = divmod(index, row_parts)
            n0, n1 = i * images, min(n, (i + 1) * images)
            r0, r1 = row_index * rows, min(ho, (row_index + 1) * rows)
            size = x.shape[1] * r * s * (n1 - n0) * (r1 - r0) * wo
            _im2col(padded, n0, n1, r0, r1, geometry, shared[index, :size])

        parallel_for(image_parts * row_parts, patches)

    def tile(index: int) -> None:
        block, k_index = divmod(index, k_parts)
        i, row_index = divmod(block, row_parts)
        n0, n1 = i * images, min(n, (i + 1) * images)
        r0, r1 = row_index * rows, min(ho, (row_index + 1) * rows)
        k0, k1 = k_index * k_block, min(k, (k_index + 1) * k_block)
        g0, g1 = k0 // kg, k1 // kg
        source = padded if groups == 1 else padded[:, g0 * cg : g1 * cg]
        count, p = n1 - n0, (r1 - r0) * wo
        if shared is not None:
            depth = x.shape[1] * r * s
            cols = shared[block, : depth * count * p].reshape(depth, count * p)
            cols = cols if groups == 1 else cols[g0 * rows_in : g1 * rows_in]
        elif geometry.identity and count == 1:
            cols = source[n0].reshape(source.shape[1], pixels)[:, r0 * wo : r1 * wo]
        else:
            cols = _im2col(source, n0, n1, r0, r1, geometry)
        if count == 1:
            out = y[n0, k0:k1, r0:r1].reshape(k1 - k0, p)
            if groups == 1:
                np.matmul(w_groups[0, k0:k1], cols, out=out)
            else:
                np.matmul(
                    w_groups[g0:g1],
                    cols.reshape(g1 - g0, rows_in, p),
                    out=out.reshape(g1 - g0, kg, p),
                )
            _finish(out, (n0, slice(k0, k1), slice(r0, r1)), bias, k0, k1, epilogue)
        else:  # several small images in one GEMM, then scattered to (image, channel) order
            out3 = scratch("conv.out", (k1 - k0, count, p), y.dtype)
            np.matmul(w_groups[0, k0:k1], cols, out=out3.reshape(k1 - k0, count * p))
            where = (slice(n0, n1), slice(k0, k1), slice(None), slice(None))
            _finish(out3, where, bias, k0, k1, epilogue, transposed=True)
            y[n0:n1, k0:k1].reshape(count, k1 - k0, p)[...] = out3.transpose(1, 0, 2)

    parallel_for(image_parts * row_parts * k_parts, tile)


def _plan(n: int, k: int, depth: int, g: _Geometry, groups: int) -> tuple[int, int, int]:
    """Tiles of a convolution from its shapes alone: (images, output rows, output channels)
    per tile. ``depth`` is C*R*S (the GEMM's reduction times the groups)."""
    ho, wo = g.out
    pixels = ho * wo
    images = 1
    if groups == 1 and pixels < MIN_PIXELS:
        images = max(1, min(-(-MIN_PIXELS // pixels), n // PARALLEL_TILES))
    macs = images * pixels * k * depth // groups
    want = min(-(-PARALLEL_TILES // -(-n // images)), max(1, macs // TILE_MACS))
    k_parts = min(want, max(1, k // MIN_CHANNELS) if groups == 1 else groups)
    rows = ho
    if images == 1:
        cap = ho if g.identity else max(1, COLS_ELEMENTS // (depth * wo))
        row_parts = min(-(-want // k_parts), max(1, pixels // MIN_PIXELS))
        rows = max(1, min(cap, -(-ho // row_parts)))
        rows = -(-ho // -(-ho // rows))  # balanced blocks
    if groups == 1:
        return images, rows, -(-k // k_parts)
    return images, rows, -(-groups // k_parts) * (k // groups)


def _padded(x: np.ndarray, g: _Geometry) -> np.ndarray:
    """``x`` (N, C, H, W) zero-padded to exactly the rows and columns the patches read, in a
    buffer of this (calling) thread; ``x`` itself where no padding is read."""
    (r, s), (ho, wo) = g.kernel, g.out
    rows = (ho - 1) * g.stride[0] + (r - 1) * g.dilation[0] + 1
    cols = (wo - 1) * g.stride[1] + (s - 1) * g.dilation[1] + 1
    (top, left), (h, w) = g.pad, g.size
    if top == 0 and left == 0 and rows <= h and cols <= w:
        return x
    padded = scratch("conv.padded", (x.shape[0], x.shape[1], rows, cols), x.dtype)
    # Input row i lands on padded row i + top (a negative pad drops input rows).
    i0, i1 = max(0, -top), max(max(0, -top), min(h, rows - top))
    j0, j1 = max(0, -left), max(max(0, -left), min(w, cols - left))
    y0, y1, x0, x1 = i0 + top, i1 + top, j0 + left, j1 + left
    padded[:, :, :y0].fill(0)
    padded[:, :, y1:].fill(0)
    padded[:, :, y0:y1, :x0].fill(0)
    padded[:, :, y0:y1, x1:].fill(0)
    padded[:, :, y0:y1, x0:x1] = x[:, :, i0:i1, j0:j1]
    return padded


def _im2col(
    x: np.ndarray,
    n0: int,
    n1: int,
    r0: int,
    r1: int,
    g: _Geometry,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Patches of images ``n0:n1``, output rows ``r0:r1``: (C*R*S, count*rows*Wo), rows
    ordered (c, r, s) like the kernel, columns (image, row, column). ``x`` is the input as
    ``_padded`` returns it (padding already in place): one strided copy, so a tile holds
    Python's lock for a few calls only. Written into ``out`` (C-contiguous, that shape), else
    into a per-thread buffer."""
    c = x.shape[1]
    (r, s), (_, wo) = g.kernel, g.out
    (sh, sw), (dh, dw) = g.stride, g.dilation
    count, rows = n1 - n0, r1 - r0
    shape = (c, r, s, count, rows, wo)
    cols = scratch("conv.cols", shape, x.dtype) if out is None else out.reshape(shape)
    first = x[n0:n1, :, r0 * sh :]
    ns, cs, hs, ws = first.strides
    patches = np.lib.stride_tricks.as_strided(
        first, shape, (cs, dh * hs, dw * ws, ns, sh * hs, sw * ws), writeable=False
    )
    np.copyto(cols, patches)
    return cols.reshape(c * r * s, count * rows * wo)


def _finish(
    out: np.ndarray,
    where: tuple[int | slice, ...],
    bias: np.ndarray | None,
    k0: int,
    k1: int,
    epilogue: tuple[EpilogueStep, ...],
    transposed: bool = False,
) -> None:
    """Bias and epilogue on one tile: ``out`` is (Kb, P) for one image, or (Kb, count, P)
    (``transposed``) for images ``where[0]``; ``where`` locates it in the (N, K, Ho, Wo)
    output."""
    if bias is not None:
        b = bias[k0:k1]
        np.add(out, b.reshape((-1,) + (1,) * (out.ndim - 1)), out=out)
    for step in epilogue:
        if isinstance(step, Activation):
            step.apply_(out)
            continue
        if isinstance(step, ChannelAffine):
            shape = (-1,) + (1,) * (out.ndim - 1)
            np.multiply(out, step.scale[k0:k1].reshape(shape), out=out)
            np.add(out, step.shift[k0:k1].reshape(shape), out=out)
            continue
        part = step[where]
        if transposed:  # (count, Kb, Ho, Wo) -> (Kb, count, P)
            part = part.reshape(part.shape[0], part.shape[1], -1).transpose(1, 0, 2)
        np.add(out, part.reshape(out.shape), out=out)


def _apply(step: EpilogueStep, y: np.ndarray, where: tuple[slice, ...]) -> None:
    if isinstance(step, Activation):
        from trtdsl.kernels.pointwise import activate

        activate(y, step, out=y)
    elif isinstance(step, ChannelAffine):
        shape = (1, -1, 1, 1)
        np.multiply(y, step.scale.astype(y.dtype).reshape(shape), out=y)
        np.add(y, step.shift.astype(y.dtype).reshape(shape), out=y)
    else:
        np.add(y, step.astype(y.dtype, copy=False), out=y)


def _depthwise(
    x: np.ndarray,
    w: np.ndarray,
    bias: np.ndarray | None,
    y: np.ndarray,
    g: _Geometry,
    epilogue: tuple[EpilogueStep, ...],
) -> None:
    """Depthwise conv (w (C, 1, R, S)), one kernel tap at a time over tiles of whole channels
    of one image: ``y = sum over taps of x_tap * w_tap`` in tap order, then the epilogue."""
    n, c = x.shape[:2]
    ho, wo = g.out
    block = max(1, min(c, DEPTHWISE_TILE // max(1, ho * wo)))
    parts = -(-c // block)
    row_taps, column_taps = g.taps(0, 0, ho), g.taps(1, 0, wo)

    def tile(index: int) -> None:
        i, part = divmod(index, parts)
        c0, c1 = part * block, min(c, (part + 1) * block)
        out = y[i, c0:c1]
        out.fill(0)
        product = scratch("conv.depthwise", out.shape, out.dtype)
        for a, (lo, hi, start, stop) in enumerate(row_taps):
            for b_, (clo, chi, cstart, cstop) in enumerate(column_taps):
                if hi <= lo or chi <= clo:
                    continue
                tap = x[i, c0:c1, start : stop : g.stride[0], cstart : cstop : g.stride[1]]
                part_out = product[:, lo:hi, clo:chi]
                np.multiply(tap, w[c0:c1, 0, a, b_, None, None], out=part_out)
                np.add(out[:, lo:hi, clo:chi], part_out, out=out[:, lo:hi, clo:chi])
        _finish(out.reshape(c1 - c0, ho * wo), (i, slice(c0, c1)), bias, c0, c1, epilogue)

    parallel_for(n * parts, tile)

"""Strategies drawing only valid cases of each op, for the property tests.

``VALID[op_name]()`` is a hypothesis strategy of ``(kwargs, input types)`` that the op accepts:
attributes within their ranges and static inputs they fit (a conv's kernel fits the padded
input, a permutation is one, a slice is not empty, ...). A new op needs one
(``test_every_op_has_a_valid_case_strategy``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st

from trtdsl.ir.types import DType, TensorType

Case = tuple[dict[str, Any], list[TensorType]]
"""An op's keyword arguments and its static input types."""

VALID: dict[str, Callable[[], st.SearchStrategy[Case]]] = {}
"""Op name -> a strategy drawing only valid cases of that op."""


def valid(*names: str) -> Callable[[Callable[[st.DrawFn], Case]], Callable[[st.DrawFn], Case]]:
    """Register a case-drawing function (``draw -> Case``) for ``names``."""

    def register(fn: Callable[[st.DrawFn], Case]) -> Callable[[st.DrawFn], Case]:
        for name in names:
            VALID[name] = st.composite(fn)
        return fn

    return register


def f32(*shape: int) -> TensorType:
    return TensorType(DType.FLOAT32, tuple(shape))


def draw_shape(draw: st.DrawFn, min_rank: int = 0, max_rank: int = 4, top: int = 5) -> list[int]:
    return draw(st.lists(st.integers(1, top), min_size=min_rank, max_size=max_rank))


def draw_axis(draw: st.DrawFn, rank: int) -> int:
    """An axis of a rank-``rank`` tensor, positive or negative."""
    return draw(st.integers(-rank, rank - 1))


@valid("relu", "relu6", "sigmoid", "silu", "tanh", "hardsigmoid", "hardswish", "identity")
def _unary(draw: st.DrawFn) -> Case:
    return {}, [f32(*draw_shape(draw))]


@valid("leaky_relu")
def _leaky_relu(draw: st.DrawFn) -> Case:
    return {"negative_slope": draw(st.floats(-2, 2))}, [f32(*draw_shape(draw))]


@valid("gelu")
def _gelu(draw: st.DrawFn) -> Case:
    return {"approximate": draw(st.sampled_from(["none", "tanh"]))}, [f32(*draw_shape(draw))]


@valid("dropout")
def _dropout(draw: st.DrawFn) -> Case:
    return {"p": draw(st.floats(0, 1))}, [f32(*draw_shape(draw))]


@valid("clip")
def _clip(draw: st.DrawFn) -> Case:
    low, high = sorted(draw(st.lists(st.floats(-3, 3), min_size=2, max_size=2)))
    bounds = draw(st.sampled_from([(low, high), (low, None), (None, high)]))
    return {"min": bounds[0], "max": bounds[1]}, [f32(*draw_shape(draw))]


@valid("cast")
def _cast(draw: st.DrawFn) -> Case:
    dtype = draw(st.sampled_from(["float32", "float16", "bfloat16", "int32", "int64", "int8"]))
    return {"dtype": dtype}, [f32(*draw_shape(draw))]


@valid("softmax")
def _softmax(draw: st.DrawFn) -> Case:
    shape = draw_shape(draw, min_rank=1)
    return {"dim": draw_axis(draw, len(shape))}, [f32(*shape)]


def _broadcast_partner(draw: st.DrawFn, shape: list[int]) -> list[int]:
    """A shape broadcasting with ``shape``: trailing axes kept or set to 1, leading ones dropped."""
    keep = draw(st.integers(0, len(shape)))
    return [d if draw(st.booleans()) else 1 for d in shape[len(shape) - keep :]]


@valid("add", "sub", "mul", "div")
def _binary(draw: st.DrawFn) -> Case:
    shape = draw_shape(draw)
    if draw(st.booleans()):
        return {"other": draw(st.floats(0.5, 2))}, [f32(*shape)]
    other = _broadcast_partner(draw, shape)
    pair = [f32(*shape), f32(*other)]
    return {}, pair if draw(st.booleans()) else pair[::-1]


@valid("concat")
def _concat(draw: st.DrawFn) -> Case:
    shape = draw_shape(draw, min_rank=1)
    dim = draw_axis(draw, len(shape))
    inputs = []
    for _ in range(draw(st.integers(1, 3))):
        shape[dim] = draw(st.integers(1, 4))
        inputs.append(f32(*shape))
    return {"dim": dim}, inputs


def _spatial(draw: st.DrawFn, kernel: int, dilation: int, padding: int) -> int:
    """A spatial size the (dilated) kernel fits, once padded."""
    return draw(st.integers(max(1, dilation * (kernel - 1) + 1 - 2 * padding), 9))


def _conv(draw: st.DrawFn) -> Case:
    groups = draw(st.integers(1, 3))
    k, d = draw(st.integers(1, 3)), draw(st.integers(1, 2))
    p = draw(st.integers(0, 2))
    h, w = _spatial(draw, k, d, p), _spatial(draw, k, d, p)
    kwargs = {
        "out_channels": groups * draw(st.integers(1, 3)),
        "kernel_size": k,
        "stride": draw(st.integers(1, 3)),
        "padding": p,
        "dilation": d,
        "groups": groups,
        "bias": draw(st.booleans()),
    }
    return kwargs, [f32(draw(st.integers(1, 2)), groups * draw(st.integers(1, 3)), h, w)]


valid("conv2d")(_conv)


@valid("quantized_conv2d")
def _quantized_conv(draw: st.DrawFn) -> Case:
    kwargs, inputs = _conv(draw)
    return {**kwargs, "dtype": draw(st.sampled_from(["int8", "float8_e4m3"]))}, inputs


@valid("conv_transpose2d")
def _conv_transpose(draw: st.DrawFn) -> Case:
    groups = draw(st.integers(1, 3))
    k, s, d = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 2))
    extra = draw(st.integers(0, max(s, d) - 1))
    p = draw(st.integers(0, 2))
    # output (H - 1)*s - 2p + d*(k - 1) + extra + 1 >= 1
    h_min = max(1, math.ceil((2 * p - d * (k - 1) - extra) / s) + 1)
    kwargs = {
        "out_channels": groups * draw(st.integers(1, 3)),
        "kernel_size": k,
        "stride": s,
        "padding": p,
        "output_padding": extra,
        "groups": groups,
        "bias": draw(st.booleans()),
        "dilation": d,
    }
    h, w = draw(st.integers(h_min, h_min + 4)), draw(st.integers(h_min, h_min + 4))
    return kwargs, [f32(draw(st.integers(1, 2)), groups * draw(st.integers(1, 3)), h, w)]


@valid("linear")
def _linear(draw: st.DrawFn) -> Case:
    shape = draw_shape(draw, min_rank=1)
    return {"out_features": draw(st.integers(1, 5)), "bias": draw(st.booleans())}, [f32(*shape)]


@valid("quantized_linear")
def _quantized_linear(draw: st.DrawFn) -> Case:
    kwargs, inputs = _linear(draw)
    return {**kwargs, "dtype": draw(st.sampled_from(["int8", "float8_e4m3"]))}, inputs


@valid("batch_norm2d")
def _batch_norm(draw: st.DrawFn) -> Case:
    return {"eps": draw(st.floats(1e-6, 1e-1))}, [f32(*draw_shape(draw, 4, 4))]


@valid("layer_norm")
def _layer_norm(draw: st.DrawFn) -> Case:
    shape = draw_shape(draw, min_rank=1)
    k = draw(st.integers(1, len(shape)))
    kwargs = {
        "normalized_shape": shape[len(shape) - k :],
        "eps": draw(st.floats(1e-6, 1e-1)),
        "elementwise_affine": draw(st.booleans()),
        "bias": draw(st.booleans()),
    }
    return kwargs, [f32(*shape)]


def _pool(draw: st.DrawFn) -> Case:
    k = draw(st.integers(1, 4))
    p = draw(st.integers(0, k // 2))
    h, w = (draw(st.integers(max(1, k - 2 * p), 9)) for _ in range(2))
    kwargs = {
        "kernel_size": k,
        "stride": draw(st.one_of(st.none(), st.integers(1, 3))),
        "padding": p,
        "ceil_mode": draw(st.booleans()),
    }
    return kwargs, [f32(draw(st.integers(1, 2)), draw(st.integers(1, 3)), h, w)]


valid("max_pool2d")(_pool)


@valid("avg_pool2d")
def _avg_pool(draw: st.DrawFn) -> Case:
    kwargs, inputs = _pool(draw)
    return {**kwargs, "count_include_pad": draw(st.booleans())}, inputs


@valid("adaptive_avg_pool2d")
def _adaptive_avg_pool(draw: st.DrawFn) -> Case:
    sizes = st.one_of(st.none(), st.integers(1, 4))
    output = draw(st.one_of(st.integers(1, 4), st.tuples(sizes, sizes)))
    return {"output_size": output}, [f32(*draw_shape(draw, 4, 4, top=7))]


@valid("flatten")
def _flatten(draw: st.DrawFn) -> Case:
    shape = draw_shape(draw, min_rank=1)
    start = draw(st.integers(0, len(shape) - 1))
    end = draw(st.integers(start, len(shape) - 1))
    start -= len(shape) * draw(st.booleans())
    end -= len(shape) * draw(st.booleans())
    return {"start_dim": start, "end_dim": end}, [f32(*shape)]


@valid("reshape")
def _reshape(draw: st.DrawFn) -> Case:
    shape = draw_shape(draw, min_rank=1)
    factors = [p for d in shape for p in _prime_factors(d)]
    factors = draw(st.permutations(factors)) if factors else []
    cuts = sorted(draw(st.lists(st.integers(0, len(factors)), max_size=3)))
    target = [
        math.prod(factors[a:b]) for a, b in zip([0, *cuts], [*cuts, len(factors)], strict=True)
    ]
    if target and draw(st.booleans()):
        target[draw(st.integers(0, len(target) - 1))] = -1
    return {"shape": target or [1]}, [f32(*shape)]


def _prime_factors(n: int) -> list[int]:
    found, p = [], 2
    while n > 1:
        while n % p == 0:
            found.append(p)
            n //= p
        p += 1
    return found


@valid("permute")
def _permute(draw: st.DrawFn) -> Case:
    shape = draw_shape(draw)
    dims = draw(st.permutations(range(len(shape))))
    dims = [d - len(shape) if draw(st.booleans()) else d for d in dims]
    return {"dims": dims}, [f32(*shape)]


@valid("transpose")
def _transpose(draw: st.DrawFn) -> Case:
    shape = draw_shape(draw, min_rank=1)
    return {"dim0": draw_axis(draw, len(shape)), "dim1": draw_axis(draw, len(shape))}, [f32(*shape)]


@valid("channel_shuffle")
def _channel_shuffle(draw: st.DrawFn) -> Case:
    groups = draw(st.integers(1, 3))
    shape = [draw(st.integers(1, 2)), groups * draw(st.integers(1, 3)), *draw_shape(draw, 1, 2)]
    return {"groups": groups}, [f32(*shape)]


@valid("narrow")
def _narrow(draw: st.DrawFn) -> Case:
    shape = draw_shape(draw, min_rank=1)
    dim = draw_axis(draw, len(shape))
    start = draw(st.integers(0, shape[dim] - 1))
    length = draw(st.integers(1, shape[dim] - start))
    return {"dim": dim, "start": start, "length": length}, [f32(*shape)]


@valid("slice")
def _slice(draw: st.DrawFn) -> Case:
    shape = draw_shape(draw, min_rank=1)
    dim = draw_axis(draw, len(shape))
    size = shape[dim]
    start = draw(st.integers(0, size - 1))
    end = draw(st.integers(start + 1, size))
    # Equivalent spellings: from the end (negative), None for the axis's ends, past the end.
    starts = [start, start - size] + ([None] if start == 0 else [])
    ends = [end] + ([None, size + 2] if end == size else [end - size])
    kwargs = {
        "dim": dim,
        "start": draw(st.sampled_from(starts)),
        "end": draw(st.sampled_from(ends)),
        "step": draw(st.integers(1, 3)),
    }
    return kwargs, [f32(*shape)]


@valid("select")
def _select(draw: st.DrawFn) -> Case:
    shape = draw_shape(draw, min_rank=1)
    dim = draw_axis(draw, len(shape))
    return {"dim": dim, "index": draw(st.integers(-shape[dim], shape[dim] - 1))}, [f32(*shape)]


@valid("expand")
def _expand(draw: st.DrawFn) -> Case:
    shape = draw_shape(draw)
    new = draw_shape(draw, 0, 2)
    sizes = new + [
        draw(st.sampled_from([-1, d])) if d != 1 else draw(st.sampled_from([-1, 1, 2, 3]))
        for d in shape
    ]
    return {"sizes": sizes or [-1] * len(shape) or [1]}, [f32(*shape)]


@valid("argmax")
def _argmax(draw: st.DrawFn) -> Case:
    shape = draw_shape(draw, min_rank=1)
    return {"dim": draw_axis(draw, len(shape)), "keepdim": draw(st.booleans())}, [f32(*shape)]


@valid("matmul")
def _matmul(draw: st.DrawFn) -> Case:
    n, k, m = (draw(st.integers(1, 4)) for _ in range(3))
    batch = draw_shape(draw, 0, 2, top=3)
    a = [*_broadcast_partner(draw, batch), n, k] if draw(st.integers(0, 3)) else [k]
    b = [*batch, k, m] if draw(st.integers(0, 3)) else [k]
    return {}, [f32(*a), f32(*b)]


@valid("interpolate")
def _interpolate(draw: st.DrawFn) -> Case:
    mode = draw(st.sampled_from(["nearest", "bilinear"]))
    kwargs: dict[str, Any] = {"mode": mode}
    if mode == "bilinear":
        kwargs["align_corners"] = draw(st.sampled_from([None, False, True]))
    if draw(st.booleans()):
        kwargs["size"] = draw(st.one_of(st.integers(1, 6), st.tuples(*[st.integers(1, 6)] * 2)))
    else:
        kwargs["scale_factor"] = draw(st.sampled_from([0.5, 1.0, 1.5, 2.0, 3.0, (2.0, 0.5)]))
    h, w = draw(st.integers(2, 6)), draw(st.integers(2, 6))
    return kwargs, [f32(draw(st.integers(1, 2)), draw(st.integers(1, 3)), h, w)]


@valid("multi_head_attention")
def _attention(draw: st.DrawFn) -> Case:
    heads = draw(st.integers(1, 3))
    e = heads * draw(st.integers(1, 3))
    batch, length, source = (draw(st.integers(1, 3)) for _ in range(3))
    batch_first = draw(st.booleans())

    def shape(seq: int) -> TensorType:
        return f32(batch, seq, e) if batch_first else f32(seq, batch, e)

    inputs = [shape(length)]
    if draw(st.booleans()):
        inputs += [shape(source), shape(source)]
    kwargs = {
        "embed_dim": e,
        "num_heads": heads,
        "bias": draw(st.booleans()),
        "batch_first": batch_first,
        "dropout": draw(st.floats(0, 1)),
    }
    return kwargs, inputs


@valid("parameter")
def _parameter(draw: st.DrawFn) -> Case:
    dtype = draw(st.sampled_from(["float32", "float16"]))
    return {"shape": draw_shape(draw, min_rank=1), "dtype": dtype}, []


@valid("quantize")
def _quantize(draw: st.DrawFn) -> Case:
    shape = draw_shape(draw, min_rank=1)
    axis = draw(st.one_of(st.none(), st.integers(-len(shape), len(shape) - 1)))
    dtype = draw(st.sampled_from(["int8", "float8_e4m3"]))
    source = draw(st.sampled_from([DType.FLOAT32, DType.FLOAT16]))
    return {"dtype": dtype, "axis": axis}, [TensorType(source, tuple(shape))]


@valid("dequantize")
def _dequantize(draw: st.DrawFn) -> Case:
    shape = draw_shape(draw, min_rank=1)
    axis = draw(st.one_of(st.none(), st.integers(-len(shape), len(shape) - 1)))
    dtype = draw(st.sampled_from(["float32", "float16", "bfloat16"]))
    source = draw(st.sampled_from([DType.INT8, DType.FLOAT8_E4M3]))
    return {"dtype": dtype, "axis": axis}, [TensorType(source, tuple(shape))]


@valid("anchor_points", "anchor_strides")
def _anchors(draw: st.DrawFn) -> Case:
    levels = draw(st.integers(1, 3))
    strides = [draw(st.integers(1, 32)) for _ in range(levels)]
    maps = [f32(1, draw(st.integers(1, 3)), *draw_shape(draw, 2, 2)) for _ in range(levels)]
    return {"strides": strides}, maps


@valid("count_nonzero")
def _count_nonzero(draw: st.DrawFn) -> Case:
    shape = draw_shape(draw, min_rank=1)
    return {"dim": draw_axis(draw, len(shape))}, [f32(*shape)]


@valid("nms")
def _nms(draw: st.DrawFn) -> Case:
    n, anchors, classes = draw(st.integers(1, 2)), draw(st.integers(1, 6)), draw(st.integers(1, 3))
    kwargs = {
        "score_threshold": draw(st.floats(0, 1)),
        "iou_threshold": draw(st.floats(0, 1)),
        "max_det": draw(st.integers(1, anchors * classes)),
        "multi_label": draw(st.booleans()),
        "max_candidates": draw(st.integers(1, 50)),
    }
    return kwargs, [f32(n, anchors, 4), f32(n, anchors, classes)]


# -- issue 22: indexing, creation, comparisons, scans, attention -----------------------------------


def ints(*shape: int, dtype: DType = DType.INT64) -> TensorType:
    return TensorType(dtype, tuple(shape))


@valid("embedding")
def _embedding(draw: st.DrawFn) -> Case:
    kwargs = {
        "num_embeddings": draw(st.integers(2, 6)),
        "embedding_dim": draw(st.integers(1, 4)),
        "padding_idx": draw(st.sampled_from([None, 0, 1])),
    }
    dtype = draw(st.sampled_from([DType.INT32, DType.INT64]))
    return kwargs, [ints(*draw_shape(draw, max_rank=3), dtype=dtype)]


@valid("index_select")
def _index_select(draw: st.DrawFn) -> Case:
    shape = [max(d, 2) for d in draw_shape(draw, min_rank=1)]
    dim = draw_axis(draw, len(shape))
    return {"dim": dim}, [f32(*shape), ints(draw(st.integers(1, 4)))]


@valid("gather")
def _gather(draw: st.DrawFn) -> Case:
    shape = [max(d, 2) for d in draw_shape(draw, min_rank=1)]
    dim = draw_axis(draw, len(shape))
    index = [draw(st.integers(1, d)) for d in shape]
    index[dim] = draw(st.integers(1, 4))
    return {"dim": dim}, [f32(*shape), ints(*index)]


@valid("arange")
def _arange(draw: st.DrawFn) -> Case:
    start, count = draw(st.integers(-5, 5)), draw(st.integers(1, 6))
    step = draw(st.sampled_from([-3, -1, 1, 2]))
    kwargs = {"start": start, "end": start + step * count, "step": step}
    return {**kwargs, "dtype": draw(st.sampled_from(["int64", "int32", "float32"]))}, []


@valid("arange_like")
def _arange_like(draw: st.DrawFn) -> Case:
    shape = draw_shape(draw, min_rank=1)
    kwargs = {
        "dim": draw_axis(draw, len(shape)),
        "start": draw(st.integers(-3, 3)),
        "step": draw(st.sampled_from([-1, 1, 2])),
        "dtype": draw(st.sampled_from(["int64", "int32"])),
    }
    return kwargs, [f32(*shape)]


@valid("full")
def _full(draw: st.DrawFn) -> Case:
    dtype = draw(st.sampled_from(["float32", "float16", "int32", "int64", "bool"]))
    value = draw(st.sampled_from([0, 1]))
    return {"size": draw_shape(draw), "fill_value": value, "dtype": dtype}, []


@valid("full_like")
def _full_like(draw: st.DrawFn) -> Case:
    dtype = draw(st.sampled_from([None, "float32", "int64", "bool"]))
    return {"fill_value": draw(st.sampled_from([0, 1])), "dtype": dtype}, [f32(*draw_shape(draw))]


@valid("eq", "ne", "lt", "le", "gt", "ge")
def _compare(draw: st.DrawFn) -> Case:
    shape = draw_shape(draw)
    dtype = draw(st.sampled_from([DType.FLOAT32, DType.INT64]))
    if draw(st.booleans()):
        return {"other": draw(st.integers(-2, 2))}, [TensorType(dtype, tuple(shape))]
    other = _broadcast_partner(draw, shape)
    return {}, [TensorType(dtype, tuple(shape)), TensorType(dtype, tuple(other))]


@valid("where")
def _where(draw: st.DrawFn) -> Case:
    shape = draw_shape(draw)
    condition = TensorType(DType.BOOL, tuple(_broadcast_partner(draw, shape)))
    return {}, [condition, f32(*shape), f32(*_broadcast_partner(draw, shape))]


@valid("abs")
def _abs(draw: st.DrawFn) -> Case:
    dtype = draw(st.sampled_from([DType.FLOAT32, DType.INT32, DType.INT64]))
    return {}, [TensorType(dtype, tuple(draw_shape(draw)))]


@valid("cumsum")
def _cumsum(draw: st.DrawFn) -> Case:
    shape = draw_shape(draw, min_rank=1)
    dtype = draw(st.sampled_from([DType.FLOAT32, DType.INT32, DType.INT64]))
    return {"dim": draw_axis(draw, len(shape))}, [TensorType(dtype, tuple(shape))]


@valid("hf_conv1d")
def _hf_conv1d(draw: st.DrawFn) -> Case:
    shape = draw_shape(draw, min_rank=1)
    return {"out_features": draw(st.integers(1, 5)), "bias": draw(st.booleans())}, [f32(*shape)]


@valid("self_attention")
def _self_attention(draw: st.DrawFn) -> Case:
    heads, head_dim = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    n, length, e = draw(st.integers(1, 2)), draw(st.integers(1, 4)), heads * head_dim
    if draw(st.booleans()):
        names: dict[str, object] = {"qkv_proj": "c_attn"}
    else:
        names = {"q_proj": "query", "k_proj": "key", "v_proj": "value"}
    kwargs = {
        "embed_dim": e,
        "num_heads": heads,
        **names,
        "out_proj": draw(st.sampled_from([None, "dense"])),
        "weight_layout": draw(st.sampled_from(["linear", "conv1d"])),
        "bias": draw(st.booleans()),
        "causal": draw(st.booleans()),
    }
    inputs = [f32(n, length, e)]
    mask = draw(st.sampled_from([None, (n, length), (n, 1, 1, length), (1, heads, length, 1)]))
    if mask is not None:
        dtype = draw(st.sampled_from([DType.BOOL, DType.FLOAT32]))
        inputs.append(TensorType(dtype, mask))
    return kwargs, inputs

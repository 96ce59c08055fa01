"""The tiled conv2d kernel against the plain definition and torch, on random shapes, strides,
dilations, paddings, groups and dtypes; its tiles never change a result (threads 1, 2, 3 give
equal bits) and its epilogue equals the separate ops bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from trtdsl import kernels
from trtdsl.kernels import conv as conv_kernel
from trtdsl.kernels.conv import ChannelAffine


def _definition(x, w, b, stride, pad_begin, pad_end, dilation, groups):  # type: ignore[no-untyped-def]
    """y[n, k, i, j] = b[k] + sum over (c, r, s) of w[k, c, r, s] * xpad[n, g*C/G + c,
    i*sh + r*dh, j*sw + s*dw], in float64, one kernel tap at a time."""
    n, c, h, wd = x.shape
    k, cg, r, s = w.shape
    xp = np.pad(
        x.astype(np.float64),
        ((0, 0), (0, 0), (pad_begin[0], pad_end[0]), (pad_begin[1], pad_end[1])),
    )
    ho = (xp.shape[2] - dilation[0] * (r - 1) - 1) // stride[0] + 1
    wo = (xp.shape[3] - dilation[1] * (s - 1) - 1) // stride[1] + 1
    y = np.zeros((n, k, ho, wo))
    kg = k // groups
    for g in range(groups):
        xg = xp[:, g * cg : (g + 1) * cg]
        wg = w[g * kg : (g + 1) * kg].astype(np.float64)
        for i in range(r):
            for j in range(s):
                tap = xg[
                    :,
                    :,
                    i * dilation[0] : i * dilation[0] + (ho - 1) * stride[0] + 1 : stride[0],
                    j * dilation[1] : j * dilation[1] + (wo - 1) * stride[1] + 1 : stride[1],
                ]
                y[:, g * kg : (g + 1) * kg] += np.einsum("nchw,kc->nkhw", tap, wg[:, :, i, j])
    if b is not None:
        y += b.reshape(1, -1, 1, 1)
    return y


def _random_case(rng: np.random.Generator) -> dict:  # type: ignore[type-arg]
    groups = int(rng.choice([1, 1, 2, 3]))
    depthwise = rng.random() < 0.2
    c = int(rng.integers(1, 7)) * groups
    k = c if depthwise else int(rng.integers(1, 9)) * groups
    if depthwise:
        groups = c
    r, s = (int(v) for v in rng.integers(1, 5, 2))
    stride = tuple(int(v) for v in rng.integers(1, 4, 2))
    dilation = tuple(int(v) for v in rng.integers(1, 3, 2))
    pad_begin = tuple(int(v) for v in rng.integers(0, 3, 2))
    pad_end = tuple(int(v) for v in rng.integers(0, 3, 2))
    h = int(rng.integers(dilation[0] * (r - 1) + 1, 24)) - pad_begin[0]
    w = int(rng.integers(dilation[1] * (s - 1) + 1, 24)) - pad_begin[1]
    return dict(
        x=rng.standard_normal((int(rng.integers(1, 4)), c, max(h, 1), max(w, 1))),
        w=rng.standard_normal((k, c // groups, r, s)),
        b=rng.standard_normal(k) if rng.random() < 0.7 else None,
        stride=stride,
        pad_begin=pad_begin,
        pad_end=pad_end,
        dilation=dilation,
        groups=groups,
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_random_convolutions_match_the_definition(dtype: type) -> None:
    rng = np.random.default_rng(7)
    checked = 0
    for _ in range(60):
        case = _random_case(rng)
        x, w, b = case.pop("x").astype(dtype), case.pop("w").astype(dtype), case.pop("b")
        b = None if b is None else b.astype(dtype)
        ho = x.shape[2] + case["pad_begin"][0] + case["pad_end"][0]
        if ho < case["dilation"][0] * (w.shape[2] - 1) + 1:
            continue  # no output row
        if (
            x.shape[3] + sum(case["pad_begin"][1:] + case["pad_end"][1:])
            < case["dilation"][1] * (w.shape[3] - 1) + 1
        ):
            continue
        got = kernels.conv2d(x, w, b, **case)
        want = _definition(x, w, b, **case)
        assert got.dtype == dtype and got.shape == want.shape and got.flags.c_contiguous
        tolerance = 1e-5 if dtype == np.float32 else 2e-2
        np.testing.assert_allclose(got, want, rtol=tolerance, atol=tolerance)
        checked += 1
    assert checked >= 40


SHAPES = [  # each cut into several tiles: rows, channels, grouped images, shared patches
    ((1, 64, 56, 56), (256, 64, 1, 1), (1, 1), (0, 0), 1),
    ((1, 256, 14, 14), (256, 256, 3, 3), (1, 1), (1, 1), 1),
    ((2, 96, 40, 40), (96, 96, 3, 3), (2, 2), (1, 1), 1),
    ((20, 128, 7, 7), (128, 128, 3, 3), (1, 1), (1, 1), 1),
    ((2, 64, 30, 30), (128, 8, 3, 3), (1, 1), (1, 1), 8),
    ((2, 96, 30, 30), (96, 1, 5, 5), (2, 2), (2, 2), 96),
    ((1, 3, 100, 100), (64, 3, 7, 7), (2, 2), (3, 3), 1),
]


@pytest.mark.parametrize(("xs", "ws", "stride", "pad", "groups"), SHAPES)
def test_tiles_never_change_a_result(xs, ws, stride, pad, groups) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(1)
    x = rng.standard_normal(xs).astype(np.float32)
    w = (rng.standard_normal(ws) / np.sqrt(np.prod(ws[1:]))).astype(np.float32)
    b = rng.standard_normal(ws[0]).astype(np.float32)
    args = dict(stride=stride, pad_begin=pad, pad_end=pad, groups=groups)
    outputs = []
    for count in (1, 2, 3):
        with kernels.threads(count):
            outputs.append(kernels.conv2d(x, w, b, **args))
    assert all(np.array_equal(outputs[0], out) for out in outputs[1:])
    ho, wo = outputs[0].shape[2:]
    geometry = conv_kernel._Geometry(xs[2:], ws[2:], (ho, wo), stride, pad, (1, 1))
    images, rows, channels = conv_kernel._plan(xs[0], ws[0], ws[1] * groups * ws[2] * ws[3],
                                                geometry, groups)  # fmt: skip
    if groups < xs[1]:  # not depthwise: the plan cut this one into several tiles
        assert -(-xs[0] // images) * -(-ho // rows) * -(-ws[0] // channels) > 1
    want = _definition(x, w, b, stride, pad, pad, (1, 1), groups)
    np.testing.assert_allclose(outputs[0], want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
@pytest.mark.parametrize(("xs", "ws", "stride", "pad", "groups"), SHAPES[:3] + SHAPES[4:6])
def test_the_epilogue_equals_the_separate_ops(xs, ws, stride, pad, groups, dtype) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(2)
    x = rng.standard_normal(xs).astype(dtype)
    w = (rng.standard_normal(ws) / np.sqrt(np.prod(ws[1:]))).astype(dtype)
    b = rng.standard_normal(ws[0]).astype(dtype)
    args = dict(stride=stride, pad_begin=pad, pad_end=pad, groups=groups)
    with kernels.threads(2):
        plain = kernels.conv2d(x, w, b, **args)
        residual = rng.standard_normal(plain.shape).astype(dtype)
        scale = rng.uniform(0.5, 2, ws[0]).astype(np.float32)
        shift = rng.standard_normal(ws[0]).astype(np.float32)
        epilogue = (
            ChannelAffine(scale, shift),
            kernels.Activation("silu"),
            residual,
            kernels.Activation("relu"),
        )
        fused = kernels.conv2d(x, w, b, epilogue=epilogue, **args)
        separate = plain * scale.astype(dtype).reshape(1, -1, 1, 1)
        separate = separate + shift.astype(dtype).reshape(1, -1, 1, 1)
        separate = kernels.activate(separate, kernels.Activation("silu")) + residual
        separate = kernels.activate(separate, kernels.Activation("relu"))
    assert fused.dtype == dtype
    np.testing.assert_array_equal(fused, separate)


@pytest.mark.oracle
def test_random_convolutions_match_torch() -> None:
    torch = pytest.importorskip("torch")
    functional = torch.nn.functional
    rng = np.random.default_rng(11)
    checked = 0
    for _ in range(40):
        case = _random_case(rng)
        if case["pad_begin"] != case["pad_end"]:
            case["pad_end"] = case["pad_begin"]  # torch pads symmetrically
        x, w = case.pop("x").astype(np.float32), case.pop("w").astype(np.float32)
        b = case.pop("b")
        b = None if b is None else b.astype(np.float32)
        try:
            want = functional.conv2d(
                torch.from_numpy(x),
                torch.from_numpy(w),
                None if b is None else torch.from_numpy(b),
                case["stride"],
                case["pad_begin"],
                case["dilation"],
                case["groups"],
            ).numpy()
        except RuntimeError:
            continue  # no output
        got = kernels.conv2d(x, w, b, **case)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
        checked += 1
    assert checked >= 25


def test_asymmetric_and_negative_padding_match_an_explicitly_padded_input() -> None:
    """TensorRT's pre/post padding may differ per side and be negative (input rows dropped):
    the kernel pads the input once, so every case equals a convolution of the input padded
    (or cropped) beforehand and no padding."""
    rng = np.random.default_rng(7)
    checked = 0
    for _ in range(200):
        n, c, k = (int(v) for v in rng.integers(1, 4, 3))
        r, s = (int(v) for v in rng.integers(1, 4, 2))
        stride = tuple(int(v) for v in rng.integers(1, 3, 2))
        dilation = tuple(int(v) for v in rng.integers(1, 3, 2))
        pad_begin = tuple(int(v) for v in rng.integers(-1, 3, 2))
        pad_end = tuple(int(v) for v in rng.integers(-1, 3, 2))
        x = rng.standard_normal((n, c, *(int(v) for v in rng.integers(4, 12, 2))))
        x = x.astype(np.float32)
        w = rng.standard_normal((k, c, r, s)).astype(np.float32)
        padded = x
        for axis, (lo, hi) in enumerate(zip(pad_begin, pad_end, strict=True), start=2):
            widths = [(0, 0)] * 4
            widths[axis] = (max(lo, 0), max(hi, 0))
            padded = np.pad(padded, widths)
            size = padded.shape[axis]
            padded = padded.take(range(max(-lo, 0), size - max(-hi, 0)), axis=axis)
        if any(padded.shape[2 + a] < dilation[a] * ((r, s)[a] - 1) + 1 for a in (0, 1)):
            continue
        want = kernels.conv2d(padded, w, None, stride=stride, dilation=dilation)
        got = kernels.conv2d(x, w, None, stride=stride, pad_begin=pad_begin, pad_end=pad_end,
                             dilation=dilation)  # fmt: skip
        np.testing.assert_array_equal(got, want)
        checked += 1
    assert checked >= 100

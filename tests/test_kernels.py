"""NumPy kernels against brute-force Python loops on tiny inputs (no torch needed)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from trtdsl import kernels
from trtdsl.kernels.special import erf


def test_erf_matches_math_erf() -> None:
    x = np.concatenate([np.linspace(-6, 6, 4001), [0.0, 2.4999999, 2.5, -2.5, 30.0, -30.0]])
    expected = np.array([math.erf(v) for v in x])
    np.testing.assert_allclose(erf(x), expected, rtol=0, atol=1e-10)
    assert erf(np.float32(0.5)).dtype == np.float64
    np.testing.assert_array_equal(erf(np.array([np.inf, -np.inf])), [1.0, -1.0])
    assert np.isnan(erf(np.array([np.nan]))).all()
    assert erf(np.zeros((2, 0, 3))).shape == (2, 0, 3)
    with np.errstate(all="raise"):  # no overflow or underflow on extreme inputs
        np.testing.assert_array_equal(erf(np.array([1e300, -1e300, 26.5, 7.0])), [1, -1, 1, 1])
    big = np.linspace(-3, 3, 100_003)  # spans several internal blocks
    np.testing.assert_allclose(erf(big), [math.erf(v) for v in big], rtol=0, atol=1e-10)


def _brute_conv(x, w, b, stride, pad, dilation, groups):  # type: ignore[no-untyped-def]
    n, c, h, wd = x.shape
    k, cg, r, s = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad[0], pad[0]), (pad[1], pad[1])))
    ho = (h + 2 * pad[0] - dilation[0] * (r - 1) - 1) // stride[0] + 1
    wo = (wd + 2 * pad[1] - dilation[1] * (s - 1) - 1) // stride[1] + 1
    y = np.zeros((n, k, ho, wo))
    kg = k // groups
    for ni, ki, oy, ox in itertools.product(range(n), range(k), range(ho), range(wo)):
        g = ki // kg
        acc = 0.0 if b is None else float(b[ki])
        for ci, i, j in itertools.product(range(cg), range(r), range(s)):
            acc += (
                xp[
                    ni,
                    g * cg + ci,
                    oy * stride[0] + i * dilation[0],
                    ox * stride[1] + j * dilation[1],
                ]
                * w[ki, ci, i, j]
            )
        y[ni, ki, oy, ox] = acc
    return y


@pytest.mark.parametrize(
    ("c", "k", "kernel", "stride", "pad", "dilation", "groups", "bias"),
    [
        (3, 4, (3, 3), (1, 1), (1, 1), (1, 1), 1, True),
        (4, 6, (2, 3), (2, 1), (0, 1), (1, 2), 2, False),
        (4, 4, (3, 3), (2, 2), (1, 1), (1, 1), 4, True),  # depthwise
        (2, 3, (1, 1), (2, 3), (0, 0), (1, 1), 1, True),
    ],
)
def test_conv2d_kernel_matches_loops(c, k, kernel, stride, pad, dilation, groups, bias) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, c, 6, 7)).astype(np.float32)
    w = rng.standard_normal((k, c // groups, *kernel)).astype(np.float32)
    b = rng.standard_normal(k).astype(np.float32) if bias else None
    got = kernels.conv2d(
        x, w, b, stride=stride, pad_begin=pad, pad_end=pad, dilation=dilation, groups=groups
    )
    assert got.dtype == np.float32
    np.testing.assert_allclose(
        got, _brute_conv(x, w, b, stride, pad, dilation, groups), rtol=1e-5, atol=1e-5
    )


def _brute_pool(x, kind, kernel, stride, pad, ceil_mode, count_include_pad):  # type: ignore[no-untyped-def]
    """PyTorch's pooling loops (aten/src/ATen/native/AvgPool2d.cpp, DilatedMaxPool2d)."""
    n, c, h, w = x.shape
    ho = kernels.pool_output_size(h, kernel[0], stride[0], pad[0], pad[0], ceil_mode)
    wo = kernels.pool_output_size(w, kernel[1], stride[1], pad[1], pad[1], ceil_mode)
    y = np.zeros((n, c, ho, wo))
    for oy, ox in itertools.product(range(ho), range(wo)):
        hs, ws = oy * stride[0] - pad[0], ox * stride[1] - pad[1]
        he, we = min(hs + kernel[0], h + pad[0]), min(ws + kernel[1], w + pad[1])
        pool_size = (he - hs) * (we - ws)
        hs, ws, he, we = max(hs, 0), max(ws, 0), min(he, h), min(we, w)
        window = x[:, :, hs:he, ws:we]
        if kind == "max":
            y[:, :, oy, ox] = window.max(axis=(2, 3))
        else:
            divisor = pool_size if count_include_pad else (he - hs) * (we - ws)
            y[:, :, oy, ox] = window.sum(axis=(2, 3)) / divisor
    return y


@pytest.mark.parametrize(
    ("kind", "count_include_pad"), [("max", True), ("avg", True), ("avg", False)]
)
@pytest.mark.parametrize(
    ("kernel", "stride", "pad", "ceil_mode", "hw"),
    [
        ((3, 3), (2, 2), (1, 1), False, (7, 8)),
        ((3, 3), (2, 2), (1, 1), True, (8, 8)),
        ((2, 2), (2, 2), (1, 1), True, (3, 6)),
        ((3, 2), (2, 1), (1, 0), True, (6, 5)),
        ((2, 3), (3, 2), (0, 1), True, (7, 7)),
    ],
)
def test_pool2d_kernel_matches_pytorch_loops(
    kind, count_include_pad, kernel, stride, pad, ceil_mode, hw
) -> None:  # type: ignore[no-untyped-def]
    x = np.random.default_rng(2).standard_normal((1, 2, *hw)).astype(np.float32)
    out_hw = tuple(
        kernels.pool_output_size(hw[a], kernel[a], stride[a], pad[a], pad[a], ceil_mode)
        for a in (0, 1)
    )
    got = kernels.pool2d(
        x, kind, kernel, stride, pad, pad, out_hw=out_hw, count_include_pad=count_include_pad
    )
    want = _brute_pool(x, kind, kernel, stride, pad, ceil_mode, count_include_pad)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(
    ("size", "kernel", "stride", "pad", "ceil_mode", "expected"),
    [
        (112, 3, 2, 1, False, 56),  # ResNet max pool
        (8, 3, 2, 0, False, 3),
        (8, 3, 2, 0, True, 4),
        (3, 2, 2, 1, True, 2),  # naive ceil gives 3; the last window would start in padding
        (6, 2, 2, 1, True, 4),
        (5, 3, 3, 0, True, 2),
    ],
)
def test_pool_output_size(size, kernel, stride, pad, ceil_mode, expected) -> None:  # type: ignore[no-untyped-def]
    assert kernels.pool_output_size(size, kernel, stride, pad, pad, ceil_mode) == expected

"""linear, matmul, layer_norm, softmax and scaled_dot_product_attention against their plain
definitions (float64) and torch, on random shapes; threads never change a result."""

from __future__ import annotations

import math

import numpy as np
import pytest

from trtdsl import kernels


def _threads_agree(fn, *args, **kwargs) -> np.ndarray:  # type: ignore[no-untyped-def]
    """fn's result, checked equal bit for bit on 1, 2 and 3 threads."""
    results = []
    for count in (1, 2, 3):
        with kernels.threads(count):
            results.append(fn(*args, **kwargs))
    assert all(np.array_equal(results[0], r, equal_nan=True) for r in results[1:])
    return results[0]


def test_linear_is_x_at_w_transposed_plus_b_and_fuses_its_epilogue() -> None:
    rng = np.random.default_rng(0)
    gelu = kernels.Activation("gelu")
    for x_shape, n in [((1, 5), 3), ((197, 64), 700), ((3, 2, 7), 96), ((700, 33), 530)]:
        x = rng.standard_normal(x_shape).astype(np.float32)
        w = rng.standard_normal((n, x_shape[-1])).astype(np.float32)
        b = rng.standard_normal(n).astype(np.float32)
        got = _threads_agree(kernels.linear, x, w, b)
        want = x.astype(np.float64) @ w.T.astype(np.float64) + b
        assert got.shape == (*x_shape[:-1], n) and got.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
        residual = rng.standard_normal(got.shape).astype(np.float32)
        fused = kernels.linear(x, w, b, (gelu, residual))
        np.testing.assert_array_equal(fused, kernels.activate(got, gelu) + residual)
    half = kernels.linear(x.astype(np.float16), w.astype(np.float16), None, (gelu,))
    assert half.dtype == np.float16
    plain = kernels.linear(x.astype(np.float16), w.astype(np.float16), None)
    np.testing.assert_array_equal(half, kernels.activate(plain, gelu))


def test_matmul_broadcasts_like_numpy() -> None:
    rng = np.random.default_rng(1)
    for a_shape, b_shape in [((5, 7), (7, 3)), ((2, 3, 40, 64), (2, 3, 64, 40)), ((4, 1, 9, 8),
                             (3, 8, 600)), ((7,), (7, 2)), ((6, 7), (7,))]:  # fmt: skip
        a = rng.standard_normal(a_shape).astype(np.float32)
        b = rng.standard_normal(b_shape).astype(np.float32)
        got = _threads_agree(kernels.matmul, a, b)
        want = np.matmul(a.astype(np.float64), b.astype(np.float64))
        assert got.shape == want.shape and got.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("rows", [7, 600, 1024])
def test_matmul_epilogue_adds_a_bias_row_or_a_full_array_on_every_tile(rows: int) -> None:
    # Tall products are cut into row tiles: a (1, 1, m) bias must reach every one of them.
    rng = np.random.default_rng(2)
    a = rng.standard_normal((1, rows, 96)).astype(np.float32)
    b = rng.standard_normal((96, 576)).astype(np.float32)
    bias = rng.standard_normal((1, 1, 576)).astype(np.float32)
    full = rng.standard_normal((1, rows, 576)).astype(np.float32)
    plain = kernels.matmul(a, b)
    np.testing.assert_array_equal(_threads_agree(kernels.matmul, a, b, [bias]), plain + bias)
    np.testing.assert_array_equal(_threads_agree(kernels.matmul, a, b, [full]), plain + full)


def _layer_norm(x, weight, bias, eps, axes):  # type: ignore[no-untyped-def]
    x = x.astype(np.float64)
    dims = tuple(range(x.ndim - axes, x.ndim))
    mean = x.mean(axis=dims, keepdims=True)
    var = np.square(x - mean).mean(axis=dims, keepdims=True)
    y = (x - mean) / np.sqrt(var + eps)
    return y * (1 if weight is None else weight) + (0 if bias is None else bias)


@pytest.mark.parametrize(
    ("shape", "axes", "affine"),
    [((2, 197, 768), 1, True), ((5, 3), 1, False), ((2, 3, 4, 5), 2, True), ((1, 70000), 1, True)],
)
def test_layer_norm_is_its_definition(shape: tuple[int, ...], axes: int, affine: bool) -> None:
    rng = np.random.default_rng(2)
    x = (rng.standard_normal(shape) * 3 + 1).astype(np.float32)
    normalized = shape[len(shape) - axes :]
    weight = rng.standard_normal(normalized).astype(np.float32) if affine else None
    bias = rng.standard_normal(normalized).astype(np.float32) if affine else None
    got = _threads_agree(kernels.layer_norm, x, weight, bias, 1e-5, axes)
    assert got.shape == x.shape and got.dtype == np.float32
    np.testing.assert_allclose(got, _layer_norm(x, weight, bias, 1e-5, axes), atol=2e-5)


@pytest.mark.parametrize(("shape", "axis"), [((3, 5), -1), ((2, 7, 9, 11), 1), ((1, 4, 16, 80), 2)])
def test_softmax_is_its_definition_along_any_axis(shape: tuple[int, ...], axis: int) -> None:
    x = (np.random.default_rng(3).standard_normal(shape) * 20).astype(np.float32)
    got = _threads_agree(kernels.softmax, x, axis)
    e = np.exp(x - x.max(axis=axis, keepdims=True)).astype(np.float64)
    np.testing.assert_allclose(got, e / e.sum(axis=axis, keepdims=True), rtol=1e-5, atol=1e-7)
    rows = np.full((2, 3), -np.inf, np.float32)
    rows[1] = [0.0, np.log(3.0), -np.inf]
    with np.errstate(all="raise"):
        out = kernels.softmax(rows, -1)
    assert np.isnan(out[0]).all()  # no finite score: NaN, as torch
    np.testing.assert_allclose(out[1], [0.25, 0.75, 0.0], rtol=1e-6)


def _attention(q, k, v, mask=None, causal=False, scale=None):  # type: ignore[no-untyped-def]
    q, k, v = (a.astype(np.float64) for a in (q, k, v))
    scores = q @ np.swapaxes(k, -1, -2) * (1 / math.sqrt(q.shape[-1]) if scale is None else scale)
    if causal:
        scores = np.where(np.tri(q.shape[-2], k.shape[-2], dtype=bool), scores, -np.inf)
    if mask is not None:
        scores = np.where(mask, scores, -np.inf) if mask.dtype == bool else scores + mask
    e = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return (e / e.sum(axis=-1, keepdims=True)) @ v


@pytest.mark.parametrize(
    ("n", "h", "length", "source", "mask_kind", "causal", "scale"),
    [
        (2, 12, 197, 197, None, False, None),
        (1, 2, 5, 9, "bool", False, None),
        (2, 3, 9, 5, "float", True, 0.3),
        (1, 1, 700, 130, "bool", True, None),
    ],
)
def test_attention_is_its_definition(n, h, length, source, mask_kind, causal, scale) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(4)
    q = rng.standard_normal((n, h, length, 16)).astype(np.float32)
    k = rng.standard_normal((n, h, source, 16)).astype(np.float32)
    v = rng.standard_normal((n, h, source, 8)).astype(np.float32)
    mask = None
    if mask_kind == "bool":
        mask = rng.random((length, source)) < 0.7
        mask[:, 0] = True  # every query keeps a key
    elif mask_kind == "float":
        mask = rng.standard_normal((n, 1, length, source)).astype(np.float32)
    got = _threads_agree(kernels.scaled_dot_product_attention, q, k, v, mask, causal, scale)
    assert got.shape == (n, h, length, 8) and got.dtype == np.float32
    want = _attention(q, k, v, mask, causal, scale)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("all_excluded", [np.nan, 0.0, 2.5])
def test_a_query_with_no_key_gets_all_excluded(all_excluded: float) -> None:
    rng = np.random.default_rng(6)
    q, k, v = (rng.standard_normal((1, 2, 6, 4)).astype(np.float32) for _ in range(3))
    mask = rng.random((6, 6)) < 0.6
    mask[:, 0], mask[3] = True, False  # only query 3 keeps no key
    got = kernels.scaled_dot_product_attention(q, k, v, mask, all_excluded=all_excluded)
    np.testing.assert_array_equal(got[:, :, 3], np.full((1, 2, 4), all_excluded, np.float32))
    kept = np.arange(6) != 3
    want = _attention(q, k, v, mask | ~kept[:, None], False, None)
    np.testing.assert_allclose(got[:, :, kept], want[:, :, kept], rtol=1e-5, atol=1e-5)
    empty = np.zeros((1, 2, 0, 4), np.float32)
    none = kernels.scaled_dot_product_attention(q, empty, empty, all_excluded=all_excluded)
    np.testing.assert_array_equal(none, np.full(q.shape, all_excluded, np.float32))


@pytest.mark.oracle
def test_layer_norm_softmax_and_attention_agree_with_torch() -> None:
    torch = pytest.importorskip("torch")
    functional = torch.nn.functional
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 50, 96)).astype(np.float32)
    w, b = rng.standard_normal(96).astype(np.float32), rng.standard_normal(96).astype(np.float32)
    t = torch.from_numpy
    want = functional.layer_norm(t(x), (96,), t(w), t(b), 1e-6).numpy()
    np.testing.assert_allclose(kernels.layer_norm(x, w, b, 1e-6), want, rtol=1e-5, atol=1e-5)
    want = functional.softmax(t(x), dim=1).numpy()
    np.testing.assert_allclose(kernels.softmax(x, 1), want, rtol=1e-5, atol=1e-7)
    q, k, v = (rng.standard_normal((2, 4, 33, 24)).astype(np.float32) for _ in range(3))
    for mask, causal in [(None, False), (rng.random((33, 33)) < 0.8, False), (None, True)]:
        if mask is not None:
            mask[:, 0] = True
        want = functional.scaled_dot_product_attention(
            t(q), t(k), t(v), attn_mask=None if mask is None else t(mask), is_causal=causal
        ).numpy()
        got = kernels.scaled_dot_product_attention(q, k, v, mask, causal)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_empty_inputs_give_empty_or_defined_outputs() -> None:
    zeros = np.zeros
    assert kernels.conv2d(zeros((0, 3, 8, 8), np.float32), zeros((4, 3, 3, 3), np.float32),
                          None).shape == (0, 4, 6, 6)  # fmt: skip
    assert kernels.linear(zeros((0, 5), np.float32), zeros((3, 5), np.float32)).shape == (0, 3)
    bias_only = kernels.linear(zeros((2, 0), np.float32), zeros((3, 0), np.float32),
                               np.ones(3, np.float32))  # fmt: skip
    np.testing.assert_array_equal(bias_only, np.ones((2, 3)))
    assert kernels.matmul(zeros((2, 0, 5), np.float32), zeros((5, 3), np.float32)).shape == (
        2,
        0,
        3,
    )
    q = zeros((1, 2, 2, 4), np.float32)
    none = kernels.scaled_dot_product_attention(q, zeros((1, 2, 0, 4)), zeros((1, 2, 0, 4)))
    assert none.shape == (1, 2, 2, 4) and np.isnan(none).all()  # no key: as all excluded
    assert kernels.layer_norm(zeros((0, 5), np.float32), None, None, 1e-5).shape == (0, 5)

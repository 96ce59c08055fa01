"""The float32 activation kernels against their definitions computed in float64 and against
torch; one element's value never depends on the array's size, layout, blocking or threads."""

from __future__ import annotations

import math

import numpy as np
import pytest

from trtdsl import kernels
from trtdsl.ir.ops import make_op
from trtdsl.kernels.pointwise import BLOCK, TILE, Activation
from trtdsl.kernels.special import erf


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-x)))


DEFINITIONS = {  # float64, as the ops' docstrings define them
    "relu": lambda x: np.maximum(x, 0),
    "relu6": lambda x: np.minimum(np.maximum(x, 0), 6),
    "sigmoid": _sigmoid,
    "silu": lambda x: x * _sigmoid(x),
    "x_sigmoid": lambda x: x * _sigmoid(x),
    "tanh": np.tanh,
    "gelu": lambda x: 0.5 * x * (1 + erf(x / math.sqrt(2))),
    "gelu_tanh": lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3))),
    "hardsigmoid": lambda x: np.clip(x + 3, 0, 6) / 6,
    "hardswish": lambda x: x * np.clip(x + 3, 0, 6) / 6,
}
ULPS = {"sigmoid": 4, "silu": 4, "x_sigmoid": 5, "tanh": 2, "gelu": 24, "gelu_tanh": 24}
ULPS |= {"hardswish": 2}
"""Largest error in float32 ulps of the result, where the result is at least 1e-3 (others: 1;
the GELUs take exp of an argument of up to ~20 computed in float32, which costs ~20 ulps in
the tail; below 1e-3 ``ATOL`` holds)."""
ATOL = 2e-9


def _inputs() -> np.ndarray:
    rng = np.random.default_rng(0)
    return np.concatenate(
        [
            np.linspace(-30, 30, 60001),
            rng.standard_normal(20000) * 4,
            [0.0, -0.0, 1e-30, -1e-30, 88.0, -88.0, 89.0, -89.0, 100.0, -100.0],
        ]
    ).astype(np.float32)


@pytest.mark.parametrize("kind", sorted(DEFINITIONS))
def test_each_activation_is_its_definition_to_a_few_ulps(kind: str) -> None:
    x = _inputs()
    got = kernels.activate(x, Activation(kind))
    assert got.dtype == np.float32 and got.shape == x.shape
    want = DEFINITIONS[kind](x.astype(np.float64))
    error = np.abs(got - want)
    ulp = np.spacing(np.abs(want).astype(np.float32)).astype(np.float64)
    large = np.abs(want) >= 1e-3
    assert large.sum() > 30000
    assert (error[large] / ulp[large]).max() <= ULPS.get(kind, 1)
    assert error[~large].max(initial=0) <= ATOL + 1e-6 * np.abs(want[~large]).max(initial=0)


def test_parameterised_activations_and_non_finite_values() -> None:
    x = np.array([-np.inf, -3.0, -0.5, 0.0, 0.5, 3.0, np.inf, np.nan], np.float32)
    clip = kernels.activate(x, Activation("clip", alpha=-1.0, beta=2.0))
    np.testing.assert_array_equal(clip, [-1, -1, -0.5, 0, 0.5, 2, 2, np.nan])
    leaky = kernels.activate(x, Activation("leaky_relu", alpha=0.1))
    np.testing.assert_allclose(leaky, [-np.inf, -0.3, -0.05, 0, 0.5, 3, np.inf, np.nan])
    with np.errstate(all="raise"):  # no warning escapes a kernel
        sigmoid = kernels.activate(x, Activation("sigmoid"))
        silu = kernels.activate(x, Activation("silu"))
        gelu = kernels.activate(x, Activation("gelu"))
    np.testing.assert_array_equal(sigmoid[[0, 3, 6]], [0.0, 0.5, 1.0])
    assert np.isnan(sigmoid[-1]) and np.isnan(silu[-1]) and np.isnan(gelu[-1])
    assert silu[6] == np.inf and gelu[6] == np.inf and gelu[3] == 0
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        Activation("swish")


@pytest.mark.parametrize("kind", ["gelu", "silu", "x_sigmoid", "hardswish", "leaky_relu"])
def test_a_value_never_depends_on_layout_blocking_or_threads(kind: str) -> None:
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((3, 2 * TILE // 1000 + 7, 1000)) * 5).astype(np.float32)
    activation = Activation(kind, alpha=0.2)
    results = []
    for count in (1, 2, 3):
        with kernels.threads(count):
            results.append(kernels.activate(x, activation))
    whole = results[0]
    assert x.size > 2 * TILE and all(np.array_equal(whole, r) for r in results)
    view = x[:, 5:, 17:900].copy()  # a strided tile, as a fused epilogue sees one
    strided = x.copy()[:, 5:, 17:900]
    activation.apply_(strided)
    np.testing.assert_array_equal(strided, whole[:, 5:, 17:900])
    np.testing.assert_array_equal(kernels.activate(view, activation), whole[:, 5:, 17:900])
    single = x[1, 9, : BLOCK // 10].copy()
    np.testing.assert_array_equal(kernels.activate(single, activation), whole[1, 9, : BLOCK // 10])


def test_half_precision_is_computed_in_float32_and_rounded_once() -> None:
    x = np.linspace(-8, 8, 4001).astype(np.float16)
    got = kernels.activate(x, Activation("gelu"))
    assert got.dtype == np.float16
    want = kernels.activate(x.astype(np.float32), Activation("gelu")).astype(np.float16)
    np.testing.assert_array_equal(got, want)
    inplace = x.copy()
    assert kernels.activate(inplace, Activation("gelu"), out=inplace) is inplace
    np.testing.assert_array_equal(inplace, want)


@pytest.mark.parametrize(
    ("op", "kwargs"),
    [
        ("relu", {}),
        ("relu6", {}),
        ("sigmoid", {}),
        ("silu", {}),
        ("tanh", {}),
        ("gelu", {}),
        ("gelu", {"approximate": "tanh"}),
        ("hardsigmoid", {}),
        ("hardswish", {}),
        ("leaky_relu", {"negative_slope": 0.2}),
        ("clip", {"min": -1.5, "max": 0.5}),
    ],
)
def test_the_ops_reference_is_its_kernel_and_agrees_with_torch(op: str, kwargs: dict) -> None:  # type: ignore[type-arg]
    torch = pytest.importorskip("torch")
    functional = torch.nn.functional
    x = _inputs()
    got = make_op(op, kwargs).reference([x], {})
    t = torch.from_numpy(x)
    want = {
        "relu": lambda: functional.relu(t),
        "relu6": lambda: functional.relu6(t),
        "sigmoid": lambda: torch.sigmoid(t),
        "silu": lambda: functional.silu(t),
        "tanh": lambda: torch.tanh(t),
        "gelu": lambda: functional.gelu(t, approximate=kwargs.get("approximate", "none")),
        "hardsigmoid": lambda: functional.hardsigmoid(t),
        "hardswish": lambda: functional.hardswish(t),
        "leaky_relu": lambda: functional.leaky_relu(t, 0.2),
        "clip": lambda: torch.clamp(t, -1.5, 0.5),
    }[op]().numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)

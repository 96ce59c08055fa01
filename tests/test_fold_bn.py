"""Batch-norm folding: which BNs fold, the folded arithmetic, and unchanged outputs."""

from __future__ import annotations

import numpy as np
import pytest

from trtdsl import ModelBuilder
from trtdsl.backends.reference import run_reference
from trtdsl.debug.folding import folding_error
from trtdsl.errors import WeightError
from trtdsl.ir.graph import Graph
from trtdsl.ir.ops.conv import Conv2d
from trtdsl.ir.ops.normalization import BatchNorm2d
from trtdsl.passes import fold_batchnorm, foldable_batchnorms
from trtdsl.weights import random_weights


def _mixed_graph() -> Graph:
    """Two foldable BNs (conv with and without bias) and three that must stay."""
    b = ModelBuilder("mixed")
    x = b.input("x", ("N", 3, 9, 9), dims={"N": (1, 2, 4)})
    a = b.conv2d(x, out_channels=8, kernel_size=3, padding=1, bias=False, name="a")
    a = b.batch_norm2d(a, name="a_bn")  # folds (no conv bias)
    c = b.conv2d(a, out_channels=8, kernel_size=3, stride=2, groups=2, name="c")
    c = b.batch_norm2d(c, eps=1e-3, name="c_bn")  # folds (conv bias, groups)
    d = b.conv2d(c, out_channels=8, kernel_size=1, name="d")
    d_bn = b.batch_norm2d(d, name="d_bn")  # stays: d is also read by "skip"
    s = b.add(d_bn, d, name="skip")
    r = b.relu(s, name="relu")
    r_bn = b.batch_norm2d(r, name="r_bn")  # stays: its input is not a conv
    e = b.conv2d(r_bn, out_channels=4, kernel_size=1, name="e")
    e_bn = b.batch_norm2d(e, name="e_bn")  # stays: e is a graph output
    b.output(e_bn, "y")
    b.output(e, "e_raw")
    return b.build()


@pytest.fixture(scope="module")
def mixed() -> tuple[Graph, dict[str, np.ndarray]]:
    graph = _mixed_graph()
    weights = random_weights(graph, seed=4)
    # Make the BNs far from identity so that a missing fold would show.
    rng = np.random.default_rng(0)
    for key in weights:
        if key.endswith(("running_mean", "bias")):
            weights[key] = rng.uniform(-2, 2, weights[key].shape).astype(np.float32)
        elif key.endswith("running_var"):
            weights[key] = rng.uniform(0.1, 4, weights[key].shape).astype(np.float32)
    return graph, weights


def test_exactly_the_foldable_batchnorms_are_removed(
    mixed: tuple[Graph, dict[str, np.ndarray]],
) -> None:
    graph, weights = mixed
    pairs = [(conv.name, bn.name) for conv, bn in foldable_batchnorms(graph)]
    assert pairs == [("a", "a_bn"), ("c", "c_bn")]
    folded, new_weights = fold_batchnorm(graph, weights)
    bns = [n.name for n in folded.nodes if isinstance(n.op, BatchNorm2d)]
    assert bns == ["d_bn", "r_bn", "e_bn"]
    a = folded.node("a")
    assert isinstance(a.op, Conv2d) and a.op.bias and a.outputs == ("a_bn",)
    assert folded.node("c").inputs == ("a_bn",)
    assert not any(k.startswith(("a_bn.", "c_bn.")) for k in new_weights)
    assert {"a.bias", "c.bias", "d_bn.running_var"} <= set(new_weights)
    assert new_weights["d.weight"] is weights["d.weight"]  # untouched arrays pass through
    assert len(folded.nodes) == len(graph.nodes) - 2
    assert "a" not in folded.types and folded.types["a_bn"] == graph.types["a_bn"]
    assert graph.node("a_bn")  # the input graph is unchanged


def test_folded_outputs_match(mixed: tuple[Graph, dict[str, np.ndarray]]) -> None:
    graph, weights = mixed
    folded, new_weights = fold_batchnorm(graph, weights)
    x = np.random.default_rng(5).standard_normal((3, 3, 9, 9)).astype(np.float32)
    before = run_reference(graph, weights, {"x": x})
    after = run_reference(folded, new_weights, {"x": x})
    for name in ("y", "e_raw"):
        scale = np.abs(before[name]).max()
        assert np.abs(before[name] - after[name]).max() <= 1e-5 * max(scale, 1.0)
    assert folding_error(graph, weights, seed=0) < 1e-4


def test_fold_arithmetic_is_float64_then_cast(
    mixed: tuple[Graph, dict[str, np.ndarray]],
) -> None:
    graph, weights = mixed
    _, new_weights = fold_batchnorm(graph, weights)
    g, beta, mean, var = (
        weights[f"c_bn.{r}"].astype(np.float64)
        for r in ("weight", "bias", "running_mean", "running_var")
    )
    scale = g / np.sqrt(var + 1e-3)
    expected_w = (weights["c.weight"].astype(np.float64) * scale[:, None, None, None]).astype(
        np.float32
    )
    expected_b = (weights["c.bias"].astype(np.float64) * scale + beta - mean * scale).astype(
        np.float32
    )
    assert new_weights["c.weight"].dtype == np.float32
    np.testing.assert_array_equal(new_weights["c.weight"], expected_w)
    np.testing.assert_array_equal(new_weights["c.bias"], expected_b)


def test_nothing_to_fold_returns_an_equal_graph() -> None:
    b = ModelBuilder("plain")
    x = b.input("x", (1, 3, 4, 4))
    b.output(b.relu(b.batch_norm2d(x, name="bn"), name="act"), "y")
    graph = b.build()
    weights = random_weights(graph)
    folded, new_weights = fold_batchnorm(graph, weights)
    assert folded == graph and new_weights == weights


def test_missing_bn_weights_are_listed(mixed: tuple[Graph, dict[str, np.ndarray]]) -> None:
    graph, weights = mixed
    bad = {k: v for k, v in weights.items() if k not in ("a_bn.running_var", "c.bias")}
    with pytest.raises(WeightError, match=r"missing weight\(s\) a_bn\.running_var, c\.bias"):
        fold_batchnorm(graph, bad)

"""Layerwise comparison and bisection (backend faked by the reference on perturbed weights)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pytest

from trtdsl.backends.reference import capture_reference
from trtdsl.debug.compare import (
    compare_arrays,
    compare_layerwise,
    format_report,
    perturb_weights,
)
from trtdsl.errors import UsageError
from trtdsl.frontend.builder import ModelBuilder
from trtdsl.ir.graph import Graph
from trtdsl.weights import random_weights


def _residual_net() -> Graph:
    """conv-bn-relu stem, a two-branch residual block, pooling and a linear head."""
    b = ModelBuilder("residual")
    x = b.input("x", (1, 3, 8, 8))
    y = b.conv2d(x, out_channels=4, kernel_size=3, padding=1, bias=False, name="stem.conv")
    y = b.batch_norm2d(y, name="stem.bn")
    y = b.relu(y, name="stem.relu")
    left = b.conv2d(y, out_channels=4, kernel_size=3, padding=1, name="block.conv1")
    left = b.relu(left, name="block.relu1")
    left = b.conv2d(left, out_channels=4, kernel_size=3, padding=1, name="block.conv2")
    right = b.conv2d(y, out_channels=4, kernel_size=1, name="block.shortcut")
    y = b.add(left, right, name="block.add")
    y = b.relu(y, name="block.relu2")
    y = b.adaptive_avg_pool2d(y, output_size=1, name="pool")
    y = b.flatten(y, name="flatten")
    y = b.linear(y, out_features=5, name="fc")
    b.output(y, "logits")
    return b.build()


class FakeBackend:
    """run_marked over the reference with (possibly perturbed) weights; counts builds."""

    def __init__(self, graph: Graph, weights: Mapping[str, np.ndarray], inputs) -> None:
        self.values = capture_reference(graph, weights, inputs)
        self.calls: list[list[str]] = []

    def __call__(self, values: Sequence[str]) -> dict[str, np.ndarray]:
        self.calls.append(list(values))
        return {v: self.values[v] for v in values}


@pytest.fixture
def case() -> tuple[Graph, dict[str, np.ndarray], dict[str, np.ndarray]]:
    graph = _residual_net()
    weights = random_weights(graph, seed=3)
    x = np.random.default_rng(0).standard_normal((1, 3, 8, 8)).astype(np.float32)
    return graph, weights, {"x": x}


def test_compare_arrays_metrics() -> None:
    ref = np.array([1.0, -2.0, 0.5], np.float32)
    got = np.array([1.0, -2.5, 0.5], np.float32)
    max_ref, max_abs, rel, cos = compare_arrays(ref, got)
    assert (max_ref, max_abs, rel) == (2.0, 0.5, 0.25)
    assert cos == pytest.approx(float(ref @ got) / (np.linalg.norm(ref) * np.linalg.norm(got)))
    assert compare_arrays(np.zeros(3), np.zeros(3)) == (0.0, 0.0, 0.0, 1.0)
    assert compare_arrays(np.ones(2), np.array([1.0, np.nan]))[1] == float("inf")


def test_identical_backend_has_no_bad_node(case) -> None:
    graph, weights, inputs = case
    backend = FakeBackend(graph, weights, inputs)
    report = compare_layerwise(graph, weights, inputs, backend)
    assert report.first_bad is None
    assert len(report.rows) == len(graph.nodes)
    assert all(r.status == "ok" and r.max_abs_error == 0.0 for r in report.rows)
    assert len(backend.calls) == 1 and report.builds == 1
    assert "no node above tolerance" in format_report(report)
    assert "marking prevents fusion" in format_report(report)


@pytest.mark.parametrize(
    ("key", "culprit"),
    [("block.conv2.weight", "block.conv2"), ("stem.bn.running_var", "stem.bn")],
)
@pytest.mark.parametrize("bisect", [False, True], ids=["all", "bisect"])
def test_planted_error_is_named(case, key: str, culprit: str, bisect: bool) -> None:
    graph, weights, inputs = case
    backend = FakeBackend(graph, perturb_weights(weights, key, 0.5), inputs)
    report = compare_layerwise(graph, weights, inputs, backend, bisect=bisect, probes=2)
    assert report.first_bad == culprit
    bad = {r.node for r in report.rows if r.status == "bad"}
    assert culprit in bad
    if not bisect:
        # upstream of the culprit (and a parallel branch) is exact; downstream is bad
        rows = {r.node: r for r in report.rows}
        upstream_ok = ["stem.conv"] if culprit == "stem.bn" else ["stem.relu", "block.shortcut"]
        assert all(rows[n].status == "ok" for n in upstream_ok)
        assert rows["fc"].status == "bad"
    else:
        assert report.builds == len(backend.calls) >= 2
        assert all(len(c) <= 2 for c in backend.calls[1:])
    assert f"first node above tolerance 0.001: {culprit}" in format_report(report)


def test_missing_values_are_reported_not_failed(case) -> None:
    graph, weights, inputs = case
    full = FakeBackend(graph, weights, inputs)

    def folded(values: Sequence[str]) -> dict[str, np.ndarray]:
        return {v: a for v, a in full(values).items() if v != "stem.conv"}

    report = compare_layerwise(graph, weights, inputs, folded)
    rows = {r.node: r for r in report.rows}
    assert rows["stem.conv"].status == "missing"
    assert report.first_bad is None


def test_shape_mismatch_is_bad(case) -> None:
    graph, weights, inputs = case
    full = FakeBackend(graph, weights, inputs)

    def wrong(values: Sequence[str]) -> dict[str, np.ndarray]:
        got = full(values)
        got["pool"] = got["pool"].reshape(1, -1)
        return got

    report = compare_layerwise(graph, weights, inputs, wrong)
    assert report.first_bad == "pool"
    assert "backend shape" in {r.node: r for r in report.rows}["pool"].detail


def test_perturb_weights_errors_and_determinism(case) -> None:
    _, weights, _ = case
    with pytest.raises(UsageError, match=r"no weight named 'block\.conv9\.weight'.*did you mean"):
        perturb_weights(weights, "block.conv9.weight")
    with pytest.raises(UsageError, match="scale must be > 0"):
        perturb_weights(weights, "fc.weight", 0.0)
    a = perturb_weights(weights, "fc.weight", 0.1)
    b = perturb_weights(weights, "fc.weight", 0.1)
    assert np.array_equal(a["fc.weight"], b["fc.weight"])
    assert not np.array_equal(a["fc.weight"], weights["fc.weight"])
    assert a["fc.bias"] is weights["fc.bias"]
    assert a["fc.weight"].dtype == np.float32


def test_bad_tolerance_is_a_usage_error(case) -> None:
    graph, weights, inputs = case
    with pytest.raises(UsageError, match="tolerance must be > 0"):
        compare_layerwise(graph, weights, inputs, FakeBackend(graph, weights, inputs), 0.0)


def test_the_default_tolerance_is_the_precisions_and_is_stated(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from trtdsl.cli.main import main

    model = tmp_path / "m.yaml"
    model.write_text(
        "inputs:\n  x: {shape: [1, 3, 8, 8]}\nlayers:\n"
        "  - {name: conv, op: conv2d, out_channels: 4, kernel_size: 3, padding: 1}\n"
        "  - {name: relu, op: relu}\noutputs:\n  y: relu\n"
    )
    argv = ["compare", str(model), "--weights", "random", "--backend", "emulated"]
    assert main([*argv, "--precision", "fp16", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["tolerance"] == 0.02 and report["tolerance_source"] == "the fp16 default"
    assert 0 < max(r["rel_error"] for r in report["rows"]) < 0.02  # fp16 rounding: within
    assert main([*argv, "--precision", "fp16", "--tolerance", "1e-9"]) == 3
    out = capsys.readouterr().out
    assert "first node above tolerance 1e-09: conv (all values compared; tolerance: " in out
    assert "--tolerance)" in out
    assert main(argv) == 0
    assert "no node above tolerance 0.0001 (all values compared; tolerance: the fp32 " in (
        capsys.readouterr().out
    )

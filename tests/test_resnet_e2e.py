"""ResNet-50 end to end on the reference executor with random weights: batch independence,
and batch-norm folding (agreement with onnxruntime: test_onnx_export.py)."""

from __future__ import annotations

import numpy as np
import pytest

from trtdsl.backends.reference import run_reference
from trtdsl.frontend.load import load_model
from trtdsl.ir.graph import Graph
from trtdsl.ir.ops.normalization import BatchNorm2d
from trtdsl.passes import fold_batchnorm
from trtdsl.weights import random_weights

Model = tuple[Graph, dict[str, np.ndarray]]


@pytest.fixture(scope="module")
def resnet50() -> Model:
    graph = load_model("resnet50")
    return graph, random_weights(graph, seed=0)


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    return np.random.default_rng(11).standard_normal((4, 3, 224, 224)).astype(np.float32)


@pytest.fixture(scope="module")
def batch4_logits(resnet50: Model, images: np.ndarray) -> np.ndarray:
    graph, weights = resnet50
    return run_reference(graph, weights, {"x": images})["logits"]


def test_batch4_rows_equal_batch1_runs(
    resnet50: Model, images: np.ndarray, batch4_logits: np.ndarray
) -> None:
    graph, weights = resnet50
    assert batch4_logits.shape == (4, 1000) and np.isfinite(batch4_logits).all()
    # Different images give different logits (a batch mix-up could not go unnoticed).
    assert np.abs(batch4_logits[0] - batch4_logits[1]).max() > 1e-3
    for i in (0, 3):
        single = run_reference(graph, weights, {"x": images[i : i + 1]})["logits"]
        np.testing.assert_allclose(single[0], batch4_logits[i], rtol=1e-5, atol=1e-6)


def test_folded_resnet50_matches(
    resnet50: Model, images: np.ndarray, batch4_logits: np.ndarray
) -> None:
    graph, weights = resnet50
    folded, folded_weights = fold_batchnorm(graph, weights)
    assert not any(isinstance(n.op, BatchNorm2d) for n in folded.nodes)
    assert len(graph.nodes) - len(folded.nodes) == 53
    logits = run_reference(folded, folded_weights, {"x": images[:1]})["logits"]
    np.testing.assert_allclose(logits[0], batch4_logits[0], rtol=1e-4, atol=1e-5)

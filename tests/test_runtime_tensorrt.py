"""The runtime with real TensorRT on a GPU (skipped where ``tensorrt`` does not import).

Level "real TensorRT": the same checks as the emulated tests, against engines TensorRT built.
"""

from __future__ import annotations

import numpy as np
import pytest

from trtdsl.backends.reference import run_reference
from trtdsl.frontend.builder import ModelBuilder
from trtdsl.runtime.bench import benchmark, profile_layers
from trtdsl.runtime.engines import build_in_memory
from trtdsl.runtime.layers import inspect_engine
from trtdsl.runtime.runner import EngineRunner
from trtdsl.weights import random_weights

pytestmark = pytest.mark.tensorrt


@pytest.fixture(scope="module")
def tiny():
    b = ModelBuilder("tiny_trt")
    x = b.input("x", ("N", 3, 16, 16), dims={"N": (1, 2, 4)})
    y = b.conv2d(x, out_channels=8, kernel_size=3, padding=1, bias=False, name="conv1")
    y = b.batch_norm2d(y, name="bn1")
    y = b.relu(y, name="relu1")
    y = b.max_pool2d(y, kernel_size=2, name="pool1")
    y = b.adaptive_avg_pool2d(y, output_size=1, name="pool")
    y = b.flatten(y, name="flatten")
    y = b.linear(y, out_features=10, name="fc")
    b.output(y, "logits")
    graph = b.build()
    weights = random_weights(graph, seed=0)
    return graph, weights, build_in_memory(graph, weights, "auto")


def _x(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, 3, 16, 16)).astype(np.float32)


def test_tensorrt_engine_matches_reference(tiny) -> None:
    graph, weights, loaded = tiny
    assert not loaded.emulated
    with EngineRunner(loaded.engine, loaded.trt, memory="device", cuda_graph=True) as runner:
        for n in (2, 1, 4):
            out = runner.infer({"x": _x(n, n)})
            ref = run_reference(graph, weights, {"x": _x(n, n)})
            np.testing.assert_allclose(out["logits"], ref["logits"], rtol=1e-3, atol=1e-4)


def test_tensorrt_inspector_and_profiler_map_to_nodes(tiny) -> None:
    graph, _, loaded = tiny
    names = [n.name for n in loaded.graph.nodes]  # type: ignore[union-attr]
    with EngineRunner(loaded.engine, loaded.trt, memory="device") as runner:
        result = benchmark(runner, {"x": _x(2)}, warmup=2, iterations=10)
        assert result.h2d is not None and not result.emulated
        rows = profile_layers(runner, {"x": _x(2)}, iterations=3, known=names)
        info = inspect_engine(loaded.engine, loaded.trt, loaded.description, runner.context, names)
    covered = {node for row in rows for node in row.nodes}
    assert "conv1" in covered and "fc" in covered
    assert abs(sum(r.percent for r in rows) - 100.0) < 1e-6
    assert any("conv1" in layer.nodes for layer in info.layers)
    assert {t["Name"] for t in info.io_tensors} == {"x", "logits"}

"""Epilogue fusion in the reference executor and the emulator equals the unfused run bit for
bit, on every thread count; ``--threads`` on the command line."""

from __future__ import annotations

import numpy as np
import pytest

from trtdsl import ModelBuilder, kernels
from trtdsl.backends import reference
from trtdsl.backends.reference import capture_reference, run_reference
from trtdsl.cli.main import main
from trtdsl.emulator import execute
from trtdsl.ir.graph import Graph
from trtdsl.runtime.engines import build_in_memory
from trtdsl.runtime.runner import EngineRunner
from trtdsl.weights import random_weights


def _graph() -> Graph:
    """conv-bn-relu, a bottleneck with a residual add, conv-silu-add, linear-gelu-dropout."""
    b = ModelBuilder("fused")
    n = b.dim("N", 1, 2, 4)
    x = b.input("x", (n, 8, 20, 20))
    h = b.relu(b.batch_norm2d(b.conv2d(x, out_channels=32, kernel_size=3, padding=1, name="c1"),
                              name="bn1"), name="r1")  # fmt: skip
    y = b.batch_norm2d(b.conv2d(h, out_channels=32, kernel_size=1, name="c2"), name="bn2")
    h = b.relu(b.add(y, h, name="res1"), name="r2")
    s = b.silu(b.conv2d(h, out_channels=32, kernel_size=3, padding=1, name="c3"), name="s3")
    h = b.add(h, s, name="res2")
    f = b.flatten(b.adaptive_avg_pool2d(h, output_size=1, name="pool"), name="flat")
    g = b.dropout(b.gelu(b.linear(f, out_features=64, name="fc1"), name="act"), name="drop")
    b.output(b.linear(g, out_features=10, name="fc2"), "logits")
    return b.build()


def test_the_executor_fuses_and_equals_the_unfused_run() -> None:
    graph = _graph()
    chains = reference._fusions(graph)
    steps = [type(s).__name__ for chain in chains.values() for s in chain.steps]
    assert len(chains) == 4 and steps.count("tuple") == 2 and steps.count("str") == 2
    weights = random_weights(graph, seed=1)
    x = np.random.default_rng(2).standard_normal((3, 8, 20, 20)).astype(np.float32)
    fused = [run_reference(graph, weights, {"x": x}, threads=t)["logits"] for t in (1, 2, 3)]
    unfused = capture_reference(graph, weights, {"x": x}, threads=2)["fc2"]
    for out in fused:
        np.testing.assert_array_equal(out, unfused)


def test_the_emulator_fuses_and_equals_the_unfused_run(monkeypatch: pytest.MonkeyPatch) -> None:
    graph = _graph()
    weights = random_weights(graph, seed=1)
    x = np.random.default_rng(2).standard_normal((2, 8, 20, 20)).astype(np.float32)
    loaded = build_in_memory(graph, weights, "emulated")
    plan = loaded.engine._plan
    expected = execute.infer_plan_shapes(plan, {"x": x.shape})
    step = {i: i for i in range(len(plan.layers))}
    outputs = {t.tensor_id for t in plan.io if not t.is_input}
    fusions = execute._fusions(plan, expected, step, outputs)
    kinds = sorted(s.kind if isinstance(s, kernels.Activation) else "add" for f in
                   fusions.values() for s in f.steps)  # fmt: skip
    assert kinds == ["add"] * 4 + ["gelu", "relu", "relu", "x_sigmoid"]  # biases after products

    def run(threads: int) -> np.ndarray:
        with kernels.threads(threads), EngineRunner(loaded.engine, loaded.trt, "host") as r:
            return r.infer({"x": x})["logits"]

    fused = [run(1), run(3)]
    monkeypatch.setattr(execute, "_fusions", lambda *args: {})
    unfused = run(2)
    for out in fused:
        np.testing.assert_array_equal(out, unfused)
    want = run_reference(graph, weights, {"x": x})["logits"]
    np.testing.assert_allclose(unfused, want, rtol=1e-5, atol=1e-5)


def test_threads_on_the_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["run", "resnet18", "--weights", "random", "--backend", "reference"]
    assert main([*args, "--threads", "1"]) == 0
    one = capsys.readouterr().out
    assert main([*args, "--threads", "3"]) == 0
    assert capsys.readouterr().out == one and "logits" in one
    with pytest.raises(SystemExit) as exit_info:
        main([*args, "--threads", "0"])
    assert exit_info.value.code == 2
    assert "--threads: expected a whole number of threads from 1 to 1024, got '0'" in (
        capsys.readouterr().err
    )
    with pytest.raises(SystemExit):
        main([*args, "--threads", "100000"])  # not 100,000 OS threads
    assert "from 1 to 1024, got '100000'" in capsys.readouterr().err

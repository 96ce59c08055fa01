"""The runner on a real GPU through the emulated engine: device buffers, pinned staging, one
stream, async copies, dynamic shapes, CUDA events and CUDA graphs (cuda-python).

Level "GPU without TensorRT": the engine is trtdsl's CPU emulator reading and writing device
pointers; the runtime's CUDA side is real. Skipped without nvidia-smi and cuda-python.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from trtdsl.backends.reference import run_reference
from trtdsl.cli.main import main
from trtdsl.frontend.builder import ModelBuilder
from trtdsl.runtime import cuda
from trtdsl.runtime.bench import benchmark
from trtdsl.runtime.engines import build_in_memory
from trtdsl.runtime.runner import EngineRunner
from trtdsl.weights import random_weights

pytestmark = pytest.mark.gpu

TINY_YAML = """\
name: tiny
dims:
  N: {min: 1, opt: 2, max: 4}
inputs:
  x: {shape: [N, 3, 8, 8], dtype: float32}
layers:
  - {name: conv1, op: conv2d, out_channels: 4, kernel_size: 3, padding: 1, bias: false}
  - {name: bn1, op: batch_norm2d}
  - {name: relu1, op: relu}
  - {name: conv2, op: conv2d, out_channels: 4, kernel_size: 3, padding: 1}
  - {name: relu2, op: relu}
  - {name: pool, op: adaptive_avg_pool2d, output_size: 1}
  - {name: flatten, op: flatten, start_dim: 1}
  - {name: fc, op: linear, out_features: 10}
outputs:
  logits: fc
"""


@pytest.fixture(scope="module")
def tiny():
    b = ModelBuilder("tiny_gpu")
    x = b.input("x", ("N", 3, 8, 8), dims={"N": (1, 2, 4)})
    y = b.conv2d(x, out_channels=4, kernel_size=3, padding=1, bias=False, name="conv1")
    y = b.batch_norm2d(y, name="bn1")
    y = b.relu(y, name="relu1")
    y = b.adaptive_avg_pool2d(y, output_size=1, name="pool")
    y = b.flatten(y, name="flatten")
    y = b.linear(y, out_features=10, name="fc")
    b.output(y, "logits")
    graph = b.build()
    weights = random_weights(graph, seed=0)
    return graph, weights, build_in_memory(graph, weights, "emulated")


def _x(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, 3, 8, 8)).astype(np.float32)


def _memory_type(ptr: int) -> object:
    rt = cuda.cudart()
    attributes = cuda.check(rt.cudaPointerGetAttributes(ptr), "cudaPointerGetAttributes")
    return attributes.type


def test_device_buffers_copies_and_dynamic_shapes(tiny) -> None:
    graph, weights, loaded = tiny
    rt = cuda.cudart()
    with EngineRunner(loaded.engine, loaded.trt, memory="device") as runner:
        assert runner.memory.kind == "device" and runner.memory.stream_handle != 0
        sizes = []
        for n in (2, 1, 4, 3):
            out = runner.infer({"x": _x(n, seed=n)})
            ref = run_reference(graph, weights, {"x": _x(n, seed=n)})
            np.testing.assert_allclose(out["logits"], ref["logits"], rtol=1e-5, atol=1e-6)
            sizes.append(runner._buffers["x"].nbytes)
        assert sizes == [2 * 768, 2 * 768, 4 * 768, 4 * 768]  # grown only for batch 4
        device = rt.cudaMemoryType.cudaMemoryTypeDevice
        pinned = rt.cudaMemoryType.cudaMemoryTypeHost
        for name in ("x", "logits"):
            assert _memory_type(runner._buffers[name].ptr) == device
            assert _memory_type(runner._staging[name].ptr) == pinned
            assert runner.context.get_tensor_address(name) == runner._buffers[name].ptr
        stream = runner.memory.stream
    assert stream.raw is None and not runner._buffers and not runner._staging


def test_cuda_events_split_the_stages(tiny) -> None:
    _, _, loaded = tiny
    with EngineRunner(loaded.engine, loaded.trt, memory="device") as runner:
        result = benchmark(runner, {"x": _x(2)}, warmup=1, iterations=5)
    assert result.memory == "device" and result.emulated and result.iterations == 5
    for stats in (result.h2d, result.compute, result.d2h):
        assert stats is not None and 0 < stats.min <= stats.max
    assert result.latency.mean >= result.compute.mean  # type: ignore[union-attr]


def test_cuda_graph_replays_with_new_data_and_recaptures_on_new_shape(tiny) -> None:
    graph, weights, loaded = tiny
    with EngineRunner(loaded.engine, loaded.trt, memory="device", cuda_graph=True) as runner:
        for n, seed in ((2, 0), (2, 1), (3, 2), (3, 3)):
            out = runner.infer({"x": _x(n, seed)})
            ref = run_reference(graph, weights, {"x": _x(n, seed)})
            np.testing.assert_allclose(out["logits"], ref["logits"], rtol=1e-5, atol=1e-6)
            assert runner._graph is not None and runner._graph_key is not None
        times = runner.execute_timed()
        assert times.total > 0 and times.compute is None  # one launch: no split


def test_cuda_errors_carry_their_names() -> None:
    with pytest.raises(
        cuda.CudaError, match=r"cudaMalloc\(\d+\) failed: cudaErrorMemoryAllocation"
    ):
        cuda.DeviceBuffer(1 << 52)


def test_cli_run_and_compare_through_device_memory(tmp_path: Path, capsys) -> None:
    model = tmp_path / "tiny.yaml"
    model.write_text(TINY_YAML)
    args = [str(model), "--weights", "random", "--input", "x=random:2"]
    assert main(["run", *args, "-o", str(tmp_path / "ref.npz")]) == 0
    assert main(["run", *args, "--backend", "emulated", "-o", str(tmp_path / "emu.npz")]) == 0
    out = capsys.readouterr().out
    assert "device memory (cuda-python)" in out
    ref, emu = np.load(tmp_path / "ref.npz"), np.load(tmp_path / "emu.npz")
    np.testing.assert_allclose(emu["logits"], ref["logits"], rtol=1e-5, atol=1e-6)
    compare = ["compare", str(model), "--weights", "random", "--backend", "emulated"]
    assert main([*compare, "--perturb", "conv2.weight=0.5", "--memory", "device"]) == 3
    assert "first node above tolerance 0.001: conv2" in capsys.readouterr().out


def test_cli_bench_on_device_with_and_without_cuda_graph(tmp_path: Path, capsys) -> None:
    import json

    model = tmp_path / "tiny.yaml"
    model.write_text(TINY_YAML)
    args = ["bench", str(model), "--weights", "random", "--backend", "emulated"]
    assert main([*args, "--iterations", "5", "--warmup", "1", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["memory"] == "device" and data["emulated"] and data["h2d"] is not None
    assert main([*args, "--iterations", "5", "--cuda-graph", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["cuda_graph"] is True and data["h2d"] is None and data["iterations"] == 5

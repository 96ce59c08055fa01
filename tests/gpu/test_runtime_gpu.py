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
from trtdsl.errors import BackendError
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


class _DeviceCopyEngine:
    """A GPU-native stand-in engine (I/O-tensor API): y = x, as one cudaMemcpyAsync D2D on the
    caller's stream, so it can be captured in a CUDA graph (the emulated engine cannot)."""

    num_io_tensors = 2
    num_optimization_profiles = 1

    def __init__(self) -> None:
        import enum

        self.mode = enum.Enum("TensorIOMode", "INPUT OUTPUT")
        self.dtype = enum.Enum("DataType", "FLOAT")

    def get_tensor_name(self, i: int) -> str:
        return ("x", "y")[i]

    def get_tensor_mode(self, name: str):  # noqa: ANN201
        return self.mode.INPUT if name == "x" else self.mode.OUTPUT

    def get_tensor_shape(self, name: str) -> tuple[int, ...]:
        return (-1, 4)

    def get_tensor_dtype(self, name: str):  # noqa: ANN201
        return self.dtype.FLOAT

    def get_tensor_profile_shape(self, name: str, profile: int) -> list[tuple[int, ...]]:
        return [(1, 4), (2, 4), (8, 4)]

    def create_execution_context(self) -> _DeviceCopyContext:
        return _DeviceCopyContext()


class _DeviceCopyContext:
    def __init__(self) -> None:
        self.rows = 0
        self.addresses: dict[str, int] = {}
        self.launches = 0

    def set_input_shape(self, name: str, shape: tuple[int, ...]) -> bool:
        self.rows = shape[0]
        return 1 <= shape[0] <= 8 and shape[1] == 4

    def infer_shapes(self) -> list[str]:
        return []

    def get_tensor_shape(self, name: str) -> tuple[int, ...]:
        return (self.rows, 4)

    def set_tensor_address(self, name: str, ptr: int) -> bool:
        self.addresses[name] = ptr
        return True

    def execute_async_v3(self, stream: int) -> bool:
        rt = cuda.cudart()
        self.launches += 1
        kind = rt.cudaMemcpyKind.cudaMemcpyDeviceToDevice
        nbytes = self.rows * 4 * 4
        x, y = self.addresses["x"], self.addresses["y"]
        cuda.check(rt.cudaMemcpyAsync(y, x, nbytes, kind, stream), "cudaMemcpyAsync(D2D)")
        return True


def test_cuda_graph_replays_with_new_data_and_recaptures_on_new_shape() -> None:
    import types

    engine_module = types.ModuleType("gpu_copy_engine")
    with EngineRunner(_DeviceCopyEngine(), engine_module, "device", cuda_graph=True) as runner:
        context = runner.context
        graphs = []
        for rows, seed in ((2, 0), (2, 1), (2, 2), (5, 3), (5, 4)):
            x = np.random.default_rng(seed).standard_normal((rows, 4)).astype(np.float32)
            np.testing.assert_array_equal(runner.infer({"x": x})["y"], x)
            graphs.append(runner._graph)
        # captured once per shape: replays do not enqueue through the engine again
        assert graphs[0] is graphs[1] is graphs[2] and graphs[3] is graphs[4]
        assert graphs[2] is not graphs[3]
        assert context.launches == 4  # per shape: one warm-up enqueue + one captured enqueue
        times = runner.execute_timed()
        assert times.total > 0 and times.compute is None  # one launch: no split


def test_cuda_graph_through_the_emulated_engine_fails_cleanly(tiny) -> None:
    graph, weights, loaded = tiny
    with EngineRunner(loaded.engine, loaded.trt, memory="device", cuda_graph=True) as runner:
        with pytest.raises(BackendError, match="CUDA graph capture failed inside the emulated"):
            runner.infer({"x": _x(2)})
        assert runner._graph is None
        runner.cuda_graph = False  # the stream left capture mode: plain execution still works
        out = runner.infer({"x": _x(2)})
    ref = run_reference(graph, weights, {"x": _x(2)})
    np.testing.assert_allclose(out["logits"], ref["logits"], rtol=1e-5, atol=1e-6)


def test_cuda_errors_carry_their_names() -> None:
    with pytest.raises(
        cuda.CudaError, match=r"cudaMalloc\(\d+\) failed: cudaErrorMemoryAllocation"
    ):
        cuda.DeviceBuffer(1 << 52)


def test_cli_run_and_compare_through_device_memory(tmp_path: Path, capsys) -> None:
    model = tmp_path / "tiny.yaml"
    model.write_text(TINY_YAML)
    args = [str(model), "--weights", "random", "--input", "x=random:2"]
    assert main(["run", *args, "--backend", "reference", "-o", str(tmp_path / "ref.npz")]) == 0
    assert main(["run", *args, "--backend", "emulated", "-o", str(tmp_path / "emu.npz")]) == 0
    out = capsys.readouterr().out
    assert "device memory (cuda-python)" in out
    ref, emu = np.load(tmp_path / "ref.npz"), np.load(tmp_path / "emu.npz")
    np.testing.assert_allclose(emu["logits"], ref["logits"], rtol=1e-5, atol=1e-6)
    compare = ["compare", str(model), "--weights", "random", "--backend", "emulated"]
    assert main([*compare, "--perturb", "conv2.weight=0.5", "--memory", "device"]) == 3
    out = capsys.readouterr().out
    assert (
        "first node above tolerance 0.0001: conv2 (all values compared; tolerance: the fp32 "
        "default)" in out
    ), out


def test_cli_bench_on_device(tmp_path: Path, capsys) -> None:
    import json

    model = tmp_path / "tiny.yaml"
    model.write_text(TINY_YAML)
    args = ["bench", str(model), "--weights", "random", "--backend", "emulated"]
    assert main([*args, "--iterations", "5", "--warmup", "1", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["memory"] == "device" and data["emulated"] and data["h2d"] is not None
    assert main([*args, "--iterations", "5", "--cuda-graph", "--format", "json"]) == 2
    assert "CUDA graph capture failed inside the emulated engine" in capsys.readouterr().err

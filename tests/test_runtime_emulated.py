"""The runner and the run/bench/inspect/compare commands on the emulated engine, host memory.

Everything here is "emulated": trtdsl's CPU emulator of TensorRT runs the engine, with NumPy
buffers whose addresses go to set_tensor_address (no GPU, no cuda-python).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from trtdsl.backends.reference import run_reference
from trtdsl.cli.main import main
from trtdsl.frontend.load import load_model
from trtdsl.runtime.engines import EngineBackend, build_in_memory
from trtdsl.runtime.runner import EngineRunner
from trtdsl.weights import random_weights

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
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("model") / "tiny.yaml"
    path.write_text(TINY_YAML)
    return path


@pytest.fixture(scope="module")
def tiny(model_path: Path):
    graph = load_model(str(model_path))
    return graph, random_weights(graph, seed=0)


def _x(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, 3, 8, 8)).astype(np.float32)


def test_runner_matches_reference_across_dynamic_batches(tiny) -> None:
    graph, weights = tiny
    loaded = build_in_memory(graph, weights, "emulated")
    assert loaded.emulated and "emulated" in loaded.description
    with EngineRunner(loaded.engine, loaded.trt, memory="host") as runner:
        assert runner.memory.kind == "host" and runner.emulated
        sizes = []
        for n in (2, 1, 4, 3):
            out = runner.infer({"x": _x(n, seed=n)})
            ref = run_reference(graph, weights, {"x": _x(n, seed=n)})
            np.testing.assert_allclose(out["logits"], ref["logits"], rtol=1e-5, atol=1e-6)
            sizes.append(runner._buffers["x"].nbytes)
        # buffers grow for batch 4 only; batch 1 and 3 reuse the larger ones
        per_image = 3 * 8 * 8 * 4
        assert sizes == [2 * per_image, 2 * per_image, 4 * per_image, 4 * per_image]


def test_debug_build_marks_values_that_exist(tiny) -> None:
    graph, weights = tiny
    loaded = build_in_memory(graph, weights, "emulated", debug_outputs=["conv1", "relu1", "pool"])
    engine = loaded.engine
    names = {engine.get_tensor_name(i) for i in range(engine.num_io_tensors)}
    # conv1 was folded with bn1 (its node now outputs bn1's value): nothing to mark for it
    assert names == {"x", "logits", "relu1", "pool"}
    assert "bn1" not in {n.name for n in loaded.graph.nodes}  # type: ignore[union-attr]


def test_engine_backend_for_trtdsl_run(tiny) -> None:
    graph, weights = tiny
    backend = EngineBackend("emulated", memory="host")
    out = backend(graph, weights, {"x": _x(2)})
    ref = run_reference(graph, weights, {"x": _x(2)})
    np.testing.assert_allclose(out["logits"], ref["logits"], rtol=1e-5, atol=1e-6)
    assert "emulated" in backend.last_description and "host memory" in backend.last_description


def test_cli_run_emulated_matches_reference(model_path: Path, tmp_path: Path, capsys) -> None:
    ref_path, emu_path = tmp_path / "ref.npz", tmp_path / "emu.npz"
    args = [str(model_path), "--weights", "random:1", "--input", "x=random:4"]
    assert main(["run", *args, "--backend", "reference", "-o", str(ref_path)]) == 0
    assert main(["run", *args, "--backend", "emulated", "-o", str(emu_path)]) == 0
    out = capsys.readouterr().out
    assert "backend reference: the NumPy reference executor" in out
    assert "backend emulated: trtdsl TensorRT emulator" in out
    ref, emu = np.load(ref_path), np.load(emu_path)
    np.testing.assert_allclose(emu["logits"], ref["logits"], rtol=1e-5, atol=1e-6)


def test_cli_bench_emulated_json(model_path: Path, capsys) -> None:
    args = ["bench", str(model_path), "--weights", "random", "--backend", "emulated"]
    assert main([*args, "--iterations", "3", "--warmup", "1", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["emulated"] is True and "not of a TensorRT engine" in data["warning"]
    assert data["iterations"] == 3 and data["warmup"] == 1 and data["batch"] == 2
    assert data["shapes"] == {"x": [2, 3, 8, 8]}
    latency = data["latency"]
    assert latency["min"] <= latency["median"] <= latency["p99"] <= latency["max"]
    assert {"h2d", "compute", "d2h", "throughput_per_s"} <= set(data)
    assert data["compute"]["mean"] > 0


def test_cli_bench_text_says_emulated(model_path: Path, capsys) -> None:
    args = ["bench", str(model_path), "--weights", "random", "--backend", "emulated"]
    assert main([*args, "--iterations", "2", "--warmup", "0", "--memory", "host"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("!! EMULATED: these are timings of trtdsl's CPU emulator")
    assert "latency (total): min" in out and "compute: min" in out and "p99" in out


def test_cli_bench_usage_errors(model_path: Path, capsys) -> None:
    args = ["bench", str(model_path), "--weights", "random", "--backend", "emulated"]
    assert main([*args, "--iterations", "0"]) == 2
    assert "--iterations must be >= 1" in capsys.readouterr().err
    assert main([*args, "--memory", "host", "--cuda-graph"]) == 2
    assert "CUDA graphs need device memory" in capsys.readouterr().err
    assert main(["bench", str(model_path), "--backend", "emulated"]) == 2
    assert "needs --weights" in capsys.readouterr().err


def test_cli_inspect_maps_layers_to_nodes(model_path: Path, capsys) -> None:
    args = ["inspect", str(model_path), "--weights", "random", "--backend", "emulated"]
    assert main([*args, "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["emulated"] is True
    layers = {layer["name"]: layer for layer in data["layers"]}
    assert layers["conv1"]["nodes"] == ["conv1"]  # bn1 folded into it
    assert layers["fc/matmul"]["nodes"] == ["fc"] and layers["fc"]["nodes"] == ["fc"]
    assert all(layer["nodes"] for layer in data["layers"])
    assert [t["Name"] for t in data["io_tensors"]] == ["x", "logits"]
    assert data["profiles"] == [
        {"x": {"min": [1, 3, 8, 8], "opt": [2, 3, 8, 8], "max": [4, 3, 8, 8]}}
    ]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "EMULATED" in out and "fc/matmul" in out and "I/O tensor" in out


@pytest.mark.parametrize("bisect", [[], ["--bisect", "--probes", "2"]], ids=["all", "bisect"])
def test_cli_compare_names_a_planted_bad_layer(model_path: Path, capsys, bisect) -> None:
    args = ["compare", str(model_path), "--weights", "random", "--backend", "emulated"]
    code = main([*args, "--perturb", "conv2.weight=0.5", *bisect, "--memory", "host"])
    out = capsys.readouterr().out
    assert code == 3, out
    assert "first node above tolerance 0.0001: conv2" in out
    assert "marking prevents fusion" in out and "planted error: conv2.weight" in out


def test_cli_compare_clean_build_and_json(model_path: Path, capsys) -> None:
    args = ["compare", str(model_path), "--weights", "random", "--backend", "emulated"]
    assert main([*args, "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["first_bad"] is None and data["emulated"] is True
    rows = {r["node"]: r for r in data["rows"]}
    assert "bn1" not in rows and rows["conv1"]["value"] == "bn1"  # folded: conv1 defines bn1
    assert all(r["status"] == "ok" for r in data["rows"])
    assert all(r["rel_error"] <= 1e-3 and r["cosine"] > 0.9999 for r in data["rows"])
    # a batch-norm key is planted into the conv it was folded into
    assert main([*args, "--perturb", "bn1.running_var=0.5", "--memory", "host"]) == 3
    assert "first node above tolerance 0.0001: conv1" in capsys.readouterr().out
    assert main([*args, "--perturb", "conv9.weight"]) == 2
    assert "no weight named 'conv9.weight'" in capsys.readouterr().err


def test_cli_bench_profile_maps_layer_times_to_nodes(model_path: Path, capsys) -> None:
    args = ["bench", str(model_path), "--weights", "random", "--backend", "emulated"]
    flags = ["--iterations", "2", "--warmup", "0", "--profile", "--profile-iterations", "2"]
    assert main([*args, *flags, "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    layers = data["layers"]
    assert {row["layer"] for row in layers} >= {"conv1", "conv2", "fc/matmul", "fc"}
    assert all(row["nodes"] for row in layers)
    assert {node for row in layers for node in row["nodes"]} == {
        "conv1", "relu1", "conv2", "relu2", "pool", "flatten", "fc"
    }  # fmt: skip
    assert [row["ms"] for row in layers] == sorted((row["ms"] for row in layers), reverse=True)
    assert abs(sum(row["percent"] for row in layers) - 100.0) < 1e-6
    assert main([*args, *flags]) == 0
    out = capsys.readouterr().out
    assert "per-layer times" in out and "DSL nodes" in out and out.count("EMULATED") >= 2


@pytest.fixture(scope="module")
def engine_path(tiny, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An emulated plan written as an engine file (compile --emulate writes none)."""
    graph, weights = tiny
    loaded = build_in_memory(graph, weights, "emulated")
    path = tmp_path_factory.mktemp("engine") / "tiny.engine"
    path.write_bytes(bytes(loaded.engine.serialize()))
    return path


def test_cli_run_engine_file(engine_path: Path, tiny, tmp_path: Path, capsys) -> None:
    graph, weights = tiny
    x_path = tmp_path / "x.npy"
    np.save(x_path, _x(3, seed=7))
    out_path = tmp_path / "out.npz"
    assert main(["run", str(engine_path), "--input", f"x={x_path}", "-o", str(out_path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"engine {engine_path}: trtdsl TensorRT emulator")
    assert "output logits: float32[3x10]" in out and "top-5" in out
    ref = run_reference(graph, weights, {"x": _x(3, seed=7)})
    np.testing.assert_allclose(np.load(out_path)["logits"], ref["logits"], rtol=1e-5, atol=1e-6)
    assert main(["run", str(engine_path), "--shape", "x=4x3x8x8", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["emulated"] is True and data["outputs"]["logits"]["shape"] == [4, 10]
    assert main(["run", str(engine_path), "--weights", "random"]) == 2
    assert "--weights applies to a MODEL" in capsys.readouterr().err
    assert main(["run", str(engine_path), "--shape", "x=9x3x8x8"]) == 2
    assert "outside the engine's optimization profile 1x3x8x8 .. 4x3x8x8" in capsys.readouterr().err


def test_cli_bench_and_inspect_engine_file(engine_path: Path, capsys) -> None:
    assert main(["bench", str(engine_path), "--iterations", "2", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["emulated"] and data["shapes"] == {"x": [2, 3, 8, 8]}  # profile opt
    assert main(["inspect", str(engine_path), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    # without the model, node names come from the layer metadata alone
    assert {tuple(layer["nodes"]) for layer in data["layers"]} >= {("conv1",), ("fc",)}
    assert main(["inspect", str(engine_path.with_name("missing.engine"))]) == 2
    assert "missing.engine: no such file" in capsys.readouterr().err


@pytest.mark.skipif(
    importlib.util.find_spec("tensorrt") is not None, reason="TensorRT is installed here"
)
@pytest.mark.parametrize("command", ["run", "bench", "compare", "inspect"])
def test_backend_trt_without_tensorrt_points_to_emulated(model_path: Path, capsys, command) -> None:
    assert main([command, str(model_path), "--weights", "random", "--backend", "tensorrt"]) == 2
    err = capsys.readouterr().err
    assert "--backend tensorrt: TensorRT is not installed" in err and "--backend emulated" in err

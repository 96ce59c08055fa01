"""Real builder (TensorRT-RTX on CPU) through the CLI: an engine this machine cannot run is
refused by run and bench with one line naming its targets and this machine, and inspect shows
what can be read without a GPU (its sidecar and the builder's layer information)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from trtdsl.cli.main import main

pytestmark = pytest.mark.rtx

TINY = """\
name: tiny
dims:
  N: {min: 1, opt: 2, max: 4}
inputs:
  x: {shape: [N, 3, 8, 8], dtype: float32}
layers:
  - {name: conv1, op: conv2d, out_channels: 4, kernel_size: 3, padding: 1}
  - {name: relu, op: relu}
  - {name: gap, op: adaptive_avg_pool2d, output_size: 1}
  - {name: flatten, op: flatten, start_dim: 1}
  - {name: fc, op: linear, out_features: 5}
outputs:
  logits: fc
"""


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import tensorrt_rtx

    from trtdsl.runtime.engines import machine_gpu

    if machine_gpu(tensorrt_rtx)[0] is not None:
        pytest.skip("this machine can run TensorRT-RTX engines")
    folder = tmp_path_factory.mktemp("rtx")
    model = folder / "tiny.yaml"
    model.write_text(TINY)
    path = folder / "tiny.engine"
    argv = ["compile", str(model), "--weights", "random", "--backend", "tensorrt-rtx"]
    assert main([*argv, "--compute-capability", "89", "-o", str(path)]) == 0
    return path


@pytest.mark.parametrize("command", ["run", "bench"])
def test_an_engine_this_machine_cannot_run_exits_2_naming_targets_and_machine(
    engine: Path, command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert main([command, str(engine)]) == 2
    captured = capsys.readouterr()
    err = captured.err
    assert err.count("\n") == 1 and not captured.out
    assert f"{engine} is a TensorRT-RTX 1." in err and "built for ahead of time for sm_89" in err
    assert "this machine cannot run it: " in err


def test_inspect_shows_the_sidecar_and_builder_layers(
    engine: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert main(["inspect", str(engine)]) == 0
    out = capsys.readouterr().out
    assert "engine: TensorRT-RTX 1." in out and "built for ahead of time for sm_89" in out
    assert "!! not run: " in out and "1x3x8x8 .. 2x3x8x8 .. 4x3x8x8" in out
    assert main(["inspect", str(engine), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["runnable_here"] is False and data["product"] == "TensorRT-RTX"
    nodes = {n for layer in data["builder_layers"] for n in layer["nodes"]}
    assert {"conv1", "fc"} <= nodes


def test_inspect_without_a_sidecar_exits_2(
    engine: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bare = tmp_path / "bare.engine"
    bare.write_bytes(engine.read_bytes())
    assert main(["inspect", str(bare)]) == 2
    assert "this machine cannot run it" in capsys.readouterr().err


def test_int8_compile_with_calibration_writes_a_real_engine(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """calibrate, then compile --precision int8 --calibration: a real TensorRT-RTX plan with
    Q/DQ, its numerics checked (emulated where this machine cannot run it)."""
    import numpy as np

    model = tmp_path / "tiny.yaml"
    model.write_text(TINY)
    data = tmp_path / "data.npy"
    np.save(data, np.random.default_rng(0).standard_normal((16, 3, 8, 8)).astype(np.float32))
    scales = tmp_path / "s.json"
    argv = [str(model), "--weights", "random"]
    assert (
        main(["calibrate", *argv, "--data", str(data), "-o", str(scales), "--method", "max"]) == 0
    )
    engine = tmp_path / "t.int8.engine"
    compile_argv = ["compile", *argv, "--backend", "tensorrt-rtx", "--precision", "int8"]
    assert main([*compile_argv, "--calibration", str(scales), "-o", str(engine)]) == 0
    assert engine.read_bytes()[:4] == b"vtrt"
    sidecar = json.loads((tmp_path / "t.int8.engine.json").read_text())
    assert sidecar["precision"] == "int8" and sidecar["options"]["calibration"] == str(scales)
    kinds = [line for line in sidecar["builder_layer_information"] if "conv1" in line]
    assert kinds, sidecar["builder_layer_information"]
    capsys.readouterr()
    assert main([*compile_argv, "-o", str(engine)]) == 2  # no scales: one line, says how
    assert "--precision int8 needs --calibration SCALES.json" in capsys.readouterr().err

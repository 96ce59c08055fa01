"""``compare --precision int8``: the quantized layers ranked by the error they add, and
``--bisect`` searching for the layers to keep in fp16 (emulated)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from trtdsl.cli.main import main
from trtdsl.debug.quantization import search_fp16_layers

MODEL = """\
name: q
inputs:
  x: {shape: [1, 3, 16, 16], dtype: float32}
layers:
  - {name: conv1, op: conv2d, out_channels: 8, kernel_size: 3, padding: 1}
  - {name: relu1, op: relu}
  - {name: conv2, op: conv2d, out_channels: 8, kernel_size: 3, padding: 1}
  - {name: relu2, op: relu}
  - {name: gap, op: adaptive_avg_pool2d, output_size: 1}
  - {name: flat, op: flatten, start_dim: 1}
  - {name: fc, op: linear, out_features: 10}
outputs:
  y: fc
"""


def test_search_is_greedy_by_rank_then_pruned() -> None:
    """Errors by the set kept: b alone meets the tolerance; the greedy pass adds a then b,
    the pruning pass drops a."""
    errors = {(): 0.5, ("a",): 0.4, ("a", "b"): 0.05, ("b",): 0.08}
    calls: list[tuple[str, ...]] = []

    def output_error(keep: tuple[str, ...]) -> float:
        calls.append(keep)
        return errors[tuple(sorted(keep))]

    result = search_fp16_layers(output_error, ["a", "b", "c"], tolerance=0.1)
    assert result.keep == ("b",) and result.met and result.error == 0.08
    assert result.quantized_error == 0.5 and result.builds == len(calls) == 5
    assert calls == [(), ("a",), ("a", "b"), ("a",), ("b",)]
    unmet = search_fp16_layers(lambda keep: 1.0, ["a", "b"], tolerance=0.1, limit=1)
    assert unmet.keep == ("a",) and not unmet.met and unmet.builds == 2


@pytest.fixture
def calibrated(tmp_path: Path) -> tuple[Path, Path]:
    model = tmp_path / "q.yaml"
    model.write_text(MODEL)
    data = tmp_path / "data.npy"
    np.save(data, np.random.default_rng(0).standard_normal((32, 3, 16, 16)).astype(np.float32))
    scales = tmp_path / "q.json"
    argv = ["calibrate", str(model), "--weights", "random", "--data", str(data), "-o", str(scales)]
    assert main([*argv, "--method", "max"]) == 0
    return model, scales


def test_int8_compare_ranks_layers_and_finds_the_ones_to_keep_in_fp16(
    calibrated: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    model, scales = calibrated
    argv = ["compare", str(model), "--weights", "random", "--backend", "emulated"]
    argv += ["--precision", "int8", "--calibration", str(scales), "--format", "json"]
    capsys.readouterr()
    main(argv)
    report = json.loads(capsys.readouterr().out)
    losses = report["quantization_loss"]
    assert {loss["node"] for loss in losses} == {"conv1", "conv2", "fc"}
    assert [loss["added"] for loss in losses] == sorted((x["added"] for x in losses), reverse=True)
    assert main([*argv, "--bisect", "--tolerance", "1e-9"]) == 3  # unreachable: says so
    unmet = json.loads(capsys.readouterr().out)["keep_fp16"]
    assert not unmet["met_tolerance"] and unmet["layers"]
    all_quantized = unmet["all_quantized_error"]
    tolerance = all_quantized * 0.9  # just below: some layer must stay in fp16
    assert main([*argv, "--bisect", "--tolerance", str(tolerance)]) == 0
    found = json.loads(capsys.readouterr().out)["keep_fp16"]
    assert found["met_tolerance"] and 1 <= len(found["layers"]) <= 3
    assert found["output_error"] <= tolerance < all_quantized
    # The layers it names, kept through the build option, give that output error again.
    keep = [arg for name in found["layers"] for arg in ("--keep-fp16", name)]
    assert main([*argv, "--tolerance", "1", *keep]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    (fc,) = [r for r in rows if r["node"] == "fc"]
    assert fc["rel_error"] == pytest.approx(found["output_error"], rel=1e-6)


def test_run_on_the_reference_at_int8_runs_the_quantized_graph(
    calibrated: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model, scales = calibrated
    argv = ["run", str(model), "--weights", "random", "--backend", "reference"]
    assert main([*argv, "-o", str(tmp_path / "fp32.npz")]) == 0
    quantized = ["--precision", "int8", "--calibration", str(scales)]
    assert main([*argv, *quantized, "-o", str(tmp_path / "int8.npz")]) == 0
    assert "on the int8 quantized graph" in capsys.readouterr().out
    with np.load(tmp_path / "fp32.npz") as a, np.load(tmp_path / "int8.npz") as b:
        fp32, int8 = a["y"], b["y"]
    error = float(np.max(np.abs(int8 - fp32)) / np.max(np.abs(fp32)))
    assert 0 < error < 0.05  # quantization noise: different, close

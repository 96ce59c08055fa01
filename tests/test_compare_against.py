"""``compare --against``: the model as written against a framework's saved activations names
the first node whose value differs (a model-definition bug), and ``run --save-outputs all``
writes such a file from trtdsl itself."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from scripts import load_script

from trtdsl.cli.main import main

ROOT = Path(__file__).resolve().parents[1]

MODEL = """\
name: small
inputs:
  x: {{shape: [2, 3, 16, 16], dtype: float32}}
layers:
  - {{name: conv1, op: conv2d, out_channels: 8, kernel_size: 3, padding: 1, bias: false}}
  - {{name: bn1, op: batch_norm2d}}
  - {{name: relu, op: relu}}
  - {{name: pool, op: {pool}, kernel_size: 2, stride: 2}}
  - {{name: conv2, op: conv2d, out_channels: 8, kernel_size: 3, padding: 1}}
  - {{name: gap, op: adaptive_avg_pool2d, output_size: 1}}
  - {{name: flatten, op: flatten, start_dim: 1}}
  - {{name: fc, op: linear, out_features: 4}}
outputs:
  logits: fc
"""


def _torch_activations() -> ModuleType:
    return load_script(
        ROOT / "weights" / "torch_activations.py", "torch_activations", register=True
    )


@pytest.mark.oracle
def test_a_pool_written_wrong_is_found_against_torch_activations(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import torch
    from safetensors.numpy import save_file

    torch.manual_seed(0)
    net = torch.nn.Sequential()
    net.add_module("conv1", torch.nn.Conv2d(3, 8, 3, padding=1, bias=False))
    net.add_module("bn1", torch.nn.BatchNorm2d(8))
    net.add_module("relu", torch.nn.ReLU(inplace=True))
    net.add_module("pool", torch.nn.MaxPool2d(2, 2))
    net.add_module("conv2", torch.nn.Conv2d(8, 8, 3, padding=1))
    net.add_module("gap", torch.nn.AdaptiveAvgPool2d(1))
    net.add_module("flatten", torch.nn.Flatten(1))
    net.add_module("fc", torch.nn.Linear(8, 4))
    with torch.no_grad():
        net.bn1.running_mean.uniform_(-0.5, 0.5)
        net.bn1.running_var.uniform_(0.5, 2.0)
    weights = tmp_path / "w.safetensors"
    save_file({k: v.numpy() for k, v in net.state_dict().items()}, str(weights))
    x = np.random.default_rng(0).standard_normal((2, 3, 16, 16)).astype(np.float32)
    acts = tmp_path / "acts.npz"
    np.savez(acts, **_torch_activations().torch_activations(net, {"x": x}))
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text(MODEL.format(pool="max_pool2d"))
    bad.write_text(MODEL.format(pool="avg_pool2d"))

    argv = ["--weights", str(weights), "--against", str(acts), "--format", "json"]
    assert main(["compare", str(good), *argv]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["first_bad"] is None
    assert {r["node"] for r in report["rows"] if r["status"] == "ok"} >= {"conv1", "bn1", "fc"}
    assert main(["compare", str(bad), *argv]) == 3
    report = json.loads(capsys.readouterr().out)
    assert report["first_bad"] == "pool"
    assert all(r["status"] == "ok" for r in report["rows"] if r["node"] in ("conv1", "bn1", "relu"))


def test_run_save_outputs_all_feeds_compare_against(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = tmp_path / "m.yaml"
    model.write_text(MODEL.format(pool="max_pool2d"))
    acts = tmp_path / "acts.npz"
    run = ["run", str(model), "--weights", "random:3", "--backend", "reference"]
    assert main([*run, "--save-outputs", "all", "-o", str(acts)]) == 0
    with np.load(acts) as data:
        assert {"x", "conv1", "bn1", "relu", "pool", "fc", "logits"} <= set(data.files)
    assert main(["compare", str(model), "--weights", "random:3", "--against", str(acts)]) == 0
    assert "no node above tolerance" in capsys.readouterr().out
    # Other weights: the first node differs, and it is named.
    assert main(["compare", str(model), "--weights", "random:4", "--against", str(acts)]) == 3
    verdict = "first node above tolerance 0.0001: conv1 (all values compared; tolerance: the "
    assert verdict + "fp32 default)" in capsys.readouterr().out


def test_save_outputs_all_through_the_emulator_and_usage_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = tmp_path / "m.yaml"
    model.write_text(MODEL.format(pool="max_pool2d"))
    acts = tmp_path / "acts.npz"
    run = ["run", str(model), "--weights", "random:3", "--backend", "emulated"]
    assert main([*run, "--save-outputs", "all", "-o", str(acts)]) == 0
    with np.load(acts) as data:
        assert {"x", "pool", "logits"} <= set(data.files) and "bn1" in data.files
    assert main([*run, "--save-outputs", "all"]) == 2
    assert "--save-outputs all writes to the .npz named by -o" in capsys.readouterr().err
    missing = tmp_path / "none.npz"
    np.savez(missing, other=np.zeros(1))
    assert main(["compare", str(model), "--weights", "random", "--against", str(missing)]) == 2
    assert "no array for input(s) x" in capsys.readouterr().err


OVERFLOW = """\
name: overflow
inputs:
  x: {shape: [1, 64], dtype: float32}
layers:
  - {name: fc1, op: linear, out_features: 64}
  - {name: relu, op: relu}
  - {name: fc2, op: linear, out_features: 4}
  - {name: out, op: relu}
outputs:
  y: out
"""


def test_compare_in_fp16_names_the_first_layer_that_overflows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Emulated: fc2's sums exceed float16's 65504 and become inf; fc1 stays finite."""
    from safetensors.numpy import save_file

    model = tmp_path / "overflow.yaml"
    model.write_text(OVERFLOW)
    weights = tmp_path / "w.safetensors"
    save_file(
        {
            "fc1.weight": np.full((64, 64), 0.5, np.float32),
            "fc1.bias": np.full(64, 10.0, np.float32),
            "fc2.weight": np.full((4, 64), 100.0, np.float32),
            "fc2.bias": np.zeros(4, np.float32),
        },
        str(weights),
    )
    argv = ["compare", str(model), "--weights", str(weights), "--backend", "emulated"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert main([*argv, "--precision", "fp16", "--format", "json"]) == 3
    assert not [w for w in caught if issubclass(w.category, RuntimeWarning)]
    report = json.loads(capsys.readouterr().out)
    assert report["first_nonfinite"] == "fc2" and report["first_bad"] == "fc2"
    assert main([*argv, "--precision", "fp16"]) == 3
    assert "first node with inf or NaN (reference finite): fc2" in capsys.readouterr().out
    assert main(argv) == 0  # float32 holds these sums

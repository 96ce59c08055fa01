"""``--weights`` and ``--rename`` behave the same in every subcommand that loads a model."""

from __future__ import annotations

from pathlib import Path

import pytest
from safetensors.numpy import save_file

from trtdsl.cli.main import main
from trtdsl.frontend.load import load_model
from trtdsl.weights import random_weights

MODEL = """
name: tiny
inputs:
  x: {shape: [1, 3, 8, 8]}
layers:
  - {name: conv, op: conv2d, out_channels: 4, kernel_size: 3, padding: 1}
  - {name: bn, op: batch_norm2d}
  - {name: pool, op: adaptive_avg_pool2d, output_size: 1}
  - {name: flatten, op: flatten}
  - {name: fc, op: linear, out_features: 10}
outputs:
  logits: fc
"""


@pytest.fixture()
def prefixed(tmp_path: Path) -> tuple[str, str]:
    """A model file and a checkpoint whose keys carry DataParallel's ``module.`` prefix."""
    model = tmp_path / "tiny.yaml"
    model.write_text(MODEL)
    arrays = random_weights(load_model(str(model)), seed=1)
    weights = tmp_path / "ddp.safetensors"
    save_file({f"module.{k}": v for k, v in arrays.items()}, str(weights))
    return str(model), str(weights)


COMMANDS = {
    "info": ["info", "{model}", "--weights", "{weights}"],
    "run": ["run", "{model}", "--weights", "{weights}"],
    "export": ["export", "{model}", "--weights", "{weights}", "--onnx", "{tmp}/t.onnx"],
    "compile": ["compile", "{model}", "--weights", "{weights}", "--emulate"],
    "compare": ["compare", "{model}", "--weights", "{weights}", "--backend", "emulated",
                "--memory", "host"],
    "weights check": ["weights", "check", "{model}", "--weights", "{weights}"],
}  # fmt: skip


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_rename_adapts_a_prefixed_checkpoint(
    command: str,
    prefixed: tuple[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    model, weights = prefixed
    argv = [a.format(model=model, weights=weights, tmp=tmp_path) for a in COMMANDS[command]]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "missing" in err and "module.conv.weight" in err
    assert main([*argv, "--rename", r"^module\.", ""]) == 0, capsys.readouterr().err

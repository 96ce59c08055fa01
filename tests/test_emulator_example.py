"""The hand-written TensorRT network script runs unchanged on the emulator and is correct."""

from __future__ import annotations

import ast
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from scripts import load_script

SCRIPT = Path(__file__).parents[1] / "examples" / "emulator_small_cnn.py"
NAMES = frozenset((Path(__file__).parent / "data" / "trt_names_11.4.txt").read_text().split())


def _load() -> ModuleType:
    return load_script(SCRIPT, "emulator_small_cnn")


# Attributes the script takes from NumPy, argparse and cuda-python, not from TensorRT.
NOT_TENSORRT = frozenset(
    "ArgumentParser abs add_argument ascontiguousarray astype cudaFree cudaGetDeviceCount "
    "cudaMalloc cudaMemcpyAsync cudaMemcpyDeviceToHost cudaMemcpyHostToDevice cudaMemcpyKind "
    "cudaStreamCreate cudaStreamDestroy cudaStreamSynchronize default_rng empty exp float64 "
    "maximum ndarray parse_args random reshape seed sliding_window_view splitlines "
    "standard_normal stride_tricks".split()
)


def test_script_uses_only_real_tensorrt_names() -> None:
    tree = ast.parse(SCRIPT.read_text())
    used = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    unknown = {
        name
        for name in used - NOT_TENSORRT
        if name not in NAMES and not any(real.endswith(name) for real in NAMES)
    }
    assert {"add_convolution_nd", "execute_async_v3", "stride_nd"} <= used and unknown == set()
    imports = [n for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom)]
    emulator_imports = [ast.unparse(n) for n in imports if "trtdsl" in ast.unparse(n)]
    assert emulator_imports == ["import trtdsl.emulator as trt"]


def test_script_main_matches_its_numpy_reference(capsys: pytest.CaptureFixture[str]) -> None:
    assert _load().main(["--batch", "3"]) == 0
    assert "11.4.0-emulated" in capsys.readouterr().out


@pytest.mark.oracle
def test_script_engine_matches_torch() -> None:
    import torch
    import torch.nn.functional as F

    script = _load()
    weights = script.make_weights(seed=5)
    images = np.random.default_rng(6).random((5, 1, 28, 28), np.float32)
    engine = script.build_engine(weights, script.trt.Logger())
    probs = script.infer(engine, images)
    t = {k: torch.from_numpy(v) for k, v in weights.items()}
    x = torch.from_numpy(images)
    x = F.max_pool2d(F.conv2d(x, t["conv1.weight"], t["conv1.bias"]), 2)
    x = F.max_pool2d(F.conv2d(x, t["conv2.weight"], t["conv2.bias"]), 2)
    x = F.relu(F.linear(x.flatten(1), t["fc1.weight"], t["fc1.bias"]))
    ref = torch.softmax(F.linear(x, t["fc2.weight"], t["fc2.bias"]), dim=1).numpy()
    np.testing.assert_allclose(probs, ref, rtol=1e-4, atol=1e-6)
    assert engine.get_tensor_profile_shape("input", 0)[2] == (8, 1, 28, 28)

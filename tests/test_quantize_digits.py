"""INT8 accuracy on real data: a small residual CNN trained here on scikit-learn's bundled digits
(torch, seeded) with its input centred to [-0.5, 0.5] (17 grey levels, most pixels at -0.5: the
discrete data that made the KL search collapse, issue 20), saved as safetensors, written as
YAML, calibrated on 512 training images with every method; the test split's top-1 through the
quantized graph stays within 1 point of fp32, both in the NumPy reference (float32 elsewhere)
and through the emulated TensorRT path (float16 elsewhere, as an INT8 engine would run)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from trtdsl.backends.reference import run_reference
from trtdsl.backends.trt import BuildConfig, build_engine, emit_network, import_trt, prepare_graph
from trtdsl.calibration import CalibrationData, calibrate
from trtdsl.debug.check import run_plan
from trtdsl.frontend.load import load_model
from trtdsl.ir.graph import Graph
from trtdsl.weights import load_weights

pytestmark = pytest.mark.oracle

DIGITS_YAML = """\
# A residual CNN for scikit-learn's 8x8 digits; names match the torch module's state_dict.
name: digits_cnn
dims:
  N: {min: 1, opt: 64, max: 512}
inputs:
  x: {shape: [N, 1, 8, 8], dtype: float32}
layers:
  - {name: conv1, op: conv2d, out_channels: 16, kernel_size: 3, padding: 1, bias: false}
  - {name: bn1, op: batch_norm2d}
  - {name: relu1, op: relu}
  - {name: conv2, op: conv2d, out_channels: 16, kernel_size: 3, padding: 1, bias: false}
  - {name: bn2, op: batch_norm2d}
  - {name: add, op: add, inputs: [bn2, relu1]}
  - {name: relu2, op: relu}
  - {name: conv3, op: conv2d, out_channels: 32, kernel_size: 3, stride: 2, padding: 1}
  - {name: relu3, op: relu}
  - {name: pool, op: adaptive_avg_pool2d, output_size: 1}
  - {name: flatten, op: flatten, start_dim: 1}
  - {name: fc, op: linear, out_features: 10}
outputs:
  logits: fc
"""

METHODS = ("entropy", "max", "percentile", "mse")
CALIBRATION_IMAGES = 512


@dataclass(frozen=True)
class Digits:
    graph: Graph
    weights: dict[str, np.ndarray]
    train_npy: Path
    x_test: np.ndarray
    y_test: np.ndarray


def train_digits_cnn(
    epochs: int = 15, seed: int = 0, centred: bool = True
) -> tuple[dict[str, np.ndarray], tuple[np.ndarray, ...]]:
    """Train the CNN of DIGITS_YAML on 80% of the digits (seeded); returns its state_dict as
    NumPy arrays and (x_train, y_train, x_test, y_test), images scaled to [-0.5, 0.5]
    (``centred``) or [0, 1]."""
    import torch
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from torch import nn
    from torch.nn import functional as F

    digits = load_digits()
    x = (digits.images / 16.0 - (0.5 if centred else 0.0)).astype(np.float32)[:, None]
    x_train, x_test, y_train, y_test = train_test_split(
        x, digits.target, test_size=0.2, random_state=seed, stratify=digits.target
    )
    torch.manual_seed(seed)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: threads only add overhead (and nondeterminism)

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(1, 16, 3, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(16)
            self.conv2 = nn.Conv2d(16, 16, 3, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(16)
            self.conv3 = nn.Conv2d(16, 32, 3, stride=2, padding=1)
            self.fc = nn.Linear(32, 10)

        def forward(self, t: torch.Tensor) -> torch.Tensor:
            y = F.relu(self.bn1(self.conv1(t)))
            y = F.relu(self.bn2(self.conv2(y)) + y)
            y = F.relu(self.conv3(y))
            return self.fc(y.mean((2, 3)))

    net = Net()
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
    xt, yt = torch.from_numpy(x_train), torch.from_numpy(y_train)
    generator = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        net.train()
        for batch in torch.randperm(len(xt), generator=generator).split(64):
            optimizer.zero_grad()
            F.cross_entropy(net(xt[batch]), yt[batch]).backward()
            optimizer.step()
    net.eval()
    torch.set_num_threads(threads)
    state = {k: v.detach().numpy().copy() for k, v in net.state_dict().items()}
    return state, (x_train, y_train, x_test, y_test)


@pytest.fixture(scope="module")
def digits(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Digits]:
    pytest.importorskip("sklearn")
    pytest.importorskip("torch")
    from safetensors.numpy import save_file

    folder = tmp_path_factory.mktemp("digits")
    state, (x_train, _, x_test, y_test) = train_digits_cnn()
    save_file(state, str(folder / "digits.safetensors"))
    (folder / "digits.yaml").write_text(DIGITS_YAML)
    np.save(folder / "train.npy", x_train[:CALIBRATION_IMAGES])
    graph = load_model(folder / "digits.yaml")
    weights = load_weights(folder / "digits.safetensors", graph).arrays
    yield Digits(graph, weights, folder / "train.npy", x_test, y_test)


def _top1(logits: np.ndarray, labels: np.ndarray) -> float:
    return float((logits.argmax(axis=1) == labels).mean())


@pytest.fixture(scope="module")
def fp32_accuracy(digits: Digits) -> float:
    logits = run_reference(digits.graph, digits.weights, {"x": digits.x_test})["logits"]
    accuracy = _top1(logits, digits.y_test)
    assert accuracy > 0.9, "the CNN did not train"
    return accuracy


@pytest.mark.parametrize("method", METHODS)
def test_int8_top1_within_one_point_of_fp32(
    digits: Digits, fp32_accuracy: float, method: str
) -> None:
    data = CalibrationData(digits.train_npy, digits.graph)
    assert data.samples == CALIBRATION_IMAGES
    calibration = calibrate(digits.graph, digits.weights, data, method, batch_size=64)
    assert set(calibration.amax) == {"x", "relu1", "relu2", "flatten"}  # relu1: also residual
    assert calibration.amax["x"] == 0.5  # the full range of the centred input, every method
    assert calibration.clipped["x"] == 0.0
    graph, weights = prepare_graph(
        digits.graph, digits.weights, "int8", calibration=calibration, fallback="fp32"
    )
    reference = run_reference(graph, weights, {"x": digits.x_test})["logits"]
    int8_reference = _top1(reference, digits.y_test)
    assert abs(int8_reference - fp32_accuracy) <= 0.01, (method, int8_reference, fp32_accuracy)
    # The TensorRT path (emulated): the same quantization, float16 outside the INT8 layers.
    engine_graph, engine_weights = prepare_graph(
        digits.graph, digits.weights, "int8", calibration=calibration
    )
    trt = import_trt("emulated")
    plan = build_engine(emit_network(trt, engine_graph, engine_weights), BuildConfig())
    emulated = run_plan(trt, plan, {"x": digits.x_test})["logits"]
    int8_emulated = _top1(emulated, digits.y_test)
    assert abs(int8_emulated - fp32_accuracy) <= 0.01, (method, int8_emulated, fp32_accuracy)


def test_every_executor_gives_the_same_digits_scales(digits: Digits) -> None:
    """The trained CNN calibrated by the reference, onnxruntime and the emulated engine (two
    workers each): the same statistics to float32 rounding and each amax within two bins."""
    pytest.importorskip("onnxruntime")
    results = {}
    for executor in ("reference", "onnxruntime", "engine"):
        data = CalibrationData(digits.train_npy, digits.graph)
        options = {"backend": "emulated"} if executor == "engine" else {}
        results[executor] = calibrate(digits.graph, digits.weights, data, "entropy", 64,
                                      executor=executor, workers=2, **options)  # fmt: skip
    reference = results.pop("reference")
    for executor, result in results.items():
        assert (result.executor or "").startswith(executor)
        for name, amax in reference.amax.items():
            width = 2.0 ** np.frexp(max(amax, result.amax[name]))[1] / 2048
            assert abs(result.amax[name] - amax) <= 2 * width, (executor, name)
            assert result.stats[name]["max"] == pytest.approx(reference.stats[name]["max"], 1e-5)

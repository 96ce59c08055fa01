"""timm-style models (built here in torch with timm's module structure and names, so timm is
not needed): RegNet stages with blocks ``b1..bN`` bind with ``repeat: {start: 1, prefix: b}``
and no rename rules, and ``compare --against`` finds no false first bad node where timm's
module boundaries differ from trtdsl's nodes (``BatchNormAct2d`` includes its activation,
``LayerNorm2d`` is permute + layer_norm + permute, ``head.global_pool`` flattens), while a
planted bug is still named."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from scripts import load_script

from trtdsl.cli.main import main
from trtdsl.errors import WeightError
from trtdsl.frontend.yaml import load_yaml_text

ROOT = Path(__file__).resolve().parents[1]

REGNET = """\
name: regnet_tiny
inputs:
  x: {shape: [2, 3, 32, 32]}
blocks:
  bottleneck:
    params: {out: required, groups: required, se: required, stride: 1, down: false}
    layers:
      - {name: conv1.conv, op: conv2d, out_channels: $out, kernel_size: 1, bias: false}
      - {name: conv1.bn, op: batch_norm2d}
      - {name: conv1.act, op: relu}
      - {name: conv2.conv, op: conv2d, out_channels: $out, kernel_size: 3, stride: $stride,
         padding: 1, groups: $groups, bias: false}
      - {name: conv2.bn, op: batch_norm2d}
      - {name: conv2.act, op: relu}
      - name: se
        layers:
          - {name: pool, op: adaptive_avg_pool2d, output_size: 1}
          - {name: fc1, op: conv2d, out_channels: $se, kernel_size: 1}
          - {name: act, op: relu}
          - {name: fc2, op: conv2d, out_channels: $out, kernel_size: 1}
          - {name: gate, op: GATE}
          - {name: scale, op: mul, inputs: [conv2.act, gate]}
      - {name: conv3.conv, op: conv2d, out_channels: $out, kernel_size: 1, bias: false}
      - {name: conv3.bn, op: batch_norm2d}
      - {name: downsample, inputs: input, when: $down, layers: [
          {name: conv, op: conv2d, out_channels: $out, kernel_size: 1, stride: $stride,
           bias: false},
          {name: bn, op: batch_norm2d}]}
      - {name: add, op: add, inputs: [conv3.bn, downsample]}
      - {name: act3, op: relu}
layers:
  - {name: stem.conv, op: conv2d, out_channels: 8, kernel_size: 3, stride: 2, padding: 1,
     bias: false}
  - {name: stem.bn, op: batch_norm2d}
  - {name: stem.act, op: relu}
  - {name: s1, block: bottleneck, REPEAT1, args: {out: 8, groups: 2, se: 2},
     first: {stride: 2, down: true}}
  - {name: s2, block: bottleneck, REPEAT3, args: {out: 16, groups: 4, se: 4},
     first: {stride: 2, down: true, se: 2}}
  - {name: head.global_pool, op: adaptive_avg_pool2d, output_size: 1}
  - {name: head.flatten, op: flatten}
  - {name: head.fc, op: linear, out_features: 5}
outputs:
  logits: head.fc
"""

CONVNEXT = """\
name: convnext_tiny_style
inputs:
  x: {shape: [2, 3, 32, 32]}
blocks:
  block:
    params: {dim: required}
    layers:
      - {name: conv_dw, op: conv2d, out_channels: $dim, kernel_size: 7, padding: 3,
         groups: $dim}
      - {name: norm_nhwc, op: permute, dims: [0, 2, 3, 1]}
      - {name: norm, op: layer_norm, normalized_shape: $dim, eps: 1.0e-6}
      - {name: norm_nchw, op: permute, dims: [0, 3, 1, 2]}
      - {name: mlp.fc1, op: conv2d, out_channels: $dim * 4, kernel_size: 1}
      - {name: mlp.act, op: gelu}
      - {name: mlp.fc2, op: conv2d, out_channels: $dim, kernel_size: 1}
      - {name: gamma, op: parameter, shape: [$dim]}
      - {name: gamma4d, op: reshape, inputs: gamma, shape: [$dim, 1, 1]}
      - {name: scale, op: mul, inputs: [mlp.fc2, gamma4d]}
      - {name: add, op: add, inputs: [scale, input]}
layers:
  - {name: stem.0, op: conv2d, out_channels: 8, kernel_size: 4, stride: 4}
  - {name: stem.1_nhwc, op: permute, dims: [0, 2, 3, 1]}
  - {name: stem.1, op: layer_norm, normalized_shape: 8, eps: 1.0e-6}
  - {name: stem.1_nchw, op: permute, dims: [0, 3, 1, 2]}
  - {name: stages.0.blocks, block: block, repeat: 1, args: {dim: 8}}
  - {name: stages.1.downsample.0_nhwc, op: permute, dims: [0, 2, 3, 1]}
  - {name: stages.1.downsample.0, op: layer_norm, normalized_shape: 8, eps: 1.0e-6}
  - {name: stages.1.downsample.0_nchw, op: permute, dims: [0, 3, 1, 2]}
  - {name: stages.1.downsample.1, op: conv2d, out_channels: 16, kernel_size: 2, stride: 2}
  - {name: stages.1.blocks, block: block, repeat: 2, args: {dim: 16}}
  - {name: head.global_pool, op: adaptive_avg_pool2d, output_size: 1}
  - {name: head.norm_nhwc, op: permute, dims: [0, 2, 3, 1]}
  - {name: head.norm, op: layer_norm, normalized_shape: 16, eps: 1.0e-6}
  - {name: head.norm_nchw, op: permute, dims: [0, 3, 1, 2]}
  - {name: head.flatten, op: flatten}
  - {name: head.fc, op: linear, out_features: 5}
outputs:
  logits: head.fc
"""

NAMED = "repeat: {count: 1, start: 1, prefix: b}", "repeat: {count: 3, start: 1, prefix: b}"


def _regnet_yaml(gate: str = "sigmoid", repeats: tuple[str, str] = NAMED) -> str:
    return (
        REGNET.replace("GATE", gate).replace("REPEAT1", repeats[0]).replace("REPEAT3", repeats[1])
    )


def _timm_like() -> tuple[Any, Any]:
    """torch modules named and nested as timm's RegNet and ConvNeXt (timm 1.0)."""
    import torch
    from torch import nn
    from torch.nn import functional

    class BatchNormAct2d(nn.BatchNorm2d):  # timm.layers.BatchNormAct2d: BN, drop, act
        def __init__(self, channels: int, act: bool = True) -> None:
            super().__init__(channels)
            self.drop = nn.Identity()
            self.act = nn.ReLU() if act else nn.Identity()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.act(self.drop(super().forward(x)))

    class ConvNormAct(nn.Module):
        def __init__(self, cin: int, cout: int, k: int, stride: int = 1, groups: int = 1,
                     act: bool = True) -> None:  # fmt: skip
            super().__init__()
            self.conv = nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False)
            self.bn = BatchNormAct2d(cout, act)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.bn(self.conv(x))

    class SEModule(nn.Module):
        def __init__(self, channels: int, hidden: int) -> None:
            super().__init__()
            self.fc1 = nn.Conv2d(channels, hidden, 1)
            self.bn = nn.Identity()
            self.act = nn.ReLU()
            self.fc2 = nn.Conv2d(hidden, channels, 1)
            self.gate = nn.Sigmoid()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            s = self.fc2(self.act(self.bn(self.fc1(x.mean((2, 3), keepdim=True)))))
            return x * self.gate(s)

    class Bottleneck(nn.Module):
        def __init__(self, cin: int, cout: int, groups: int, se: int, stride: int) -> None:
            super().__init__()
            self.conv1 = ConvNormAct(cin, cout, 1)
            self.conv2 = ConvNormAct(cout, cout, 3, stride, groups)
            self.se = SEModule(cout, se)
            self.conv3 = ConvNormAct(cout, cout, 1, act=False)
            self.act3 = nn.ReLU()
            down = stride != 1 or cin != cout
            self.downsample = (
                ConvNormAct(cin, cout, 1, stride, act=False) if down else nn.Identity()
            )
            self.drop_path = nn.Identity()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = self.conv3(self.se(self.conv2(self.conv1(x))))
            return self.act3(self.drop_path(y) + self.downsample(x))

    class RegStage(nn.Module):
        def __init__(self, cin: int, cout: int, depth: int, groups: int, se: int) -> None:
            super().__init__()
            for i in range(depth):  # timm names its blocks b1..bN
                first = i == 0
                block = Bottleneck(
                    cin if first else cout,
                    cout,
                    groups,
                    se if first else cout // 4,
                    2 - (not first),
                )
                self.add_module(f"b{i + 1}", block)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            for block in self.children():
                x = block(x)
            return x

    class SelectAdaptivePool2d(nn.Module):
        def __init__(self, flatten: bool) -> None:
            super().__init__()
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.flatten = nn.Flatten(1) if flatten else nn.Identity()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.flatten(self.pool(x))

    class ClassifierHead(nn.Module):  # timm: the pool flattens; `flatten` is an Identity
        def __init__(self, channels: int) -> None:
            super().__init__()
            self.global_pool = SelectAdaptivePool2d(flatten=True)
            self.drop = nn.Dropout(0.0)
            self.fc = nn.Linear(channels, 5)
            self.flatten = nn.Identity()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.flatten(self.fc(self.drop(self.global_pool(x))))

    class RegNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.stem = ConvNormAct(3, 8, 3, 2)
            self.s1 = RegStage(8, 8, 1, 2, 2)
            self.s2 = RegStage(8, 16, 3, 4, 2)
            self.final_conv = nn.Identity()
            self.head = ClassifierHead(16)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.head(self.final_conv(self.s2(self.s1(self.stem(x)))))

    class LayerNorm2d(nn.LayerNorm):  # timm.layers.LayerNorm2d: NCHW in and out
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = x.permute(0, 2, 3, 1)
            x = functional.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
            return x.permute(0, 3, 1, 2)

    class ConvMlp(nn.Module):
        def __init__(self, dim: int) -> None:
            super().__init__()
            self.fc1 = nn.Conv2d(dim, dim * 4, 1)
            self.act = nn.GELU()
            self.fc2 = nn.Conv2d(dim * 4, dim, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.fc2(self.act(self.fc1(x)))

    class ConvNeXtBlock(nn.Module):
        def __init__(self, dim: int) -> None:
            super().__init__()
            self.conv_dw = nn.Conv2d(dim, dim, 7, padding=3, groups=dim)
            self.norm = LayerNorm2d(dim, eps=1e-6)
            self.mlp = ConvMlp(dim)
            self.gamma = nn.Parameter(torch.rand(dim) + 0.5)
            self.drop_path = nn.Identity()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = self.mlp(self.norm(self.conv_dw(x))).mul(self.gamma.reshape(1, -1, 1, 1))
            return self.drop_path(y) + x

    class ConvNeXtStage(nn.Module):
        def __init__(self, cin: int, dim: int, depth: int) -> None:
            super().__init__()
            self.downsample = (
                nn.Sequential(LayerNorm2d(cin, eps=1e-6), nn.Conv2d(cin, dim, 2, 2))
                if cin != dim
                else nn.Identity()
            )
            self.blocks = nn.Sequential(*(ConvNeXtBlock(dim) for _ in range(depth)))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.blocks(self.downsample(x))

    class NormMlpClassifierHead(nn.Module):
        def __init__(self, dim: int) -> None:
            super().__init__()
            self.global_pool = SelectAdaptivePool2d(flatten=False)
            self.norm = LayerNorm2d(dim, eps=1e-6)
            self.flatten = nn.Flatten(1)
            self.fc = nn.Linear(dim, 5)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.fc(self.flatten(self.norm(self.global_pool(x))))

    class ConvNeXt(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(3, 8, 4, 4), LayerNorm2d(8, eps=1e-6))
            self.stages = nn.Sequential(ConvNeXtStage(8, 8, 1), ConvNeXtStage(8, 16, 2))
            self.head = NormMlpClassifierHead(16)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.head(self.stages(self.stem(x)))

    return RegNet, ConvNeXt


def _save(tmp_path: Path, net: Any, name: str) -> tuple[Path, Path, np.ndarray]:
    """The model's state_dict as safetensors and its activations (torch_activations.py)."""
    import torch
    from safetensors.numpy import save_file

    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
                module.weight.uniform_(0.5, 1.5)
    weights = tmp_path / f"{name}.safetensors"
    save_file({k: v.numpy() for k, v in net.state_dict().items()}, str(weights))
    x = np.random.default_rng(0).standard_normal((2, 3, 32, 32)).astype(np.float32)
    acts = tmp_path / f"{name}_acts.npz"
    np.savez(acts, **_torch_activations().torch_activations(net, {"x": x}))
    with torch.no_grad():
        logits = net.eval()(torch.from_numpy(x)).numpy()
    return weights, acts, logits


def _torch_activations() -> ModuleType:
    return load_script(
        ROOT / "weights" / "torch_activations.py", "torch_activations", register=True
    )


def _compare(
    capsys: pytest.CaptureFixture[str], model: Path, weights: Path, acts: Path
) -> tuple[int, dict[str, Any]]:
    argv = ["compare", str(model), "--weights", str(weights), "--against", str(acts)]
    code = main([*argv, "--format", "json"])
    return code, json.loads(capsys.readouterr().out)


@pytest.fixture(scope="module")
def torch_models() -> tuple[Any, Any]:
    pytest.importorskip("torch")
    import torch

    torch.manual_seed(0)
    return _timm_like()


@pytest.mark.oracle
def test_regnet_blocks_b1_to_bn_bind_with_repeat_and_match_the_framework(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], torch_models: tuple[Any, Any]
) -> None:
    from trtdsl.backends.reference import run_reference
    from trtdsl.weights import load_weights

    regnet, _ = torch_models
    weights, acts, logits = _save(tmp_path, regnet(), "regnet")
    model = tmp_path / "regnet.yaml"
    model.write_text(_regnet_yaml())
    graph = load_yaml_text(model.read_text())
    assert {"s2.b1.conv1.conv", "s2.b3.se.fc2", "s2.b1.downsample.conv"} <= {
        n.name for n in graph.nodes
    }
    bound = load_weights(str(weights), graph)  # strict: every key, no renames
    assert not bound.renamed
    with np.load(acts) as saved:
        got = run_reference(graph, bound.arrays, {"x": saved["x"]})["logits"]
    assert np.max(np.abs(got - logits)) <= 1e-5 * np.max(np.abs(logits))

    code, report = _compare(capsys, model, weights, acts)
    assert code == 0 and report["first_bad"] is None, report["first_bad"]
    assert report["expected"] == "framework" and report["actual"] == "trtdsl"
    rows = {r["node"]: r for r in report["rows"]}
    # timm's stem.bn includes its ReLU: it is stem.act's value, not stem.bn's.
    assert rows["stem.bn"]["status"] == "unmatched"
    assert rows["stem.act"]["status"] == "ok" and rows["stem.act"]["matched"] == "stem.bn"
    assert rows["s2.b3.conv2.act"]["matched"] == "s2.b3.conv2.bn"
    assert rows["s2.b3.conv3.bn"]["status"] == "ok" and not rows["s2.b3.conv3.bn"]["matched"]
    # timm's head.global_pool flattens: the same values, reshaped.
    assert rows["head.global_pool"]["status"] == "ok"
    assert "reshaped" in rows["head.global_pool"]["detail"]

    # A planted bug is still named, with the matches around it in place.
    model.write_text(_regnet_yaml(gate="hardsigmoid"))
    code, report = _compare(capsys, model, weights, acts)
    assert code == 3 and report["first_bad"] == "s1.b1.se.gate"


@pytest.mark.oracle
def test_plain_repeat_against_b1_names_proposes_the_repeat_naming(
    tmp_path: Path, torch_models: tuple[Any, Any]
) -> None:
    from trtdsl.weights import load_weights

    regnet, _ = torch_models
    weights, _, _ = _save(tmp_path, regnet(), "regnet")
    graph = load_yaml_text(_regnet_yaml(repeats=("repeat: 1", "repeat: 3")))
    with pytest.raises(WeightError) as info:
        load_weights(str(weights), graph)
    lines = str(info.value).splitlines()
    assert "differ by a systematic change: the checkpoint numbers b1, b2, ..." in lines[1]
    assert "where the model has 0, 1, ..." in lines[1]
    assert 'repeat: {count: N, start: 1, prefix: "b"}' in lines[1]
    assert "missing     s1.0.conv1.conv.weight" in lines[2]
    assert "did you mean s1.b1.conv1.conv.weight?" in lines[2]


@pytest.mark.oracle
def test_convnext_layer_norm_2d_and_head_match_in_the_framework_layout(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], torch_models: tuple[Any, Any]
) -> None:
    _, convnext = torch_models
    weights, acts, _ = _save(tmp_path, convnext(), "convnext")
    model = tmp_path / "convnext.yaml"
    model.write_text(CONVNEXT)
    code, report = _compare(capsys, model, weights, acts)
    assert code == 0 and report["first_bad"] is None, report["first_bad"]
    rows = {r["node"]: r for r in report["rows"]}
    for node in ("stem.1", "stages.1.blocks.1.norm", "stages.1.downsample.0"):
        assert rows[node]["status"] == "ok", rows[node]
        assert "axes permuted (0, 2, 3, 1)" in rows[node]["detail"], rows[node]
    assert rows["stages.1.blocks.1.norm"]["shape"] == [2, 4, 4, 16]  # trtdsl's NHWC value
    assert rows["stages.1.blocks.1.mlp.fc2"]["status"] == "ok"
    assert rows["head.fc"]["status"] == "ok"
    # A wrong activation is named even so.
    model.write_text(CONVNEXT.replace("op: gelu", "op: relu"))
    code, report = _compare(capsys, model, weights, acts)
    assert code == 3 and report["first_bad"] == "stages.0.blocks.0.mlp.act"

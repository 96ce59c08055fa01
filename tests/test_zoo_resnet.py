"""The zoo ResNets match torchvision: state_dict keys and shapes, parameter counts, and the
YAML and Python forms build equal graphs.

torchvision is not installed here, so its ResNet state_dict is written out below from the
architecture (torchvision/models/resnet.py: BasicBlock/Bottleneck, ``_make_layer``)."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest
from scripts import load_script

from trtdsl import DimRange, Graph
from trtdsl.frontend.load import ZOO_DIR, load_model, zoo_models

# torchvision's ``model.parameters()`` counts (BatchNorm running statistics are buffers, so they
# are not included), from the torchvision model documentation.
TORCHVISION_PARAMETERS = {
    "resnet18": 11_689_512,
    "resnet34": 21_797_672,
    "resnet50": 25_557_032,
    "resnet101": 44_549_160,
    "resnet152": 60_192_808,
}
ARCHITECTURES = {
    "resnet18": ("basic", (2, 2, 2, 2)),
    "resnet34": ("basic", (3, 4, 6, 3)),
    "resnet50": ("bottleneck", (3, 4, 6, 3)),
    "resnet101": ("bottleneck", (3, 4, 23, 3)),
    "resnet152": ("bottleneck", (3, 8, 36, 3)),
}
BUFFERS = ("running_mean", "running_var", "num_batches_tracked")


def torchvision_state_dict_shapes(block: str, layers: tuple[int, ...]) -> dict[str, tuple]:
    """Keys and shapes of ``torchvision.models.resnet*().state_dict()``, in its order."""
    shapes: dict[str, tuple] = {}

    def conv(prefix: str, out: int, inp: int, k: int) -> None:
        shapes[f"{prefix}.weight"] = (out, inp, k, k)

    def bn(prefix: str, c: int) -> None:
        for role in ("weight", "bias", "running_mean", "running_var"):
            shapes[f"{prefix}.{role}"] = (c,)
        shapes[f"{prefix}.num_batches_tracked"] = ()

    expansion = 1 if block == "basic" else 4
    conv("conv1", 64, 3, 7)
    bn("bn1", 64)
    inplanes = 64
    for stage, (blocks, planes) in enumerate(zip(layers, (64, 128, 256, 512), strict=True)):
        stride = 1 if stage == 0 else 2
        for index in range(blocks):
            p = f"layer{stage + 1}.{index}"
            if block == "basic":
                conv(f"{p}.conv1", planes, inplanes, 3)
                bn(f"{p}.bn1", planes)
                conv(f"{p}.conv2", planes, planes, 3)
                bn(f"{p}.bn2", planes)
            else:
                conv(f"{p}.conv1", planes, inplanes, 1)
                bn(f"{p}.bn1", planes)
                conv(f"{p}.conv2", planes, planes, 3)
                bn(f"{p}.bn2", planes)
                conv(f"{p}.conv3", planes * 4, planes, 1)
                bn(f"{p}.bn3", planes * 4)
            if index == 0 and (stride != 1 or inplanes != planes * expansion):
                conv(f"{p}.downsample.0", planes * expansion, inplanes, 1)
                bn(f"{p}.downsample.1", planes * expansion)
            inplanes = planes * expansion
    shapes["fc.weight"] = (1000, 512 * expansion)
    shapes["fc.bias"] = (1000,)
    return shapes


def graph_shapes(graph: Graph) -> dict[str, tuple]:
    return {key: spec.shape for key, _, _, spec in graph.params()}


@pytest.mark.parametrize("name", sorted(ARCHITECTURES))
def test_state_dict_keys_and_shapes_match_torchvision(name: str) -> None:
    graph = load_model(name)
    expected = torchvision_state_dict_shapes(*ARCHITECTURES[name])
    assert list(graph_shapes(graph).items()) == list(expected.items())
    optional = {key for key, _, _, spec in graph.params() if spec.optional}
    assert optional == {k for k in expected if k.endswith(".num_batches_tracked")}


@pytest.mark.parametrize("name", sorted(ARCHITECTURES))
def test_parameter_counts_match_torchvision(name: str) -> None:
    graph = load_model(name)
    assert graph.num_parameters() == TORCHVISION_PARAMETERS[name]
    buffers = {role for _, _, role, spec in graph.params() if spec.buffer}
    assert buffers == set(BUFFERS)


@pytest.mark.parametrize("name", sorted(ARCHITECTURES))
def test_interface(name: str) -> None:
    graph = load_model(name)
    assert graph.inputs == ("x",)
    assert str(graph.types["x"]) == "float32[N,3,224,224]"
    assert graph.dims == (DimRange("N", 1, 8, 32),)
    assert [(p.name, str(graph.types[p.value])) for p in graph.outputs] == [
        ("logits", "float32[N,1000]")
    ]
    assert graph.name == name


def test_weightless_nodes_are_named_like_torchvision_modules() -> None:
    graph = load_model("resnet50")
    names = [n.name for n in graph.nodes]
    assert names[:4] == ["conv1", "bn1", "relu", "maxpool"]
    assert names[-3:] == ["avgpool", "flatten", "fc"]
    block = [n for n in names if n.startswith("layer1.1.")]
    assert block == [
        "layer1.1.conv1", "layer1.1.bn1", "layer1.1.relu", "layer1.1.conv2", "layer1.1.bn2",
        "layer1.1.relu_1", "layer1.1.conv3", "layer1.1.bn3", "layer1.1.add", "layer1.1.relu_2",
    ]  # fmt: skip
    assert graph.node("layer1.1.add").inputs == ("layer1.1.bn3", "layer1.0.relu_2")
    assert graph.node("layer2.0.add").inputs == ("layer2.0.bn3", "layer2.0.downsample.1")


def _python_resnet() -> ModuleType:
    return load_script(ZOO_DIR / "resnet50.py", "zoo_resnet50")


def test_resnet50_python_and_yaml_build_equal_graphs() -> None:
    from_python = load_model(ZOO_DIR / "resnet50.py")
    from_yaml = load_model(ZOO_DIR / "resnet50.yaml")
    assert from_python == from_yaml
    assert from_python.format() == from_yaml.format()


@pytest.mark.parametrize("name", ["resnet101", "resnet152"])
def test_deeper_yaml_resnets_equal_the_python_builder(name: str) -> None:
    _, layers = ARCHITECTURES[name]
    assert _python_resnet().build(layers, name) == load_model(name)


def test_zoo_lists_models_not_block_libraries() -> None:
    models = zoo_models()
    assert set(ARCHITECTURES) <= set(models)
    assert "resnet_blocks" not in models
    assert Path(ZOO_DIR / "resnet_blocks.yaml").is_file()


def test_static_batch_override_reinfers_every_shape() -> None:
    graph = load_model("resnet50", shapes={"x": (2, 3, 160, 160)})
    assert graph.dims == ()
    assert str(graph.types["layer4.2.relu_2"]) == "float32[2,2048,5,5]"
    assert str(graph.types["fc"]) == "float32[2,1000]"

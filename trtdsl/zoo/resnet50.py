"""torchvision ResNet-50 written with the Python DSL; builds the same Graph as resnet50.yaml.

Node names are torchvision state_dict prefixes (``layer1.0.conv1``, ``layer1.0.downsample.0``,
``fc``), so a torchvision checkpoint saved as safetensors binds without renaming. Input ``x``
is float32 ``[N, 3, 224, 224]`` with N from 1 to 32 (optimised for 8); output ``logits`` is
``[N, 1000]``.
"""

from __future__ import annotations

from trtdsl import Graph, ModelBuilder, Tensor

LAYERS = (3, 4, 6, 3)
"""Bottleneck blocks per stage (ResNet-101: 3, 4, 23, 3; ResNet-152: 3, 8, 36, 3)."""
EXPANSION = 4


def bottleneck(b: ModelBuilder, x: Tensor, planes: int, stride: int, downsample: bool) -> Tensor:
    """One torchvision Bottleneck (v1.5: stride on the 3x3 conv) in the builder's scope."""
    y = b.conv2d(x, out_channels=planes, kernel_size=1, bias=False, name="conv1")
    y = b.batch_norm2d(y, name="bn1")
    y = b.relu(y, name="relu")
    y = b.conv2d(
        y, out_channels=planes, kernel_size=3, stride=stride, padding=1, bias=False, name="conv2"
    )
    y = b.batch_norm2d(y, name="bn2")
    y = b.relu(y, name="relu_1")
    y = b.conv2d(y, out_channels=planes * EXPANSION, kernel_size=1, bias=False, name="conv3")
    y = b.batch_norm2d(y, name="bn3")
    identity = x
    if downsample:
        with b.scope("downsample"):
            identity = b.conv2d(
                x,
                out_channels=planes * EXPANSION,
                kernel_size=1,
                stride=stride,
                bias=False,
                name="0",
            )
            identity = b.batch_norm2d(identity, name="1")
    y = b.add(y, identity, name="add")
    return b.relu(y, name="relu_2")


def build(layers: tuple[int, int, int, int] = LAYERS, name: str = "resnet50") -> Graph:
    """The ResNet graph with ``layers`` bottleneck blocks per stage."""
    b = ModelBuilder(name)
    x = b.input("x", ("N", 3, 224, 224), "float32", dims={"N": (1, 8, 32)})
    y = b.conv2d(x, out_channels=64, kernel_size=7, stride=2, padding=3, bias=False, name="conv1")
    y = b.batch_norm2d(y, name="bn1")
    y = b.relu(y, name="relu")
    y = b.max_pool2d(y, kernel_size=3, stride=2, padding=1, name="maxpool")
    for stage, (blocks, planes) in enumerate(zip(layers, (64, 128, 256, 512), strict=True)):
        with b.scope(f"layer{stage + 1}"):
            for index in range(blocks):
                first = index == 0
                stride = 2 if first and stage > 0 else 1
                with b.scope(index):
                    y = bottleneck(b, y, planes, stride, downsample=first)
    y = b.adaptive_avg_pool2d(y, output_size=1, name="avgpool")
    y = b.flatten(y, start_dim=1, name="flatten")
    y = b.linear(y, out_features=1000, name="fc")
    b.output(y, "logits")
    return b.build()

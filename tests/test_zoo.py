"""Zoo models on the CPU: torchvision's published parameter counts, torchvision's state_dict
key counts and sample keys with their shapes (torchvision itself is not installed here; the
keys below were read from torchvision 0.29 state_dicts; tests/gpu/test_zoo_parity.py binds the
real ones), end-to-end runs with random weights on the reference executor at small inputs, and
the emulated TensorRT backend on the models that need the new ops (narrow, channel_shuffle)."""

from __future__ import annotations

import numpy as np
import pytest

from trtdsl.backends.reference import run_reference
from trtdsl.backends.trt import (
    BuildConfig,
    build_engine,
    emit_network,
    import_trt,
    network_layers,
    prepare_graph,
)
from trtdsl.debug.check import run_plan
from trtdsl.frontend.load import load_model, zoo_models
from trtdsl.frontend.yaml import load_yaml_text
from trtdsl.ir.graph import Graph
from trtdsl.ir.ops.normalization import BatchNorm2d
from trtdsl.passes import fold_batchnorm
from trtdsl.weights import random_weights

# torchvision's ``sum(p.numel() for p in model.parameters())``, as its model docs publish them.
TORCHVISION_PARAMETERS = {
    "resnet18": 11_689_512,
    "resnet34": 21_797_672,
    "resnet50": 25_557_032,
    "resnet101": 44_549_160,
    "resnet152": 60_192_808,
    "vgg16": 138_357_544,
    "vgg16_bn": 138_365_992,
    "googlenet": 6_624_904,
    "inception_v3": 27_161_264,
    "mobilenet_v2": 3_504_872,
    "mobilenet_v3_large": 5_483_032,
    "densenet121": 7_978_856,
    "squeezenet1_1": 1_235_496,
    "shufflenet_v2_x1_0": 2_278_604,
    "efficientnet_b0": 5_288_548,
}
INCEPTION_V3_AUX_LOGITS = 3_326_696
"""Parameters of inception_v3's AuxLogits head, in the published count but not in the
inference graph (torchvision's ``aux_logits=False`` model has 23,834,568)."""

# len(torchvision_model.state_dict()), num_batches_tracked included (googlenet and inception_v3
# built with aux_logits=False).
STATE_DICT_KEYS = {
    "vgg16": 32,
    "vgg16_bn": 97,
    "googlenet": 344,
    "inception_v3": 566,
    "mobilenet_v2": 314,
    "mobilenet_v3_large": 312,
    "densenet121": 727,
    "squeezenet1_1": 52,
    "shufflenet_v2_x1_0": 338,
    "efficientnet_b0": 360,
}
SAMPLE_KEYS = {
    "vgg16": {"classifier.3.weight": (4096, 4096), "classifier.6.weight": (1000, 4096)},
    "vgg16_bn": {"features.41.running_var": (512,), "classifier.6.weight": (1000, 4096)},
    "googlenet": {"inception5b.branch4.1.bn.running_var": (128,), "fc.weight": (1000, 1024)},
    "inception_v3": {
        "Mixed_7c.branch3x3dbl_3b.conv.weight": (384, 384, 3, 1),
        "fc.weight": (1000, 2048),
    },
    "mobilenet_v2": {
        "features.17.conv.2.weight": (320, 960, 1, 1),
        "classifier.1.weight": (1000, 1280),
    },
    "mobilenet_v3_large": {"features.13.block.2.fc2.bias": (672,)},
    "densenet121": {
        "features.denseblock4.denselayer16.norm1.weight": (992,),
        "classifier.weight": (1000, 1024),
    },
    "squeezenet1_1": {
        "features.12.expand3x3.weight": (256, 64, 3, 3),
        "classifier.1.weight": (1000, 512, 1, 1),
    },
    "shufflenet_v2_x1_0": {
        "stage3.7.branch2.5.weight": (116, 116, 1, 1),
        "stage4.0.branch1.0.weight": (232, 1, 3, 3),
    },
    "efficientnet_b0": {
        "features.6.3.block.2.fc1.weight": (48, 1152, 1, 1),
        "classifier.1.weight": (1000, 1280),
    },
}
SLOW = {"vgg16", "vgg16_bn"}  # 138M random parameters take seconds to draw
SMALL_INPUT = {"inception_v3": 75}  # torchvision's minimum for inception_v3; others 64


def _params(names: list[str]) -> list[object]:
    return [
        pytest.param(n, marks=pytest.mark.slow) if n in SLOW else pytest.param(n) for n in names
    ]


def test_zoo_holds_every_model() -> None:
    assert set(TORCHVISION_PARAMETERS) <= set(zoo_models())


@pytest.mark.parametrize("name", sorted(TORCHVISION_PARAMETERS))
def test_parameter_count_matches_torchvision(name: str) -> None:
    expected = TORCHVISION_PARAMETERS[name]
    if name == "inception_v3":
        expected -= INCEPTION_V3_AUX_LOGITS
    assert load_model(name).num_parameters() == expected


@pytest.mark.parametrize("name", sorted(STATE_DICT_KEYS))
def test_state_dict_keys_match_torchvision(name: str) -> None:
    shapes = {key: spec.shape for key, _, _, spec in load_model(name).params()}
    assert len(shapes) == STATE_DICT_KEYS[name]
    for key, shape in SAMPLE_KEYS[name].items():
        assert shapes.get(key) == shape, key
    # BatchNorm's step counter is saved by torchvision and optional here.
    tracked = [k for k in shapes if k.endswith(".num_batches_tracked")]
    assert len(tracked) == sum(k.endswith(".running_mean") for k in shapes)


@pytest.mark.parametrize("name", _params(sorted(TORCHVISION_PARAMETERS)))
def test_runs_end_to_end_on_the_reference(name: str) -> None:
    size = SMALL_INPUT.get(name, 64)
    graph = load_model(name, shapes={"x": (2, 3, size, size)})
    weights = random_weights(graph, seed=0)
    images = np.random.default_rng(1).standard_normal((2, 3, size, size)).astype(np.float32)
    logits = run_reference(graph, weights, {"x": images})["logits"]
    assert logits.shape == (2, 1000) and logits.dtype == np.float32
    assert np.isfinite(logits).all()
    assert not np.array_equal(logits[0], logits[1])  # the two images are told apart


def _emulated(graph: Graph, weights: dict[str, np.ndarray], images: np.ndarray) -> np.ndarray:
    trt = import_trt("emulated")
    prepared, prepared_weights = prepare_graph(graph, weights)
    plan = build_engine(emit_network(trt, prepared, prepared_weights), BuildConfig())
    return np.asarray(run_plan(trt, plan, {"x": images})["logits"])


def test_emulated_shufflenet_with_a_dynamic_batch_matches_the_reference() -> None:
    # The symbolic batch N is kept: narrow and channel_shuffle take their dynamic-shape paths
    # (a slice whose start and size are shape tensors; 0 placeholders).
    graph = load_model("shufflenet_v2_x1_0")
    assert graph.types["x"].shape[0] == "N"
    weights = random_weights(graph, seed=3)
    images = np.random.default_rng(4).standard_normal((2, 3, 224, 224)).astype(np.float32)
    want = run_reference(graph, weights, {"x": images})["logits"]
    got = _emulated(graph, weights, images)  # emulated TensorRT, not an engine result
    assert np.abs(got - want).max() <= 1e-4 * np.abs(want).max()


# (Every zoo model runs emulated at full size in tests/gpu/test_zoo_parity.py.)
@pytest.mark.parametrize("name", ["efficientnet_b0", "mobilenet_v3_large", "googlenet"])
def test_emulated_backend_matches_the_reference(name: str) -> None:
    size = SMALL_INPUT.get(name, 64)
    graph = load_model(name, shapes={"x": (2, 3, size, size)})
    weights = random_weights(graph, seed=3)
    images = np.random.default_rng(4).standard_normal((2, 3, size, size)).astype(np.float32)
    want = run_reference(graph, weights, {"x": images})["logits"]
    got = _emulated(graph, weights, images)  # emulated TensorRT, not an engine result
    assert np.abs(got - want).max() <= 1e-4 * np.abs(want).max()


def test_densenet_pre_activation_batch_norms_stay_unfolded() -> None:
    graph = load_model("densenet121")
    folded, _ = fold_batchnorm(graph, random_weights(graph, seed=0))
    left = {n.name for n in folded.nodes if isinstance(n.op, BatchNorm2d)}
    # norm2 follows conv1 and folds; norm1, transitions' norm, norm0 after conv0 folds, norm5
    # follows a concat.
    assert "features.denseblock1.denselayer1.norm1" in left
    assert "features.transition1.norm" in left and "features.norm5" in left
    assert not any(name.endswith(".norm2") for name in left)
    assert len(left) == 58 + 3 + 1


NARROW_YAML = """
name: halves
dims:
  N: {min: 1, opt: 2, max: 4}
inputs:
  x: {shape: [N, 6, 2, 2], dtype: float32}
layers:
  - {name: piece, op: narrow, dim: 1, start: START, length: LENGTH}
outputs:
  y: piece
"""


@pytest.mark.parametrize("start, length", [(0, 3), (3, 3), (2, 2), (4, 2), (1, 2), (5, 1)])
def test_narrow_with_a_dynamic_batch_is_exact(start: int, length: int) -> None:
    # Any start and length (not only even splits): one ISliceLayer whose start and size are
    # shape tensors; a NaN or infinity outside the piece does not reach it.
    text = NARROW_YAML.replace("START", str(start)).replace("LENGTH", str(length))
    graph = load_yaml_text(text)
    x = np.random.default_rng(0).standard_normal((3, 6, 2, 2)).astype(np.float32)
    outside = [c for c in range(6) if not start <= c < start + length]
    x[0, outside[0]] = np.nan
    x[1, outside[-1]] = np.inf
    trt = import_trt("emulated")
    emitted = emit_network(trt, graph, {})
    layers = {la.name: la for la in network_layers(trt, emitted.network)}
    assert layers["piece"].type == "SLICE"
    assert layers["piece"].outputs[0].shape == (-1, length, 2, 2)
    plan = build_engine(emitted, BuildConfig())
    got = np.asarray(run_plan(trt, plan, {"x": x})["y"])
    np.testing.assert_array_equal(got, x[:, start : start + length])

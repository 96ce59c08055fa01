"""The segmentation zoo (FCN, DeepLabV3, LR-ASPP) and ViT-B/16 against torchvision's own model
code on the CPU: the same seeded random weights (torchvision's initialisation, with batch-norm
statistics randomised) bound by state_dict name with no renaming, a non-square input for the
segmenters, torch's outputs against trtdsl's reference executor and its emulated TensorRT
backend. Marked ``oracle`` (needs torch; torchvision's Python model code is loaded without its
compiled extension, see ``torchvision_models``).

Levels: reference (NumPy) and emulated (trtdsl's CPU emulator); the real builder
(TensorRT-RTX) builds every zoo model in tests/test_rtx_zoo.py and here at the quick start's
profile.
"""

from __future__ import annotations

import functools
import importlib.util
import sys
import types
from typing import Any

import numpy as np
import pytest

from trtdsl.backends.reference import run_reference
from trtdsl.backends.trt import BuildConfig, build_engine, emit_network, import_trt, prepare_graph
from trtdsl.debug.check import run_plan
from trtdsl.frontend.load import load_model
from trtdsl.ir.graph import Graph
from trtdsl.ir.types import ShapeRange
from trtdsl.weights import bind_weights, random_weights

SEGMENTERS = {
    "fcn_resnet50": 32_957_013,
    "fcn_resnet101": 51_949_141,
    "deeplabv3_resnet50": 39_638_869,
    "deeplabv3_mobilenet_v3_large": 11_025_477,
    "lraspp_mobilenet_v3_large": 3_221_538,
}
"""torchvision's ``sum(p.numel() for p in model.parameters())`` without auxiliary heads."""

STATE_DICT_KEYS = {
    "fcn_resnet50": 326,
    "fcn_resnet101": 632,
    "deeplabv3_resnet50": 362,
    "deeplabv3_mobilenet_v3_large": 352,
    "lraspp_mobilenet_v3_large": 319,
    "vit_b_16": 152,
}
"""``len(model.state_dict())`` of the same torchvision models (torchvision 0.28)."""

VIT_PARAMETERS = 86_567_656
QUICK_START = ShapeRange((1, 3, 256, 256), (1, 3, 1026, 1282), (1, 3, 1440, 2560))
SMALL = (1, 3, 72, 104)  # non-square, not a multiple of 16 (sizes round as torch rounds them)


def torchvision_models() -> Any:
    """``torchvision.models`` imported without running torchvision's ``__init__`` (which loads
    its compiled operators); skips without torch or torchvision."""
    pytest.importorskip("torch")
    if "torchvision.models" not in sys.modules and "torchvision" not in sys.modules:
        # (Another test may have registered a stand-in package already: reuse it.)
        spec = importlib.util.find_spec("torchvision")
        if spec is None or not spec.submodule_search_locations:
            pytest.skip("needs torchvision's model code (pip install torchvision --no-deps)")
        package = types.ModuleType("torchvision")
        package.__path__ = list(spec.submodule_search_locations)
        sys.modules["torchvision"] = package
    import torchvision.models as models

    return models


def test_parameter_and_key_counts_match_torchvision() -> None:
    for name, count in SEGMENTERS.items():
        graph = load_model(name)
        assert graph.num_parameters() == count, name
        assert len(list(graph.params())) == STATE_DICT_KEYS[name], name
    vit = load_model("vit_b_16")
    assert vit.num_parameters() == VIT_PARAMETERS
    assert len(list(vit.params())) == STATE_DICT_KEYS["vit_b_16"]


def test_segmenters_declare_the_quick_start_profile() -> None:
    from trtdsl.backends.trt.build import profile_shapes

    for name in SEGMENTERS:
        graph = load_model(name)
        assert graph.types["x"].shape == (1, 3, "H", "W")
        assert profile_shapes(graph, BuildConfig())["x"] == QUICK_START, name
        ports = {port.name: graph.types[port.value] for port in graph.outputs}
        assert ports["out"].shape == (1, 21, "H", "W")
        assert str(ports["mask"]) == "int64[1,H,W]"


@functools.lru_cache(maxsize=1)
def _torch_model(name: str) -> tuple[Any, dict[str, np.ndarray]]:
    """The torchvision model (eval, seeded, batch-norm statistics randomised) and its
    state_dict as NumPy arrays."""
    import torch

    models = torchvision_models()
    torch.manual_seed(0)
    if name == "vit_b_16":
        model = models.vit_b_16(weights=None)
        with torch.no_grad():  # torchvision zero-initialises these; make them matter
            model.class_token.normal_(0.0, 0.5)
            model.heads.head.weight.normal_(0.0, 0.02)
    else:
        kwargs = {} if name.startswith("lraspp") else {"aux_loss": False}
        model = getattr(models.segmentation, name)(
            weights=None, weights_backbone=None, num_classes=21, **kwargs
        )
    generator = torch.Generator().manual_seed(1)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            c = module.num_features
            module.running_mean.copy_(torch.randn(c, generator=generator) * 0.1)
            module.running_var.copy_(torch.rand(c, generator=generator) + 0.5)
            module.weight.data.copy_(torch.rand(c, generator=generator) + 0.5)
            module.bias.data.copy_(torch.randn(c, generator=generator) * 0.1)
    model.eval()
    state = {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}
    return model, state


def _torch_outputs(name: str, x: np.ndarray) -> np.ndarray:
    import torch

    model, _ = _torch_model(name)
    with torch.no_grad():
        out = model(torch.from_numpy(x))
    return (out if name == "vit_b_16" else out["out"]).numpy()


def _bound(name: str, graph: Graph) -> dict[str, np.ndarray]:
    _, state = _torch_model(name)
    return dict(bind_weights(graph, state).arrays)  # torchvision's keys, no renaming


def _emulated(graph: Graph, weights: dict[str, np.ndarray], x: np.ndarray) -> dict[str, Any]:
    trt = import_trt("emulated")
    prepared, prepared_weights = prepare_graph(graph, weights)
    shapes = {"x": ShapeRange(x.shape, x.shape, x.shape)} if not graph.types["x"].is_static else {}
    plan = build_engine(emit_network(trt, prepared, prepared_weights), BuildConfig(shapes=shapes))
    return run_plan(trt, plan, {"x": x})


def _check_mask(mask: np.ndarray, scores: np.ndarray, tolerance: float) -> None:
    """The argmax equals torch's wherever the best two scores are apart by more than the
    scores' tolerance (a near-tie may go either way)."""
    top2 = np.sort(scores, axis=1)[:, -2:]
    clear = (top2[:, 1] - top2[:, 0]) > 2 * tolerance
    assert clear.mean() > 0.9
    np.testing.assert_array_equal(mask[clear], scores.argmax(axis=1)[clear])


@pytest.mark.oracle
@pytest.mark.parametrize("name", sorted(SEGMENTERS))
def test_segmenter_matches_torchvision(name: str) -> None:
    graph = load_model(name)  # H and W symbolic: the graph the engine is built from
    weights = _bound(name, graph)
    x = np.random.default_rng(2).standard_normal(SMALL).astype(np.float32)
    want = _torch_outputs(name, x)
    scale = float(np.abs(want).max())
    got = run_reference(graph, weights, {"x": x})
    assert got["out"].shape == want.shape == (1, 21, *SMALL[2:])
    np.testing.assert_allclose(got["out"], want, rtol=0, atol=1e-4 * scale)
    _check_mask(got["mask"], want, 1e-4 * scale)
    emulated = _emulated(graph, weights, x)  # emulated TensorRT, not an engine result
    np.testing.assert_allclose(emulated["out"], want, rtol=0, atol=1e-4 * scale)
    _check_mask(emulated["mask"], want, 1e-4 * scale)


@pytest.mark.oracle
@pytest.mark.slow
def test_vit_b_16_matches_torchvision() -> None:
    graph = load_model("vit_b_16")
    weights = _bound("vit_b_16", graph)
    x = np.random.default_rng(3).standard_normal((1, 3, 224, 224)).astype(np.float32)
    want = _torch_outputs("vit_b_16", x)
    scale = float(np.abs(want).max())
    got = run_reference(graph, weights, {"x": x})["logits"]
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-4 * scale)
    emulated = _emulated(graph, weights, x)["logits"]  # emulated TensorRT (fused attention)
    np.testing.assert_allclose(emulated, want, rtol=0, atol=1e-4 * scale)


@pytest.mark.rtx
@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_fcn_resnet101_builds_at_the_quick_start_profile(precision: str) -> None:
    """The quick start's model and profile on NVIDIA's real builder (a real engine, CPU)."""
    trt = import_trt("tensorrt-rtx")
    graph = load_model("fcn_resnet101")
    prepared, weights = prepare_graph(graph, random_weights(graph, seed=0), precision)
    emitted = emit_network(trt, prepared, weights)
    plan = build_engine(emitted, BuildConfig(precision=precision))
    assert plan[:4] == b"vtrt"

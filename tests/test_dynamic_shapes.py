"""Symbolic spatial dimensions (H, W declared with min/opt/max like N), the shape tensors that
carry run-time sizes through TensorRT, and the two forms of multi-head attention.

Levels: reference (NumPy), emulated (trtdsl's emulator runs the emitted network) and, marked
``rtx``, NVIDIA's real builder (TensorRT-RTX on the CPU: real shape inference and a real plan).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from trtdsl import ModelBuilder
from trtdsl.backends.reference import run_reference
from trtdsl.backends.trt import (
    BuildConfig,
    build_engine,
    emit_network,
    import_trt,
    network_layers,
    prepare_graph,
)
from trtdsl.backends.trt import module as trt_module
from trtdsl.backends.trt.build import profile_shapes
from trtdsl.cli.main import main
from trtdsl.debug.check import plan_runner, run_plan
from trtdsl.errors import ShapeError
from trtdsl.frontend.yaml import load_yaml_text
from trtdsl.ir.graph import Graph
from trtdsl.ir.ops import make_op
from trtdsl.ir.symbolic import dim_value, parse_dim
from trtdsl.ir.types import DType, TensorType
from trtdsl.weights import random_weights

HW = {"H": (16, 37, 64), "W": (16, 45, 80)}


def f32(*shape: int | str) -> TensorType:
    return TensorType(DType.FLOAT32, shape)


# -- symbolic arithmetic ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "canonical", "sizes"),
    [
        ("H", "H", {7: 7}),
        ("(H+1)//2", "(H+1)//2", {7: 4, 8: 4}),
        ("(H - 1) // 2 + 1", "(H+1)//2", {7: 4, 8: 4, 1026: 513}),
        ("((H+1)//2+1)//2", "(H+3)//4", {1026: 257, 1282: 321}),
        ("2*((H+7)//8)-1", "2*((H+7)//8)-1", {1026: 257}),
        ("H*3+2", "3*H+2", {5: 17}),
    ],
)
def test_symbolic_dims_have_one_canonical_spelling(
    text: str, canonical: str, sizes: dict[int, int]
) -> None:
    d = parse_dim(text)
    assert d.format() == canonical
    for size, expected in sizes.items():
        assert dim_value(canonical, {"H": size}) == expected
        assert eval(canonical, {"H": size}) == expected  # the spelling is Python


def test_conv_pool_and_resize_infer_symbolically() -> None:
    x = f32(1, 3, "H", "W")
    stem = make_op("conv2d", dict(out_channels=8, kernel_size=7, stride=2, padding=3))
    (y,) = stem.infer_outputs([x])
    assert y.shape == (1, 8, "(H+1)//2", "(W+1)//2")
    pool = make_op("max_pool2d", dict(kernel_size=3, stride=2, padding=1))
    (y,) = pool.infer_outputs([y])
    assert y.shape == (1, 8, "(H+3)//4", "(W+3)//4")
    # Two routes to the same size agree as strings (a residual add can check them).
    three = make_op("conv2d", dict(out_channels=8, kernel_size=3, stride=2, padding=1))
    one = make_op("conv2d", dict(out_channels=8, kernel_size=1, stride=2))
    assert three.infer_outputs([y]) == one.infer_outputs([y])
    dilated = make_op("conv2d", dict(out_channels=8, kernel_size=3, padding=2, dilation=2))
    assert dilated.infer_outputs([y])[0].shape == y.shape
    up = make_op("interpolate", dict(scale_factor=2, mode="bilinear"))
    assert up.infer_outputs([y])[0].shape == (1, 8, "2*((H+3)//4)", "2*((W+3)//4)")
    back = make_op("interpolate", dict(mode="bilinear"))
    assert back.infer_outputs([y, x])[0].shape == (1, 8, "H", "W")
    gap = make_op("adaptive_avg_pool2d", dict(output_size=1))
    assert gap.infer_outputs([y])[0].shape == (1, 8, 1, 1)


def test_sizes_that_need_a_value_are_refused() -> None:
    with pytest.raises(ShapeError, match="ceil_mode needs static spatial dimensions"):
        make_op("max_pool2d", dict(kernel_size=3, stride=2, ceil_mode=True)).infer_outputs(
            [f32(1, 3, "H", 8)]
        )
    with pytest.raises(ShapeError, match="output size not 1"):
        make_op("adaptive_avg_pool2d", dict(output_size=7)).infer_outputs([f32(1, 3, "H", 8)])
    with pytest.raises(ShapeError, match=r"do not broadcast \(\(H\+1\)//2 vs H\)"):
        make_op("add", {}).infer_outputs([f32(1, "(H+1)//2"), f32(1, "H")])


def test_concrete_shapes_and_macs_evaluate_derived_dims() -> None:
    t = f32(1, 8, "(H+3)//4", "W")
    assert t.concrete({"H": 1026, "W": 1282}) == (1, 8, 257, 1282)
    assert t.numel({"H": 13, "W": 2}) == 8 * 4 * 2


# -- a small segmenter with dynamic H and W ------------------------------------------------------


def segmenter() -> Graph:
    """conv/2 -> pool/2 -> dilated conv -> 1x1 classifier -> back to H x W -> argmax, with an
    ASPP-like global branch resized from 1x1."""
    b = ModelBuilder("tiny_segmenter")
    x = b.input("x", (1, 3, "H", "W"), dims=HW)
    y = b.conv2d(x, out_channels=8, kernel_size=3, stride=2, padding=1, name="stem")
    y = b.relu(y, name="stem_relu")
    y = b.max_pool2d(y, kernel_size=3, stride=2, padding=1, name="pool")
    y = b.conv2d(y, out_channels=8, kernel_size=3, padding=2, dilation=2, name="body")
    g = b.adaptive_avg_pool2d(y, output_size=1, name="gap")
    g = b.interpolate(g, y, mode="bilinear", align_corners=False, name="gap_up")
    y = b.add(y, g, name="merge")
    y = b.conv2d(y, out_channels=5, kernel_size=1, name="classifier")
    y = b.interpolate(y, x, mode="bilinear", align_corners=False, name="upsample")
    b.output(y, "out")
    b.output(b.argmax(y, dim=1, name="mask"), "mask")
    return b.build()


def test_segmenter_types_and_profile_come_from_the_declaration() -> None:
    graph = segmenter()
    assert graph.types["body"].shape == (1, 8, "(H+3)//4", "(W+3)//4")
    assert graph.types["upsample"].shape == (1, 5, "H", "W")
    assert graph.types["mask"] == TensorType(DType.INT64, (1, "H", "W"))
    shapes = profile_shapes(graph, BuildConfig())
    assert (shapes["x"].min, shapes["x"].opt, shapes["x"].max) == (
        (1, 3, 16, 16),
        (1, 3, 37, 45),
        (1, 3, 64, 80),
    )


def _run(trt: ModuleType, graph: Graph, weights: dict, precision: str = "fp32") -> Callable:  # type: ignore[type-arg]
    prepared, prepared_weights = prepare_graph(graph, weights, precision)
    plan = build_engine(
        emit_network(trt, prepared, prepared_weights), BuildConfig(precision=precision)
    )
    return lambda inputs: run_plan(trt, plan, inputs)


@pytest.mark.parametrize("hw", [(16, 16), (37, 45), (23, 80)])
def test_segmenter_emulated_matches_reference_at_several_sizes(hw: tuple[int, int]) -> None:
    graph = segmenter()
    weights = random_weights(graph, seed=2)
    run = _run(import_trt("emulated"), graph, weights)
    x = np.random.default_rng(1).standard_normal((1, 3, *hw)).astype(np.float32)
    want = run_reference(graph, weights, {"x": x})
    got = run({"x": x})
    assert got["out"].shape == (1, 5, *hw) and got["mask"].dtype == np.int64
    np.testing.assert_allclose(got["out"], want["out"], rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(got["mask"], want["mask"])


def test_an_engine_works_out_each_shapes_schedule_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Shape inference, fusions and the release schedule are kept per input shapes, for the
    most recent SCHEDULES_KEPT sets, and a kept schedule runs exactly as a fresh one."""
    from trtdsl.emulator import execute

    graph = segmenter()
    weights = random_weights(graph, seed=2)
    prepared, prepared_weights = prepare_graph(graph, weights, "fp32")
    trt = import_trt("emulated")
    plan = build_engine(emit_network(trt, prepared, prepared_weights), BuildConfig())
    made: list[dict[str, tuple[int, ...]]] = []
    real = execute.make_schedule

    def counted(p: Any, shapes: Mapping[str, tuple[int, ...]]) -> execute.Schedule:
        made.append(dict(shapes))
        return real(p, shapes)

    monkeypatch.setattr(execute, "make_schedule", counted)
    sizes = [(16, 16 + i) for i in range(execute.SCHEDULES_KEPT)]
    rng = np.random.default_rng(3)
    with plan_runner(trt, plan) as run:
        for hw in [*sizes, *sizes[::-1]]:
            x = rng.standard_normal((1, 3, *hw)).astype(np.float32)
            got, want = run({"x": x}), run_reference(graph, weights, {"x": x})
            np.testing.assert_allclose(got["out"], want["out"], rtol=1e-4, atol=1e-5)
        assert [m["x"][2:] for m in made] == sizes  # each once, though run twice
        run({"x": np.zeros((1, 3, 64, 80), np.float32)})  # one more: the oldest goes
        run({"x": np.zeros((1, 3, *sizes[-1]), np.float32)})  # the least recently used
        run({"x": np.zeros((1, 3, *sizes[0]), np.float32)})  # recently used: kept
        assert [m["x"][2:] for m in made[len(sizes) :]] == [(64, 80), sizes[-1]]


def test_schedules_are_shared_safely_between_threads() -> None:
    """Contexts of one engine may run on several threads: concurrent lookups that evict one
    another give every caller the schedule of its own shapes."""
    from concurrent.futures import ThreadPoolExecutor

    from trtdsl.emulator.execute import SCHEDULES_KEPT, Schedules
    from trtdsl.emulator.plan import load_plan

    graph = segmenter()
    prepared, prepared_weights = prepare_graph(graph, random_weights(graph, seed=2), "fp32")
    trt = import_trt("emulated")
    plan = load_plan(build_engine(emit_network(trt, prepared, prepared_weights), BuildConfig()))
    schedules = Schedules(plan)
    out = next(t.tensor_id for t in plan.io if t.name == "out")
    sizes = [(16, 16 + i % (2 * SCHEDULES_KEPT)) for i in range(200)]

    def output_shape(hw: tuple[int, int]) -> tuple[int, ...]:
        return schedules.at({"x": (1, 3, *hw)}).expected[out][0]

    with ThreadPoolExecutor(8) as pool:
        shapes = list(pool.map(output_shape, sizes))
    assert shapes == [(1, 5, *hw) for hw in sizes]


@pytest.mark.rtx
@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_segmenter_builds_with_tensorrt_rtx(precision: str) -> None:
    trt = import_trt("tensorrt-rtx")
    graph, weights = prepare_graph(segmenter(), random_weights(segmenter()), precision)
    emitted = emit_network(trt, graph, weights)
    layers = {la.name: la for la in network_layers(trt, emitted.network)}
    # TensorRT folds the static entries of the shape tensors: N and C stay static.
    assert layers["upsample"].outputs[0].shape == (1, 5, -1, -1)
    plan = build_engine(emitted, BuildConfig(precision=precision))
    assert plan[:4] == b"vtrt"


def test_segmenter_onnx_export_matches_reference_at_a_non_square_size(tmp_path) -> None:  # type: ignore[no-untyped-def]
    ort = pytest.importorskip("onnxruntime")
    from trtdsl.backends.onnx_export import export_onnx

    graph = segmenter()
    weights = random_weights(graph, seed=3)
    export_onnx(graph, weights, tmp_path / "seg.onnx")
    session = ort.InferenceSession(str(tmp_path / "seg.onnx"), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(4).standard_normal((1, 3, 29, 50)).astype(np.float32)
    out, mask = session.run(["out", "mask"], {"x": x})
    want = run_reference(graph, weights, {"x": x})
    np.testing.assert_allclose(out, want["out"], rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(mask, want["mask"])


YAML_SEGMENTER = """
name: yaml_segmenter
dims:
  H: {min: 16, opt: 32, max: 64}
  W: {min: 16, opt: 48, max: 96}
inputs:
  x: {shape: [1, 3, H, W]}
layers:
  - {name: conv, op: conv2d, out_channels: 4, kernel_size: 3, stride: 2, padding: 1}
  - {name: up, op: interpolate, inputs: [conv, x], mode: bilinear, align_corners: true}
  - {name: mask, op: argmax, dim: 1}
outputs:
  mask: mask
"""


def test_yaml_declares_h_and_w_like_n() -> None:
    graph = load_yaml_text(YAML_SEGMENTER)
    assert [d.name for d in graph.dims] == ["H", "W"]
    assert graph.types["conv"].shape == (1, 4, "(H+1)//2", "(W+1)//2")
    assert graph.types["mask"] == TensorType(DType.INT64, (1, "H", "W"))


# -- class token: parameter + expand to a dynamic batch, select ---------------------------------


def class_token_model() -> Graph:
    """ViT's token handling: cat([class_token.expand(n, -1, -1), x], 1) + pos_embedding, x[:, 0]."""
    b = ModelBuilder("tokens")
    x = b.input("x", ("N", 4, 6), dims={"N": (1, 2, 5)})
    token = b.parameter(shape=(1, 1, 6), name="class_token")
    token = b.expand(token, x, sizes=["N", -1, -1], name="class_token_expand")
    y = b.concat(token, x, dim=1, name="cat")
    pos = b.parameter(shape=(1, 5, 6), name="encoder.pos_embedding")
    y = b.add(y, pos, name="pos_add")
    y = b.mul(y, other=0.5, name="half")
    b.output(b.select(y, dim=1, index=0, name="cls"), "cls")
    b.output(b.slice(y, dim=1, start=1, step=2, name="odd"), "odd")
    return b.build()


def test_parameters_bind_by_their_own_names() -> None:
    graph = class_token_model()
    keys = sorted(key for key, *_ in graph.params())
    assert keys == ["class_token", "encoder.pos_embedding"]
    assert graph.num_parameters() == 6 + 30


@pytest.mark.parametrize("batch", [1, 3, 5])
def test_class_token_model_emulated_at_several_batches(batch: int) -> None:
    graph = class_token_model()
    weights = random_weights(graph, seed=5)
    run = _run(import_trt("emulated"), graph, weights)
    x = np.random.default_rng(batch).standard_normal((batch, 4, 6)).astype(np.float32)
    want = run_reference(graph, weights, {"x": x})
    got = run({"x": x})
    for name in ("cls", "odd"):
        np.testing.assert_allclose(got[name], want[name], rtol=1e-6, atol=1e-6)


@pytest.mark.rtx
@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_class_token_model_builds_with_tensorrt_rtx(precision: str) -> None:
    trt = import_trt("tensorrt-rtx")
    graph, weights = prepare_graph(
        class_token_model(), random_weights(class_token_model()), precision
    )
    emitted = emit_network(trt, graph, weights)
    layers = {la.name: la for la in network_layers(trt, emitted.network)}
    assert layers["class_token_expand"].outputs[0].shape == (-1, 1, 6)
    assert build_engine(emitted, BuildConfig(precision=precision))[:4] == b"vtrt"


# -- multi-head attention: fused (IAttention) and decomposed --------------------------------------


def attention_model() -> Graph:
    b = ModelBuilder("attention")
    x = b.input("x", ("N", 7, 16), dims={"N": (1, 2, 4)})
    y = b.multi_head_attention(x, embed_dim=16, num_heads=4, batch_first=True, name="attn")
    b.output(y, "y")
    return b.build()


@pytest.fixture(params=["fused", "decomposed"])
def attention_form(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "decomposed":
        monkeypatch.setattr(trt_module, "fused_attention_available", lambda trt: False)
    return str(request.param)


def _layer_types(trt: ModuleType, graph: Graph, weights: dict) -> set[str]:  # type: ignore[type-arg]
    emitted = emit_network(trt, graph, weights)
    return {la.type for la in network_layers(trt, emitted.network)}


def test_attention_emulated_matches_reference(attention_form: str) -> None:
    trt = import_trt("emulated")
    graph = attention_model()
    weights = random_weights(graph, seed=6)
    types = _layer_types(trt, graph, weights)
    assert ("ATTENTION_INPUT" in types) == (attention_form == "fused")
    assert ("SOFTMAX" in types) == (attention_form == "decomposed")
    x = np.random.default_rng(7).standard_normal((3, 7, 16)).astype(np.float32)
    got = _run(trt, graph, weights)({"x": x})["y"]
    np.testing.assert_allclose(got, run_reference(graph, weights, {"x": x})["y"], 1e-5, 1e-5)


@pytest.mark.rtx
@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_attention_builds_with_tensorrt_rtx(attention_form: str, precision: str) -> None:
    trt = import_trt("tensorrt-rtx")
    graph, weights = prepare_graph(attention_model(), random_weights(attention_model()), precision)
    types = _layer_types(trt, graph, weights)
    assert ("ATTENTION_INPUT" in types) == (attention_form == "fused")
    emitted = emit_network(trt, graph, weights)
    assert build_engine(emitted, BuildConfig(precision=precision))[:4] == b"vtrt"


def test_a_class_token_model_takes_a_static_batch_from_shape() -> None:
    """``--shape x=1x3x224x224`` makes N static: ``expand`` by the name N then takes the size
    from its second input (as reshape copies it), instead of refusing the model."""
    from trtdsl.frontend.load import load_model

    graph = load_model("vit_b_16", {"x": (1, 3, 224, 224)})
    (port,) = graph.outputs
    assert graph.types[port.value].shape == (1, 1000)


TWO_INPUTS = """\
name: two
dims:
  B: {min: 1, opt: 2, max: 4}
  L: {min: 1, opt: 8, max: 16}
inputs:
  a: {shape: [B, L]}
  b: {shape: [B, L]}
layers:
  - {name: sum, op: add, inputs: [a, b]}
outputs:
  y: sum
"""


def test_a_shape_for_one_input_sizes_the_inputs_that_share_its_dimensions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--shape a=3x5`` gives b (B, L too) 3x5; a profile for a alone is b's profile too."""
    model = tmp_path / "two.yaml"
    model.write_text(TWO_INPUTS)
    assert main(["run", str(model), "--weights", "random", "--shape", "a=3x5"]) == 0
    assert "input b: float32[3x5]" in capsys.readouterr().out
    argv = ["run", str(model), "--weights", "random", "--shape", "a=3x5", "--shape", "b=2x5"]
    assert main(argv) == 2
    assert "--shape b: B=2, but another --shape gives B=3" in capsys.readouterr().err
    argv = ["compile", str(model), "--weights", "random", "--emulate"]
    assert main([*argv, "--shape", "a=1x2:2x4:3x6"]) == 0
    out = capsys.readouterr().out
    assert "on input a=3x6, b=3x6" in out and "on input a=1x2, b=1x2" in out

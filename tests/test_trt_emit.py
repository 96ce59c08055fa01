"""TensorRT emission: every op case emitted, built and run matches the reference.

Each test runs twice: through trtdsl's TensorRT emulator ("emulated") and through real TensorRT
(marked ``tensorrt``: skipped without TensorRT and a GPU).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import ModuleType

import numpy as np
import pytest
from cases import CASES, OpCase, case_arrays, case_input_types

from trtdsl import ModelBuilder
from trtdsl.backends.reference import run_reference
from trtdsl.backends.trt import (
    EMITTERS,
    BuildConfig,
    build_engine,
    emit_network,
    emitter,
    import_trt,
    network_layers,
    prepare_graph,
)
from trtdsl.backends.trt import module as trt_module
from trtdsl.backends.trt.module import TensorRTMissingError
from trtdsl.debug.check import run_plan
from trtdsl.errors import BackendError, UsageError
from trtdsl.ir.graph import Graph
from trtdsl.ir.ops import OPS
from trtdsl.ir.ops.activation import ReLU
from trtdsl.ir.ops.base import Op, param_key
from trtdsl.ir.types import DType
from trtdsl.passes.precision import _DATA_MOVEMENT, apply_precision
from trtdsl.weights import random_weights

MODULES = [
    pytest.param("emulated", id="emulated"),
    pytest.param("auto", id="tensorrt", marks=pytest.mark.tensorrt),
]
"""The emulator, and the real TensorRT module here (TensorRT, else TensorRT-RTX): tests that
run an engine skip where it needs a GPU this machine lacks (conftest.py)."""

HALF_TOLERANCE = {"fp16": 1e-2, "bf16": 4e-2}
"""Half-precision runs vs the float32 reference: |got - want| <= tol * (1 + |want|) (fp16 has
an 11-bit, bf16 an 8-bit significand; small cases accumulate few rounding errors)."""


@pytest.fixture(params=MODULES)
def trt(request: pytest.FixtureRequest) -> ModuleType:
    return import_trt(request.param)


def case_graph(case: OpCase) -> Graph:
    """One node called ``op`` applied to inputs ``x0, x1, ...``; output port ``y``."""
    b = ModelBuilder(case.id)
    types = case_input_types(case)
    inputs = [b.input(f"x{i}", t.shape, dtype=t.dtype) for i, t in enumerate(types)]
    y = b.node(case.op, *inputs, name="op")
    b.output(y, "y")
    return b.build()


def compile_and_run(
    trt: ModuleType,
    graph: Graph,
    weights: Mapping[str, np.ndarray],
    inputs: Mapping[str, np.ndarray],
    config: BuildConfig | None = None,
) -> dict[str, np.ndarray]:
    emitted = emit_network(trt, graph, weights)
    plan = build_engine(emitted, config or BuildConfig())
    return run_plan(trt, plan, inputs)


def _case_data(case: OpCase) -> tuple[Graph, dict[str, np.ndarray], dict[str, np.ndarray]]:
    if not case.input_shapes:
        return _plus_input_data(case)
    graph = case_graph(case)
    arrays, params = case_arrays(case)
    weights = {param_key("op", role): a for role, a in params.items()}
    return graph, weights, {f"x{i}": a for i, a in enumerate(arrays)}


def _plus_input_data(
    case: OpCase,
) -> tuple[Graph, dict[str, np.ndarray], dict[str, np.ndarray]]:
    """``y = x + op()`` for an op without inputs (``parameter``): the engine runner needs at
    least one input."""
    (shape,) = case.expected_shapes
    b = ModelBuilder(case.id)
    x = b.input("x", shape)
    b.output(b.add(x, b.node(case.op, name="op"), name="plus"), "y")
    _, params = case_arrays(case)
    weights = {param_key("op", role): a for role, a in params.items()}
    inputs = {"x": np.random.default_rng(0).standard_normal(shape).astype(np.float32)}
    return b.build(), weights, inputs


def test_every_op_has_an_emitter_and_a_case() -> None:
    without_emitter = sorted(c.op_name for c in OPS.values() if c not in EMITTERS)
    assert without_emitter == [], f"ops without a TensorRT emitter: {without_emitter}"
    with_case = {type(c.op) for c in CASES}
    without_case = sorted(c.op_name for c in OPS.values() if c not in with_case)
    assert without_case == [], f"ops without a test case: {without_case}"


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_case_matches_reference_fp32(trt: ModuleType, case: OpCase) -> None:
    graph, weights, inputs = _case_data(case)
    want = run_reference(graph, weights, inputs)["y"]
    got = compile_and_run(trt, graph, weights, inputs)["y"]
    assert got.shape == want.shape and got.dtype == want.dtype
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


FLOAT_CASES = [
    c
    for c in CASES
    if all(t.dtype.is_float for t in c.output_types())  # not int or bool results
    and not c.id.startswith(("cast", "quantize", "dequantize"))
    and not c.id.startswith("nms")  # NMS decisions change with the precision
]


@pytest.mark.parametrize("precision", ["fp16", "bf16"])
@pytest.mark.parametrize("case", FLOAT_CASES, ids=lambda c: c.id)
def test_case_in_half_precision_is_close_to_fp32_reference(
    trt: ModuleType, case: OpCase, precision: str
) -> None:
    graph, weights, inputs = _case_data(case)
    want = run_reference(graph, weights, inputs)["y"]
    half, half_weights = apply_precision(graph, weights, precision)
    if not isinstance(case.op, _DATA_MOVEMENT):  # those follow their (float32) input
        assert half.types["op"].dtype is DType.parse(precision)
    got = compile_and_run(trt, half, half_weights, inputs, BuildConfig(precision=precision))["y"]
    assert got.dtype == np.float32  # cast back to the declared output dtype
    tol = HALF_TOLERANCE[precision] * max(1.0, case.input_scale)
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


def _tiny_model() -> Graph:
    b = ModelBuilder("tiny")
    x = b.input("x", ("N", 3, 8, 8), dims={"N": (1, 2, 4)})
    y = b.conv2d(x, out_channels=4, kernel_size=3, padding=1, bias=False, name="conv1")
    y = b.batch_norm2d(y, name="bn1")
    y = b.silu(y, name="act")
    with b.scope("head"):
        y = b.adaptive_avg_pool2d(y, output_size=1, name="pool")
        y = b.flatten(y, name="flatten")
        y = b.linear(y, out_features=3, name="fc")
    b.output(y, "logits")
    return b.build()


def test_layers_are_named_after_nodes_with_metadata(trt: ModuleType) -> None:
    graph, weights = prepare_graph(_tiny_model(), random_weights(_tiny_model()))
    emitted = emit_network(trt, graph, weights)
    layers = network_layers(trt, emitted.network)
    names = [la.name for la in layers]
    node_names = [n.name for n in graph.nodes]
    assert "bn1" not in node_names  # folded into conv1
    for node in node_names:
        assert node in names, f"no layer named {node}"
    for la in layers:
        owner = la.name.split("/", 1)[0]
        assert owner in node_names, f"layer {la.name} is not named after a node"
        assert la.metadata == owner
    by_name = {la.name: la for la in layers}
    assert by_name["conv1"].type == "CONVOLUTION"
    assert by_name["act/sigmoid"].type == "ACTIVATION (SIGMOID)"
    assert by_name["act"].type == "ELEMENTWISE (PROD)"
    assert [t.name for t in by_name["head.fc"].outputs] == ["logits"]
    assert by_name["head.fc/matmul"].type == "MATRIX_MULTIPLY"
    assert by_name["head.fc/weight"].type == "CONSTANT"
    assert by_name["head.fc/weight"].outputs[0].shape == (3, 4)
    assert by_name["act/sigmoid"].inputs[0].shape == (-1, 4, 8, 8)  # the dynamic batch stays -1


def test_weights_stay_alive_until_build(trt: ModuleType) -> None:
    graph, weights = prepare_graph(_tiny_model(), random_weights(_tiny_model()))
    emitted = emit_network(trt, graph, weights)
    kept_ids = {id(a) for a in emitted.keep}
    assert any(
        isinstance(a, np.ndarray) and a.shape == weights["conv1.weight"].shape for a in emitted.keep
    )
    assert len(kept_ids) >= 4  # conv kernel + bias, fc weight + bias


def test_a_wrong_shape_from_an_emitter_is_caught(
    trt: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    def bad_relu(ctx, node):  # type: ignore[no-untyped-def]
        layer = ctx.network.add_shuffle(ctx.input(node))
        layer.reshape_dims = (-1,)
        return layer

    monkeypatch.setitem(EMITTERS, ReLU, bad_relu)
    b = ModelBuilder("bad")
    y = b.relu(b.input("x", (2, 3)), name="act")
    b.output(y, "y")
    with pytest.raises(
        BackendError, match=r"act: TensorRT infers float32\[6\] but the IR says float32\[2,3\]"
    ):
        emit_network(trt, b.build(), {})


def test_an_op_without_emitter_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    trt = import_trt("emulated")
    monkeypatch.delitem(EMITTERS, ReLU)
    b = ModelBuilder("m")
    y = b.relu(b.input("x", (2, 3)), name="act")
    b.output(y, "y")
    with pytest.raises(BackendError, match=r"op 'relu' \(ReLU\) has no TensorRT emitter"):
        emit_network(trt, b.build(), {})


def test_emitter_registers_once() -> None:
    class Dummy(Op):
        op_name = "dummy"

    @emitter(Dummy)
    def first(ctx, node):  # type: ignore[no-untyped-def]
        return None

    try:
        with pytest.raises(TypeError, match="two emitters registered for Dummy"):
            emitter(Dummy)(lambda ctx, node: None)
    finally:
        del EMITTERS[Dummy]


def test_graph_input_that_is_also_an_output_is_copied(trt: ModuleType) -> None:
    b = ModelBuilder("passthrough")
    x = b.input("x", (2, 3))
    b.output(x, "same")
    b.output(b.relu(x, name="act"), "y")
    graph = b.build()
    inputs = {"x": np.arange(-3, 3, dtype=np.float32).reshape(2, 3)}
    got = compile_and_run(trt, graph, {}, inputs)
    np.testing.assert_array_equal(got["same"], inputs["x"])
    np.testing.assert_array_equal(got["y"], np.maximum(inputs["x"], 0))


def test_bfloat16_weights_are_passed_as_bit_patterns() -> None:
    trt = import_trt("emulated")
    graph = _tiny_model()
    half, weights = prepare_graph(graph, random_weights(graph), "bf16")
    emitted = emit_network(trt, half, weights)
    bits = [a for a in emitted.keep if isinstance(a, np.ndarray) and a.dtype == np.uint16]
    assert bits, "bf16 weights should be kept as uint16 bit patterns"
    assert half.types[half.node("conv1").output].dtype is DType.BFLOAT16


def _absent(monkeypatch: pytest.MonkeyPatch, *backends: str) -> None:
    """Make ``backends`` look uninstalled (their module names point nowhere)."""
    for backend in backends:
        monkeypatch.setitem(trt_module.MODULES, backend, f"trtdsl_absent_{backend[-3:]}")


def test_missing_tensorrt_says_how_to_install_and_mentions_emulated(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _absent(monkeypatch, "tensorrt", "tensorrt-rtx")
    hint = r"pip install 'trtdsl\[rtx\]'.*pip install 'trtdsl\[trt\]'.*--backend emulated"
    with pytest.raises(
        TensorRTMissingError, match=r"--backend tensorrt: TensorRT is not installed.*" + hint
    ):
        import_trt("tensorrt")
    with pytest.raises(TensorRTMissingError, match=r"neither TensorRT nor TensorRT-RTX .*" + hint):
        import_trt("auto")


def test_auto_prefers_tensorrt_then_tensorrt_rtx(monkeypatch: pytest.MonkeyPatch) -> None:
    _absent(monkeypatch, "tensorrt")
    monkeypatch.setitem(trt_module.MODULES, "tensorrt-rtx", "trtdsl.emulator")
    assert trt_module.resolve_backend("auto") == "tensorrt-rtx"
    monkeypatch.setitem(trt_module.MODULES, "tensorrt", "trtdsl.emulator")
    assert trt_module.resolve_backend("auto") == "tensorrt"
    with pytest.raises(UsageError, match=r"--backend 'trt': expected one of auto, tensorrt, "):
        import_trt("trt")


def test_weights_are_named_after_state_dict_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    trt = import_trt("emulated")
    named: dict[str, int] = {}
    original = trt.INetworkDefinition.set_weights_name

    def spy(self, weights, name):  # type: ignore[no-untyped-def]
        named[name] = weights.ctypes.data if isinstance(weights, np.ndarray) else weights
        return original(self, weights, name)

    monkeypatch.setattr(trt.INetworkDefinition, "set_weights_name", spy)
    graph, weights = prepare_graph(_tiny_model(), random_weights(_tiny_model()))
    emitted = emit_network(trt, graph, weights)
    assert sorted(named) == ["conv1.bias", "conv1.weight", "head.fc.bias", "head.fc.weight"]
    kept = {a.ctypes.data for a in emitted.keep if isinstance(a, np.ndarray)}
    assert set(named.values()) <= kept  # the very buffers the layers use

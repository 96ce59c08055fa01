"""The quantization pass: Q/DQ placement (conv/linear inputs, residuals, none on conv outputs),
exclusions, scales, and prepare_graph's int8/fp8 path with its calibration checks."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from trtdsl import ModelBuilder
from trtdsl.backends.reference import run_reference
from trtdsl.backends.trt import BuildConfig, build_engine, emit_network, import_trt, prepare_graph
from trtdsl.calibration import Calibration, Method, graph_digest, weights_digest
from trtdsl.debug.check import run_plan
from trtdsl.errors import CalibrationError, UsageError
from trtdsl.frontend.load import load_model
from trtdsl.ir.graph import Graph
from trtdsl.ir.ops.quantize import Dequantize, Quantize, QuantizedConv2d, QuantizedLinear
from trtdsl.ir.types import DType
from trtdsl.passes.fold_bn import fold_batchnorm
from trtdsl.passes.precision import apply_precision
from trtdsl.passes.quantize import plan_quantization, quantize_graph
from trtdsl.weights import random_weights


def _block() -> Graph:
    """stem conv -> relu -> [conv -> relu -> conv] + identity -> relu -> pool -> fc."""
    b = ModelBuilder("block")
    x = b.input("x", ("N", 3, 8, 8), dims={"N": (1, 2, 4)})
    y = b.relu(b.conv2d(x, out_channels=8, kernel_size=3, padding=1, name="stem"), name="r0")
    z = b.relu(b.conv2d(y, out_channels=8, kernel_size=3, padding=1, name="c1"), name="r1")
    z = b.conv2d(z, out_channels=8, kernel_size=3, padding=1, name="c2")
    y = b.relu(b.add(z, y, name="add"), name="r2")
    y = b.flatten(b.adaptive_avg_pool2d(y, output_size=1, name="pool"), name="flat")
    b.output(b.linear(y, out_features=4, name="fc"), "logits")
    return b.build()


def _amax(graph: Graph, value: float = 2.0) -> dict[str, float]:
    return {v: value for v in plan_quantization(graph).values}


def test_plan_quantizes_conv_and_linear_inputs_and_the_residual() -> None:
    plan = plan_quantization(_block())
    assert plan.values == ("x", "r0", "r1", "flat")  # r0 feeds c1 and is add's residual
    assert plan.nodes == ("stem", "c1", "c2", "fc")
    assert plan.residuals == (("add", 1),)
    assert "c2" not in plan.values  # no Q/DQ on a convolution's output


def test_plan_exclusions_by_pattern_and_node_precision() -> None:
    plan = plan_quantization(_block(), keep_fp32=["stem", "f*"])
    assert plan.excluded == ("stem", "fc") and plan.nodes == ("c1", "c2")
    assert "x" not in plan.values and "flat" not in plan.values
    b = ModelBuilder("own")
    x = b.input("x", (1, 3, 4, 4))
    with b.scope("head", precision="float32"):
        y = b.conv2d(x, out_channels=2, kernel_size=1, name="conv")
    b.output(y, "y")
    assert plan_quantization(b.build()).excluded == ("head.conv",)


def test_residual_of_two_convolutions_is_the_second_input() -> None:
    b = ModelBuilder("down")
    x = b.input("x", (1, 4, 4, 4))
    main = b.conv2d(x, out_channels=4, kernel_size=1, name="main")
    skip = b.conv2d(x, out_channels=4, kernel_size=1, name="skip")
    b.output(b.add(main, skip, name="add"), "y")
    plan = plan_quantization(b.build())
    assert plan.values == ("x", "skip") and plan.residuals == (("add", 1),)


@pytest.mark.parametrize("precision", ["int8", "fp8"])
def test_fp16_graph_gets_qdq_that_dequantize_to_float16(precision: str) -> None:
    graph = _block()
    folded, weights = fold_batchnorm(graph, random_weights(graph))
    typed, typed_weights = apply_precision(folded, weights, "fp16")
    q, qw = quantize_graph(typed, typed_weights, _amax(graph), precision, float_weights=weights)
    kinds = Counter(type(n.op) for n in q.nodes)
    assert kinds[Quantize] == kinds[Dequantize] == 4
    assert kinds[QuantizedConv2d] == 3 and kinds[QuantizedLinear] == 1
    quantized = DType.INT8 if precision == "int8" else DType.FLOAT8_E4M3
    for node in q.nodes:
        if isinstance(node.op, Quantize):
            assert q.types[node.output].dtype is quantized
        if isinstance(node.op, Dequantize):
            assert q.types[node.output].dtype is DType.FLOAT16
        if isinstance(node.op, QuantizedConv2d):
            producer = q.producer(node.inputs[0])
            assert producer is not None and isinstance(producer.op, Dequantize)
    # the input is quantized in float32 before the precision pass's cast, which goes away
    assert q.node("x.quantize").inputs == ("x",) and "x.to_fp16" not in q.types
    assert qw["x.quantize.scale"] == np.float32(2.0 / (127 if precision == "int8" else 448))
    w = qw["c1.weight"]
    assert w.dtype == np.float32
    expected = np.abs(weights["c1.weight"]).reshape(8, -1).max(axis=1) / 127
    if precision == "int8":
        np.testing.assert_allclose(qw["c1.weight_scale"], expected, rtol=1e-6)


def test_missing_amax_is_one_usage_error() -> None:
    graph = _block()
    amax = _amax(graph)
    del amax["r1"]
    with pytest.raises(UsageError, match=r"no amax for 1 value\(s\) of model 'block'.*'r1'"):
        quantize_graph(graph, random_weights(graph), amax, "int8")
    with pytest.raises(UsageError, match="precision must be int8 or fp8"):
        quantize_graph(graph, random_weights(graph), _amax(graph), "fp16")


def _calibration(graph: Graph, weights: dict[str, np.ndarray], amax: float = 4.0) -> Calibration:
    return Calibration(
        Method("max"),
        _amax(graph, amax),
        {},
        {"name": graph.name, "graph_sha256": graph_digest(graph)},
        {"sha256": weights_digest(weights)},
        {},
    )


def test_prepare_graph_int8_and_its_refusals(tmp_path: Path) -> None:
    graph = _block()
    weights = random_weights(graph)
    with pytest.raises(UsageError, match="--precision int8 needs --calibration SCALES.json"):
        prepare_graph(graph, weights, "int8")
    calibration = _calibration(graph, weights)
    with pytest.raises(UsageError, match="--calibration applies to --precision int8 or fp8"):
        prepare_graph(graph, weights, "fp16", calibration=calibration)
    prepared, _ = prepare_graph(graph, weights, "int8", calibration=calibration)
    assert sum(isinstance(n.op, QuantizedConv2d) for n in prepared.nodes) == 3
    path = tmp_path / "s.json"
    calibration.save(path)
    other = random_weights(graph, seed=1)
    with pytest.raises(CalibrationError, match=r"s\.json: scales made for other weights"):
        prepare_graph(graph, other, "int8", calibration=path)
    tiny = load_model("resnet18")
    with pytest.raises(CalibrationError, match=r"s\.json: scales made for model 'block'.*resnet18"):
        prepare_graph(tiny, random_weights(tiny), "int8", calibration=str(path))


def test_reference_int8_stays_close_to_fp32_and_the_emulator_agrees() -> None:
    graph = _block()
    weights = random_weights(graph)
    x = np.random.default_rng(0).standard_normal((2, 3, 8, 8)).astype(np.float32)
    fp32 = run_reference(graph, weights, {"x": x})["logits"]
    folded, folded_weights = fold_batchnorm(graph, weights)
    from trtdsl.backends.reference import capture_reference

    values = capture_reference(folded, folded_weights, {"x": x})
    amax = {v: float(np.abs(values[v]).max()) for v in plan_quantization(folded).values}
    calibration = _calibration(graph, weights)
    calibration.amax = amax
    reference_graph, reference_weights = prepare_graph(
        graph, weights, "int8", calibration=calibration, fallback="fp32"
    )
    int8 = run_reference(reference_graph, reference_weights, {"x": x})["logits"]
    assert np.abs(int8 - fp32).max() < 0.05 * np.abs(fp32).max()
    trt = import_trt("emulated")
    for fallback, tolerance in (("fp32", 1e-5), ("fp16", 2e-2)):
        prepared, prepared_weights = prepare_graph(
            graph, weights, "int8", calibration=calibration, fallback=fallback
        )
        plan = build_engine(emit_network(trt, prepared, prepared_weights), BuildConfig())
        got = run_plan(trt, plan, {"x": x})["logits"]
        np.testing.assert_allclose(got, int8, rtol=tolerance, atol=tolerance * np.abs(int8).max())


def test_resnet18_plan_shares_block_inputs_and_quantizes_downsample_residuals() -> None:
    graph, _ = fold_batchnorm(load_model("resnet18"), random_weights(load_model("resnet18")))
    plan = plan_quantization(graph)
    convs = [n for n in graph.nodes if n.op.op_name == "conv2d"]
    assert len(plan.nodes) == len(convs) + 1  # and the classifier
    assert len(plan.residuals) == 8
    # a block's input feeds its first conv and its residual add: one Q/DQ pair serves both
    assert len(plan.values) == len({n.inputs[0] for n in convs}) + 1 + 3  # + fc, 3 downsamples


def test_unquantized_layers_stay_in_the_fallback_precision() -> None:
    graph = _block()
    weights = random_weights(graph)
    calibration = _calibration(graph, weights)
    prepared, _ = prepare_graph(graph, weights, "int8", calibration=calibration, unquantized=["c*"])
    assert {n.name for n in prepared.nodes if isinstance(n.op, QuantizedConv2d)} == {"stem"}
    assert prepared.types["c2"].dtype is DType.FLOAT16  # unquantized, in fp16
    kept, _ = prepare_graph(graph, weights, "int8", calibration=calibration, keep_fp32=["c2"])
    assert kept.types["c2"].dtype is DType.FLOAT32
    with pytest.raises(UsageError, match=r"unquantized pattern\(s\) 'nope' match no node"):
        prepare_graph(graph, weights, "int8", calibration=calibration, unquantized=["nope"])


def test_a_model_with_its_own_qdq_is_not_quantized_twice() -> None:
    b = ModelBuilder("own_qdq")
    x = b.input("x", (1, 3, 8, 8))
    y = b.dequantize(b.quantize(x, name="q"), name="dq")
    b.output(b.conv2d(y, out_channels=4, kernel_size=3, name="conv"), "y")
    graph = b.build()
    plan = plan_quantization(graph)
    assert plan.values == () and plan.nodes == ("conv",)
    weights = random_weights(graph)
    prepared, _ = prepare_graph(graph, weights, "int8", calibration=_calibration(graph, weights))
    kinds = Counter(type(n.op) for n in prepared.nodes)
    assert kinds[Quantize] == kinds[Dequantize] == 1 and kinds[QuantizedConv2d] == 1

"""INT8/FP8 networks on NVIDIA's real builder (TensorRT-RTX on this CPU: real engines, nothing
runs): a representative subset of the zoo at int8 (residuals, depthwise convolutions, concat,
squeeze-excitation) and at fp8 for compute capability 89, and the end-to-end path of
``trtdsl calibrate`` on photos followed by an INT8 ResNet-50 engine smaller than the fp16 one.
Every zoo model at int8 and fp8 is built by ``benchmarks/bench_quantize.py --sections zoo``
(minutes on two cores; too slow for CI)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pytest

from trtdsl.backends.trt import BuildConfig, emit_network, import_trt, prepare_graph
from trtdsl.backends.trt.build import build_network
from trtdsl.calibration import Calibration, Method, graph_digest, weights_digest
from trtdsl.frontend.load import load_model
from trtdsl.ir.graph import Graph
from trtdsl.ir.ops.quantize import Quantize, QuantizedConv2d
from trtdsl.passes.fold_bn import fold_batchnorm
from trtdsl.passes.quantize import plan_quantization
from trtdsl.weights import random_weights

pytestmark = pytest.mark.rtx


def _synthetic(graph: Graph, weights: Mapping[str, np.ndarray]) -> Calibration:
    """amax 4 for every quantized tensor: a build does not depend on the scales' values."""
    folded, _ = fold_batchnorm(graph, weights)
    return Calibration(
        Method("max"),
        {v: 4.0 for v in plan_quantization(folded).values},
        {},
        {"name": graph.name, "graph_sha256": graph_digest(graph)},
        {"sha256": weights_digest(weights)},
        {},
    )


@pytest.mark.parametrize(
    ("model", "precision"),
    [
        ("resnet18", "int8"),
        ("mobilenet_v2", "int8"),
        ("squeezenet1_1", "int8"),
        ("efficientnet_b0", "int8"),
        ("resnet18", "fp8"),
        ("mobilenet_v2", "fp8"),
    ],
)
def test_zoo_model_builds_quantized(model: str, precision: str) -> None:
    trt = import_trt("tensorrt-rtx")
    graph = load_model(model)
    weights = random_weights(graph, 0)
    prepared, prepared_weights = prepare_graph(
        graph, weights, precision, calibration=_synthetic(graph, weights)
    )
    convs = sum(n.op.op_name == "conv2d" for n in graph.nodes)
    linears = sum(n.op.op_name == "linear" for n in graph.nodes)
    assert sum(isinstance(n.op, QuantizedConv2d) for n in prepared.nodes) == convs
    emitted = emit_network(trt, prepared, prepared_weights)
    kinds = Counter(emitted.network.get_layer(i).type for i in range(emitted.num_layers))
    pairs = sum(isinstance(n.op, Quantize) for n in prepared.nodes)
    assert (
        kinds[trt.LayerType.QUANTIZE] == kinds[trt.LayerType.DEQUANTIZE] == pairs + convs + linears
    )
    targets = (89,) if precision == "fp8" else ()
    result = build_network(emitted, BuildConfig(compute_capabilities=targets))
    assert result.plan[:4] == b"vtrt"
    marker = "Datatype: Int8" if precision == "int8" else "Datatype: FP8"
    quantized = [line for line in result.layer_information if marker in line]
    assert len(quantized) >= convs // 2, "the builder runs few layers in the quantized type"


def test_fp8_is_refused_for_a_target_without_fp8() -> None:
    from trtdsl.errors import BackendError

    trt = import_trt("tensorrt-rtx")
    graph = load_model("squeezenet1_1")
    weights = random_weights(graph, 0)
    prepared, prepared_weights = prepare_graph(
        graph, weights, "fp8", calibration=_synthetic(graph, weights)
    )
    emitted = emit_network(trt, prepared, prepared_weights)
    with pytest.raises(BackendError, match="fp8"):
        build_network(emitted, BuildConfig(compute_capabilities=(86,)))


@pytest.mark.slow
def test_calibrate_photos_then_int8_resnet50_engine_is_smaller_than_fp16(
    cli,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    """The done-when of issue 11: ``trtdsl calibrate zoo/resnet50.yaml --weights random --data
    PHOTOS -o s.json``, then the library call behind ``compile --precision int8 --calibration
    s.json --backend tensorrt-rtx``."""
    sklearn_datasets = pytest.importorskip("sklearn.datasets")
    from PIL import Image

    photos = tmp_path / "photos"
    photos.mkdir()
    bunch = sklearn_datasets.load_sample_images()
    for name, image in zip(bunch.filenames, bunch.images, strict=True):
        Image.fromarray(image).save(photos / Path(name).name)
    scales = tmp_path / "s.json"
    model = str(Path(__file__).parents[1] / "zoo" / "resnet50.yaml")
    result = cli(
        "calibrate", model, "--weights", "random", "--data", str(photos), "-o", str(scales)
    )
    assert result.code == 0, result.err
    trt = import_trt("tensorrt-rtx")
    graph = load_model(model)
    weights = random_weights(graph, 0)  # what --weights random binds
    sizes = {}
    for precision in ("fp16", "int8"):
        kwargs = {"calibration": scales} if precision == "int8" else {}
        prepared, prepared_weights = prepare_graph(graph, weights, precision, **kwargs)
        plan = build_network(emit_network(trt, prepared, prepared_weights), BuildConfig()).plan
        assert plan[:4] == b"vtrt"
        sizes[precision] = len(plan)
    assert sizes["int8"] < 0.8 * sizes["fp16"], sizes


@pytest.mark.parametrize("model", ["yolov8n", "yolov8s", "yolo11n"])
def test_yolo_with_nms_builds_at_int8(model: str) -> None:
    """Every YOLO model with its NMS stage (TensorRT-RTX's lowering, in float32) at int8."""
    from trtdsl.passes.nms import add_nms_stage

    trt = import_trt("tensorrt-rtx")
    graph = add_nms_stage(load_model(model))
    weights = random_weights(graph, 0)
    prepared, prepared_weights = prepare_graph(
        graph, weights, "int8", calibration=_synthetic(graph, weights)
    )
    convs = sum(n.op.op_name == "conv2d" for n in graph.nodes)
    assert sum(isinstance(n.op, QuantizedConv2d) for n in prepared.nodes) == convs
    result = build_network(emit_network(trt, prepared, prepared_weights), BuildConfig())
    assert result.plan[:4] == b"vtrt"
    quantized = [line for line in result.layer_information if "Datatype: Int8" in line]
    assert len(quantized) >= convs // 2, "the builder runs few layers in the quantized type"

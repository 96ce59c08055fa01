"""``nms`` as TensorRT-RTX gets it (``ops/nms_layers.py``: TopK, gathers, elementwise, a
matrix multiply and a WHILE loop): emulated with ``product="tensorrt-rtx"`` it must equal the
op's reference; marked ``rtx``, the real builder must build it and see the same network."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from test_rtx_ops import PLAN_MAGIC, emit_both
from test_yolo import raw_graph, raw_head, rows

from trtdsl import ModelBuilder
from trtdsl.backends.reference import run_reference
from trtdsl.backends.trt import BuildConfig, build_engine, emit_network, import_trt, prepare_graph
from trtdsl.debug.check import run_plan
from trtdsl.debug.detections import check_detections, nms_node, with_candidates
from trtdsl.errors import BackendError
from trtdsl.frontend.load import load_model
from trtdsl.ir.graph import Graph
from trtdsl.passes.nms import add_nms_stage
from trtdsl.weights import random_weights

RTX = "tensorrt-rtx"


def run_lowered(
    graph: Graph, inputs: dict[str, np.ndarray], precision: str = "fp32", weights: Any = None
) -> dict[str, np.ndarray]:
    """``graph`` emulated with TensorRT-RTX's network (its ``nms`` lowering)."""
    trt = import_trt("emulated")
    prepared, prepared_weights = prepare_graph(graph, weights or {}, precision)
    network = emit_network(trt, prepared, prepared_weights, product=RTX)
    assert not any(
        network.network.get_layer(i).type == trt.LayerType.NMS
        for i in range(network.network.num_layers)
    )
    return run_plan(trt, build_engine(network, BuildConfig(precision=precision)), inputs)


def nms_graph(boxes: int, classes: int, batch: Any = 2, **kwargs: Any) -> Graph:
    """``nms`` on inputs ``boxes`` (N, A, 4) and ``scores`` (N, A, C)."""
    b = ModelBuilder("nms")
    dims = {"N": (1, 2, 4)} if batch == "N" else None
    x = b.input("boxes", (batch, boxes, 4), dims=dims)
    s = b.input("scores", (batch, boxes, classes))
    b.output(b.node("nms", x, s, name="nms", **kwargs), "y")
    return b.build()


def random_boxes(rng: np.random.Generator, n: int, a: int, c: int) -> dict[str, np.ndarray]:
    """Corner boxes (in any corner order) over a 100x100 field with many overlaps, continuous
    scores (no ties)."""
    first = rng.uniform(0, 100, (n, a, 2))
    second = first + rng.uniform(-40, 40, (n, a, 2))
    boxes = np.concatenate([first, second], axis=2).astype(np.float32)
    return {"boxes": boxes, "scores": rng.uniform(0, 1, (n, a, c)).astype(np.float32)}


SWEEP = [
    # (anchors, classes, score_threshold, iou_threshold, max_det, multi_label, max_candidates)
    (30, 1, 0.1, 0.3, 12, False, 3840),
    (60, 3, 0.2, 0.5, 20, False, 3840),
    (60, 3, 0.2, 0.5, 40, True, 3840),
    (80, 4, 0.0, 0.7, 100, True, 25),  # max_det > max_candidates: padding after 25 rows
    (50, 2, 0.5, 0.0, 50, False, 3840),  # IoU threshold 0: any overlap suppresses
    (50, 2, 0.3, 1.0, 50, True, 3840),  # IoU threshold 1: nothing is suppressed
    (40, 5, 1.0, 0.5, 10, True, 3840),  # no candidate exceeds the threshold: all padding
    (120, 6, 0.05, 0.45, 300, True, 200),
]


@pytest.mark.parametrize("config", SWEEP, ids=lambda c: "-".join(map(str, c)))
def test_lowering_equals_the_reference(config: tuple[Any, ...]) -> None:
    anchors, classes, score, iou, max_det, multi, candidates = config
    graph = nms_graph(
        anchors,
        classes,
        score_threshold=score,
        iou_threshold=iou,
        max_det=max_det,
        multi_label=multi,
        max_candidates=candidates,
    )
    inputs = random_boxes(np.random.default_rng(anchors * classes), 2, anchors, classes)
    want = run_reference(graph, {}, inputs)["y"]
    got = run_lowered(graph, inputs)["y"]
    assert got.shape == want.shape == (2, max_det, 6)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-5)


def test_a_suppression_chain_takes_many_iterations_and_stays_greedy() -> None:
    """Box i overlaps box i + 1 only (scores decreasing): greedy keeps every other box; the
    fixed-point loop needs about one iteration per box."""
    count = 24
    left = np.arange(count, dtype=np.float32) * 6.0
    boxes = np.stack([left, np.zeros(count), left + 10.0, np.full(count, 10.0)], axis=1)
    scores = np.linspace(0.9, 0.5, count, dtype=np.float32)[:, None]
    inputs = {"boxes": boxes[None].astype(np.float32), "scores": scores[None]}
    graph = nms_graph(count, 1, batch=1, score_threshold=0.1, iou_threshold=0.2, max_det=count)
    got = run_lowered(graph, inputs)["y"][0]
    assert np.array_equal(got, run_reference(graph, {}, inputs)["y"][0])
    assert got[: count // 2, 0].tolist() == left[::2].tolist()
    assert (got[count // 2 :, 5] == -1).all()


def test_dynamic_batch() -> None:
    graph = nms_graph(40, 3, batch="N", score_threshold=0.2, iou_threshold=0.5, max_det=15)
    for n in (1, 3):
        inputs = random_boxes(np.random.default_rng(n), n, 40, 3)
        got = run_lowered(graph, inputs)["y"]
        np.testing.assert_allclose(got, run_reference(graph, {}, inputs)["y"], atol=1e-5)


def test_nms_stage_of_a_detector_equals_the_reference_as_sets() -> None:
    raw = raw_head(2, 600, classes=20, seed=3)
    graph = add_nms_stage(raw_graph(600, classes=20), 0.3, 0.5, 100)
    want = run_reference(graph, {}, {"raw": raw})
    got = run_lowered(graph, {"raw": raw})
    for n in range(2):
        assert int(got["count"][n]) == int(want["count"][n]) > 0
        assert rows(got, n) == rows(want, n)


@pytest.mark.parametrize("precision", ["fp16", "bf16"])
def test_half_precision_detections_are_an_nms_of_the_reference_candidates(
    precision: str,
) -> None:
    raw = raw_head(2, 600, classes=20, seed=5)
    graph = add_nms_stage(raw_graph(600, classes=20), 0.3, 0.5, 100)
    node = nms_node(graph)
    assert node is not None
    want = run_reference(with_candidates(graph, node), {}, {"raw": raw})
    got = run_lowered(graph, {"raw": raw}, precision)
    found = check_detections(node.op, got, want, {"fp16": 2e-2, "bf16": 1e-1}[precision])  # type: ignore[arg-type]
    assert found.problems == () and min(found.rows) > 0


def test_too_many_candidates_for_topk_is_one_line() -> None:
    graph = nms_graph(4000, 1, batch=1, max_candidates=5000)
    prepared, weights = prepare_graph(graph, {}, "fp32")
    with pytest.raises(BackendError, match=r"keeps at most 3840 candidates .* set max_candidates"):
        emit_network(import_trt("emulated"), prepared, weights, product=RTX)


def test_the_emulator_keeps_inmslayer_for_itself_and_tensorrt() -> None:
    trt = import_trt("emulated")
    prepared, weights = prepare_graph(nms_graph(30, 2, max_det=10), {}, "fp32")
    network = emit_network(trt, prepared, weights).network
    kinds = {network.get_layer(i).type for i in range(network.num_layers)}
    assert trt.LayerType.NMS in kinds and trt.LayerType.LOOP_OUTPUT not in kinds


# -- TensorRT-RTX: the real builder ----------------------------------------------------------


@pytest.mark.rtx
@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_yolov8n_with_nms_builds_with_tensorrt_rtx(precision: str) -> None:
    graph = add_nms_stage(load_model("yolov8n", {"x": (1, 3, 320, 320)}))
    prepared, weights = prepare_graph(graph, random_weights(graph, seed=0), precision)
    _, real = emit_both(prepared, weights)
    plan = build_engine(real, BuildConfig(precision=precision))
    assert plan[:4] == PLAN_MAGIC

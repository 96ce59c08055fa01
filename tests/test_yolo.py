"""The YOLO zoo models against Ultralytics, and the NMS stage against Ultralytics' NMS.

Parity: Ultralytics' DetectionModel built from its bundled YAML (seeded, random BatchNorm
statistics, eval mode; nothing downloaded) and the zoo YAML bound to its state_dict unchanged;
the raw head (N, 84, 8400) must agree within 1e-4 of the box scale (max |box|) on the boxes and
1e-4 absolute on the scores, on trtdsl's reference executor and on the emulated TensorRT
network. NMS: the same raw tensor through Ultralytics' ``non_max_suppression`` and through
``add_nms_stage`` must give equal sets of (box, score, class) rows.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from trtdsl import ModelBuilder
from trtdsl.backends.reference import run_reference
from trtdsl.backends.trt import BuildConfig, build_engine, emit_network, import_trt, prepare_graph
from trtdsl.debug.check import run_plan
from trtdsl.errors import UsageError
from trtdsl.frontend.load import load_model
from trtdsl.ir.graph import Graph
from trtdsl.passes.nms import add_nms_stage
from trtdsl.weights import load_weights, random_weights

sys.path.insert(0, str(Path(__file__).parent))
from ultralytics_support import detection_model, state_dict_arrays  # noqa: E402

MODELS = {"yolov8n": 3_157_200, "yolov8s": 11_166_560, "yolo11n": 2_624_080}
"""Zoo name -> trainable parameters (Ultralytics' model summaries give the same counts)."""

SLOW = {"yolov8s", "yolo11n"}


def _params(names: Any) -> list[Any]:
    return [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n for n in names]


def smooth_image(n: int, size: int = 640, seed: int = 0) -> np.ndarray:
    """(n, 3, size, size) float32 in [0, 1]: bilinear upsampling of (size / 32)^2 noise (an
    image with structure at every scale of the head, unlike i.i.d. noise)."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    low = torch.rand(n, 3, size // 32, size // 32, generator=generator)
    up = torch.nn.functional.interpolate(low, size=(size, size), mode="bilinear")
    return np.ascontiguousarray(up.numpy(), dtype=np.float32)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_zoo_yolo_shapes_and_parameter_counts(name: str) -> None:
    graph = load_model(name)
    assert graph.types[graph.outputs[0].value].shape == ("N", 84, 8400)
    assert graph.num_parameters() == MODELS[name]


def test_another_batch_and_input_size_through_shape_overrides() -> None:
    graph = load_model("yolov8n", {"x": (2, 3, 320, 320)})
    assert graph.types[graph.outputs[0].value].shape == (2, 84, 2100)


def test_input_size_not_a_multiple_of_the_stride_is_one_line_naming_the_stride() -> None:
    with pytest.raises(UsageError, match=r"641x640 must be multiples of 32, .*model\.22") as info:
        load_model("yolov8n", {"x": (1, 3, 641, 640)})
    assert "\n" not in str(info.value)


@pytest.mark.oracle
@pytest.mark.parametrize("name", _params(sorted(MODELS)))
def test_state_dict_saved_as_safetensors_binds_unchanged(name: str, tmp_path: Path) -> None:
    from safetensors.numpy import save_file

    state = state_dict_arrays(detection_model(f"{name}.yaml"))
    path = tmp_path / f"{name}.safetensors"
    save_file({k: np.array(v, order="C") for k, v in state.items()}, str(path))
    bound = load_weights(str(path), load_model(name))
    assert set(bound.arrays) == {k for k in state if not k.endswith("num_batches_tracked")}


def _ultralytics_raw(name: str, x: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    import torch

    model = detection_model(f"{name}.yaml")
    with torch.no_grad():
        y, _ = model(torch.from_numpy(x))
    weights = {k: v for k, v in state_dict_arrays(model).items() if "num_batches" not in k}
    return y.numpy(), weights


def assert_raw_head_close(got: np.ndarray, want: np.ndarray) -> tuple[float, float]:
    """Boxes within 1e-4 of the box scale, scores within 1e-4; returns both errors."""
    assert got.shape == want.shape
    scale = float(np.abs(want[:, :4]).max())
    box = float(np.abs(got[:, :4] - want[:, :4]).max()) / scale
    score = float(np.abs(got[:, 4:] - want[:, 4:]).max())
    assert box <= 1e-4 and score <= 1e-4, (box, score)
    return box, score


@pytest.mark.oracle
@pytest.mark.parametrize("name", _params(sorted(MODELS)))
def test_raw_head_matches_ultralytics_reference(name: str) -> None:
    x = smooth_image(1)
    want, weights = _ultralytics_raw(name, x)
    got = run_reference(load_model(name), weights, {"x": x})["output0"]
    assert_raw_head_close(got, want)


@pytest.mark.oracle
@pytest.mark.parametrize("name", _params(sorted(MODELS)))
def test_raw_head_matches_ultralytics_emulated(name: str) -> None:
    x = smooth_image(1, seed=1)
    want, weights = _ultralytics_raw(name, x)
    trt = import_trt("emulated")
    graph, prepared = prepare_graph(load_model(name), weights, "fp32")
    plan = build_engine(emit_network(trt, graph, prepared), BuildConfig())
    got = run_plan(trt, plan, {"x": x})["output0"]
    assert_raw_head_close(got, want)


# -- NMS ------------------------------------------------------------------------------------


def raw_head(
    n: int, anchors: int, classes: int = 80, power: float = 10.0, seed: int = 0
) -> np.ndarray:
    """A synthetic (n, 4 + classes, anchors) raw head: boxes (cx, cy, w, h) over 640x640 with
    many overlaps, scores uniform ** power (continuous: no ties)."""
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 640, (n, 2, anchors))
    wh = rng.uniform(10, 200, (n, 2, anchors))
    scores = rng.uniform(0, 1, (n, classes, anchors)) ** power
    return np.concatenate([xy, wh, scores], axis=1).astype(np.float32)


def raw_graph(anchors: int, classes: int = 80) -> Graph:
    b = ModelBuilder("raw")
    x = b.input("raw", ("N", 4 + classes, anchors), dims={"N": (1, 2, 4)})
    b.output(b.identity(x, name="head"), "output0")
    return b.build()


def rows(out: dict[str, np.ndarray], n: int) -> list[tuple[float, ...]]:
    count = int(out["count"][n])
    assert (out["classes"][n, count:] == -1).all() and (out["scores"][n, count:] == 0).all()
    table = np.concatenate(
        [out["boxes"][n, :count], out["scores"][n, :count, None], out["classes"][n, :count, None]],
        axis=1,
    )
    return sorted(map(tuple, np.round(table.astype(np.float64), 3)))


def ultralytics_rows(raw: np.ndarray, **kwargs: Any) -> list[list[tuple[float, ...]]]:
    import torch
    from ultralytics_support import import_ultralytics

    import_ultralytics()
    from ultralytics.utils.nms import non_max_suppression

    detections = non_max_suppression(torch.from_numpy(raw), **kwargs)
    return [sorted(map(tuple, np.round(d.numpy().astype(np.float64), 3))) for d in detections]


@pytest.mark.oracle
@pytest.mark.parametrize("multi_label", [False, True], ids=["best-class", "multi-label"])
def test_nms_stage_equals_ultralytics_as_sets(multi_label: bool) -> None:
    anchors = 400 if multi_label else 1000
    raw = raw_head(2, anchors, power=20.0 if multi_label else 10.0)
    graph = add_nms_stage(raw_graph(anchors), 0.25, 0.7, 300, multi_label=multi_label)
    out = run_reference(graph, {}, {"raw": raw})
    want = ultralytics_rows(
        raw, conf_thres=0.25, iou_thres=0.7, max_det=300, multi_label=multi_label
    )
    for n in range(2):
        assert 0 < len(want[n]) <= 300
        assert rows(out, n) == want[n]


def test_nms_stage_emulated_equals_reference() -> None:
    raw = raw_head(2, 600, classes=20, seed=3)
    graph = add_nms_stage(raw_graph(600, classes=20), 0.3, 0.5, 100)
    want = run_reference(graph, {}, {"raw": raw})
    trt = import_trt("emulated")
    prepared, weights = prepare_graph(graph, {}, "fp32")
    got = run_plan(
        trt, build_engine(emit_network(trt, prepared, weights), BuildConfig()), {"raw": raw}
    )
    for n in range(2):
        assert int(got["count"][n]) == int(want["count"][n]) > 0
        assert rows(got, n) == rows(want, n)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(iou_threshold=1.2), "--nms: nms: iou_threshold must be between 0 and 1, got 1.2"),
        (dict(score_threshold=-0.5), "score_threshold must be between 0 and 1"),
        (dict(max_det=0), "max_det must be an int >= 1"),
        (dict(output="nope"), "has no output 'nope'"),
    ],
)
def test_nms_stage_refuses_bad_arguments_in_one_line(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(UsageError, match=match) as info:
        add_nms_stage(load_model("yolov8n"), **kwargs)
    assert "\n" not in str(info.value)


def test_nms_stage_outputs() -> None:
    graph = add_nms_stage(load_model("yolov8n"), max_det=100)
    assert [p.name for p in graph.outputs] == ["boxes", "scores", "classes", "count"]
    shapes = [graph.types[p.value].shape for p in graph.outputs]
    assert shapes == [("N", 100, 4), ("N", 100), ("N", 100), ("N",)]
    assert [graph.types[p.value].dtype.value for p in graph.outputs][2:] == ["int32", "int32"]


# -- TensorRT-RTX: the real builder ----------------------------------------------------------


@pytest.mark.rtx
@pytest.mark.parametrize("precision", ["fp32", "fp16"])
@pytest.mark.parametrize("name", sorted(MODELS))
def test_yolo_builds_with_tensorrt_rtx(name: str, precision: str) -> None:
    graph = load_model(name)
    graph, weights = prepare_graph(graph, random_weights(graph, seed=0), precision)
    plan = build_engine(
        emit_network(import_trt("tensorrt-rtx"), graph, weights), BuildConfig(precision=precision)
    )
    assert plan[:4] == b"vtrt"

"""The NMS-stage check (``debug/detections.py``): detections must be an NMS of the reference's
candidates within tolerance. The reference's own output passes; each kind of wrong output is
caught; a swap between near-equal scores is accepted. And ``compile --nms`` uses it."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_yolo import raw_graph, raw_head

from trtdsl.backends.reference import run_reference
from trtdsl.cli.main import main
from trtdsl.debug.detections import (
    DetectionCheck,
    check_detections,
    nms_node,
    stage_nodes,
    with_candidates,
)
from trtdsl.ir.ops.detection import NMS
from trtdsl.passes.nms import add_nms_stage


def _reference(max_det: int = 100, seed: int = 3) -> tuple[NMS, dict[str, np.ndarray]]:
    graph = add_nms_stage(raw_graph(600, classes=20), 0.3, 0.5, max_det)
    node = nms_node(graph)
    assert node is not None and isinstance(node.op, NMS)
    raw = raw_head(2, 600, classes=20, seed=seed)
    return node.op, run_reference(with_candidates(graph, node), {}, {"raw": raw})


def _check(op: NMS, got: dict[str, np.ndarray], want: dict[str, np.ndarray]) -> DetectionCheck:
    return check_detections(op, got, want, 1e-4)


def _copy(want: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {k: np.array(v, copy=True) for k, v in want.items()}


def _drop_row(got: dict[str, np.ndarray], n: int, row: int) -> None:
    """Remove detection ``row`` of image ``n``: later rows move up, a padding row at the end."""
    for name, pad in (("boxes", 0.0), ("scores", 0.0), ("classes", -1)):
        values = got[name][n]
        values[row:-1] = values[row + 1 :].copy()
        values[-1] = pad
    got["count"][n] -= 1


def test_the_reference_output_is_an_nms_of_its_candidates() -> None:
    op, want = _reference()
    found = _check(op, want, want)
    assert found.problems == ()
    assert found.rows == found.reference_rows and min(found.rows) > 0
    assert found.box_error == 0.0 and found.score_error == 0.0 and found.box_scale > 100


def _moved_box(got: dict[str, np.ndarray]) -> None:
    got["boxes"][0, 3, 0] += 5.0


def _dropped_detection(got: dict[str, np.ndarray]) -> None:
    _drop_row(got, 1, 2)


def _swapped_rows(got: dict[str, np.ndarray]) -> None:
    for name in ("boxes", "scores", "classes"):
        got[name][0, [0, 5]] = got[name][0, [5, 0]]


def _bad_padding(got: dict[str, np.ndarray]) -> None:
    got["classes"][0, -1] = 0


def _wrong_class(got: dict[str, np.ndarray]) -> None:
    got["classes"][1, 0] = (got["classes"][1, 0] + 1) % 20


MUTATIONS = {
    "moved-box": (_moved_box, "image 0: detection 3 .* is no candidate of the reference"),
    "dropped-detection": (_dropped_detection, "neither detected nor suppressed"),
    "order": (_swapped_rows, "scores above the detection before it"),
    "padding": (_bad_padding, "rows after count .* are not padding"),
    "class": (_wrong_class, "image 1: detection 0 .* is no candidate"),
}


@pytest.mark.parametrize("case", list(MUTATIONS))
def test_a_wrong_output_is_caught(case: str) -> None:
    op, want = _reference(max_det=1000)  # fewer detections: padding rows follow
    assert int(want["count"][0]) < 1000
    mutate, message = MUTATIONS[case]
    got = _copy(want)
    mutate(got)
    found = _check(op, got, want)
    assert found.problems, case
    assert any(re.search(message, p) for p in found.problems), found.problems


def test_keeping_a_suppressed_box_is_caught() -> None:
    """A candidate that greedy NMS suppresses, in place of the last detection of its image."""
    op, want = _reference(max_det=1000)
    boxes, scores = want["nms:candidate_boxes"][0], want["nms:candidate_scores"][0]
    anchor, cls = op.candidates(scores)
    count = int(want["count"][0])
    kept = {tuple(np.round(b, 3)) for b in want["boxes"][0, :count]}
    lowest = float(want["scores"][0, count - 1])
    suppressed = [
        (a, c)
        for a, c in zip(anchor, cls, strict=True)
        if tuple(np.round(boxes[a], 3)) not in kept and scores[a, c] > lowest
    ]
    a, c = suppressed[0]
    got = _copy(want)
    got["boxes"][0, count - 1] = boxes[a]
    got["scores"][0, count - 1] = scores[a, c]
    got["classes"][0, count - 1] = c
    order = np.argsort(-got["scores"][0, :count], kind="stable")
    for name in ("boxes", "scores", "classes"):
        got[name][0, :count] = got[name][0, :count][order]
    problems = _check(op, got, want).problems
    assert any("overlap by IoU" in p or "neither detected" in p for p in problems), problems


def test_a_swap_of_near_equal_scores_at_max_det_is_accepted() -> None:
    """The detection cut at max_det replaced by a candidate scoring 1e-7 below it: as correct
    as the reference within tolerance (NMS is discontinuous at ties)."""
    op, want = _reference(max_det=10)
    assert int(want["count"][0]) == 10
    scores = want["nms:candidate_scores"]
    last_score, last_class = float(want["scores"][0, 9]), int(want["classes"][0, 9])
    # A new candidate far from every box, just below the last detection's score.
    boxes = want["nms:candidate_boxes"]
    spare = int(np.argmin(scores[0].max(axis=1)))
    boxes[0, spare] = [2000.0, 2000.0, 2010.0, 2010.0]
    scores[0, spare, :] = 0.0
    scores[0, spare, last_class] = last_score - 1e-7
    got = _copy(want)
    got["boxes"][0, 9] = boxes[0, spare]
    got["scores"][0, 9] = scores[0, spare, last_class]
    assert _check(op, got, want).problems == ()


@pytest.mark.rtx
def test_compile_with_nms_for_tensorrt_rtx_writes_an_engine(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The issue's command: a real TensorRT-RTX engine with the NMS stage, checked (emulated)
    as detections."""
    engine = tmp_path / "y.engine"
    argv: list[Any] = ["compile", "yolov8n", "--weights", "random", "--backend", "tensorrt-rtx"]
    assert main([*argv, "--nms", "-o", str(engine)]) == 0
    out = capsys.readouterr().out
    assert engine.read_bytes()[:4] == b"vtrt"
    assert "together an NMS of the candidates" in out and "EXCEPT" not in out
    sidecar = json.loads(Path(f"{engine}.json").read_text())
    assert [o["name"] for o in sidecar["io"]["outputs"]] == ["boxes", "scores", "classes", "count"]
    assert sidecar["check"]["level"] == "emulated-fallback"
    assert all(not r["detections"]["problems"] for r in sidecar["check"]["runs"])


# -- trtdsl compare: the NMS stage on the engine's own inputs --------------------------------


def _stage_backend(graph: Any, inputs: dict[str, np.ndarray], swap: tuple[int, int] | None) -> Any:
    """A backend whose values are the reference's, with rows ``swap`` of the NMS output of
    image 0 exchanged (and the rest of the stage computed from them)."""
    from trtdsl.backends.reference import capture_reference

    values = capture_reference(graph, {}, inputs)
    node = nms_node(graph)
    assert node is not None
    table = values[node.output].copy()
    if swap is not None:
        table[0, list(swap)] = table[0, list(reversed(swap))]
    values[node.output] = table
    after = stage_nodes(graph) - {node.name}
    for later in graph.nodes:  # the rest of the stage follows the permuted rows
        if later.name in after:
            out = later.op.reference([values[i] for i in later.inputs], {})
            values[later.output] = np.asarray(out)

    def run_marked(wanted: Any) -> dict[str, np.ndarray]:
        return {v: values[v] for v in wanted}

    return run_marked


@pytest.mark.parametrize("bisect", [False, True])
def test_compare_judges_the_nms_stage_on_its_own_inputs(bisect: bool) -> None:
    from trtdsl.debug.compare import compare_layerwise

    graph = add_nms_stage(raw_graph(600, classes=20), 0.3, 0.5, 100)
    inputs = {"raw": raw_head(2, 600, classes=20, seed=3)}
    good = compare_layerwise(graph, {}, inputs, _stage_backend(graph, inputs, None), bisect=bisect)
    assert good.first_bad is None
    wrong = _stage_backend(graph, inputs, (0, 7))  # a lower score before a higher one
    report = compare_layerwise(graph, {}, inputs, wrong, bisect=bisect)
    assert report.first_bad == "nms"
    (row,) = [r for r in report.rows if r.node == "nms"]
    assert row.status == "bad" and "scores above the detection before it" in row.detail
    if not bisect:  # the values after it follow the engine's own NMS output: not blamed
        assert all(r.status == "ok" for r in report.rows if r.node.startswith("nms."))

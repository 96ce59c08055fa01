"""Checking an engine's NMS stage against the reference.

NMS is discontinuous: two candidates whose scores differ by less than the numeric error of a
build may swap places, and then a different box is kept or cut at ``max_det``. Comparing the
(N, max_det, ...) outputs position by position therefore fails on correct engines (random
weights give many near-equal scores). Instead, ``check_detections`` verifies that the engine's
detections are *a* correct result of the ``nms`` op on the reference's candidates, within a
tolerance:

1. every detection is a reference candidate of its class (box and score within tolerance),
   no two detections the same candidate;
2. detections come by decreasing score, then padding rows (0, 0, 0, 0, 0, -1);
3. no two detections of one class overlap by more than the IoU threshold;
4. every candidate not detected is explained: a detection of its class with a score at least
   its own overlaps it by more than the threshold, or ``max_det`` rows are full and its score
   is at most the lowest detected one (all "within tolerance").
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from trtdsl.ir.graph import Graph, Node, Port
from trtdsl.ir.ops.detection import NMS, box_iou
from trtdsl.passes.nms import NMS_OUTPUTS

CANDIDATES = ("nms:candidate_boxes", "nms:candidate_scores")
"""Extra reference outputs ``with_candidates`` adds: the inputs of the ``nms`` node."""

MAX_PROBLEMS = 5
"""How many problems a check keeps (the first ones)."""


@dataclass(frozen=True)
class DetectionCheck:
    """What ``check_detections`` found.

    Attributes:
        rows: detections per image in the engine's output; reference_rows: in the reference's
            (() when its count was not given).
        box_error: largest |engine - reference candidate| of a detected box coordinate.
        score_error: largest |engine - reference candidate| of a detected score.
        box_scale: largest |coordinate| of the reference candidates (the error's scale).
        problems: the first violations, one line each (empty: the check holds).
    """

    rows: tuple[int, ...]
    reference_rows: tuple[int, ...]
    box_error: float
    score_error: float
    box_scale: float
    problems: tuple[str, ...]


def nms_node(graph: Graph) -> Node | None:
    """The one ``nms`` node of a graph whose outputs include the NMS stage's (``add_nms_stage``),
    or None."""
    nodes = [n for n in graph.nodes if isinstance(n.op, NMS)]
    names = {p.name for p in graph.outputs}
    return nodes[0] if len(nodes) == 1 and set(NMS_OUTPUTS) <= names else None


def with_candidates(graph: Graph, node: Node) -> Graph:
    """``graph`` with the inputs of ``node`` (boxes (N, A, 4), scores (N, A, C)) as extra
    outputs named ``CANDIDATES``."""
    extra = tuple(Port(name, value) for name, value in zip(CANDIDATES, node.inputs, strict=True))
    return dataclasses.replace(graph, outputs=graph.outputs + extra)


def check_detections(
    op: NMS,
    got: Mapping[str, np.ndarray],
    reference: Mapping[str, np.ndarray],
    tolerance: float,
) -> DetectionCheck:
    """Whether the engine's ``got`` (the NMS stage's outputs) is a correct ``op`` result on
    the reference's candidates (``reference`` holds ``CANDIDATES``, and ``count`` for
    ``reference_rows``: () without it).

    ``tolerance`` is relative: to the largest candidate coordinate for boxes, to 1 for scores
    (and an IoU margin of max(1e-3, tolerance)).
    """
    boxes = np.asarray(reference[CANDIDATES[0]], dtype=np.float64)
    scores = np.asarray(reference[CANDIDATES[1]], dtype=np.float64)
    box_scale = float(np.max(np.abs(boxes), initial=0.0))
    limits = _Limits(tolerance * max(box_scale, 1.0), tolerance, max(1e-3, tolerance))
    problems: list[str] = []
    box_error = score_error = 0.0
    rows = []
    for n in range(boxes.shape[0]):
        image = _Image(op, n, boxes[n], scores[n], got, limits)
        rows.append(image.count)
        problems.extend(image.check())
        box_error = max(box_error, image.box_error)
        score_error = max(score_error, image.score_error)
    return DetectionCheck(
        rows=tuple(rows),
        reference_rows=tuple(int(c) for c in np.ravel(reference.get("count", ()))),
        box_error=box_error,
        score_error=score_error,
        box_scale=box_scale,
        problems=tuple(problems[:MAX_PROBLEMS]),
    )


@dataclass(frozen=True)
class _Limits:
    box: float
    score: float
    iou: float


class _Image:
    """One image's detections against its candidates."""

    def __init__(
        self,
        op: NMS,
        n: int,
        boxes: np.ndarray,
        scores: np.ndarray,
        got: Mapping[str, np.ndarray],
        limits: _Limits,
    ) -> None:
        self.op, self.n, self.limits = op, n, limits
        self.count = int(np.ravel(got["count"])[n])
        self.got_boxes = np.asarray(got["boxes"][n], dtype=np.float64)
        self.got_scores = np.asarray(got["scores"][n], dtype=np.float64)
        self.got_classes = np.asarray(got["classes"][n])
        # Every candidate above the threshold (for matching), and the op's pool of them.
        anchor, cls = op.candidates(scores, limit=0)
        self.boxes, self.scores, self.classes = boxes[anchor], scores[anchor, cls], cls
        self.pool = min(op.max_candidates, len(anchor))
        self.box_error = self.score_error = 0.0

    def row(self, i: int) -> str:
        box = ", ".join(f"{v:.4g}" for v in self.got_boxes[i])
        return (
            f"image {self.n}: detection {i} (class {int(self.got_classes[i])}, score "
            f"{self.got_scores[i]:.6g}, box [{box}])"
        )

    def check(self) -> list[str]:
        problems = self._padding()
        matched = self._match(problems)
        kept = np.array([m for m in matched if m >= 0], dtype=np.int64)
        problems.extend(self._order_and_overlaps(kept))
        problems.extend(self._dropped(kept))
        return problems

    def _padding(self) -> list[str]:
        c = self.count
        if not 0 <= c <= len(self.got_scores):
            return [f"image {self.n}: count {c} is outside 0..{len(self.got_scores)}"]
        padded = (
            np.all(self.got_boxes[c:] == 0)
            and np.all(self.got_scores[c:] == 0)
            and np.all(self.got_classes[c:] == -1)
        )
        return [] if padded else [f"image {self.n}: rows after count {c} are not padding"]

    def _match(self, problems: list[str]) -> list[int]:
        """The candidate of each detection (-1: none), each candidate at most once."""
        taken: set[int] = set()
        matched = []
        for i in range(min(self.count, len(self.got_scores))):
            box_distance = np.max(np.abs(self.boxes - self.got_boxes[i]), axis=1, initial=0.0)
            score_distance = np.abs(self.scores - self.got_scores[i])
            fits = (
                (self.classes == int(self.got_classes[i]))
                & (box_distance <= self.limits.box)
                & (score_distance <= self.limits.score)
            )
            choices = [
                j for j in np.flatnonzero(fits)[np.argsort(box_distance[fits])] if j not in taken
            ]
            if not choices:
                problems.append(f"{self.row(i)} is no candidate of the reference")
                matched.append(-1)
                continue
            j = int(choices[0])
            taken.add(j)
            matched.append(j)
            self.box_error = max(self.box_error, float(box_distance[j]))
            self.score_error = max(self.score_error, float(score_distance[j]))
            if j >= self.pool and self.scores[j] < self.scores[self.pool - 1] - self.limits.score:
                problems.append(
                    f"{self.row(i)} is below the {self.op.max_candidates} best candidates"
                )
        return matched

    def _order_and_overlaps(self, kept: np.ndarray) -> list[str]:
        problems = []
        drops = np.flatnonzero(np.diff(self.got_scores[: self.count]) > self.limits.score)
        if drops.size:
            problems.append(f"{self.row(int(drops[0]) + 1)} scores above the detection before it")
        for a, j in enumerate(kept):
            later = kept[a + 1 :]
            same = later[self.classes[later] == self.classes[j]]
            if same.size == 0:
                continue
            iou = box_iou(self.boxes[j], self.boxes[same])
            if np.any(iou > self.op.iou_threshold + self.limits.iou):
                return [
                    *problems,
                    f"image {self.n}: two detections of class {int(self.classes[j])} overlap "
                    f"by IoU {float(np.max(iou)):.4g} > {self.op.iou_threshold}",
                ]
        return problems

    def _dropped(self, kept: np.ndarray) -> list[str]:
        """Candidates of the pool that are not detected must be suppressed or cut off."""
        rest = np.setdiff1d(np.arange(self.pool), kept)
        if rest.size == 0:
            return []
        full = self.count == self.op.max_det and kept.size > 0
        lowest = float(np.min(self.scores[kept])) if kept.size else np.inf
        for j in rest:
            if full and self.scores[j] <= lowest + self.limits.score:
                continue
            rivals = kept[
                (self.classes[kept] == self.classes[j])
                & (self.scores[kept] >= self.scores[j] - self.limits.score)
            ]
            if rivals.size and np.any(
                box_iou(self.boxes[j], self.boxes[rivals]) > self.op.iou_threshold - self.limits.iou
            ):
                continue
            box = ", ".join(f"{v:.4g}" for v in self.boxes[j])
            return [
                f"image {self.n}: the reference candidate (class {int(self.classes[j])}, score "
                f"{self.scores[j]:.6g}, box [{box}]) is neither detected nor suppressed by a "
                "detection"
            ]
        return []


def stage_nodes(graph: Graph) -> frozenset[str]:
    """The names of every ``nms`` node and every node downstream of one: values there are
    compared on the engine's own inputs (``trtdsl compare``), not position by position."""
    found: set[str] = set()
    tainted: set[str] = set()
    for node in graph.nodes:
        if isinstance(node.op, NMS) or any(v in tainted for v in node.inputs):
            found.add(node.name)
            tainted.update(node.outputs)
    return frozenset(found)


def check_nms_value(
    op: NMS, got: np.ndarray, boxes: np.ndarray, scores: np.ndarray, tolerance: float
) -> DetectionCheck:
    """``check_detections`` for one ``nms`` output (N, max_det, 6) against its own inputs
    (boxes (N, A, 4), scores (N, A, C)): is it an NMS of those candidates?"""
    table = np.asarray(got, dtype=np.float64)
    rows = {
        "boxes": table[..., :4],
        "scores": table[..., 4],
        "classes": table[..., 5].astype(np.int64),
        "count": np.count_nonzero(table[..., 4], axis=1),
    }
    return check_detections(op, rows, {CANDIDATES[0]: boxes, CANDIDATES[1]: scores}, tolerance)

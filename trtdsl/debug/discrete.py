"""Judging discrete values: class indices of an argmax, and other integer values.

An argmax is discontinuous: where two scores are within a build's rounding of each other,
a correct engine may pick the other index (fp16 segmenters flip a few mask pixels whose top
two logits nearly tie). Compared position by position, such an output looks wrong by a
whole class. So an index is judged right where it equals the reference's, or where the
reference's own scores at that position are a tie within the tolerance: the score at the
engine's index is at most ``tolerance * max |scores|`` below the reference's best. Integer
values of any other op must be exact. The NMS stage has its own check
(``debug/detections.py``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from trtdsl.ir.graph import Graph, Port
from trtdsl.ir.ops.reduce import ArgMax
from trtdsl.ir.types import DType


@dataclass(frozen=True)
class IndexSource:
    """Where the indices of a discrete value come from: an argmax of ``scores`` (a value
    name) along ``axis`` (kept as size 1 when ``keepdim``)."""

    scores: str
    axis: int
    keepdim: bool


def discrete_values(graph: Graph) -> dict[str, IndexSource | None]:
    """Every node output of an integer or bool type: its IndexSource where an argmax computes
    it (ties are judged on its scores), None where it must be exact."""
    result: dict[str, IndexSource | None] = {}
    for node in graph.nodes:
        for value in node.outputs:
            dtype = graph.types[value].dtype
            if dtype.is_float or dtype is DType.FLOAT8_E4M3:
                continue
            source = None
            if isinstance(node.op, ArgMax):
                scores = node.inputs[0]
                axis = node.op.axis(graph.types[scores].rank)
                source = IndexSource(scores, axis, node.op.keepdim)
            result[value] = source
    return result


def scores_port(value: str) -> str:
    """The name of the extra reference output holding the scores of argmax value ``value``."""
    return f"scores of {value}"


def with_scores(graph: Graph) -> Graph:
    """``graph`` with the scores of every argmax graph output as extra outputs
    (``scores_port``), for judging ties against the reference's own scores."""
    sources = discrete_values(graph)
    extra = tuple(
        Port(scores_port(p.name), source.scores)
        for p in graph.outputs
        if (source := sources.get(p.value)) is not None
    )
    return dataclasses.replace(graph, outputs=graph.outputs + extra) if extra else graph


@dataclass(frozen=True)
class DiscreteComparison:
    """How an engine's discrete value compares with the reference's.

    Attributes:
        positions: elements compared.
        differ: elements whose value differs from the reference's.
        ties: of those, the ones where the reference's scores tie within ``margin`` (only
            for an argmax; other integer values have no ties).
        margin: the largest score gap accepted as a tie (tolerance x max |scores|); 0.0
            for values that must be exact.
        argmax: whether the value is an argmax's (ties judged) or must be exact.
    """

    positions: int
    differ: int
    ties: int
    margin: float
    argmax: bool

    @property
    def ok(self) -> bool:
        """True when every differing element is a tie."""
        return self.differ == self.ties

    @property
    def share(self) -> float:
        """The fraction of elements that differ."""
        return self.differ / self.positions if self.positions else 0.0

    def describe(self) -> str:
        """``12 of 1,315,332 positions (0.00091%) differ, all 12 ties (score gap <= 0.31)``."""
        if not self.differ:
            return f"all {self.positions:,} positions equal the reference's"
        head = f"{self.differ:,} of {self.positions:,} positions ({100 * self.share:.2g}%) differ"
        if not self.argmax:
            return f"{head}; integer values must be exact"
        if self.ok:
            return f"{head}, all ties of the reference's scores (gap <= {self.margin:.3g})"
        return (
            f"{head}, {self.ties:,} of them ties (score gap <= {self.margin:.3g}); "
            f"{self.differ - self.ties:,} are not"
        )

    def to_json(self) -> dict[str, object]:
        return {
            "positions": self.positions,
            "differ": self.differ,
            "ties": self.ties,
            "share": self.share,
            "margin": self.margin,
            "argmax": self.argmax,
            "ok": self.ok,
        }


def compare_indices(
    reference: np.ndarray,
    got: np.ndarray,
    source: IndexSource | None,
    scores: np.ndarray | None,
    tolerance: float,
) -> DiscreteComparison:
    """Compare an engine's discrete value with the reference's (arrays of one shape).

    Args:
        source, scores: the argmax and the reference's scores (shape: the indices' with
            the ``source.axis`` of size K inserted, or in place of the kept size-1 axis);
            None for a value that must be exact.
        tolerance: relative; a differing index is a tie when the reference's score at it is
            at most ``tolerance * max |scores|`` below the reference's own choice.
    """
    ref = np.asarray(reference)
    out = np.asarray(got)
    differ = ref != out
    count = int(np.count_nonzero(differ))
    if source is None or scores is None:
        return DiscreteComparison(int(ref.size), count, 0, 0.0, False)
    values = np.asarray(scores, dtype=np.float64)
    finite = values[np.isfinite(values)]
    margin = tolerance * float(np.max(np.abs(finite), initial=0.0))
    if not count:
        return DiscreteComparison(int(ref.size), 0, 0, margin, True)
    ranked = np.moveaxis(values, source.axis, -1)  # (..., K) with the indices' positions
    if source.keepdim:
        ref, out, differ = (np.squeeze(a, axis=source.axis) for a in (ref, out, differ))
    where = np.nonzero(differ)
    picked = out[where]
    classes = ranked.shape[-1]
    valid = (picked >= 0) & (picked < classes) & (picked == np.floor(picked))
    best = ranked[where + (ref[where].astype(np.int64),)]
    chosen = np.full(best.shape, -np.inf)
    chosen[valid] = ranked[tuple(w[valid] for w in where) + (picked[valid].astype(np.int64),)]
    ties = int(np.count_nonzero(valid & (best - chosen <= margin)))
    return DiscreteComparison(int(ref.size), count, ties, margin, True)

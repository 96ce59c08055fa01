"""Layerwise comparison of a backend against the NumPy reference, and bisection.

The backend side is a callback ``run_marked(values) -> {value: array}`` that builds a debug
engine with the given IR values marked as extra outputs and runs it (``trtdsl compare`` builds
it from the TensorRT backend and the runner; tests may pass any callable). Values the backend
cannot expose (folded away by a pass, aliased by a no-op) are simply absent from its result.

NOTE: marking a tensor as an output stops TensorRT from fusing across it, so a debug engine
is not the production engine: tactics, fusions and rounding may differ from it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from trtdsl.backends.reference import capture_reference
from trtdsl.debug.detections import check_nms_value, stage_nodes
from trtdsl.debug.discrete import IndexSource, compare_indices, discrete_values
from trtdsl.errors import UsageError
from trtdsl.ir.graph import Graph, Node
from trtdsl.ir.ops.base import suggest
from trtdsl.ir.ops.detection import NMS

RunMarked = Callable[[Sequence[str]], Mapping[str, np.ndarray]]
"""Build a debug engine marking these IR values as outputs, run it, return value -> array."""

FUSION_NOTE = (
    "intermediate values were marked as engine outputs in a separate debug build; marking "
    "prevents fusion across them, so the debug engine differs from the production engine"
)


@dataclass(frozen=True)
class ValueComparison:
    """One compared IR value (a node output).

    Attributes:
        node: the node defining the value; ``op``: its op name; ``value``: the value name.
        shape: the reference shape.
        status: ``"ok"``, ``"bad"`` (error above tolerance, non-finite, or shape mismatch),
            ``"missing"`` (the backend does not expose this value: folded or aliased) or
            ``"unmatched"`` (``compare --against``: the framework's value of this name is a
            later node's, its module ending elsewhere; it has none for this node).
        max_ref: max |reference|; ``max_abs_error``: max |backend - reference|;
        rel_error: max_abs_error / max_ref (max_abs_error when the reference is all zero);
        cosine: cosine similarity of the flattened arrays (1.0 when both are zero).
        detail: why, in words (an argmax's ties, a value matched in another layout, ...).
        matched: ``compare --against``: the framework's key this value was matched to by
            value where it is not the node's own name ("" otherwise).
    """

    node: str
    op: str
    value: str
    shape: tuple[int, ...]
    status: str
    max_ref: float = float("nan")
    max_abs_error: float = float("nan")
    rel_error: float = float("nan")
    cosine: float = float("nan")
    detail: str = ""
    matched: str = ""


@dataclass(frozen=True)
class LayerwiseReport:
    """Result of ``compare_layerwise``.

    Attributes:
        rows: one per compared value, in graph order.
        first_bad: the first node whose error exceeds the tolerance (all its inputs within
            tolerance), or None.
        tolerance: the relative-error threshold used.
        builds: debug engines built.
        bisect: whether values were marked a few at a time.
        notes: things the reader must know (marking changes fusion; emulated; perturbation).
        first_nonfinite: the first node whose backend value holds inf or NaN while the
            reference's is finite (an fp16 overflow, typically), or None.
        expected, actual: what the two sides are, for labels: ``"reference"`` and
            ``"backend"``, or with ``--against`` ``"framework"`` (the saved activations,
            the values errors are relative to) and ``"trtdsl"`` (the model's reference).
        tolerance_source: where ``tolerance`` came from (``"the fp16 default"``,
            ``"--tolerance"``), stated in the output.
    """

    rows: tuple[ValueComparison, ...]
    first_bad: str | None
    tolerance: float
    builds: int
    bisect: bool
    notes: tuple[str, ...] = field(default_factory=tuple)
    first_nonfinite: str | None = None
    expected: str = "reference"
    actual: str = "backend"
    tolerance_source: str = ""

    def to_json(self) -> dict[str, object]:
        return {
            "first_bad": self.first_bad,
            "first_nonfinite": self.first_nonfinite,
            "tolerance": self.tolerance,
            "tolerance_source": self.tolerance_source,
            "expected": self.expected,
            "actual": self.actual,
            "builds": self.builds,
            "bisect": self.bisect,
            "notes": list(self.notes),
            "rows": [
                {
                    "node": r.node,
                    "op": r.op,
                    "value": r.value,
                    "shape": list(r.shape),
                    "status": r.status,
                    "max_ref": _json_float(r.max_ref),
                    "max_abs_error": _json_float(r.max_abs_error),
                    "rel_error": _json_float(r.rel_error),
                    "cosine": _json_float(r.cosine),
                    "detail": r.detail,
                    "matched": r.matched,
                }
                for r in self.rows
            ],
        }


def compare_arrays(reference: np.ndarray, got: np.ndarray) -> tuple[float, float, float, float]:
    """``(max |ref|, max abs error, relative error, cosine)`` of two arrays of one shape."""
    ref = np.asarray(reference, dtype=np.float64).reshape(-1)
    out = np.asarray(got, dtype=np.float64).reshape(-1)
    max_ref = float(np.max(np.abs(ref))) if ref.size else 0.0
    if ref.size == 0:
        return 0.0, 0.0, 0.0, 1.0
    diff = np.abs(out - ref)
    max_abs = float(np.max(diff)) if np.all(np.isfinite(diff)) else float("inf")
    rel = max_abs / max_ref if max_ref > 0 else max_abs
    norms = float(np.linalg.norm(ref)) * float(np.linalg.norm(out))
    if norms == 0.0:
        cosine = 1.0 if not np.any(ref) and not np.any(out) else 0.0
    elif not np.isfinite(norms):
        cosine = float("nan")
    else:
        cosine = float(np.dot(ref, out) / norms)
    return max_ref, max_abs, rel, cosine


def compare_value(
    graph: Graph,
    value: str,
    reference: np.ndarray,
    got: np.ndarray | None,
    tolerance: float,
    labels: tuple[str, str] = ("reference", "backend"),
) -> ValueComparison:
    """Compare one IR value; ``got`` None means the backend does not expose it. ``labels``
    name the two sides in a detail (``expected``, ``actual``)."""
    node = graph.producer(value)
    assert node is not None, value
    shape = tuple(int(d) for d in np.shape(reference))
    if got is None:
        return ValueComparison(node.name, node.op.op_name, value, shape, "missing")
    got = np.asarray(got)
    if got.shape != reference.shape:
        detail = f"{labels[1]} shape {tuple(got.shape)} != {labels[0]} {shape}"
        return ValueComparison(node.name, node.op.op_name, value, shape, "bad", detail=detail)
    max_ref, max_abs, rel, cosine = compare_arrays(reference, got)
    bad = not np.isfinite(max_abs) or rel > tolerance
    detail = "non-finite values" if not np.isfinite(max_abs) else ""
    return ValueComparison(
        node.name,
        node.op.op_name,
        value,
        shape,
        "bad" if bad else "ok",
        max_ref,
        max_abs,
        rel,
        cosine,
        detail,
    )


def compare_values(
    graph: Graph,
    values: Sequence[str],
    reference: Mapping[str, np.ndarray],
    got: Mapping[str, np.ndarray],
    tolerance: float,
) -> dict[str, ValueComparison]:
    """``compare_value`` for each value, except in an NMS stage (``stage_nodes``): an ``nms``
    output must be an NMS of the engine's own inputs (``check_nms_value``), and a value after
    it equals its op's reference on the engine's own inputs. NMS is discontinuous, so rows of
    near-equal scores may swap between backends; compared position by position against the
    reference chain, every value after it would look wrong."""
    local = stage_nodes(graph)
    sources = discrete_values(graph)
    results = {}
    for v in values:
        node = graph.producer(v)
        assert node is not None, v
        own = [got.get(i) for i in node.inputs]
        if node.name in local and v in got and all(x is not None for x in own):
            results[v] = _compare_on_own_inputs(graph, node, v, got[v], own, tolerance)  # type: ignore[arg-type]
        elif v in sources and v in got:
            source = sources[v]
            scores = reference.get(source.scores) if source is not None else None
            results[v] = compare_discrete_value(
                graph, v, reference[v], got[v], source, scores, tolerance
            )
        else:
            results[v] = compare_value(graph, v, reference[v], got.get(v), tolerance)
    return results


def compare_discrete_value(
    graph: Graph,
    value: str,
    reference: np.ndarray,
    got: np.ndarray,
    source: IndexSource | None,
    scores: np.ndarray | None,
    tolerance: float,
    labels: tuple[str, str] = ("reference", "backend"),
) -> ValueComparison:
    """An integer value position by position (``debug/discrete.py``): an argmax's index is
    right where it equals the reference's or the reference's ``scores`` tie within
    ``tolerance``; other integer values must be exact. ``rel_error`` is the share of
    positions that differ."""
    row = compare_value(graph, value, reference, got, tolerance, labels)
    if row.status != "ok" and row.detail:  # a shape mismatch
        return row
    found = compare_indices(reference, got, source, scores, tolerance)
    return replace(
        row,
        status="ok" if found.ok else "bad",
        rel_error=found.share,
        detail=found.describe(),
    )


def _compare_on_own_inputs(
    graph: Graph,
    node: Node,
    value: str,
    got: np.ndarray,
    inputs: list[np.ndarray],
    tolerance: float,
) -> ValueComparison:
    got = np.asarray(got)
    shape = tuple(int(d) for d in got.shape)
    if isinstance(node.op, NMS):
        found = check_nms_value(node.op, got, inputs[0], inputs[1], tolerance)
        detail = (
            found.problems[0]
            if found.problems
            else "an NMS of its own inputs' candidates (near-equal scores may swap rows)"
        )
        rel = found.box_error / max(found.box_scale, 1.0)
        return ValueComparison(
            node.name,
            node.op.op_name,
            value,
            shape,
            "bad" if found.problems else "ok",
            found.box_scale,
            found.box_error,
            rel,
            float("nan"),
            detail,
        )
    outputs = node.op.reference(inputs, {})
    own = outputs[node.outputs.index(value)] if isinstance(outputs, tuple) else outputs
    row = compare_value(graph, value, np.asarray(own), got, tolerance)
    return replace(
        row, detail=row.detail or "after NMS: compared with its op on the engine's own inputs"
    )


def compare_layerwise(
    graph: Graph,
    weights: Mapping[str, np.ndarray],
    inputs: Mapping[str, np.ndarray],
    run_marked: RunMarked,
    tolerance: float = 1e-3,
    bisect: bool = False,
    probes: int = 4,
    notes: Sequence[str] = (),
    debug_build: bool = True,
) -> LayerwiseReport:
    """Compare every node output of a backend against ``capture_reference``.

    Args:
        graph, weights, inputs: the model, its (unperturbed) weights and one input set.
        run_marked: the backend (see ``RunMarked``).
        tolerance: a value is bad when its relative error exceeds this.
        bisect: mark ``probes`` values per debug build and narrow down the first bad node,
            instead of marking all values in one build. It assumes an error reaches every
            descendant of the node causing it (masking, e.g. by a ReLU, can defeat it).
        notes: extra notes for the report.
        debug_build: ``run_marked`` marks values as outputs of a debug engine (the report
            then says that marking changes fusion); False for values from elsewhere, such as
            a framework's saved activations.
    Returns:
        the report; ``first_bad`` names the first node above tolerance, ``first_nonfinite``
        the first whose backend value has inf or NaN where the reference has none.
    """
    if tolerance <= 0:
        raise UsageError(f"--tolerance must be > 0, got {tolerance}")
    if probes < 1:
        raise UsageError(f"probes must be >= 1, got {probes}")
    reference = capture_reference(graph, weights, inputs)
    values = [v for n in graph.nodes for v in n.outputs]
    all_notes = (FUSION_NOTE, *notes) if debug_build else tuple(notes)
    if not bisect:
        got = run_marked(values)
        compared = compare_values(graph, values, reference, got, tolerance)
        rows = tuple(compared[v] for v in values)
        first = next((r.node for r in rows if r.status == "bad"), None)
        nonfinite = next(
            (
                graph.producer(v).name  # type: ignore[union-attr]
                for v in values
                if v in got
                and np.all(np.isfinite(reference[v]))
                and not np.all(np.isfinite(np.asarray(got[v], dtype=np.float64)))
            ),
            None,
        )
        return LayerwiseReport(rows, first, tolerance, 1, False, all_notes, nonfinite)
    return _bisect(graph, reference, values, run_marked, tolerance, probes, all_notes)


def _bisect(
    graph: Graph,
    reference: Mapping[str, np.ndarray],
    values: list[str],
    run_marked: RunMarked,
    tolerance: float,
    probes: int,
    notes: tuple[str, ...],
) -> LayerwiseReport:
    order = {v: i for i, v in enumerate(values)}
    ancestors = _ancestor_values(graph)
    results: dict[str, ValueComparison] = {}
    builds = 0

    local = stage_nodes(graph)

    def probe(batch: list[str]) -> None:
        nonlocal builds
        builds += 1
        # A value in an NMS stage is compared on its own inputs: mark those too.
        extra = [
            i
            for v in batch
            if (node := graph.producer(v)) is not None and node.name in local
            for i in node.inputs
            if i in order
        ]
        got = run_marked(sorted(set(batch) | set(extra), key=order.__getitem__))
        results.update(compare_values(graph, batch, reference, got, tolerance))

    # Start from the graph outputs (and each NMS, whose errors do not reach the values after
    # it: those are compared on their own inputs): if none is bad, assume no node is.
    outputs = [p.value for p in graph.outputs if p.value in order]
    outputs += [v for n in graph.nodes if isinstance(n.op, NMS) for v in n.outputs]
    outputs = sorted(set(outputs), key=order.__getitem__)
    probe(outputs)
    bad_outputs = [v for v in outputs if results[v].status == "bad"]
    suspects: set[str] = set()
    if bad_outputs:
        suspects = ancestors[bad_outputs[0]] | {bad_outputs[0]}
        suspects = {v for v in suspects if v in order}
    while True:
        unknown = sorted((v for v in suspects if v not in results), key=order.__getitem__)
        if not unknown:
            break
        step = len(unknown) / (probes + 1)
        picks = sorted({unknown[min(int(step * (j + 1)), len(unknown) - 1)] for j in range(probes)})
        probe(picks)
        for v in picks:
            status = results[v].status
            if status == "bad":
                suspects &= ancestors[v] | {v}
            elif status == "ok":
                suspects -= ancestors[v] | {v}
            else:
                suspects.discard(v)
    bad = [v for v in suspects if results.get(v) and results[v].status == "bad"]
    first_value = min(bad, key=order.__getitem__) if bad else None
    first = graph.producer(first_value).name if first_value else None  # type: ignore[union-attr]
    rows = tuple(results[v] for v in sorted(results, key=order.__getitem__))
    return LayerwiseReport(rows, first, tolerance, builds, True, notes)


def _ancestor_values(graph: Graph) -> dict[str, set[str]]:
    """Value -> every node-output value it depends on (graph inputs excluded)."""
    producers: dict[str, Node] = {v: n for n in graph.nodes for v in n.outputs}
    result: dict[str, set[str]] = {}
    for node in graph.nodes:
        deps: set[str] = set()
        for v in node.inputs:
            if v in producers:
                deps.add(v)
                deps |= result[v]
        for v in node.outputs:
            result[v] = deps
    return result


def perturb_weights(
    weights: Mapping[str, np.ndarray], key: str, scale: float = 0.1, seed: int = 0
) -> dict[str, np.ndarray]:
    """A copy of ``weights`` with ``key`` perturbed by Gaussian noise (for planting errors).

    The noise has standard deviation ``scale`` times the tensor's own (or its mean |value|,
    or 1, when that is 0), so ``scale`` is a relative size. Other tensors are shared.
    """
    if key not in weights:
        raise UsageError(
            f"--perturb: no weight named {key!r}{suggest(key, sorted(weights))} "
            f"({len(weights)} weights)"
        )
    if not scale > 0:
        raise UsageError(f"--perturb {key}: scale must be > 0, got {scale}")
    original = np.asarray(weights[key])
    if not np.issubdtype(original.dtype, np.floating):
        raise UsageError(
            f"--perturb {key}: only float weights can be perturbed, not {original.dtype}"
        )
    base = float(np.std(original)) or float(np.mean(np.abs(original))) or 1.0
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal(original.shape) * (scale * base)
    out = dict(weights)
    out[key] = (original + noise).astype(original.dtype)
    return out


def format_report(report: LayerwiseReport) -> str:
    """A plain-text table, one row per compared value, and the verdict."""
    header = (
        f"{'node':<32} {'op':<18} {'shape':<18} {'max|' + report.expected + '|':>10} "
        f"{'max abs err':>12} {'rel err':>10} {'cosine':>9}  status"
    )
    lines = [header]
    for r in report.rows:
        name = r.node if r.value == r.node else f"{r.node} ({r.value})"
        shape = "x".join(map(str, r.shape)) or "scalar"
        lines.append(
            f"{name:<32} {r.op:<18} {shape:<18} {format_number(r.max_ref):>10} "
            f"{format_number(r.max_abs_error):>12} {format_number(r.rel_error):>10} "
            f"{format_number(r.cosine, 6):>9}  "
            f"{r.status}{' (' + r.detail + ')' if r.detail else ''}"
        )
    lines.append("")
    lines.extend(f"note: {n}" for n in report.notes)
    mode = f"bisection, {report.builds} debug builds" if report.bisect else "all values marked"
    lines.append(verdict(report, mode))
    return "\n".join(lines)


def verdict(report: LayerwiseReport, mode: str) -> str:
    """``first node above tolerance 0.02: layer1.0.conv1 (MODE; tolerance: the fp16
    default)`` or ``no node above tolerance ...``."""
    why = f"; tolerance: {report.tolerance_source}" if report.tolerance_source else ""
    if report.first_bad:
        return f"first node above tolerance {report.tolerance:g}: {report.first_bad} ({mode}{why})"
    return f"no node above tolerance {report.tolerance:g} ({mode}{why})"


def format_number(x: float, digits: int = 4) -> str:
    """``x`` with ``digits`` significant digits; ``-`` for NaN (not measured)."""
    if x != x:  # NaN
        return "-"
    return f"{x:.{digits}g}"


def _json_float(x: float) -> float | str | None:
    if x != x:
        return None
    if x in (float("inf"), float("-inf")):
        return str(x)
    return x

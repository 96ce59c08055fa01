"""``compare --against``: the model as written, node by node, against a framework's saved
activations, matched by name and, where module boundaries differ, by value.

A framework's module and a trtdsl node of one name need not compute the same thing: timm's
``BatchNormAct2d`` module ``stem.bn`` includes its activation (trtdsl's ``stem.bn`` is the
batch norm alone), timm's ``LayerNorm2d`` returns NCHW where trtdsl's ``layer_norm`` node
holds the NHWC value between two permutes, and timm's ``head.global_pool`` flattens. Compared
by name alone, a correct model shows a "first bad node" at the first such module. So where a
node's own framework value differs, it is also compared

1. in the framework's layout: the same values reshaped (a flatten) or with axes permuted
   (NHWC for NCHW): ``ok``, with the layout in its detail;
2. with the values of later nodes that depend on it (the next ``WINDOW`` values): when the
   framework's value equals one of them (in any of those layouts), that node is matched to it
   (``ok``, ``matched`` naming the framework's key) and this node is ``unmatched`` (the
   framework has no value for it), not bad.

The framework's values are the expected side: errors are relative to max |framework|.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

import numpy as np

from trtdsl.backends.reference import capture_reference
from trtdsl.debug.compare import (
    LayerwiseReport,
    ValueComparison,
    compare_discrete_value,
    compare_value,
)
from trtdsl.debug.discrete import discrete_values
from trtdsl.errors import UsageError
from trtdsl.ir.graph import Graph

WINDOW = 16
"""How many later values (in graph order, depending on the node) a framework value is
matched against when it differs from its own node's."""
MAX_PERMUTED_RANK = 6
"""Layouts are tried by axis permutation up to this rank (6! = 720 permutations at most)."""
LABELS = ("framework", "trtdsl")


def compare_against(
    graph: Graph,
    weights: Mapping[str, np.ndarray],
    inputs: Mapping[str, np.ndarray],
    saved: Mapping[str, np.ndarray],
    key: Callable[[str], str],
    tolerance: float,
    notes: Sequence[str] = (),
    tolerance_source: str = "",
) -> LayerwiseReport:
    """Compare every node value of ``graph``'s reference with ``saved[key(value)]``.

    Args:
        saved: the framework's arrays by key (only those some node's ``key`` names are used).
        key: a value name -> its key in ``saved`` (the node's name, or a ``--name-map``).
        tolerance: relative to max |framework value|.
    Returns:
        a report whose ``first_bad`` is the first node whose value matches its framework
        value in no layout and is not explained by a later node's (``unmatched`` rows are
        not bad); ``first_nonfinite`` the first with inf or NaN where the framework has none.
    """
    if tolerance <= 0:
        raise UsageError(f"--tolerance must be > 0, got {tolerance}")
    values = capture_reference(graph, weights, inputs)
    order = [v for n in graph.nodes for v in n.outputs]
    later = _later_dependents(graph, order)
    sources = discrete_values(graph)
    rows: dict[str, ValueComparison] = {}
    claimed: dict[str, ValueComparison] = {}  # later value -> its row matched by value
    for v in order:
        expected = saved.get(key(v))
        if expected is None:
            rows[v] = claimed.get(v) or compare_value(graph, v, values[v], None, tolerance)
            continue
        expected = np.asarray(expected)
        if v in sources:
            source = sources[v]
            scores = values.get(source.scores) if source is not None else None
            rows[v] = compare_discrete_value(
                graph, v, expected, values[v], source, scores, tolerance, LABELS
            )
            continue
        row = _in_any_layout(graph, v, expected, values[v], tolerance)
        if row.status == "ok" or v in claimed and claimed[v].status == "ok":
            rows[v] = row if row.status == "ok" else claimed[v]
            continue
        match = next(
            (
                (w, found)
                for w in later[v]
                if w not in claimed
                and (found := _in_any_layout(graph, w, expected, values[w], tolerance)).status
                == "ok"
            ),
            None,
        )
        if match is None:
            rows[v] = row
            continue
        w, found = match
        claimed[w] = replace(
            found,
            matched=key(v),
            detail=f"matched by value: the framework's {key(v)!r}"
            + (f", {found.detail}" if found.detail else "")
            + f" (its module ends at this node, not at {v})",
        )
        rows[v] = ValueComparison(
            row.node,
            row.op,
            v,
            row.shape,
            "unmatched",
            detail=f"the framework's {key(v)!r} is node {w}'s value (module boundaries "
            "differ); the framework has no value for this node",
        )
    # The shape column is trtdsl's (a framework value may have another layout).
    ranked = [replace(rows[v], shape=tuple(int(d) for d in values[v].shape)) for v in order]
    first = next((r.node for r in ranked if r.status == "bad"), None)
    nonfinite = next(
        (
            r.node
            for v, r in zip(order, ranked, strict=True)
            if r.status == "bad"
            and r.detail == "non-finite values"
            and np.all(np.isfinite(np.asarray(saved[key(v)], dtype=np.float64)))
        ),
        None,
    )
    return LayerwiseReport(
        tuple(ranked),
        first,
        tolerance,
        0,
        False,
        tuple(notes),
        nonfinite,
        expected=LABELS[0],
        actual=LABELS[1],
        tolerance_source=tolerance_source,
    )


def _in_any_layout(
    graph: Graph, value: str, expected: np.ndarray, got: np.ndarray, tolerance: float
) -> ValueComparison:
    """``got`` (trtdsl's) against ``expected`` (the framework's): as they are, else in the
    first layout of ``expected`` (a reshape, an axis permutation) that is within tolerance;
    the as-is row when none is."""
    row = compare_value(graph, value, expected, got, tolerance, LABELS)
    if row.status == "ok" or expected.size != got.size:
        return row
    for how, arranged in _layouts(expected, got.shape):
        candidate = compare_value(graph, value, arranged, got, tolerance, LABELS)
        if candidate.status == "ok":
            return replace(candidate, detail=f"the same values in the framework's layout: {how}")
    return row


def _layouts(array: np.ndarray, shape: tuple[int, ...]) -> list[tuple[str, np.ndarray]]:
    """``array`` rearranged to ``shape``: reshaped (when the element order may be the same),
    and transposed by each axis permutation giving ``shape``."""
    found: list[tuple[str, np.ndarray]] = []
    if array.shape != shape:
        found.append(
            (
                f"{'x'.join(map(str, array.shape))} reshaped",
                array.reshape(shape),
            )
        )
    if array.ndim == len(shape) and array.ndim <= MAX_PERMUTED_RANK:
        for axes in itertools.permutations(range(array.ndim)):
            if axes != tuple(range(array.ndim)) and tuple(array.shape[a] for a in axes) == shape:
                found.append((f"axes permuted {axes}", np.transpose(array, axes)))
    return found


def _later_dependents(graph: Graph, order: list[str]) -> dict[str, list[str]]:
    """Each value -> the values among the next ``WINDOW`` in graph order that depend on it."""
    inputs = {v: n.inputs for n in graph.nodes for v in n.outputs}
    result = {}
    for i, v in enumerate(order):
        reached = {v}
        for w in order[i + 1 : i + 1 + WINDOW]:
            if any(x in reached for x in inputs[w]):
                reached.add(w)
        result[v] = [w for w in order[i + 1 : i + 1 + WINDOW] if w in reached]
    return result

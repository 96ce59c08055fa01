"""Checking a built engine against the reference executor on a seeded input, and running a
plan once wherever it can run: the emulator on host memory, a real engine on a GPU that is
one of its targets (otherwise EngineNotRunnableError says why)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from types import ModuleType
from typing import Any

import numpy as np

from trtdsl.backends.reference import run_reference
from trtdsl.backends.summary import is_logits, top_classes
from trtdsl.backends.trt.module import is_emulator
from trtdsl.debug.compare import compare_arrays
from trtdsl.debug.detections import CANDIDATES, check_detections, nms_node, with_candidates
from trtdsl.debug.discrete import compare_indices, discrete_values, scores_port, with_scores
from trtdsl.errors import BackendError
from trtdsl.ir.graph import Graph, Node
from trtdsl.ir.ops.detection import NMS
from trtdsl.passes.nms import NMS_OUTPUTS


@contextmanager
def plan_runner(
    trt: ModuleType, plan: bytes
) -> Iterator[Callable[[Mapping[str, np.ndarray]], dict[str, Any]]]:
    """A serialized engine, deserialized once, as a function of its inputs (output name ->
    array): an emulated plan in host memory, a real one on the GPU.

    Raises:
        EngineNotRunnableError: a real engine this machine cannot run.
    """
    from trtdsl.runtime.engines import deserialize
    from trtdsl.runtime.runner import EngineRunner

    loaded = deserialize(plan, trt, "the engine")
    memory = "host" if is_emulator(trt) else "device"
    with EngineRunner(loaded.engine, trt, memory=memory) as runner:
        yield runner.infer


def run_plan(trt: ModuleType, plan: bytes, inputs: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """Run a serialized engine once (``plan_runner``).

    Returns:
        output name -> array.
    Raises:
        EngineNotRunnableError: a real engine this machine cannot run.
    """
    with plan_runner(trt, plan) as run:
        return run(inputs)


def output_errors(
    got: Mapping[str, np.ndarray], want: Mapping[str, np.ndarray]
) -> dict[str, dict[str, float]]:
    """Per output: ``max_abs`` |got - want| (inf where either is not finite), ``ref_max``
    max |want|, ``max_rel`` = their ratio (``compare_arrays``, the one error metric)."""
    result = {}
    for name, ref in want.items():
        if name not in got:
            raise BackendError(f"the engine has no output {name!r} (outputs: {sorted(got)})")
        a = np.asarray(got[name])
        if a.shape != np.shape(ref):
            raise BackendError(f"output {name!r}: engine shape {a.shape} != reference {ref.shape}")
        ref_max, max_abs, max_rel, _ = compare_arrays(ref, a)
        result[name] = {"max_abs": max_abs, "ref_max": ref_max, "max_rel": max_rel}
    return result


def check_engine(
    trt: ModuleType,
    plan: bytes,
    graph: Graph,
    weights: Mapping[str, np.ndarray],
    inputs: Mapping[str, np.ndarray],
    tolerance: float = 1e-4,
) -> dict[str, Any]:
    """Run ``plan`` and the reference executor (original graph, float32 weights) on
    ``inputs`` (e.g. ``seeded_inputs(graph, seed, shapes)``).

    Continuous outputs are compared by relative error (``output_errors``). Discrete outputs
    (integer or bool; ``debug/discrete.py``) are compared position by position: an argmax's
    index is right where it equals the reference's or the reference's scores tie within
    ``tolerance``; other integer values must be exact. The outputs of an NMS stage
    (``add_nms_stage``) are not compared position by position: ``detections`` says whether
    they are a correct NMS of the reference's candidates within ``tolerance`` (relative; see
    ``debug/detections.py``).

    Returns:
        ``{"inputs": "x=1x3x224x224", "outputs": {name: output_errors entry},
        "discrete": {name: DiscreteComparison.to_json()}, "top5": {name: {"reference":
        [...], "engine": [...]}}}``, top5 (row 0) only for classifier logits
        (``is_logits``); plus ``"detections"`` (a DetectionCheck as a dict) for a graph with
        an NMS stage.
    Raises:
        EngineNotRunnableError: a real engine this machine cannot run.
    """
    return check_engine_runs(trt, plan, graph, weights, [inputs], tolerance)[0]


def check_engine_runs(
    trt: ModuleType,
    plan: bytes,
    graph: Graph,
    weights: Mapping[str, np.ndarray],
    feeds: Sequence[Mapping[str, np.ndarray]],
    tolerance: float = 1e-4,
) -> list[dict[str, Any]]:
    """``check_engine`` on each of ``feeds`` (e.g. a profile's min, opt and max shapes), the
    plan deserialized once: one result per feed, in order.

    Raises:
        EngineNotRunnableError: a real engine this machine cannot run.
    """
    node = nms_node(graph)
    checked = with_scores(graph if node is None else with_candidates(graph, node))
    with plan_runner(trt, plan) as run:
        return [
            _judge(graph, node, run(feed), run_reference(checked, weights, feed), feed, tolerance)
            for feed in feeds
        ]


def _judge(
    graph: Graph,
    node: Node | None,
    got: Mapping[str, Any],
    want: Mapping[str, np.ndarray],
    inputs: Mapping[str, np.ndarray],
    tolerance: float,
) -> dict[str, Any]:
    """One ``check_engine`` result from the engine's outputs ``got`` and the reference's
    ``want`` on ``inputs``."""
    described = ", ".join(f"{n}={'x'.join(map(str, a.shape))}" for n, a in inputs.items())
    skipped = () if node is None else (*NMS_OUTPUTS, *CANDIDATES)
    sources = discrete_values(graph)
    ports = {p.name: p.value for p in graph.outputs}
    judged = [p.name for p in graph.outputs if p.name not in skipped]
    indices = [name for name in judged if ports[name] in sources]
    errors = output_errors(got, {k: want[k] for k in judged})
    discrete = {
        name: compare_indices(
            want[name],
            got[name],
            sources[ports[name]],
            want.get(scores_port(name)),
            tolerance,
        ).to_json()
        for name in indices
    }
    top5 = {
        name: {
            "reference": top_classes(want[name][:1])[0].tolist(),
            "engine": top_classes(np.asarray(got[name], dtype=np.float32)[:1])[0].tolist(),
        }
        for name in judged
        if name not in discrete and is_logits(want[name], graph, ports[name])
    }
    result: dict[str, Any] = {
        "inputs": described,
        "outputs": {k: v for k, v in errors.items() if k not in discrete},
        "discrete": discrete,
        "top5": top5,
    }
    if node is not None:
        op: NMS = node.op  # type: ignore[assignment]
        result["detections"] = dataclasses.asdict(check_detections(op, got, want, tolerance))
    return result


def check_problems(
    runs: Sequence[Mapping[str, Any]], tolerance: float, precision: str = ""
) -> list[str]:
    """What fails in ``check_engine`` results, one line each (empty: the check holds): the
    worst relative error of the continuous outputs above ``tolerance``, a discrete output
    with differences that are no ties, detections that are no NMS of the candidates."""
    problems = [
        f"the engine's detections are not an NMS of the reference's candidates: {p}"
        for r in runs
        for p in r.get("detections", {}).get("problems", ())[:1]
    ][:1]
    worst = max((e["max_rel"] for r in runs for e in r["outputs"].values()), default=0.0)
    if not worst <= tolerance:
        problems.append(
            f"the engine's outputs differ from the reference: max rel error {worst:.3g} > "
            f"{tolerance:g}{' for ' + precision if precision else ''}"
        )
    for r in runs:
        for name, found in r.get("discrete", {}).items():
            if not found["ok"]:
                untied = found["differ"] - found["ties"]
                kind = (
                    f"{untied:,} are no ties of the reference's scores (gap > "
                    f"{found['margin']:.3g})"
                    if found["argmax"]
                    else "integer values must be exact"
                )
                problems.append(
                    f"output {name!r}: {found['differ']:,} of {found['positions']:,} positions "
                    f"differ from the reference and {kind} on input {r['inputs']}"
                )
    return problems

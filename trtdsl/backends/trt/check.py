"""Checking a built engine against the reference executor on a seeded random input."""

from __future__ import annotations

from collections.abc import Mapping
from types import ModuleType
from typing import Any

import numpy as np

from trtdsl.backends.reference import run_reference
from trtdsl.backends.summary import is_classifier_output, top_classes
from trtdsl.backends.trt.logger import CapturingLogger
from trtdsl.backends.trt.module import is_emulator
from trtdsl.backends.trt.run import HostEngineRunner
from trtdsl.errors import BackendError
from trtdsl.ir.graph import Graph


def check_inputs(
    graph: Graph, shapes: Mapping[str, tuple[int, ...]], seed: int = 0
) -> dict[str, np.ndarray]:
    """One seeded standard-normal array per float input (0..9 for integer inputs).

    Inputs not in ``shapes`` take their declared shape with symbols at their ``min`` size.
    """
    rng = np.random.default_rng(seed)
    sizes = graph.sizes("min")
    result = {}
    for name in graph.inputs:
        t = graph.types[name]
        shape = tuple(shapes.get(name, t.concrete(sizes)))
        if t.dtype.is_float:
            result[name] = rng.standard_normal(shape).astype(t.dtype.to_numpy())
        else:
            result[name] = rng.integers(0, 10, shape).astype(t.dtype.to_numpy())
    return result


def run_plan(trt: ModuleType, plan: bytes, inputs: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """Run a serialized engine once: the emulator on host memory, TensorRT via trtdsl.runtime."""
    if is_emulator(trt):
        return HostEngineRunner(trt, plan).run(inputs)
    from trtdsl.runtime.runner import EngineRunner

    logger = CapturingLogger(trt)
    engine = trt.Runtime(logger.trt_logger).deserialize_cuda_engine(plan)
    if engine is None:
        raise BackendError(f"cannot deserialize the engine: {logger.errors_text()}")
    with EngineRunner(engine, trt, memory="device") as runner:
        return runner.infer(inputs)


def output_errors(
    got: Mapping[str, np.ndarray], want: Mapping[str, np.ndarray]
) -> dict[str, dict[str, float]]:
    """Per output: ``max_abs`` |got - want|, ``ref_max`` max |want|, ``max_rel`` = their ratio."""
    result = {}
    for name, ref in want.items():
        if name not in got:
            raise BackendError(f"the engine has no output {name!r} (outputs: {sorted(got)})")
        a = np.asarray(got[name], dtype=np.float64)
        b = np.asarray(ref, dtype=np.float64)
        if a.shape != b.shape:
            raise BackendError(f"output {name!r}: engine shape {a.shape} != reference {b.shape}")
        max_abs = float(np.max(np.abs(a - b), initial=0.0))
        ref_max = float(np.max(np.abs(b), initial=0.0))
        if np.isnan(a).any():
            max_abs = float("nan")
        result[name] = {
            "max_abs": max_abs,
            "ref_max": ref_max,
            "max_rel": max_abs / ref_max if ref_max > 0 else max_abs,
        }
    return result


def check_engine(
    trt: ModuleType,
    plan: bytes,
    graph: Graph,
    weights: Mapping[str, np.ndarray],
    shapes: Mapping[str, tuple[int, ...]],
    seed: int = 0,
) -> dict[str, Any]:
    """Run ``plan`` and the reference executor (original graph, float32 weights) on one
    seeded input.

    Returns:
        ``{"inputs": "x=1x3x224x224", "outputs": {name: output_errors entry},
        "top5": {name: {"reference": [...], "engine": [...]}}}``, top5 (row 0) only for
        classifier logits.
    """
    inputs = check_inputs(graph, shapes, seed)
    want = run_reference(graph, weights, inputs)
    got = run_plan(trt, plan, inputs)
    described = ", ".join(f"{n}={'x'.join(map(str, a.shape))}" for n, a in inputs.items())
    errors = output_errors(got, want)
    top5 = {
        name: {
            "reference": top_classes(ref[:1])[0].tolist(),
            "engine": top_classes(np.asarray(got[name], dtype=np.float32)[:1])[0].tolist(),
        }
        for name, ref in want.items()
        if is_classifier_output(ref)
    }
    return {"inputs": described, "outputs": errors, "top5": top5}

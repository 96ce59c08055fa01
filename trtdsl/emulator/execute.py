"""Run an emulated plan with NumPy: every layer's ``_compute`` in order."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from trtdsl.emulator.plan import Plan, PlanError, infer_plan_shapes


def run_plan(plan: Plan, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Execute ``plan`` on host arrays keyed by input name; returns outputs keyed by name.

    Every computed tensor is checked against the shape and dtype inference of its layer, so the
    emulator's numerics and its shape rules cannot drift apart silently.
    """
    shapes = {name: tuple(array.shape) for name, array in inputs.items()}
    expected = infer_plan_shapes(plan, shapes)
    values: dict[int, np.ndarray] = {}
    for tensor in plan.io:
        if tensor.is_input:
            values[tensor.tensor_id] = inputs[tensor.name]
    for layer, ins, outs in plan.layers:
        results = layer._compute([values[i] for i in ins])
        for tensor_id, result in zip(outs, results, strict=True):
            shape, _ = expected[tensor_id]
            if tuple(result.shape) != tuple(shape):
                raise PlanError(
                    f"internal: {layer._name} computed {result.shape}, inferred {shape}"
                )
            values[tensor_id] = result
    return {t.name: values[t.tensor_id] for t in plan.io if not t.is_input}

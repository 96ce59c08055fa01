"""Run an emulated plan with NumPy: every layer's ``_compute`` in order."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

import numpy as np

from trtdsl.emulator.enums import DataType
from trtdsl.emulator.plan import Plan, PlanError, infer_plan_shapes
from trtdsl.emulator.shape_values import compute_with_values
from trtdsl.emulator.types import compute_dtype, round_to_bf16


def run_plan(
    plan: Plan,
    inputs: Mapping[str, np.ndarray],
    on_layer_time: Callable[[str, float], None] | None = None,
) -> dict[str, np.ndarray]:
    """Execute ``plan`` on host arrays keyed by input name; returns outputs keyed by name.

    Every computed tensor is checked against the shape and dtype inference of its layer, so the
    emulator's numerics and its shape rules cannot drift apart silently; a dimension inferred
    as -1 is data-dependent (INMSLayer's selected indices) and takes the computed size.
    ``on_layer_time`` gets each layer's name and the wall time of its NumPy computation in
    milliseconds. A tensor is dropped after its last reader, so memory follows the live
    tensors rather than the whole network (large inputs of deep models stay in reach).
    """
    shapes = {name: tuple(array.shape) for name, array in inputs.items()}
    expected = infer_plan_shapes(plan, shapes)
    values: dict[int, np.ndarray] = {}
    for tensor in plan.io:
        if tensor.is_input:
            values[tensor.tensor_id] = inputs[tensor.name]
    outputs = {t.tensor_id for t in plan.io if not t.is_input}
    last_use = {i: index for index, (_, ins, _) in enumerate(plan.layers) for i in ins}
    for index, (layer, ins, outs) in enumerate(plan.layers):
        start = time.perf_counter()
        results = compute_with_values(layer, [values[i] for i in ins])
        if on_layer_time is not None:
            on_layer_time(layer._name, (time.perf_counter() - start) * 1e3)
        for tensor_id, result in zip(outs, results, strict=True):
            shape, dtype = expected[tensor_id]
            if not _fits(result.shape, shape) or result.dtype != compute_dtype(dtype):
                raise PlanError(
                    f"internal: {layer._name} computed {result.shape} {result.dtype}, "
                    f"inferred {shape} {dtype}"
                )
            if dtype == DataType.BF16:
                result = round_to_bf16(result)
            values[tensor_id] = result
        for tensor_id in set(ins):
            if last_use[tensor_id] == index and tensor_id not in outputs:
                del values[tensor_id]
    return {t.name: values[t.tensor_id] for t in plan.io if not t.is_input}


def _fits(computed: tuple[int, ...], inferred: tuple[int, ...]) -> bool:
    """Whether a computed shape matches an inferred one (-1: data-dependent, any size)."""
    return len(computed) == len(inferred) and all(
        want in (-1, got) for got, want in zip(computed, inferred, strict=True)
    )

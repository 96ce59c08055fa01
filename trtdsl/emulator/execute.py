"""Run an emulated plan with NumPy: every layer's ``_compute`` in order."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

import numpy as np

from trtdsl.emulator.enums import DataType
from trtdsl.emulator.layers.base import ILayer
from trtdsl.emulator.layers.loop import IRecurrenceLayer
from trtdsl.emulator.loops import find_loops, run_loop
from trtdsl.emulator.plan import Plan, PlanError, infer_plan_shapes
from trtdsl.emulator.shape_values import compute_with_values
from trtdsl.emulator.types import EmulatorUnsupportedError, compute_dtype, round_to_bf16
from trtdsl.errors import ResourceLimitError
from trtdsl.files import require_memory

_CHECKED_BYTES = 1 << 26
"""Tensors larger than this are checked against the memory budget before the run."""


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
    _check_memory(plan, expected)
    values: dict[int, np.ndarray] = {}
    for tensor in plan.io:
        if tensor.is_input:
            values[tensor.tensor_id] = inputs[tensor.name]
    outputs = {t.tensor_id for t in plan.io if not t.is_input}
    loops = find_loops(plan.layers)
    at_position = {body.position: body for body in loops.loops.values()}
    step = {
        index: (body.position if (body := loops.owner(index)) else index)
        for index in range(len(plan.layers))
    }
    last_use: dict[int, int] = {}
    for index, (layer, ins, _) in enumerate(plan.layers):
        for tensor_id in (*ins, *_next_value(layer)):
            last_use[tensor_id] = max(last_use.get(tensor_id, -1), step[index])
    released: dict[int, list[int]] = {}
    for tensor_id, index in last_use.items():
        if tensor_id not in outputs:
            released.setdefault(index, []).append(tensor_id)

    def compute(index: int, xs: list[np.ndarray]) -> list[np.ndarray]:
        layer, _, outs = plan.layers[index]
        start = time.perf_counter()
        results = compute_with_values(layer, xs)
        if on_layer_time is not None:
            on_layer_time(layer._name, (time.perf_counter() - start) * 1e3)
        checked = []
        for tensor_id, result in zip(outs, results, strict=True):
            shape, dtype = expected[tensor_id]
            if not _fits(result.shape, shape) or result.dtype != compute_dtype(dtype):
                raise PlanError(
                    f"internal: {layer._name} computed {result.shape} {result.dtype}, "
                    f"inferred {shape} {dtype}"
                )
            checked.append(round_to_bf16(result) if dtype == DataType.BF16 else result)
        return checked

    for index, (_, ins, outs) in enumerate(plan.layers):
        if index in at_position:
            values.update(run_loop(at_position[index], plan.layers, values, compute))
        elif step[index] == index:
            values.update(zip(outs, compute(index, [values[i] for i in ins]), strict=True))
        else:
            continue  # a loop member: it runs with its loop
        for tensor_id in released.get(index, ()):
            values.pop(tensor_id, None)
    return {t.name: values[t.tensor_id] for t in plan.io if not t.is_input}


def _check_memory(plan: Plan, expected: Mapping[int, tuple[tuple[int, ...], DataType]]) -> None:
    """PlanError (not a MemoryError halfway through) when a tensor cannot fit in memory."""
    largest, name = 0, ""
    for tensor_id, (shape, dtype) in expected.items():
        count = 1
        for d in shape:
            count *= max(d, 0)  # -1: data-dependent, bounded by the tensors it comes from
        try:
            size = count * compute_dtype(dtype).itemsize
        except EmulatorUnsupportedError:
            size = count
        if size > largest:
            largest, name = size, plan.tensor_names.get(tensor_id, str(tensor_id))
    if largest > _CHECKED_BYTES:
        try:
            require_memory(largest, f"the emulated tensor {name!r}")
        except ResourceLimitError as error:
            raise PlanError(str(error)) from None


def _next_value(layer: ILayer) -> tuple[int, ...]:
    """The tensor a recurrence reads as its next value (outside its ``ins``), if any."""
    next_id = int(layer._p.get("next", -1)) if isinstance(layer, IRecurrenceLayer) else -1
    return (next_id,) if next_id >= 0 else ()


def _fits(computed: tuple[int, ...], inferred: tuple[int, ...]) -> bool:
    """Whether a computed shape matches an inferred one (-1: data-dependent, any size)."""
    return len(computed) == len(inferred) and all(
        want in (-1, got) for got, want in zip(computed, inferred, strict=True)
    )

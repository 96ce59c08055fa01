"""Loops of a flat layer list: each loop's layers, the rules TensorRT checks when it builds
one, and its iterations (see ``layers/loop.py`` for the semantics).

A layer belongs to a loop when it reads a tensor computed in that loop: a recurrence output,
or an output of another body layer. The loop runs as one step at its last layer (its
``position``): every body layer once per iteration, in creation order.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from trtdsl.emulator.enums import DataType, TripLimit
from trtdsl.emulator.layers.base import ILayer
from trtdsl.emulator.layers.loop import ILoopOutputLayer, IRecurrenceLayer, ITripLimitLayer
from trtdsl.emulator.plan_schema import PlanError

LayerRecord = tuple[ILayer, Sequence[int], Sequence[int]]
"""A layer with the ids of its input and output tensors."""

TensorTypes = Mapping[int, tuple[tuple[int, ...] | None, DataType]]
"""Tensor id -> inferred shape (None where unknown) and dtype."""


@dataclass(frozen=True)
class LoopBody:
    """The layer indices of one loop: boundary layers and body, each in creation order."""

    loop: int
    recurrences: tuple[int, ...]
    trip_limits: tuple[int, ...]
    outputs: tuple[int, ...]
    body: tuple[int, ...]

    @property
    def members(self) -> frozenset[int]:
        """Every layer index of the loop."""
        return frozenset(self.recurrences + self.trip_limits + self.outputs + self.body)

    @property
    def position(self) -> int:
        """The index at which the loop runs: its last layer."""
        return max(self.members)


@dataclass(frozen=True)
class LoopStructure:
    """Every loop of a layer list, the loop of each tensor computed in one, and the problems
    a build reports (empty when the loops are valid)."""

    loops: Mapping[int, LoopBody]
    tensor_loop: Mapping[int, int]
    problems: tuple[str, ...]
    owners: Mapping[int, LoopBody]
    """Layer index -> the loop it is a member of (layers outside loops are absent)."""

    def owner(self, index: int) -> LoopBody | None:
        """The loop whose member layer ``index`` is, if any."""
        return self.owners.get(index)


def find_loops(layers: Sequence[LayerRecord], types: TensorTypes | None = None) -> LoopStructure:
    """The loops of ``layers`` and what is wrong with them.

    ``types`` (the inferred type of every tensor) adds the check that each recurrence's next
    value has the type of its initial value.
    """
    parts: dict[int, dict[str, list[int]]] = {}
    tensor_loop: dict[int, int] = {}
    problems: list[str] = []

    def part(loop: int, kind: str) -> list[int]:
        entry = parts.setdefault(loop, {k: [] for k in ("rec", "trip", "out", "body")})
        return entry[kind]

    for index, (layer, ins, outs) in enumerate(layers):
        loops = {tensor_loop[i] for i in ins if i in tensor_loop}
        if isinstance(layer, IRecurrenceLayer | ITripLimitLayer | ILoopOutputLayer):
            loop = int(layer._p["loop"])
            if loops - {loop}:
                problems.append(f"{layer._name}: reads a tensor computed in another loop")
            if isinstance(layer, IRecurrenceLayer):
                if loop in loops:
                    problems.append(
                        f"{layer._name}: the initial value of a recurrence must be computed "
                        "before its loop"
                    )
                part(loop, "rec").append(index)
                tensor_loop.update(dict.fromkeys(outs, loop))
            elif isinstance(layer, ITripLimitLayer):
                part(loop, "trip").append(index)
                if layer._p["kind"] == TripLimit.COUNT and loops:
                    problems.append(
                        f"{layer._name}: a COUNT trip limit must be computed before the loop"
                    )
            else:
                part(loop, "out").append(index)
            continue
        if len(loops) > 1:
            problems.append(f"{layer._name}: reads tensors of two loops (nested loops)")
        if loops:
            loop = loops.pop()
            part(loop, "body").append(index)
            tensor_loop.update(dict.fromkeys(outs, loop))
    bodies = {
        loop: LoopBody(
            loop,
            tuple(entry["rec"]),
            tuple(entry["trip"]),
            tuple(entry["out"]),
            tuple(entry["body"]),
        )
        for loop, entry in parts.items()
    }
    producers = {
        tensor_id: index for index, (_, _, outs) in enumerate(layers) for tensor_id in outs
    }
    for body in bodies.values():
        problems.extend(_check_loop(body, layers, tensor_loop, producers, types))
    owners = {index: body for body in bodies.values() for index in body.members}
    return LoopStructure(bodies, tensor_loop, tuple(problems), owners)


def _check_loop(
    body: LoopBody,
    layers: Sequence[LayerRecord],
    tensor_loop: Mapping[int, int],
    producers: Mapping[int, int],
    types: TensorTypes | None,
) -> list[str]:
    problems = []
    name = f"loop {body.loop}"
    kinds = [layers[i][0]._p["kind"] for i in body.trip_limits]
    if not kinds:
        problems.append(f"{name} has no trip limit (add_trip_limit)")
    if len(kinds) != len(set(kinds)):
        problems.append(f"{name} has two trip limits of one kind")
    recurrence_outputs = {layers[i][2][0] for i in body.recurrences}
    for index in body.recurrences:
        layer, ins, outs = layers[index]
        next_id = int(layer._p["next"])
        if next_id < 0:
            problems.append(f"{layer._name}: the next value is not set (set_input(1, ...))")
        elif next_id in tensor_loop and tensor_loop[next_id] != body.loop:
            problems.append(f"{layer._name}: the next value is computed in another loop")
        elif next_id not in tensor_loop and (
            producers.get(next_id, -1) > body.position or producers.get(next_id, -1) in body.members
        ):
            # Read in each iteration: it must be computed in the body or before the loop.
            problems.append(f"{layer._name}: the next value is computed after the loop")
        elif types is not None and next_id in types and types[ins[0]] != types[next_id]:
            (shape, dtype), (next_shape, next_dtype) = types[ins[0]], types[next_id]
            problems.append(
                f"{layer._name}: IRecurrenceLayer must have inputs with same shape and type; "
                f"initial value {shape} {dtype.name}, next value {next_shape} {next_dtype.name}"
            )
    for index in body.outputs:
        layer, ins, outs = layers[index]
        if ins[0] not in recurrence_outputs:
            problems.append(
                f"{layer._name}: input to an ILoopOutputLayer with LoopOutput.LAST_VALUE must "
                "be the output of an IRecurrenceLayer of the same loop"
            )
        position = body.position
        for later, (reader, reader_ins, _) in enumerate(layers[: position + 1]):
            if later not in body.members and outs[0] in reader_ins:
                problems.append(
                    f"{reader._name}: reads the output of {name} before the loop's last layer "
                    "(the emulator needs a loop's layers created before its outputs are read)"
                )
    return problems


Compute = Callable[[int, list[np.ndarray]], list[np.ndarray]]
"""Layer index, input arrays -> output arrays (one layer's checked computation)."""


MAX_ITERATIONS = 1 << 20
"""The most iterations the emulator runs one loop for: a WHILE condition that never turns
false (a forged plan, or a bug) must not hang the process. trtdsl's own loops (the
TensorRT-RTX NMS fixed point) stop after at most their candidate count (3840) plus one."""


def run_loop(
    body: LoopBody,
    layers: Sequence[LayerRecord],
    values: Mapping[int, np.ndarray],
    compute: Compute,
) -> dict[int, np.ndarray]:
    """Run one loop on the tensors computed before it; returns its outputs by tensor id.

    Each iteration computes the body from the recurrences' current values; the loop stops
    when a COUNT limit is reached or a WHILE condition is false (that iteration does not
    count). A LAST_VALUE output is its recurrence's value in the last iteration that ran (the
    initial value when none ran).
    """
    state = {layers[i][2][0]: values[layers[i][1][0]] for i in body.recurrences}
    limits = [layers[i] for i in body.trip_limits]
    counts = [
        int(values[ins[0]]) for layer, ins, _ in limits if layer._p["kind"] == TripLimit.COUNT
    ]
    conditions = [ins[0] for layer, ins, _ in limits if layer._p["kind"] == TripLimit.WHILE]
    last = state
    iterations = 0
    while not counts or iterations < min(counts):
        if iterations >= MAX_ITERATIONS:
            raise PlanError(
                f"loop {layers[body.recurrences[0]][0]._name if body.recurrences else ''!r}: "
                f"still running after {MAX_ITERATIONS:,} iterations (a WHILE condition that "
                "never turns false?); stopped"
            )
        local: dict[int, np.ndarray] = dict(state)
        for index in body.body:
            _, ins, outs = layers[index]
            computed = compute(index, [_read(local, values, i) for i in ins])
            local.update(zip(outs, computed, strict=True))
        if not all(bool(_read(local, values, c)) for c in conditions):
            break
        last = state
        state = {
            layers[i][2][0]: _read(local, values, int(layers[i][0]._p["next"]))
            for i in body.recurrences
        }
        iterations += 1
    return {layers[i][2][0]: last[layers[i][1][0]] for i in body.outputs}


def _read(
    local: Mapping[int, np.ndarray], values: Mapping[int, np.ndarray], tensor_id: int
) -> np.ndarray:
    """A tensor of this iteration, or one computed before the loop."""
    return local[tensor_id] if tensor_id in local else values[tensor_id]

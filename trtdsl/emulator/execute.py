"""Run an emulated plan with NumPy: every layer's ``_compute`` in order."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from trtdsl import kernels
from trtdsl.emulator.enums import (
    ActivationType,
    DataType,
    ElementWiseOperation,
    MatrixOperation,
)
from trtdsl.emulator.layers.base import ILayer
from trtdsl.emulator.layers.conv import IConvolutionLayer
from trtdsl.emulator.layers.loop import IRecurrenceLayer
from trtdsl.emulator.layers.pointwise import IActivationLayer, IElementWiseLayer
from trtdsl.emulator.layers.reduce import IMatrixMultiplyLayer
from trtdsl.emulator.layers.shape_ops import IConstantLayer
from trtdsl.emulator.loops import LayerRecord, LoopBody, find_loops, run_loop
from trtdsl.emulator.plan import Plan, PlanError, infer_plan_shapes
from trtdsl.emulator.shape_values import compute_with_values
from trtdsl.emulator.types import EmulatorUnsupportedError, compute_dtype, round_to_bf16
from trtdsl.errors import ResourceLimitError
from trtdsl.files import require_memory

_CHECKED_BYTES = 1 << 26
"""Tensors larger than this are checked against the memory budget before the run."""


SCHEDULES_KEPT = 8
"""Input-shape sets whose schedules a plan's ``Schedules`` keeps (the most recent)."""


@dataclass(frozen=True)
class Schedule:
    """How a plan runs at one set of input shapes, worked out once and reused by every run at
    those shapes: ``expected``, every tensor's inferred shape and dtype; ``step``, layer index
    -> the index it runs at (a loop member's loop position); ``loops``, loop position -> its
    body; ``released``, layer index -> the tensors dropped after it (their last reader);
    ``fusions``, producer index -> the layers its kernel computes in its epilogue
    (``absorbed``: all of those); ``largest``, the bytes and name of the largest tensor."""

    expected: Mapping[int, tuple[tuple[int, ...], DataType]]
    step: Mapping[int, int]
    loops: Mapping[int, LoopBody]
    released: Mapping[int, tuple[int, ...]]
    fusions: Mapping[int, _Fusion]
    absorbed: frozenset[int]
    largest: tuple[int, str]


class Schedules:
    """A plan's schedules by input shapes (``SCHEDULES_KEPT`` at most, the most recent); safe
    to share between threads (an engine's execution contexts)."""

    def __init__(self, plan: Plan) -> None:
        self._plan = plan
        self._kept: dict[tuple[tuple[str, tuple[int, ...]], ...], Schedule] = {}
        self._lock = threading.Lock()

    def at(self, shapes: Mapping[str, Sequence[int]]) -> Schedule:
        """The schedule at these input shapes (name -> shape); PlanError on a bad layer."""
        key = tuple(sorted((name, tuple(int(d) for d in shape)) for name, shape in shapes.items()))
        with self._lock:
            found = self._kept.pop(key, None)
        if found is None:
            found = make_schedule(self._plan, dict(key))  # outside the lock: it can take ms
        with self._lock:
            self._kept[key] = found  # the most recent last
            while len(self._kept) > SCHEDULES_KEPT:
                self._kept.pop(next(iter(self._kept)))
        return found


def make_schedule(plan: Plan, shapes: Mapping[str, tuple[int, ...]]) -> Schedule:
    """``plan``'s schedule at these input shapes (name -> shape); PlanError on a bad layer."""
    expected = infer_plan_shapes(plan, shapes)
    outputs = {t.tensor_id for t in plan.io if not t.is_input}
    loops = find_loops(plan.layers)
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
    fusions = _fusions(plan, expected, step, outputs)
    return Schedule(
        expected=expected,
        step=step,
        loops={body.position: body for body in loops.loops.values()},
        released={index: tuple(ids) for index, ids in released.items()},
        fusions=fusions,
        absorbed=frozenset(j for fusion in fusions.values() for j in fusion.absorbed),
        largest=_largest_tensor(plan, expected),
    )


def run_plan(
    plan: Plan,
    inputs: Mapping[str, np.ndarray],
    on_layer_time: Callable[[str, float], None] | None = None,
    schedules: Schedules | None = None,
) -> dict[str, np.ndarray]:
    """Execute ``plan`` on host arrays keyed by input name; returns outputs keyed by name.

    Every computed tensor is checked against the shape and dtype inference of its layer, so the
    emulator's numerics and its shape rules cannot drift apart silently; a dimension inferred
    as -1 is data-dependent (INMSLayer's selected indices) and takes the computed size.
    ``on_layer_time`` gets each layer's name and the wall time of its NumPy computation in
    milliseconds. A tensor is dropped after its last reader, so memory follows the live
    tensors rather than the whole network (large inputs of deep models stay in reach).
    ``schedules``: the plan's schedules kept from earlier runs (an engine's), else the
    schedule is worked out for this run alone.
    """
    shapes = {name: tuple(array.shape) for name, array in inputs.items()}
    schedule = make_schedule(plan, shapes) if schedules is None else schedules.at(shapes)
    with kernels.threads():  # the caller's thread count; BLAS on one thread
        return _run(plan, inputs, on_layer_time, schedule)


def _run(
    plan: Plan,
    inputs: Mapping[str, np.ndarray],
    on_layer_time: Callable[[str, float], None] | None,
    schedule: Schedule,
) -> dict[str, np.ndarray]:
    expected, step, released = schedule.expected, schedule.step, schedule.released
    _check_memory(*schedule.largest)
    values: dict[int, np.ndarray] = {}
    for tensor in plan.io:
        if tensor.is_input:
            values[tensor.tensor_id] = inputs[tensor.name]

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

    fusions, absorbed = schedule.fusions, schedule.absorbed
    for index, (layer, ins, outs) in enumerate(plan.layers):
        if index in schedule.loops:
            values.update(run_loop(schedule.loops[index], plan.layers, values, compute))
        elif index in fusions:
            fusion = fusions[index]
            for j in fusion.constants:
                values.update(zip(plan.layers[j][2], compute(j, []), strict=True))
            start = time.perf_counter()
            epilogue = [values[s] if isinstance(s, int) else s for s in fusion.steps]
            assert isinstance(layer, (IConvolutionLayer, IMatrixMultiplyLayer))
            result = layer._compute_fused([values[i] for i in ins], epilogue)
            if on_layer_time is not None:
                on_layer_time(layer._name, (time.perf_counter() - start) * 1e3)
                for j in fusion.absorbed:
                    on_layer_time(plan.layers[j][0]._name, 0.0)
            shape, dtype = expected[fusion.result]
            if result.shape != shape or result.dtype != compute_dtype(dtype):
                raise PlanError(f"internal: {layer._name} computed {result.shape} {result.dtype}")
            values[fusion.result] = result
        elif index in absorbed:
            pass  # computed in the epilogue of the convolution it follows
        elif step[index] == index:
            values.update(zip(outs, compute(index, [values[i] for i in ins]), strict=True))
        else:
            continue  # a loop member: it runs with its loop
        for tensor_id in released.get(index, ()):
            values.pop(tensor_id, None)
    return {t.name: values[t.tensor_id] for t in plan.io if not t.is_input}


@dataclass(frozen=True)
class _Fusion:
    """Layers after a convolution or matrix product that its kernel computes in the epilogue
    of each tile.

    ``steps``: an activation kernel, or the id of a tensor to add (a residual computed
    before the convolution runs); ``absorbed``: the layers so computed; ``result``: the
    tensor that receives the result (the last absorbed layer's output). The kernels apply each
    step to the values the separate layers would see, so results equal the unfused run's bit
    for bit (TensorRT fuses these layers too). ``constants``: constant layers after the
    producer whose values a step adds (a bias), computed first.
    """

    steps: tuple[kernels.Activation | int, ...]
    absorbed: tuple[int, ...]
    result: int
    constants: tuple[int, ...] = ()


def _fusions(
    plan: Plan,
    expected: Mapping[int, tuple[tuple[int, ...], DataType]],
    step: Mapping[int, int],
    outputs: set[int],
) -> dict[int, _Fusion]:
    """Producer index -> its fusion. Producers: convolutions and matrix products; fused after
    them: float32 activations with a kernel, SUMs of a residual of the same shape (or, after
    a product, of a bias of shape (1, ..., 1, N)), and SiLU as a SIGMOID activation and a
    PROD, each the only reader of the value before it (which is no network output); layers
    outside loops only."""
    readers: dict[int, list[int]] = {}
    producer: dict[int, int] = {}
    for index, (_, ins, outs) in enumerate(plan.layers):
        for tensor_id in ins:
            readers.setdefault(tensor_id, []).append(index)
        for tensor_id in outs:
            producer[tensor_id] = index
    fusions = {}
    for index, (layer, ins, outs) in enumerate(plan.layers):
        if step[index] != index or not _fusable_producer(layer, ins):
            continue
        tensor, convolution = outs[0], isinstance(layer, IConvolutionLayer)
        steps: list[kernels.Activation | int] = []
        absorbed: list[int] = []
        constants: list[int] = []
        while len(steps) < 3 and tensor not in outputs and expected[tensor][1] == DataType.FLOAT:
            users = readers.get(tensor, [])
            if any(step[u] != u for u in users):
                break
            layers = [plan.layers[u] for u in users]
            if len(users) == 1 and isinstance(layers[0][0], IActivationLayer):
                kernel = layers[0][0]._kernel()
                if kernel is None:
                    break
                steps.append(kernel)
            elif len(users) == 1 and _is_sum(layers[0][0], layers[0][1]):
                other = next(i for i in layers[0][1] if i != tensor)
                (shape, dtype), (other_shape, other_dtype) = expected[tensor], expected[other]
                bias = (1,) * (len(shape) - 1) + shape[-1:]
                if (
                    other_dtype != dtype
                    or not (other_shape == shape or (other_shape == bias and not convolution))
                    or step.get(producer.get(other, -1), -1) >= index
                    and not isinstance(plan.layers[producer[other]][0], IConstantLayer)
                ):
                    break
                if other in producer and producer[other] > index:
                    constants.append(producer[other])  # computed before the producer runs
                steps.append(other)
            elif len(users) == 2 and _is_silu(layers[0], layers[1], tensor, readers, outputs):
                steps.append(kernels.Activation("x_sigmoid"))
                absorbed.append(users[0])
            else:
                break
            absorbed.append(users[-1])
            tensor = plan.layers[users[-1]][2][0]
        if steps:
            fusions[index] = _Fusion(tuple(steps), tuple(absorbed), tensor, tuple(constants))
    return fusions


def _fusable_producer(layer: ILayer, ins: Sequence[int]) -> bool:
    """A convolution with kernel weights, or a product of two matrices."""
    if type(layer) is IConvolutionLayer:
        return len(ins) == 1
    return type(layer) is IMatrixMultiplyLayer and MatrixOperation.VECTOR not in (
        layer._p["op0"],
        layer._p["op1"],
    )


def _is_sum(layer: ILayer, ins: Sequence[int]) -> bool:
    return (
        isinstance(layer, IElementWiseLayer)
        and layer._p["op"] == ElementWiseOperation.SUM
        and len(set(ins)) == 2
    )


def _is_silu(
    sigmoid: LayerRecord,
    product: LayerRecord,
    tensor: int,
    readers: Mapping[int, list[int]],
    outputs: set[int],
) -> bool:
    """Whether ``sigmoid`` and ``product`` compute ``tensor * sigmoid(tensor)``."""
    (gate, gate_ins, gate_outs), (prod, prod_ins, _) = sigmoid, product
    return (
        isinstance(gate, IActivationLayer)
        and gate._p["type"] == ActivationType.SIGMOID
        and tuple(gate_ins) == (tensor,)
        and gate_outs[0] not in outputs
        and isinstance(prod, IElementWiseLayer)
        and prod._p["op"] == ElementWiseOperation.PROD
        and sorted(prod_ins) == sorted((tensor, gate_outs[0]))
        and len(readers.get(gate_outs[0], ())) == 1
    )


def _largest_tensor(
    plan: Plan, expected: Mapping[int, tuple[tuple[int, ...], DataType]]
) -> tuple[int, str]:
    """The bytes and name of the largest tensor of ``expected`` (0 and "" for none)."""
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
    return largest, name


def _check_memory(largest: int, name: str) -> None:
    """PlanError (not a MemoryError halfway through) when the largest tensor, ``largest``
    bytes, cannot fit in memory now."""
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

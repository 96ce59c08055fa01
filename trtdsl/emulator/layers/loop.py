"""Loops: ILoop and its boundary layers IRecurrenceLayer, ITripLimitLayer and ILoopOutputLayer.

A loop's body is every layer that reads (directly or through other body layers) the output of
one of its recurrences. The emulator keeps the network flat: the boundary layers and the body
are ordinary layers in creation order, and ``trtdsl.emulator.loops`` finds each loop's body,
checks the rules TensorRT checks at build time, and runs the body once per iteration.

Semantics (TensorRT 11.4 / TensorRT-RTX 1.7 API):

- ``add_recurrence(initial)``: output 0 has ``initial``'s shape and type; input 1, the value of
  the next iteration, is set with ``set_input(1, next)`` (it must have the same shape and type).
- ``add_trip_limit(tensor, kind)``: COUNT (a 0-D INT32/INT64 computed before the loop) or WHILE
  (a 0-D BOOL computed in the body; the loop runs while it is true). At most one of each; at
  least one. With both, the loop stops at whichever ends first. No outputs.
- ``add_loop_output(tensor, LAST_VALUE)``: the value of a recurrence of the same loop in the
  last iteration that ran (the value it had when that iteration started). The emulator has no
  CONCATENATE/REVERSE outputs and no iterators (``add_iterator``): both raise
  EmulatorUnsupportedError.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from trtdsl.emulator.enums import DataType, LayerType, LoopOutput, TripLimit
from trtdsl.emulator.layers.base import ILayer, Shape, require
from trtdsl.emulator.layers.fields import INT, PlanField, enum_kind
from trtdsl.emulator.tensor import ITensor
from trtdsl.emulator.types import EmulatorUnsupportedError, check_type

if TYPE_CHECKING:
    from trtdsl.emulator.network import INetworkDefinition

_COUNT_TYPES = (DataType.INT32, DataType.INT64)


class ILoop:
    """A loop of the network: the factory of its boundary layers (``add_loop``)."""

    def __init__(self, network: INetworkDefinition, index: int) -> None:
        self._network = network
        self._id = index
        self._name = f"(Unnamed Loop* {index})"

    def __repr__(self) -> str:
        return f"<emulated ILoop {self._name!r}>"

    @property
    def name(self) -> str:
        """The loop's name."""
        return self._name

    @name.setter
    def name(self, value: str) -> None:
        self._name = check_type(value, str, "ILoop.name")

    def _boundary(self, layer: _LoopBoundary) -> Any:
        layer._p["loop"] = self._id
        layer._loop = self
        return self._network._add(layer)

    def add_recurrence(self, initial_value: ITensor) -> IRecurrenceLayer:
        """A loop-carried value starting at ``initial_value``; ``set_input(1, next)`` gives the
        value of the next iteration."""
        tensor = check_type(initial_value, ITensor, "add_recurrence.initial_value")
        layer = IRecurrenceLayer(self._network, [tensor])
        layer._p["next"] = -1
        result: IRecurrenceLayer = self._boundary(layer)
        return result

    def add_trip_limit(self, tensor: ITensor, kind: TripLimit) -> ITripLimitLayer:
        """A COUNT (0-D int, computed before the loop) or WHILE (0-D bool) trip limit."""
        layer = ITripLimitLayer(self._network, [check_type(tensor, ITensor, "add_trip_limit")])
        layer._p["kind"] = check_type(kind, TripLimit, "add_trip_limit.kind")
        result: ITripLimitLayer = self._boundary(layer)
        return result

    def add_loop_output(self, tensor: ITensor, kind: LoopOutput, axis: int = 0) -> ILoopOutputLayer:
        """The LAST_VALUE of a recurrence output of this loop, outside the loop."""
        check_type(kind, LoopOutput, "add_loop_output.kind")
        if kind != LoopOutput.LAST_VALUE:
            raise EmulatorUnsupportedError(
                f"add_loop_output: the emulator has LoopOutput.LAST_VALUE only, not {kind}"
            )
        layer = ILoopOutputLayer(self._network, [check_type(tensor, ITensor, "add_loop_output")])
        layer._p.update(kind=kind, axis=check_type(axis, int, "add_loop_output.axis"))
        result: ILoopOutputLayer = self._boundary(layer)
        return result

    def add_iterator(self, tensor: ITensor, axis: int = 0, reverse: bool = False) -> Any:
        """Not emulated (raises EmulatorUnsupportedError)."""
        raise EmulatorUnsupportedError("ILoop.add_iterator: the emulator has no loop iterators")


class _LoopBoundary(ILayer):
    """A layer that belongs to a loop (``loop``): its id is ``_p["loop"]``."""

    _loop: ILoop | None = None
    _FIELDS: ClassVar[tuple[PlanField, ...]] = (
        PlanField("loop", INT, lambda v: v >= 0, "a loop id is at least 0"),
    )

    @property
    def loop(self) -> ILoop | None:
        """The loop this layer belongs to (None on a layer read back from a plan)."""
        return self._loop


class IRecurrenceLayer(_LoopBoundary):
    """Output 0: the loop-carried value (input 0 in the first iteration, then input 1 of the
    previous iteration). Input 1 is a back edge (``_back_edges``: computed after this layer,
    in the body); its tensor id is ``_p["next"]``."""

    _TYPE = LayerType.RECURRENCE
    _TYPE_NAME = "Recurrence"
    _FIELDS = (
        PlanField("next", INT, lambda v: v >= 0, "the next value is not set (set_input(1, ...))"),
    )

    def set_input(self, index: int, tensor: ITensor) -> None:
        """Input 0: the initial value; input 1: the value of the next iteration."""
        if check_type(index, int, "set_input.index") != 1:
            super().set_input(index, tensor)
            return
        self._back_edges = [check_type(tensor, ITensor, "set_input.tensor")]
        self._p["next"] = tensor._id
        self._touch()

    def _infer(self, shapes: list[Shape], dtypes: list[DataType]) -> list[tuple[Shape, DataType]]:
        return [(shapes[0], dtypes[0])]

    def _compute(self, xs: list[np.ndarray]) -> list[np.ndarray]:
        return [xs[0]]


class ITripLimitLayer(_LoopBoundary):
    """The loop's COUNT or WHILE limit (``kind``); no outputs."""

    _TYPE = LayerType.TRIP_LIMIT
    _TYPE_NAME = "TripLimit"
    _NUM_OUTPUTS = 0
    _FIELDS = (PlanField("kind", enum_kind(TripLimit)),)

    @property
    def kind(self) -> TripLimit:
        """TripLimit.COUNT or TripLimit.WHILE."""
        kind: TripLimit = self._p["kind"]
        return kind

    def _infer(self, shapes: list[Shape], dtypes: list[DataType]) -> list[tuple[Shape, DataType]]:
        require(shapes[0] == (), f"a trip limit must be a 0-D tensor, got shape {shapes[0]}")
        if self._p["kind"] == TripLimit.COUNT:
            require(
                dtypes[0] in _COUNT_TYPES,
                f"a COUNT trip limit must be INT32/INT64, got {dtypes[0]}",
            )
        else:
            require(dtypes[0] == DataType.BOOL, f"a WHILE trip limit must be BOOL, got {dtypes[0]}")
        return []

    def _output_dtypes(self, dtypes: list[DataType]) -> list[DataType]:
        return []

    def _compute(self, xs: list[np.ndarray]) -> list[np.ndarray]:
        return []


class ILoopOutputLayer(_LoopBoundary):
    """A loop's result outside it: the LAST_VALUE of a recurrence output (same shape and
    type)."""

    _TYPE = LayerType.LOOP_OUTPUT
    _TYPE_NAME = "LoopOutput"
    _FIELDS = (
        PlanField(
            "kind",
            enum_kind(LoopOutput),
            lambda v: v == LoopOutput.LAST_VALUE,
            "the emulator has LoopOutput.LAST_VALUE only",
        ),
        PlanField("axis", INT),
    )

    @property
    def kind(self) -> LoopOutput:
        """LoopOutput.LAST_VALUE (the only kind the emulator has)."""
        kind: LoopOutput = self._p["kind"]
        return kind

    @property
    def axis(self) -> int:
        """The concatenation axis (unused by LAST_VALUE)."""
        axis: int = self._p["axis"]
        return axis

    def _infer(self, shapes: list[Shape], dtypes: list[DataType]) -> list[tuple[Shape, DataType]]:
        return [(shapes[0], dtypes[0])]

    def _compute(self, xs: list[np.ndarray]) -> list[np.ndarray]:
        return [xs[0]]

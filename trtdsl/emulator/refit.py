"""Emulated Refitter: replace the weights of a refittable emulated engine, by name or by
layer and role, as TensorRT's ``trt.Refitter`` does.

A plan built with ``BuilderFlag.REFIT`` (or ``REFIT_IDENTICAL``) records, for each layer's
weights, the name given with ``INetworkDefinition.set_weights_name`` (matched, as TensorRT
does, on the weights' type, address and count). Every weights buffer of such a plan is
refittable; unnamed ones are listed as ``""`` by ``get_all_weights`` and reached through
``set_weights(layer_name, role, weights)``. ``refit_cuda_engine`` copies the new values into
the engine (its execution contexts see them at their next execution) and into its serialized
plan. ``IScaleLayer``'s ``power`` is not refittable, as in TensorRT.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from trtdsl.emulator.enums import BuilderFlag, DataType, Severity, TensorLocation, WeightsRole
from trtdsl.emulator.logger import ILogger
from trtdsl.emulator.types import EmulatorRuntimeError, Weights, check_type, to_weights

if TYPE_CHECKING:
    from trtdsl.emulator.builder import IBuilderConfig
    from trtdsl.emulator.engine import ICudaEngine
    from trtdsl.emulator.network import INetworkDefinition

_ROLES = {
    "kernel": WeightsRole.KERNEL,
    "bias": WeightsRole.BIAS,
    "shift": WeightsRole.SHIFT,
    "scale": WeightsRole.SCALE,
    "weights": WeightsRole.CONSTANT,
}
"""Emulated layers' weight slots -> TensorRT WeightsRole (``power`` has none: not refittable)."""


# -- recording names at build time (called by plan.serialize_network) ---------------------------


def _identity(weights: Weights) -> tuple[str, int, int]:
    array = weights.numpy()
    return weights.dtype.name, int(array.ctypes.data) if array.size else 0, weights.size


def weights_names(network: INetworkDefinition) -> dict[tuple[str, int, int], str]:
    """(type, address, count) -> the name ``set_weights_name`` gave those weights."""
    return {_identity(w): name for name, w in network._weights_names.items() if w.size}


def weights_name(names: dict[tuple[str, int, int], str], weights: Weights) -> str | None:
    """The name of ``weights`` in ``names`` (None: unnamed)."""
    return names.get(_identity(weights)) if weights.size else None


def refit_mode(config: IBuilderConfig) -> bool:
    """Whether a build with ``config`` makes a refittable engine."""
    return config.get_flag(BuilderFlag.REFIT) or config.get_flag(BuilderFlag.REFIT_IDENTICAL)


# -- the Refitter -------------------------------------------------------------------------------


class Refitter:
    """Updates the weights of a refittable emulated engine (``trt.Refitter(engine, logger)``)."""

    def __init__(self, engine: ICudaEngine, logger: ILogger) -> None:
        from trtdsl.emulator.engine import ICudaEngine

        self._engine: ICudaEngine = check_type(engine, ICudaEngine, "Refitter.engine")
        self._logger: ILogger = check_type(logger, ILogger, "Refitter.logger")
        if not engine.refittable:
            message = "Refitter: the engine was not built refittable (BuilderFlag.REFIT)"
            logger.log(Severity.ERROR, message)
            raise EmulatorRuntimeError(message)
        self.weights_validation = True
        self.max_threads = 1
        # (layer index, slot) of every refittable weights buffer, with its name ("" unnamed),
        # from the plan's description as the runtime validated it.
        self._slots: list[tuple[int, str, str]] = []
        for index, record in enumerate(engine._plan.description.layers):
            for slot, w in record.w.items():
                if slot in _ROLES and w.count > 0:
                    self._slots.append((index, slot, w.name or ""))
        self._pending: dict[tuple[int, str], Weights] = {}

    @property
    def logger(self) -> ILogger:
        """The logger."""
        return self._logger

    def _error(self, message: str) -> bool:
        self._logger.log(Severity.ERROR, message)
        return False

    def _layer_name(self, index: int) -> str:
        return str(self._engine._plan.layers[index][0]._name)

    def _current(self, index: int, slot: str) -> Weights:
        w: Weights = self._engine._plan.layers[index][0]._w[slot]
        return w

    def _named(self, name: str) -> tuple[int, str] | None:
        for index, slot, slot_name in self._slots:
            if name and slot_name == name:
                return index, slot
        return None

    # -- what can be refitted ------------------------------------------------------------------

    def get_all_weights(self) -> list[str]:
        """Names of every refittable weights buffer ("" for unnamed ones)."""
        return [name for _, _, name in self._slots]

    def get_all(self) -> tuple[list[str], list[WeightsRole]]:
        """(layer names, roles) of every refittable weights buffer."""
        return (
            [self._layer_name(i) for i, _, _ in self._slots],
            [_ROLES[slot] for _, slot, _ in self._slots],
        )

    def get_missing_weights(self) -> list[str]:
        """Weights that must still be given before ``refit_cuda_engine``: always empty here,
        since the emulator never combines weights of several layers (a partial refit keeps
        the other weights)."""
        return []

    def get_missing(self) -> tuple[list[str], list[WeightsRole]]:
        """(layer names, roles) still missing: always empty (see ``get_missing_weights``)."""
        return [], []

    def get_weights_prototype(self, weights_name: str) -> Weights:
        """Empty Weights with the type and count that ``weights_name`` takes (count -1 for
        an unknown name, logged)."""
        where = self._named(check_type(weights_name, str, "get_weights_prototype.weights_name"))
        if where is None:
            self._error(f"get_weights_prototype: no refittable weights named {weights_name!r}")
            prototype = Weights(DataType.FLOAT)
            prototype._count = -1
            return prototype
        current = self._current(*where)
        prototype = Weights(current.dtype)
        prototype._count = current.size
        return prototype

    def get_named_weights(self, weights_name: str) -> Weights:
        """The weights set for ``weights_name`` so far (empty Weights if none)."""
        where = self._named(check_type(weights_name, str, "get_named_weights.weights_name"))
        if where is None or where not in self._pending:
            return Weights(DataType.FLOAT)
        return self._pending[where]

    def get_weights_location(self, weights_name: str) -> TensorLocation:
        """Always HOST: the emulator takes host weights only."""
        check_type(weights_name, str, "get_weights_location.weights_name")
        return TensorLocation.HOST

    # -- setting weights -----------------------------------------------------------------------

    def set_named_weights(
        self, name: str, weights: Any, location: TensorLocation = TensorLocation.HOST
    ) -> bool:
        """Give new values for the weights named ``name`` (held by reference until
        ``refit_cuda_engine``); False (logged) for an unknown name or, with
        ``weights_validation``, another type or count."""
        check_type(name, str, "set_named_weights.name")
        if check_type(location, TensorLocation, "set_named_weights.location") is not (
            TensorLocation.HOST
        ):
            return self._error("set_named_weights: the emulator takes host weights only")
        where = self._named(name)
        if where is None:
            return self._error(f"set_named_weights: no refittable weights named {name!r}")
        return self._set(where, to_weights(weights, "set_named_weights.weights"), repr(name))

    def set_weights(self, layer_name: str, role: WeightsRole, weights: Any) -> bool:
        """Give new values for the ``role`` weights of layer ``layer_name``."""
        check_type(layer_name, str, "set_weights.layer_name")
        check_type(role, WeightsRole, "set_weights.role")
        for index, slot, _ in self._slots:
            if self._layer_name(index) == layer_name and _ROLES[slot] is role:
                what = f"{role.name} of layer {layer_name!r}"
                return self._set((index, slot), to_weights(weights, "set_weights.weights"), what)
        return self._error(f"set_weights: layer {layer_name!r} has no refittable {role.name}")

    def _set(self, where: tuple[int, str], weights: Weights, what: str) -> bool:
        current = self._current(*where)
        if self.weights_validation and (
            weights.dtype != current.dtype or weights.size != current.size
        ):
            return self._error(
                f"refit {what}: expected {current.size} {current.dtype.name} values, got "
                f"{weights.size} {weights.dtype.name}"
            )
        self._pending[where] = weights
        return True

    def unset_named_weights(self, weights_name: str) -> bool:
        """Forget the values set for ``weights_name``."""
        where = self._named(check_type(weights_name, str, "unset_named_weights.weights_name"))
        if where is None or self._pending.pop(where, None) is None:
            return self._error(f"unset_named_weights: nothing set for {weights_name!r}")
        return True

    # -- refitting -----------------------------------------------------------------------------

    def refit_cuda_engine(self) -> bool:
        """Copy every weights buffer set so far into the engine and its plan."""
        from trtdsl.emulator.plan import write_archive

        engine = self._engine
        plan = engine._plan
        for (index, slot), weights in self._pending.items():
            copy = np.array(weights.numpy()[: _elements(weights)], copy=True)
            refitted = Weights(copy) if copy.size else Weights(weights.dtype)
            refitted._dtype, refitted._count = weights.dtype, weights.size
            plan.layers[index][0]._w[slot] = refitted
        # The archive again, from the engine's weights (each array as the plan stores it).
        arrays = {
            w.key: layer._w[slot].numpy()
            for (layer, _, _), record in zip(plan.layers, plan.description.layers, strict=True)
            for slot, w in record.w.items()
        }
        engine._blob = engine._blob[: plan.archive_offset] + write_archive(arrays)
        self._pending.clear()
        return True

    def refit_cuda_engine_async(self, stream_handle: int) -> bool:
        """``refit_cuda_engine`` (the emulator has no device work to enqueue)."""
        check_type(stream_handle, int, "refit_cuda_engine_async.stream_handle")
        return self.refit_cuda_engine()

    def release_refit_resources(self) -> None:
        """Drop the weights set but not refitted."""
        self._pending.clear()


def _elements(weights: Weights) -> int:
    """How many entries of ``weights.numpy()`` hold its values (raw bytes for sub-byte and
    8-bit float types, one entry per value otherwise)."""
    return weights.nbytes if weights.numpy().dtype == np.uint8 else weights.size

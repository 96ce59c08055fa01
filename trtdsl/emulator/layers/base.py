"""ILayer, the property helpers every emulated layer uses, and the layer-class registry.

A layer keeps its TensorRT properties in ``_p`` (plain values: ints, floats, bools, enum
members, Dims) and its weights in ``_w`` (Weights). ``_infer`` maps input shapes and dtypes to
output shapes and dtypes (the same code runs with -1 dims at network time and with concrete
dims at run time); ``_compute`` maps NumPy inputs to NumPy outputs. Both use only ``_p``/``_w``,
so a plan can rebuild a layer from its serialized properties. ``_validate`` holds the checks
that real TensorRT makes only when it builds (and that the emulator repeats for run-time shapes).

The property helpers below record each key's field (kind and setter check, ``fields.py``);
keys a layer sets elsewhere are declared in its ``_FIELDS``. A plan's layer must hold exactly
those keys, each decoded into a value its setter would store.

As in TensorRT-RTX, ``INetworkDefinition.get_layer`` returns a base ``ILayer`` view of a layer
(``layer_view``): it shares the layer's state, and assigning its ``__class__`` to the concrete
class (``view.__class__ = trt.IConvolutionLayer``) gives access to the concrete properties.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from trtdsl.emulator.enums import DataType, LayerType, Severity
from trtdsl.emulator.layers.fields import (
    DIMS,
    PlanField,
    field_property,
    kind_of,
    weights_slot_property,
)
from trtdsl.emulator.tensor import ITensor
from trtdsl.emulator.types import (
    Dims,
    EmulatorTypeError,
    EmulatorUnsupportedError,
    Weights,
    check_type,
    compute_dtype,
    round_to_bf16,
    round_to_tf32,
    to_dims,
    to_weights,
)

if TYPE_CHECKING:
    from trtdsl.emulator.network import INetworkDefinition

Shape = tuple[int, ...]
LAYER_CLASSES: dict[str, type[ILayer]] = {}


class LayerSpecError(Exception):
    """A layer's inputs or properties are invalid (TensorRT logs an error; see network.py).

    As in TensorRT-RTX, ``add_*`` still returns the layer: the error surfaces when shapes are
    inferred (``tensor.shape`` raises RuntimeError, the cause is logged) or at the build,
    because properties set after ``add_*`` (e.g. ``num_groups``) may still fix it.
    """


class ILayer:
    """Base of emulated layers: name, metadata, type, inputs and outputs."""

    _TYPE: ClassVar[LayerType]
    _TYPE_NAME: ClassVar[str]  # as in TensorRT's default layer names, e.g. "Convolution"
    _NUM_OUTPUTS: ClassVar[int] = 1
    _MAX_INPUTS: ClassVar[int] = 1  # tensors set_input may replace (the emulator's inputs)
    _MIN_INPUTS: ClassVar[int] = 1  # inputs the layer is created with
    # _p keys set outside the property helpers (which record theirs): see fields.py.
    _FIELDS: ClassVar[tuple[PlanField, ...]] = ()
    _tf32: bool = False  # set on a plan's layers when the build allowed TF32 (conv, matmul)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        LAYER_CLASSES[cls.__name__] = cls

    def __init__(self, network: INetworkDefinition, inputs: Sequence[ITensor]) -> None:
        self._network: INetworkDefinition | None = network
        self._index = network.num_layers
        # Kept in the instance so that a base-ILayer view (layer_view) still knows them.
        self._kind: LayerType = self._TYPE
        self._max_inputs: int = self._MAX_INPUTS
        self._inputs: list[ITensor | None] = list(inputs)
        # Inputs read a loop iteration later (a recurrence's next value): listed after
        # ``_inputs`` by num_inputs/get_input, left out of the layer's own inference.
        self._back_edges: list[ITensor] = []
        self._p: dict[str, Any] = {}
        self._w: dict[str, Weights] = {}
        self._name = f"(Unnamed Layer* {self._index}) [{self._TYPE_NAME}]"
        self._metadata = ""
        # NOTE: TensorRT's default output names derive from the layer's default name; the
        # exact spelling is not documented, this one is the emulator's.
        self._outputs = [
            ITensor(network, f"{self._name}_output" + (f"_{i}" if i else ""), _producer=(self, i))
            for i in range(self._NUM_OUTPUTS)
        ]

    def __repr__(self) -> str:
        return f"<emulated {type(self).__name__} {self._name!r}>"

    def _touch(self) -> None:
        if self._network is not None:
            self._network._touch(self._index)

    @property
    def name(self) -> str:
        """The layer's name (shown by the engine inspector and profiler)."""
        return self._name

    @name.setter
    def name(self, value: str) -> None:
        self._name = check_type(value, str, "ILayer.name")

    @property
    def metadata(self) -> str:
        """Free-form metadata string (TensorRT keeps it in DETAILED inspector output)."""
        return self._metadata

    @metadata.setter
    def metadata(self, value: str) -> None:
        self._metadata = check_type(value, str, "ILayer.metadata")

    @property
    def type(self) -> LayerType:
        """The LayerType."""
        return self._kind

    @property
    def num_inputs(self) -> int:
        """The number of inputs."""
        return len(self._inputs) + len(self.__dict__.get("_back_edges", ()))

    @property
    def num_outputs(self) -> int:
        """The number of outputs."""
        return len(self._outputs)

    @property
    def num_ranks(self) -> int:
        """Always 1 (only distributed-collective layers have more)."""
        return 1

    def get_input(self, index: int) -> ITensor | None:
        """Input ``index``, or None when out of range (as TensorRT)."""
        check_type(index, int, "get_input.index")
        inputs = [*self._inputs, *self.__dict__.get("_back_edges", ())]
        return inputs[index] if 0 <= index < len(inputs) else None

    def get_output(self, index: int) -> ITensor | None:
        """Output ``index``, or None when out of range (logged, as TensorRT)."""
        check_type(index, int, "get_output.index")
        if 0 <= index < len(self._outputs):
            return self._outputs[index]
        if self._network is not None:
            self._network._log(
                Severity.ERROR,
                f"ILayer::getOutput: invalid layer output tensor index {index}; valid range is "
                f"[0, {len(self._outputs)})",
            )
        return None

    def get_output_type(self, index: int) -> DataType:
        """The data type of output ``index``."""
        tensor: ITensor = self._outputs[check_type(index, int, "get_output_type.index")]
        return tensor.dtype

    def set_input(self, index: int, tensor: ITensor) -> None:
        """Replace input ``index``; the emulator has no tensor-valued kernels/shapes/params."""
        check_type(index, int, "set_input.index")
        check_type(tensor, ITensor, "set_input.tensor")
        if not 0 <= index < self._max_inputs:
            raise EmulatorUnsupportedError(
                f"{type(self).__name__}.set_input({index}): the emulator supports only inputs "
                f"0..{self._max_inputs - 1} of this layer (no tensor-valued parameters)"
            )
        while len(self._inputs) <= index:
            self._inputs.append(None)
        self._inputs[index] = tensor
        self._touch()

    # --- semantics, implemented by each layer -------------------------------------------------
    def _infer(self, shapes: list[Shape], dtypes: list[DataType]) -> list[tuple[Shape, DataType]]:
        raise NotImplementedError

    def _compute(self, xs: list[np.ndarray]) -> list[np.ndarray]:
        raise NotImplementedError

    def _output_dtypes(self, dtypes: list[DataType]) -> list[DataType]:
        """Output dtypes when ``_infer`` fails: TensorRT still reports a type for the outputs
        of a layer whose shapes cannot be computed (by default, the first input's)."""
        return [dtypes[0] if dtypes else DataType.FLOAT] * len(self._outputs)

    def _validate(self, shapes: list[Shape], dtypes: list[DataType]) -> None:
        """Checks TensorRT makes at build time only (LayerSpecError); shapes may hold -1."""

    @classmethod
    def _check_properties(cls, p: dict[str, Any]) -> None:
        """Checks across properties that the setters keep true (FieldError; for plans)."""


def layer_view(layer: ILayer) -> ILayer:
    """A base ``ILayer`` object sharing ``layer``'s state (what TensorRT's get_layer returns)."""
    view = ILayer.__new__(ILayer)
    view.__dict__ = layer.__dict__  # the same dict: the state stays shared
    return view


# --- property helpers ---------------------------------------------------------------------------
def dims_property(key: str, doc: str) -> property:
    """A Dims-valued property stored in ``_p[key]`` (a recorded field: see fields.py)."""

    def fget(self: ILayer) -> Dims:
        return Dims(self._p[key])

    def fset(self: ILayer, value: Any) -> None:
        self._p[key] = to_dims(value, f"{type(self).__name__}.{key}")
        self._touch()

    return field_property(PlanField(key, DIMS), fget, fset, doc)


def value_property(
    key: str,
    cls: type,
    doc: str,
    check: Callable[[Any], bool] | None = None,
    refuse: str = "",
) -> property:
    """An int/float/bool/enum property stored in ``_p[key]``, type-checked like pybind11.

    A value for which ``check`` is false is refused as TensorRT's setters refuse one: ``refuse``
    is logged as an error and the property keeps its value. The field (key, kind, check) is
    recorded for plans.
    """
    field = PlanField(key, kind_of(cls), check, refuse)

    def fget(self: ILayer) -> Any:
        return self._p[key]

    def fset(self: ILayer, value: Any) -> None:
        value = check_type(value, cls, f"{type(self).__name__}.{key}")
        if check is not None and not check(value):
            if self._network is not None:
                self._network._log(Severity.ERROR, f"{refuse}; got {value!r}")
            return
        self._p[key] = value
        self._touch()

    return field_property(field, fget, fset, doc)


def weights_property(key: str, doc: str) -> property:
    """A Weights property stored in ``_w[key]`` (held by reference until the build)."""

    def fget(self: ILayer) -> Weights:
        return self._w[key]

    def fset(self: ILayer, value: Any) -> None:
        self._w[key] = to_weights(value, f"{type(self).__name__}.{key}")
        self._touch()

    return weights_slot_property(key, fget, fset, doc)


# --- shared shape helpers -------------------------------------------------------------------------
def dyn(*dims: int) -> bool:
    """Whether any of the dimensions is dynamic (-1)."""
    return any(d < 0 for d in dims)


def require(condition: bool, message: str) -> None:
    """Raise LayerSpecError(message) unless ``condition``."""
    if not condition:
        raise LayerSpecError(message)


def normalize_axis(axis: int, rank: int, what: str) -> int:
    """A non-negative axis in [0, rank), or LayerSpecError."""
    require(-rank <= axis < rank, f"{what}: axis {axis} is out of range for rank {rank}")
    return axis % rank


def axes_from_mask(mask: int, rank: int, what: str) -> tuple[int, ...]:
    """The axes set in a TensorRT bitmask (bit i = dimension i); LayerSpecError beyond rank."""
    require(mask >= 0, f"{what}: axes bitmask {mask} is negative")
    require(mask < (1 << rank), f"{what}: axes bitmask {mask:#b} names a dim >= rank {rank}")
    return tuple(i for i in range(rank) if mask >> i & 1)


def float_compute(x: np.ndarray) -> np.ndarray:
    """Float32 working copy of a float16/float32 array (the emulator computes in fp32)."""
    return x.astype(np.float32, copy=False)


def gemm_operand(x: np.ndarray, tf32: bool) -> np.ndarray:
    """A convolution or matrix-multiply operand as the emulator multiplies it: float32, and
    rounded to TF32 when the plan allows TF32 and the operand is a float32 tensor (float16 and
    bfloat16 operands multiply exactly in float32)."""
    if tf32 and x.dtype == np.float32:
        return round_to_tf32(x)
    return float_compute(x)


def as_dtype(x: np.ndarray, dtype: DataType) -> np.ndarray:
    """``x`` converted to the compute type of ``dtype`` (BF16: float32 rounded to bf16)."""
    if dtype == DataType.BF16:
        return round_to_bf16(np.asarray(x, dtype=np.float32))
    return np.asarray(x, dtype=compute_dtype(dtype), order="C")


FLOAT_TYPES = (DataType.FLOAT, DataType.HALF, DataType.BF16)


def require_float(dtype: DataType, what: str) -> None:
    """FLOAT, HALF or BF16 (a shape-inference error otherwise).

    NOTE: TensorRT-RTX also accepts INT8 (a quantized float) and FP8 here at shape inference;
    the emulator computes no quantized types and refuses them.
    """
    require(dtype in FLOAT_TYPES, f"{what}: expected FLOAT, HALF or BF16, got {dtype}")


def type_error(what: str, expected: str, value: Any) -> EmulatorTypeError:
    """The TypeError pybind11 raises for an incompatible argument."""
    return EmulatorTypeError(f"{what}: incompatible argument, expected {expected}, got {value!r}")

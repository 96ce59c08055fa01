"""Emulated ITensor: a network input or a layer output; shapes are inferred on demand."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from trtdsl.emulator.enums import DataType, Severity, TensorFormat, TensorLocation
from trtdsl.emulator.types import Dims, check_type, to_dims

if TYPE_CHECKING:
    from trtdsl.emulator.layers.base import ILayer
    from trtdsl.emulator.network import INetworkDefinition


class ITensor:
    """A tensor of a network definition.

    ``shape`` of a layer output is computed from the layer's inputs and properties each time it
    is read (TensorRT also recomputes it after a property changes); ``dtype`` is read-only as in
    TensorRT 11 (strongly typed: it follows from inputs, weights and casts).
    """

    def __init__(
        self,
        network: INetworkDefinition,
        name: str,
        _producer: tuple[ILayer, int] | None = None,
        shape: Dims | None = None,
        dtype: DataType | None = None,
    ) -> None:
        self._network = network
        self._id = network._new_tensor_id()
        self._name = name
        self._producer = _producer
        self._input_shape = shape
        self._input_dtype = dtype
        self._location = TensorLocation.DEVICE
        self._allowed_formats = 1 << int(TensorFormat.LINEAR)
        self._dimension_names: dict[int, str] = {}

    def __repr__(self) -> str:
        return f"<emulated ITensor {self._name!r}>"

    @property
    def name(self) -> str:
        """The tensor's name; network input and output names must be unique."""
        return self._name

    @name.setter
    def name(self, value: str) -> None:
        self._name = check_type(value, str, "ITensor.name")  # names do not affect inference

    @property
    def shape(self) -> Dims:
        """Dimensions; -1 marks a dynamic dimension. Writable for network inputs only.

        Raises RuntimeError("Could not get tensor shape.") when the producing layer is invalid
        (the cause is logged), as TensorRT-RTX.
        """
        return self._network._shape(self)

    @shape.setter
    def shape(self, value: Any) -> None:
        dims = to_dims(value, "ITensor.shape")
        if self._producer is not None:
            # NOTE: TensorRT reports this through the logger and ignores the call.
            self._network._log(
                Severity.ERROR, f"ITensor::setDimensions: {self._name} is not a network input"
            )
            return
        self._input_shape = dims
        self._network._touch()

    @property
    def dtype(self) -> DataType:
        """The data type (read-only in TensorRT 11); known even where the shape is not."""
        return self._network._infer(self)[1]

    @property
    def location(self) -> TensorLocation:
        """Where the tensor lives (DEVICE by default)."""
        return self._location

    @location.setter
    def location(self, value: TensorLocation) -> None:
        self._location = check_type(value, TensorLocation, "ITensor.location")

    @property
    def allowed_formats(self) -> int:
        """Bitmask of allowed TensorFormat values (the emulator only computes LINEAR)."""
        return self._allowed_formats

    @allowed_formats.setter
    def allowed_formats(self, value: int) -> None:
        self._allowed_formats = check_type(value, int, "ITensor.allowed_formats")

    @property
    def is_network_input(self) -> bool:
        """Whether the tensor is an input of the network."""
        return self._producer is None and self in self._network._inputs

    @property
    def is_network_output(self) -> bool:
        """Whether the tensor is marked as a network output."""
        return self in self._network._outputs

    @property
    def is_shape_tensor(self) -> bool:
        """Always False: the emulator has no shape tensors."""
        return False

    @property
    def is_execution_tensor(self) -> bool:
        """Always True: every emulated tensor is an execution tensor."""
        return True

    def set_dimension_name(self, index: int, name: str | None) -> None:
        """Name a dimension (same-named dimensions must be equal at runtime); None clears it."""
        check_type(index, int, "set_dimension_name.index")
        if name is None:
            self._dimension_names.pop(index, None)
        else:
            self._dimension_names[index] = check_type(name, str, "set_dimension_name.name")

    def get_dimension_name(self, index: int) -> str | None:
        """The name of a dimension, or None."""
        return self._dimension_names.get(check_type(index, int, "get_dimension_name.index"))

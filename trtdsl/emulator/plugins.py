"""The IPluginV3 API subset the emulator offers: the plugin registry, plugin fields, the
dimension expressions ``get_output_shapes`` works with, and the plugin interface bases.

NOTE: a CPU emulator cannot launch a plugin's CUDA kernel. An emulated ``IPluginV3Layer``
runs the plugin object's ``run_reference(inputs) -> outputs`` NumPy method (trtdsl's plugins
have one: the op's reference), and its inspector row says so; a plugin without that method
is refused when the network is built. The emulator has no ``IPluginV3`` and ``DimsExprs``
classes: the 11.4 bindings' strings, which every emulator name is checked against, do not
list them; ``get_output_shapes`` may return plain lists of ``IDimensionExpr`` here.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from trtdsl.emulator.enums import DataType, TensorFormat, _TrtEnum
from trtdsl.emulator.types import Dims


class PluginFieldType(_TrtEnum):
    """The type of a plugin field's data."""

    FLOAT16 = 0
    FLOAT32 = 1
    FLOAT64 = 2
    INT8 = 3
    INT16 = 4
    INT32 = 5
    CHAR = 6
    DIMS = 7
    UNKNOWN = 8
    BF16 = 9
    INT64 = 10
    FP8 = 11
    INT4 = 12
    FP4 = 13


class TensorRTPhase(_TrtEnum):
    """When a plugin is created: for a build, or when an engine is deserialized."""

    BUILD = 0
    RUNTIME = 1


class PluginField:
    """A named array of plugin data (``create_plugin``'s fields)."""

    def __init__(
        self, name: str = "", data: Any = None, type: PluginFieldType = PluginFieldType.UNKNOWN
    ) -> None:
        self.name = name
        self.data = np.asarray(data if data is not None else np.zeros(0, np.int8))
        self.type = type
        self.size = int(self.data.size)


class PluginFieldCollection(list):  # type: ignore[type-arg]
    """A list of PluginField."""

    def __init__(self, _fields: Iterable[PluginField] = ()) -> None:
        super().__init__(_fields)


class IDimensionExpr:
    """One dimension of a plugin tensor: a constant, or unknown until run time (-1 here)."""

    def __init__(self, value: int) -> None:
        self._value = int(value)

    def is_constant(self) -> bool:
        """Whether the dimension is known at build time."""
        return self._value >= 0

    def get_constant_value(self) -> int:
        """Its value (-1 when not constant)."""
        return self._value

    def is_size_tensor(self) -> bool:
        """Always False (the emulator has no size tensors)."""
        return False


class IExprBuilder:
    """Makes dimension expressions for ``get_output_shapes`` (constants only here)."""

    def constant(self, value: int) -> IDimensionExpr:
        """A constant dimension."""
        return IDimensionExpr(value)


class PluginTensorDesc:
    """A plugin tensor's dims, type, format and (INT8) scale."""

    def __init__(self, dims: Any = (), type: DataType = DataType.FLOAT) -> None:
        self.dims = Dims(tuple(int(d) for d in dims))
        self.type = type
        self.format = TensorFormat.LINEAR
        self.scale = -1.0


class DynamicPluginTensorDesc:
    """A plugin tensor's description with its min/opt/max dims."""

    def __init__(self, desc: PluginTensorDesc) -> None:
        self.desc = desc
        self.min = desc.dims
        self.opt = desc.dims
        self.max = desc.dims


class IPluginV3OneCore:
    """Base of a plugin's core capability: name, namespace, version."""

    def __init__(self) -> None:
        self.plugin_name = ""
        self.plugin_namespace = ""
        self.plugin_version = ""


class IPluginV3OneBuild:
    """Base of a plugin's build capability (output shapes and types, formats)."""

    def __init__(self) -> None:
        self.num_outputs = 1


class IPluginV3OneRuntime:
    """Base of a plugin's runtime capability (enqueue)."""

    def __init__(self) -> None:
        pass


class IPluginCreatorV3One:
    """Base of a plugin creator: ``create_plugin(name, fc, phase)`` makes the plugin."""

    def __init__(self) -> None:
        self.name = ""
        self.plugin_namespace = ""
        self.plugin_version = ""
        self.field_names = PluginFieldCollection()


class IPluginRegistry:
    """The process's plugin creators, found by name, version and namespace."""

    def __init__(self) -> None:
        self._creators: dict[tuple[str, str, str], Any] = {}

    def register_creator(self, creator: Any, plugin_namespace: str = "") -> bool:
        """Register ``creator`` under ``plugin_namespace``; False if one has its key."""
        key = (str(creator.name), str(creator.plugin_version), plugin_namespace)
        if key in self._creators:
            return False
        creator.plugin_namespace = plugin_namespace
        self._creators[key] = creator
        return True

    def deregister_creator(self, creator: Any) -> bool:
        """Remove ``creator``; False if it was not registered."""
        for key, value in list(self._creators.items()):
            if value is creator:
                del self._creators[key]
                return True
        return False

    def get_creator(self, name: str, version: str, plugin_namespace: str = "") -> Any:
        """The creator registered for (name, version, namespace), or None."""
        return self._creators.get((name, version, plugin_namespace))

    @property
    def all_creators(self) -> list[Any]:
        """Every registered creator."""
        return list(self._creators.values())


_REGISTRY = IPluginRegistry()


def get_plugin_registry() -> IPluginRegistry:
    """The process's plugin registry."""
    return _REGISTRY

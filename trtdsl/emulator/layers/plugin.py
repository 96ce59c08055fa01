"""IPluginV3Layer: a plugin's layer, run through the plugin's NumPy reference (see
``emulator/plugins.py``: the emulator cannot launch CUDA kernels).

The layer keeps what TensorRT serializes of a plugin: its creator's name, version and
namespace and the fields ``get_fields_to_serialize`` returns. A plan's plugin layer recreates
its plugin from the registry (``create_plugin(..., TensorRTPhase.RUNTIME)``), as TensorRT
does, so an engine needs its plugin's creator registered before it is loaded.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from trtdsl.emulator.enums import DataType, LayerType
from trtdsl.emulator.layers.base import ILayer, LayerSpecError, Shape, require
from trtdsl.emulator.layers.fields import FieldError, Kind, PlanField, describe
from trtdsl.emulator.plugins import (
    IDimensionExpr,
    IExprBuilder,
    PluginField,
    PluginFieldCollection,
    PluginFieldType,
    TensorRTPhase,
    get_plugin_registry,
)
from trtdsl.emulator.tensor import ITensor
from trtdsl.emulator.types import compute_dtype

if TYPE_CHECKING:
    from trtdsl.emulator.network import INetworkDefinition

_TEXT_LIMIT = 1 << 20


class _Text(Kind):
    name = "a string"

    def encode(self, value: Any) -> Any:
        return str(value)

    def decode(self, data: Any) -> Any:
        if not isinstance(data, str) or len(data) > _TEXT_LIMIT:
            raise FieldError(
                f"expected a string of at most {_TEXT_LIMIT} chars, got {describe(data)}"
            )
        return data


_TEXT = _Text()


_FIELD_DTYPES = {"CHAR": np.int8, "INT8": np.int8, "INT16": np.int16, "INT32": np.int32,
                 "INT64": np.int64, "FLOAT16": np.float16, "FLOAT32": np.float32,
                 "FLOAT64": np.float64}  # fmt: skip
"""The plugin field types a plan may hold, and their arrays' dtypes."""


def _parse_fields(text: str) -> list[list[Any]]:
    """``encode_fields``'s text parsed and checked: a list of [name, type, values] with a
    known type and a flat list of numbers that fit it; FieldError otherwise."""
    try:
        items = json.loads(text)
    except ValueError as e:
        raise FieldError(f"not JSON ({e})") from None
    if not isinstance(items, list) or len(items) > 64:
        raise FieldError(f"expected a list of at most 64 fields, got {describe(items)}")
    for item in items:
        ok = isinstance(item, list) and len(item) == 3 and isinstance(item[0], str)
        if not ok or item[1] not in _FIELD_DTYPES or not isinstance(item[2], list):
            raise FieldError(f"expected [name, type, [numbers]], got {describe(item)}")
        kind, values = _FIELD_DTYPES[item[1]], item[2]
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            raise FieldError(f"field {item[0]!r}: values that are not numbers")
        if np.dtype(kind).kind == "i":
            bounds = np.iinfo(kind)  # type: ignore[type-var]
            if not all(isinstance(v, int) and bounds.min <= v <= bounds.max for v in values):
                raise FieldError(f"field {item[0]!r}: values outside {item[1]}")
    return items


class _PluginFields(_Text):
    """``encode_fields``'s text, checked when a plan is read (``_parse_fields``)."""

    name = "plugin fields ([[name, type, [numbers]], ...])"

    def decode(self, data: Any) -> Any:
        text = super().decode(data)
        _parse_fields(text)
        return text


def encode_fields(fields: Sequence[Any]) -> str:
    """Plugin fields as JSON text: ``[[name, type name, [values...]], ...]``."""
    return json.dumps(
        [
            [str(f.name), PluginFieldType(int(f.type)).name, np.asarray(f.data).tolist()]
            for f in fields
        ]
    )


def decode_fields(text: str) -> PluginFieldCollection:
    """The PluginFieldCollection ``encode_fields`` wrote."""
    fields = []
    for name, kind, data in _parse_fields(text):
        array = np.asarray(data, dtype=_FIELD_DTYPES[kind])
        fields.append(PluginField(name, array, PluginFieldType[kind]))
    return PluginFieldCollection(fields)


class IPluginV3Layer(ILayer):
    """A plugin's layer: outputs from the plugin's ``get_output_shapes`` and
    ``get_output_data_types``; values from its ``run_reference`` (emulated)."""

    _TYPE = LayerType.PLUGIN_V3
    _TYPE_NAME = "PluginV3"
    _MAX_INPUTS = 32
    _MIN_INPUTS = 1
    _FIELDS = (
        PlanField("plugin_name", _TEXT),
        PlanField("plugin_version", _TEXT),
        PlanField("plugin_namespace", _TEXT),
        PlanField("plugin_fields", _PluginFields()),
    )

    def __init__(self, network: INetworkDefinition, inputs: Sequence[ITensor], plugin: Any) -> None:
        super().__init__(network, inputs)
        self._plugin_object = plugin
        self._p.update(
            plugin_name=str(plugin.plugin_name),
            plugin_version=str(plugin.plugin_version),
            plugin_namespace=str(plugin.plugin_namespace),
            plugin_fields=encode_fields(plugin.get_fields_to_serialize()),
        )

    def _plugin(self) -> Any:
        """The plugin object (recreated from the registry for a plan's layer)."""
        plugin = self.__dict__.get("_plugin_object")
        if plugin is None:
            p = self._p
            creator = get_plugin_registry().get_creator(
                p["plugin_name"], p["plugin_version"], p["plugin_namespace"]
            )
            require(
                creator is not None,
                f"plugin {p['plugin_name']!r} version {p['plugin_version']} (namespace "
                f"{p['plugin_namespace']!r}) has no creator in the plugin registry",
            )
            plugin = creator.create_plugin(
                p["plugin_name"], decode_fields(p["plugin_fields"]), TensorRTPhase.RUNTIME
            )
            self.__dict__["_plugin_object"] = plugin
        return plugin

    def _infer(self, shapes: list[Shape], dtypes: list[DataType]) -> list[tuple[Shape, DataType]]:
        plugin = self._plugin()
        require(
            callable(getattr(plugin, "run_reference", None)),
            "the emulator runs a plugin through its run_reference() NumPy method; this plugin "
            "has none (a CUDA kernel cannot run on the CPU)",
        )
        try:
            types = list(plugin.get_output_data_types(list(dtypes)))
            exprs = [[IDimensionExpr(d) for d in shape] for shape in shapes]
            out_shapes = list(plugin.get_output_shapes(exprs, [], IExprBuilder()))
        except LayerSpecError:
            raise
        except Exception as e:  # the plugin's own Python code
            raise LayerSpecError(f"plugin {self._p['plugin_name']!r}: {e}") from None
        require(len(out_shapes) == len(types) == 1, "the emulator runs plugins of one output")
        shape = tuple(int(e.get_constant_value()) for e in out_shapes[0])
        return [(shape, DataType(int(types[0])))]

    def _output_dtypes(self, dtypes: list[DataType]) -> list[DataType]:
        return [dtypes[0] if dtypes else DataType.FLOAT]

    def _compute(self, xs: list[np.ndarray]) -> list[np.ndarray]:
        outputs = self._plugin().run_reference(list(xs))
        ((shape, dtype),) = self._infer([tuple(x.shape) for x in xs], [_dtype_of(x) for x in xs])
        return [np.ascontiguousarray(outputs[0], dtype=compute_dtype(dtype))]


def _dtype_of(x: np.ndarray) -> DataType:
    table = {
        np.dtype(np.float32): DataType.FLOAT,
        np.dtype(np.float16): DataType.HALF,
        np.dtype(np.int32): DataType.INT32,
        np.dtype(np.int64): DataType.INT64,
        np.dtype(np.int8): DataType.INT8,
        np.dtype(np.bool_): DataType.BOOL,
    }
    return table.get(x.dtype, DataType.FLOAT)

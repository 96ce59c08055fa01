"""Reading an INetworkDefinition back: every layer with its inputs and outputs, as built."""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Any

from trtdsl.backends.trt.context import dtype_name, tensor_shape
from trtdsl.backends.trt.module import downcast_layer


@dataclass(frozen=True)
class TensorInfo:
    """One ITensor as TensorRT sees it: name, dims (-1 = dynamic) and dtype name."""

    name: str
    shape: tuple[int, ...]
    dtype: str

    def format(self) -> str:
        dims = ",".join(str(d) for d in self.shape)
        return f"{self.name}: {self.dtype}[{dims}]"


@dataclass(frozen=True)
class LayerInfo:
    """One layer of the network: its index, name, TensorRT type and tensors."""

    index: int
    name: str
    type: str
    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]
    metadata: str = ""


def _enum_name(value: Any) -> str:
    return str(getattr(value, "name", None) or str(value).rsplit(".", 1)[-1])


def layer_kind(trt: ModuleType, layer: Any) -> str:
    """The LayerType name, with the operation for layers that have one: ``ACTIVATION (RELU)``.

    ``layer`` may be the base ``ILayer`` that ``get_layer`` returns: it is downcast first.

    NOTE: on IActivationLayer and IPoolingLayer ``layer.type`` is the ActivationType /
    PoolingType (it shadows ``ILayer.type``), so the LayerType is read through ``ILayer``.
    """
    layer = downcast_layer(trt, layer)
    kind = None
    for cls in type(layer).__mro__:
        prop = cls.__dict__.get("type") if cls.__name__ == "ILayer" else None
        if prop is not None and hasattr(prop, "fget"):
            kind = _enum_name(prop.fget(layer))
            break
    if kind is None:
        kind = _enum_name(layer.type)
    detail = None
    if kind in ("ACTIVATION", "POOLING"):
        detail = layer.type
    elif kind in ("ELEMENTWISE", "REDUCE", "UNARY"):
        detail = layer.op
    elif kind == "CAST":
        detail = dtype_name(layer.to_type)
    return f"{kind} ({_enum_name(detail)})" if detail is not None else kind


def tensor_info(tensor: Any) -> TensorInfo:
    return TensorInfo(str(tensor.name), tensor_shape(tensor), dtype_name(tensor.dtype))


def network_layers(trt: ModuleType, network: Any) -> list[LayerInfo]:
    """Every layer of ``network`` (built with module ``trt``) in order, read from the network
    object itself."""
    layers = []
    for index in range(network.num_layers):
        layer = network.get_layer(index)
        inputs = []
        for i in range(layer.num_inputs):
            t = layer.get_input(i)
            if t is not None:  # optional inputs that are not set
                inputs.append(tensor_info(t))
        outputs = [tensor_info(layer.get_output(i)) for i in range(layer.num_outputs)]
        layers.append(
            LayerInfo(
                index,
                str(layer.name),
                layer_kind(trt, layer),
                tuple(inputs),
                tuple(outputs),
                str(getattr(layer, "metadata", "") or ""),
            )
        )
    return layers


def network_io(network: Any) -> tuple[list[TensorInfo], list[TensorInfo]]:
    """The network's (inputs, outputs) as TensorInfo."""
    inputs = [tensor_info(network.get_input(i)) for i in range(network.num_inputs)]
    outputs = [tensor_info(network.get_output(i)) for i in range(network.num_outputs)]
    return inputs, outputs


def format_layers(layers: list[LayerInfo]) -> str:
    """A plain-text listing, one line per layer:
    ``index  name  TYPE  inputs -> outputs`` with shapes and dtypes."""
    width = max((len(la.name) for la in layers), default=4)
    kinds = max((len(la.type) for la in layers), default=4)
    lines = []
    for la in layers:
        ins = ", ".join(t.format() for t in la.inputs) or "-"
        outs = ", ".join(t.format() for t in la.outputs)
        lines.append(f"{la.index:>4}  {la.name:<{width}}  {la.type:<{kinds}}  {ins} -> {outs}")
    return "\n".join(lines)

"""The emit context: the single funnel through which every TensorRT layer and weight passes.

It names each layer after its IR node (auxiliary layers ``node/part``), records the node path
in the layer metadata, names weights after their state_dict keys, keeps every weight buffer
alive until the build returns, and checks that TensorRT's output types equal the IR's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

from trtdsl.backends.trt.module import backend_of
from trtdsl.errors import BackendError
from trtdsl.ir.graph import Graph, Node
from trtdsl.ir.ops.base import Op
from trtdsl.ir.ops.cast import round_to_bfloat16
from trtdsl.ir.types import DType, TensorType

EmitFn = Callable[["EmitContext", Node], Any]
"""An emitter: adds the layers of one node and returns the layer producing its output(s)."""

EMITTERS: dict[type[Op], EmitFn] = {}
"""The op class -> emitter table; filled by ``@emitter`` in ``backends/trt/ops/*.py``."""


def emitter(op_class: type[Op]) -> Callable[[EmitFn], EmitFn]:
    """Register ``fn`` as the TensorRT emitter of ``op_class`` (one per class)."""

    def register(fn: EmitFn) -> EmitFn:
        if op_class in EMITTERS and EMITTERS[op_class] is not fn:
            raise TypeError(f"two emitters registered for {op_class.__name__}")
        EMITTERS[op_class] = fn
        return fn

    return register


TRT_DTYPES: dict[str, tuple[DType, type[np.generic]]] = {
    "FLOAT": (DType.FLOAT32, np.float32),
    "HALF": (DType.FLOAT16, np.float16),
    "BF16": (DType.BFLOAT16, np.uint16),  # bit patterns: NumPy has no bfloat16
    "INT8": (DType.INT8, np.int8),
    "INT32": (DType.INT32, np.int32),
    "INT64": (DType.INT64, np.int64),
    "BOOL": (DType.BOOL, np.bool_),
    "UINT8": (DType.UINT8, np.uint8),
    "FP8": (DType.FLOAT8_E4M3, np.uint8),  # E4M3 bit patterns
}
"""The one table of TensorRT data types: ``trt.DataType`` member name -> (IR dtype, the NumPy
dtype its buffers hold). The emitter, the layer listings and the runtime all read it."""

_TRT_NAMES = {dtype: name for name, (dtype, _) in TRT_DTYPES.items()}


def trt_dtype(trt: ModuleType, dtype: DType) -> Any:
    """The ``trt.DataType`` of an IR dtype."""
    return getattr(trt.DataType, _TRT_NAMES[dtype])


def trt_dtype_key(dtype: Any) -> str:
    """The member name (``"FLOAT"``, ``"BF16"``, ...) of a ``trt.DataType`` value."""
    return str(getattr(dtype, "name", None) or str(dtype).rsplit(".", 1)[-1]).upper()


def trt_dims(t: TensorType) -> tuple[int, ...]:
    """TensorRT dims of an IR type: symbolic dimensions become -1."""
    return tuple(d if isinstance(d, int) else -1 for d in t.shape)


def bfloat16_bits(array: np.ndarray) -> np.ndarray:
    """bfloat16 bit patterns (uint16) of float values, rounded to nearest even."""
    bits: np.ndarray = (round_to_bfloat16(array).view(np.uint32) >> np.uint32(16)).astype(np.uint16)
    return bits


class EmitContext:
    """State shared by the emitters while one graph becomes one INetworkDefinition.

    Attributes:
        trt: the TensorRT module (or the emulator).
        network: the INetworkDefinition being filled.
        graph: the IR graph being emitted.
        weights: state_dict key -> array, already in each node's compute dtype.
        tensors: IR value name -> ITensor.
        keep: every buffer handed to TensorRT as weights; alive until the build returns.
        named_weights: state_dict key -> the weights object given to TensorRT under that name
            (``set_weights_name``), exactly as the layer holds it (for refit).
        product: the backend whose network is emitted (``module.BACKENDS``): ``trt``'s own,
            or the product the emulator stands in for (the network TensorRT-RTX would get).
    """

    def __init__(
        self,
        trt: ModuleType,
        network: Any,
        graph: Graph,
        weights: Mapping[str, np.ndarray],
        logged_errors: Callable[[], str] = lambda: "",
        product: str | None = None,
    ) -> None:
        self.trt = trt
        self.product = product or backend_of(trt)
        self._logged_errors = logged_errors
        self.network = network
        self.graph = graph
        self.weights = weights
        self.tensors: dict[str, Any] = {}
        self.keep: list[Any] = []
        self._unnamed_weights: list[tuple[Any, str]] = []
        self.named_weights: dict[str, Any] = {}
        self._layer_names: set[str] = set()

    # -- reading inputs and weights ------------------------------------------------------------

    def input(self, node: Node, index: int = 0) -> Any:
        """The ITensor of input ``index`` of ``node``."""
        return self.tensors[node.inputs[index]]

    def input_type(self, node: Node, index: int = 0) -> TensorType:
        return self.graph.types[node.inputs[index]]

    def output_type(self, node: Node, index: int = 0) -> TensorType:
        return self.graph.types[node.outputs[index]]

    def compute_dtype(self, node: Node) -> DType:
        """The dtype a node computes in: its first input's (the precision pass casts inputs)."""
        return self.input_type(node).dtype

    def param(self, node: Node, role: str) -> Any:
        """The weights ``f"{node.name}.{role}"`` in the node's compute dtype, named by that key."""
        key = f"{node.name}.{role}"
        try:
            array = self.weights[key]
        except KeyError:
            raise BackendError(f"{node.where()}: no weights for {key!r}") from None
        return self.make_weights(array, self.compute_dtype(node), name=key)

    def make_weights(self, array: np.ndarray, dtype: DType, name: str | None = None) -> Any:
        """A weights object TensorRT accepts, holding ``array`` as ``dtype``; kept alive.

        ``name`` (a state_dict key) is given to TensorRT with ``set_weights_name`` once the
        weights are used by a layer.
        """
        if dtype is DType.BFLOAT16:
            bits = bfloat16_bits(np.asarray(array))
            self.keep.append(bits)
            weights = self.trt.Weights(self.trt.bfloat16, bits.ctypes.data, bits.size)
        else:
            weights = np.ascontiguousarray(array, dtype=dtype.to_numpy())
        self.keep.append(weights)
        if name is not None:
            self._unnamed_weights.append((weights, name))
        return weights

    def constant(self, node: Node, part: str, array: np.ndarray, dtype: DType) -> Any:
        """An IConstantLayer (``node/part``) holding ``array`` as ``dtype``; returns its tensor.

        ``part`` equal to a parameter role names the weights after the state_dict key.
        """
        key = f"{node.name}.{part}"
        weights = self.make_weights(array, dtype, name=key if key in self.weights else None)
        layer = self.network.add_constant(tuple(int(d) for d in np.shape(array)), weights)
        return self.add(node, layer, part).get_output(0)

    # -- the funnel ----------------------------------------------------------------------------

    def add(self, node: Node, layer: Any, part: str | None = None) -> Any:
        """Register a layer created for ``node``: check it, name it, tag it, name its weights.

        Args:
            part: None for the layer producing the node's outputs (named ``node.name``);
                otherwise a short role for an auxiliary layer (named ``f"{node.name}/{part}"``).
        Returns:
            the layer.
        """
        if layer is None:
            raise BackendError(
                f"{node.where()}: TensorRT refused to create the {part or node.op.op_name} "
                f"layer: {self._logged_errors() or 'no error was logged'}"
            )
        name = node.name if part is None else f"{node.name}/{part}"
        if name in self._layer_names:
            raise BackendError(f"{node.where()}: two layers named {name!r}")
        self._layer_names.add(name)
        layer.name = name
        layer.metadata = node.name
        for index in range(layer.num_outputs):
            out = layer.get_output(index)
            out.name = name if layer.num_outputs == 1 else f"{name}:{index}"
        for weights, key in self._unnamed_weights:
            self.network.set_weights_name(weights, key)
            self.named_weights[key] = weights
        self._unnamed_weights.clear()
        return layer

    def define(self, node: Node, layer: Any) -> None:
        """Bind the outputs of ``layer`` to ``node``'s IR values, checking shapes and dtypes."""
        self.add(node, layer)
        if layer.num_outputs != len(node.outputs):
            raise BackendError(
                f"{node.where()}: TensorRT layer has {layer.num_outputs} outputs, "
                f"the IR node {len(node.outputs)} (trtdsl bug)"
            )
        for index, value in enumerate(node.outputs):
            tensor = layer.get_output(index)
            tensor.name = value
            self.check_type(node, tensor, self.graph.types[value])
            self.tensors[value] = tensor

    def check_type(self, node: Node, tensor: Any, expected: TensorType) -> None:
        """Raise BackendError unless TensorRT's shape and dtype for ``tensor`` equal the IR's.

        NOTE: when a layer's shape inference fails, real TensorRT still returns the layer, and
        reading ``ITensor.shape`` raises ``RuntimeError: Could not get tensor shape.``; the
        cause is only in the logger, so it is quoted here with the node's name.
        """
        try:
            got_shape = tensor_shape(tensor)
        except RuntimeError as e:
            raise BackendError(
                f"{node.where()}: TensorRT could not infer the output shape of the "
                f"{node.op.op_name} layer: {self._logged_errors() or e}"
            ) from None
        want_shape = trt_dims(expected)
        got_dtype = tensor.dtype
        want_dtype = trt_dtype(self.trt, expected.dtype)
        if got_shape != want_shape or got_dtype != want_dtype:
            raise BackendError(
                f"{node.where()}: TensorRT infers {dtype_name(got_dtype)}{list(got_shape)} "
                f"but the IR says {expected} ({node.op.op_name} emitter bug; -1 = dynamic)"
            )


def tensor_shape(tensor: Any) -> tuple[int, ...]:
    """``tensor.shape`` as a tuple of ints (-1 = dynamic)."""
    return tuple(int(d) for d in tensor.shape)


def dtype_name(dtype: Any) -> str:
    """The IR name (``float32``, ...) of a ``trt.DataType``; TensorRT's own name otherwise."""
    key = trt_dtype_key(dtype)
    return TRT_DTYPES[key][0].value if key in TRT_DTYPES else key.lower()


@dataclass(frozen=True)
class NodeLayers:
    """Adds the auxiliary layers ``node/part`` of one node (``EmitContext.add``) and returns
    their outputs: for emitters that build an op from many layers (``nms``)."""

    ctx: EmitContext
    node: Node

    def add(self, layer: Any, part: str, index: int = 0) -> Any:
        return self.ctx.add(self.node, layer, part).get_output(index)

    def const(self, part: str, value: Any, dtype: DType) -> Any:
        return self.ctx.constant(self.node, part, np.asarray(value), dtype)

    def ew(self, a: Any, b: Any, operation: str, part: str) -> Any:
        op = getattr(self.ctx.trt.ElementWiseOperation, operation)
        return self.add(self.ctx.network.add_elementwise(a, b, op), part)

    def unary(self, x: Any, operation: str, part: str) -> Any:
        op = getattr(self.ctx.trt.UnaryOperation, operation)
        return self.add(self.ctx.network.add_unary(x, op), part)

    def cast(self, x: Any, dtype: DType, part: str) -> Any:
        return self.add(self.ctx.network.add_cast(x, trt_dtype(self.ctx.trt, dtype)), part)

    def reshape(self, x: Any, dims: tuple[int, ...], part: str) -> Any:
        """``x`` reshaped to ``dims`` (0 keeps that dimension: the batch)."""
        layer = self.ctx.network.add_shuffle(x)
        if layer is not None:
            layer.reshape_dims = dims
        return self.add(layer, part)

    def gather(self, data: Any, indices: Any, axis: int, part: str, element: bool) -> Any:
        """DEFAULT (``np.take``) or ELEMENT (``np.take_along_axis``) gather."""
        layer = self.ctx.network.add_gather(data, indices, axis)
        if layer is not None and element:
            layer.mode = self.ctx.trt.GatherMode.ELEMENT
        return self.add(layer, part)

    def topk(self, x: Any, k: int, part: str) -> tuple[Any, Any]:
        """The k largest along axis 1: values and int32 indices."""
        layer = self.ctx.network.add_topk(x, self.ctx.trt.TopKOperation.MAX, k, 1 << 1)
        self.ctx.add(self.node, layer, part)
        return layer.get_output(0), layer.get_output(1)

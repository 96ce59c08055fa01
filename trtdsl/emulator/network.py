"""Emulated INetworkDefinition: inputs, outputs and the ``add_*`` layer factories.

As in TensorRT, an invalid ``add_*`` call logs an error through the builder's logger and returns
None; a wrong Python argument type raises TypeError (pybind11's behaviour).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from trtdsl.emulator.enums import (
    ActivationType,
    DataType,
    ElementWiseOperation,
    MatrixOperation,
    NetworkDefinitionCreationFlag,
    PoolingType,
    ReduceOperation,
    SampleMode,
    ScaleMode,
    Severity,
    UnaryOperation,
)
from trtdsl.emulator.layers import (
    IActivationLayer,
    ICastLayer,
    IConcatenationLayer,
    IConstantLayer,
    IConvolutionLayer,
    IDeconvolutionLayer,
    IElementWiseLayer,
    IIdentityLayer,
    ILayer,
    IMatrixMultiplyLayer,
    IPaddingLayer,
    IPoolingLayer,
    IReduceLayer,
    IResizeLayer,
    IScaleLayer,
    IShuffleLayer,
    ISliceLayer,
    ISoftMaxLayer,
    IUnaryLayer,
)
from trtdsl.emulator.layers.base import LayerSpecError
from trtdsl.emulator.layers.conv import ConvolutionBase
from trtdsl.emulator.layers.quantize import IDequantizeLayer, IQuantizeLayer
from trtdsl.emulator.tensor import ITensor
from trtdsl.emulator.types import (
    Dims,
    EmulatorTypeError,
    Permutation,
    Weights,
    check_type,
    to_dims,
    to_weights,
)

if TYPE_CHECKING:
    from trtdsl.emulator.builder import Builder

_INVALID = (Dims(()), DataType.FLOAT)
_Layer = TypeVar("_Layer", bound=ILayer)
_Conv = TypeVar("_Conv", bound=ConvolutionBase)


class INetworkDefinition:
    """A network under construction (always strongly typed, as TensorRT 11)."""

    def __init__(self, builder: Builder, flags: int) -> None:
        self._builder = builder
        self._flags = flags
        self._name = "Unnamed Network 0"
        self._layers: list[ILayer] = []
        self._inputs: list[ITensor] = []
        self._outputs: list[ITensor] = []
        self._next_tensor_id = 0
        self._weights_names: dict[str, Weights] = {}
        self._results: dict[int, tuple[Dims, DataType]] = {}
        self._errors: dict[int, str] = {}
        self._creation_errors: dict[int, str] = {}
        self._valid_layers = 0  # layers [0, _valid_layers) have up-to-date results
        self._reported: set[str] = set()

    def __repr__(self) -> str:
        return f"<emulated INetworkDefinition {self._name!r}: {len(self._layers)} layers>"

    # --- bookkeeping --------------------------------------------------------------------------
    def _new_tensor_id(self) -> int:
        self._next_tensor_id += 1
        return self._next_tensor_id - 1

    def _log(self, severity: Severity, msg: str) -> None:
        self._builder._logger.log(severity, msg)

    def _touch(self, layer_index: int = 0) -> None:
        self._valid_layers = min(self._valid_layers, layer_index)

    def _infer_layers(self) -> dict[int, str]:
        """Infer every tensor's shape and dtype in layer order; returns {layer index: error}."""
        for tensor in self._inputs:
            assert tensor._input_shape is not None and tensor._input_dtype is not None
            self._results[tensor._id] = (Dims(tensor._input_shape), tensor._input_dtype)
        for index in range(self._valid_layers, len(self._layers)):
            layer = self._layers[index]
            self._errors.pop(index, None)
            self._creation_errors.pop(index, None)
            try:
                if any(t is None for t in layer._inputs):
                    raise LayerSpecError("an input is not set")
                inputs = [self._results.get(t._id, _INVALID) for t in layer._inputs]  # type: ignore[union-attr]
                if any(r is _INVALID for r in inputs):
                    raise LayerSpecError("an input comes from an invalid layer")
                outs = layer._infer([tuple(s) for s, _ in inputs], [d for _, d in inputs])
                for tensor, (shape, dtype) in zip(layer._outputs, outs, strict=True):
                    self._results[tensor._id] = (Dims(shape), dtype)
            except LayerSpecError as error:
                self._errors[index] = f"{layer._name}: {error}"
                if error.at_creation:
                    self._creation_errors[index] = self._errors[index]
                for tensor in layer._outputs:
                    self._results[tensor._id] = _INVALID
        self._valid_layers = len(self._layers)
        return self._errors

    def _infer(self, tensor: ITensor) -> tuple[Dims, DataType]:
        if tensor._producer is None:
            assert tensor._input_shape is not None and tensor._input_dtype is not None
            return Dims(tensor._input_shape), tensor._input_dtype
        errors = self._infer_layers()
        layer = tensor._producer[0]
        if layer._index in errors:
            message = errors[layer._index]
            if message not in self._reported:
                self._reported.add(message)
                self._log(Severity.ERROR, f"[shape inference] {message}")
        return self._results.get(tensor._id, _INVALID)

    def _add(self, layer: _Layer, factory: str) -> _Layer | None:
        self._layers.append(layer)
        self._infer_layers()
        if layer._index in self._creation_errors:
            self._layers.pop()
            self._valid_layers = len(self._layers)
            self._errors.pop(layer._index, None)
            message = self._creation_errors.pop(layer._index)
            self._log(Severity.ERROR, f"INetworkDefinition::{factory}: {message}")
            return None
        return layer

    # --- properties ---------------------------------------------------------------------------
    @property
    def name(self) -> str:
        """The network's name."""
        return self._name

    @name.setter
    def name(self, value: str) -> None:
        self._name = check_type(value, str, "INetworkDefinition.name")

    @property
    def num_layers(self) -> int:
        """The number of layers."""
        return len(self._layers)

    @property
    def num_inputs(self) -> int:
        """The number of network inputs."""
        return len(self._inputs)

    @property
    def num_outputs(self) -> int:
        """The number of marked outputs."""
        return len(self._outputs)

    @property
    def builder(self) -> Builder:
        """The builder that created this network."""
        return self._builder

    @property
    def flags(self) -> int:
        """The NetworkDefinitionCreationFlag bitmask given to ``create_network``."""
        return self._flags

    def get_flag(self, flag: NetworkDefinitionCreationFlag) -> bool:
        """Whether ``flag`` was set at creation."""
        check_type(flag, NetworkDefinitionCreationFlag, "get_flag.flag")
        return bool(self._flags >> int(flag) & 1)

    def get_layer(self, index: int) -> ILayer | None:
        """Layer ``index``, or None."""
        check_type(index, int, "get_layer.index")
        return self._layers[index] if 0 <= index < len(self._layers) else None

    def get_input(self, index: int) -> ITensor | None:
        """Network input ``index``, or None."""
        check_type(index, int, "get_input.index")
        return self._inputs[index] if 0 <= index < len(self._inputs) else None

    def get_output(self, index: int) -> ITensor | None:
        """Network output ``index``, or None."""
        check_type(index, int, "get_output.index")
        return self._outputs[index] if 0 <= index < len(self._outputs) else None

    def __len__(self) -> int:
        return len(self._layers)

    def __getitem__(self, index: int) -> ILayer:
        if not -len(self._layers) <= index < len(self._layers):
            raise IndexError(index)
        return self._layers[index]

    # --- inputs and outputs -------------------------------------------------------------------
    def add_input(self, name: str, dtype: DataType, shape: Any) -> ITensor | None:
        """A network input; -1 marks a dynamic dimension (needs an optimization profile)."""
        check_type(name, str, "add_input.name")
        check_type(dtype, DataType, "add_input.dtype")
        dims = to_dims(shape, "add_input.shape")
        if any(t._name == name for t in self._inputs):
            self._log(Severity.ERROR, f"INetworkDefinition::addInput: duplicate name {name!r}")
            return None
        if any(d < -1 for d in dims):
            self._log(Severity.ERROR, f"INetworkDefinition::addInput: bad dims {dims}")
            return None
        tensor = ITensor(self, name, shape=dims, dtype=dtype)
        self._inputs.append(tensor)
        self._touch(0)
        return tensor

    def mark_output(self, tensor: ITensor) -> None:
        """Mark a tensor as a network output (an error for a network input)."""
        check_type(tensor, ITensor, "mark_output.tensor")
        if tensor._producer is None:
            self._log(Severity.ERROR, f"markOutput: {tensor.name} is a network input")
            return
        if tensor not in self._outputs:
            self._outputs.append(tensor)

    def unmark_output(self, tensor: ITensor) -> None:
        """Undo ``mark_output``."""
        check_type(tensor, ITensor, "unmark_output.tensor")
        if tensor in self._outputs:
            self._outputs.remove(tensor)

    def set_weights_name(self, weights: Any, name: str) -> bool:
        """Name weights (for refit); the emulator records the name only."""
        self._weights_names[check_type(name, str, "set_weights_name.name")] = to_weights(
            weights, "set_weights_name.weights"
        )
        return True

    # --- layers -------------------------------------------------------------------------------
    def add_convolution_nd(
        self,
        input: ITensor,
        num_output_maps: int,
        kernel_shape: Any,
        kernel: Any,
        bias: Any = None,
    ) -> IConvolutionLayer | None:
        """Convolution; kernel GKCRS, bias K values or None (empty, of the input's type)."""
        args = (input, num_output_maps, kernel_shape, kernel, bias)
        names = ("add_convolution_nd", "addConvolutionNd")
        return self._add_convolution_like(IConvolutionLayer, names, *args)

    def add_deconvolution_nd(
        self,
        input: ITensor,
        num_output_maps: int,
        kernel_shape: Any,
        kernel: Any,
        bias: Any = None,
    ) -> IDeconvolutionLayer | None:
        """Deconvolution; kernel CKRS, bias K values or None (empty, of the input's type)."""
        args = (input, num_output_maps, kernel_shape, kernel, bias)
        names = ("add_deconvolution_nd", "addDeconvolutionNd")
        return self._add_convolution_like(IDeconvolutionLayer, names, *args)

    def _add_convolution_like(
        self,
        cls: type[_Conv],
        names: tuple[str, str],
        input: ITensor,
        num_output_maps: Any,
        kernel_shape: Any,
        kernel: Any,
        bias: Any,
    ) -> _Conv | None:
        """The shared body of ``add_convolution_nd`` and ``add_deconvolution_nd``.

        ``names`` is the Python API name (for argument errors) and the C++ name (for logs).
        """
        api, c_name = names
        tensor = check_type(input, ITensor, f"{api}.input")
        layer = cls(self, [tensor])
        layer._init_params(
            check_type(num_output_maps, int, f"{api}.num_output_maps"),
            to_dims(kernel_shape, f"{api}.kernel_shape"),
        )
        layer._w["kernel"] = to_weights(kernel, f"{api}.kernel")
        layer._w["bias"] = to_weights(bias, f"{api}.bias", tensor.dtype)
        return self._add(layer, c_name)

    def add_pooling_nd(
        self, input: ITensor, type: PoolingType, window_size: Any
    ) -> IPoolingLayer | None:
        """Pooling; stride defaults to 1 and average excludes padding by default."""
        layer = IPoolingLayer(self, [check_type(input, ITensor, "add_pooling_nd.input")])
        layer._init_params(
            check_type(type, PoolingType, "add_pooling_nd.type"),
            to_dims(window_size, "add_pooling_nd.window_size"),
        )
        return self._add(layer, "addPoolingNd")

    def add_activation(self, input: ITensor, type: ActivationType) -> IActivationLayer | None:
        """Activation; set ``alpha``/``beta`` afterwards where the type uses them."""
        layer = IActivationLayer(self, [check_type(input, ITensor, "add_activation.input")])
        layer._p.update(type=check_type(type, ActivationType, "add_activation.type"))
        layer._p.update(alpha=0.0, beta=0.0)
        return self._add(layer, "addActivation")

    def _scale(
        self, input: ITensor, mode: ScaleMode, weights: Sequence[Any], axis: int | None
    ) -> IScaleLayer | None:
        tensor = check_type(input, ITensor, "add_scale.input")
        layer = IScaleLayer(self, [tensor])
        rank = len(tensor.shape)
        layer._p.update(mode=check_type(mode, ScaleMode, "add_scale.mode"))
        # add_scale: the channel is the third-to-last dim; add_scale_nd takes channel_axis.
        layer._p.update(channel_axis=rank - 3 if axis is None else axis)
        layer._p.update(min_rank=4 if axis is None else 3)
        for role, value in zip(("shift", "scale", "power"), weights, strict=True):
            layer._w[role] = to_weights(value, f"add_scale.{role}", tensor.dtype)
        return self._add(layer, "addScale" if axis is None else "addScaleNd")

    def add_scale(
        self,
        input: ITensor,
        mode: ScaleMode,
        shift: Any = None,
        scale: Any = None,
        power: Any = None,
    ) -> IScaleLayer | None:
        """(x*scale + shift)**power; CHANNEL uses the third-to-last dim; input rank >= 4."""
        return self._scale(input, mode, (shift, scale, power), None)

    def add_scale_nd(
        self,
        input: ITensor,
        mode: ScaleMode,
        shift: Any = None,
        scale: Any = None,
        power: Any = None,
        channel_axis: int | None = None,
    ) -> IScaleLayer | None:
        """(x*scale + shift)**power with an explicit channel axis (required; no default)."""
        if channel_axis is None:
            # pybind11 binds channel_axis without a default after defaulted arguments.
            raise EmulatorTypeError("add_scale_nd(): missing required argument 'channel_axis'")
        axis = check_type(channel_axis, int, "add_scale_nd.channel_axis")
        return self._scale(input, mode, (shift, scale, power), axis)

    def add_softmax(self, input: ITensor) -> ISoftMaxLayer | None:
        """Softmax; default axes = 1 << max(rank - 3, 0): set ``axes`` explicitly."""
        tensor = check_type(input, ITensor, "add_softmax.input")
        layer = ISoftMaxLayer(self, [tensor])
        layer._p.update(axes=1 << max(len(tensor.shape) - 3, 0))
        return self._add(layer, "addSoftMax")

    def add_concatenation(self, inputs: Sequence[ITensor]) -> IConcatenationLayer | None:
        """Concatenation; default axis max(rank - 3, 0): set ``axis`` explicitly."""
        tensors = [check_type(t, ITensor, "add_concatenation.inputs") for t in inputs]
        if not tensors:
            self._log(Severity.ERROR, "addConcatenation: no inputs")
            return None
        layer = IConcatenationLayer(self, tensors)
        layer._p.update(axis=max(len(tensors[0].shape) - 3, 0))
        return self._add(layer, "addConcatenation")

    def add_elementwise(
        self, input1: ITensor, input2: ITensor, op: ElementWiseOperation
    ) -> IElementWiseLayer | None:
        """Binary elementwise op; equal ranks, broadcast over size-1 dims, equal dtypes."""
        a = check_type(input1, ITensor, "add_elementwise.input1")
        b = check_type(input2, ITensor, "add_elementwise.input2")
        layer = IElementWiseLayer(self, [a, b])
        layer._p.update(op=check_type(op, ElementWiseOperation, "add_elementwise.op"))
        return self._add(layer, "addElementWise")

    def add_unary(self, input: ITensor, op: UnaryOperation) -> IUnaryLayer | None:
        """Unary elementwise op."""
        layer = IUnaryLayer(self, [check_type(input, ITensor, "add_unary.input")])
        layer._p.update(op=check_type(op, UnaryOperation, "add_unary.op"))
        return self._add(layer, "addUnary")

    def add_padding_nd(
        self, input: ITensor, pre_padding: Any, post_padding: Any
    ) -> IPaddingLayer | None:
        """Zero padding (negative crops) of the last two dims."""
        layer = IPaddingLayer(self, [check_type(input, ITensor, "add_padding_nd.input")])
        layer._p.update(
            pre_padding_nd=to_dims(pre_padding, "add_padding_nd.pre_padding"),
            post_padding_nd=to_dims(post_padding, "add_padding_nd.post_padding"),
        )
        return self._add(layer, "addPaddingNd")

    def add_shuffle(self, input: ITensor) -> IShuffleLayer | None:
        """Shuffle: first_transpose, reshape_dims, second_transpose (all identity by default)."""
        layer = IShuffleLayer(self, [check_type(input, ITensor, "add_shuffle.input")])
        layer._p.update(
            first_transpose=Permutation(),
            second_transpose=Permutation(),
            reshape_dims=None,
            zero_is_placeholder=True,
        )
        return self._add(layer, "addShuffle")

    def add_slice(self, input: ITensor, start: Any, shape: Any, stride: Any) -> ISliceLayer | None:
        """Slice (STRICT_BOUNDS by default)."""
        layer = ISliceLayer(self, [check_type(input, ITensor, "add_slice.input")])
        layer._p.update(
            start=to_dims(start, "add_slice.start"),
            shape=to_dims(shape, "add_slice.shape"),
            stride=to_dims(stride, "add_slice.stride"),
            mode=SampleMode.STRICT_BOUNDS,
        )
        return self._add(layer, "addSlice")

    def add_reduce(
        self, input: ITensor, op: ReduceOperation, axes: int, keep_dims: bool
    ) -> IReduceLayer | None:
        """Reduce over the dims of the ``axes`` bitmask."""
        layer = IReduceLayer(self, [check_type(input, ITensor, "add_reduce.input")])
        layer._p.update(
            op=check_type(op, ReduceOperation, "add_reduce.op"),
            axes=check_type(axes, int, "add_reduce.axes"),
            keep_dims=check_type(keep_dims, bool, "add_reduce.keep_dims"),
        )
        return self._add(layer, "addReduce")

    def add_matrix_multiply(
        self, input0: ITensor, op0: MatrixOperation, input1: ITensor, op1: MatrixOperation
    ) -> IMatrixMultiplyLayer | None:
        """Batched matrix product (see IMatrixMultiplyLayer)."""
        a = check_type(input0, ITensor, "add_matrix_multiply.input0")
        b = check_type(input1, ITensor, "add_matrix_multiply.input1")
        layer = IMatrixMultiplyLayer(self, [a, b])
        layer._p.update(
            op0=check_type(op0, MatrixOperation, "add_matrix_multiply.op0"),
            op1=check_type(op1, MatrixOperation, "add_matrix_multiply.op1"),
        )
        return self._add(layer, "addMatrixMultiply")

    def add_constant(self, shape: Any, weights: Any) -> IConstantLayer | None:
        """A constant tensor of the weights' dtype."""
        layer = IConstantLayer(self, [])
        layer._p.update(shape=to_dims(shape, "add_constant.shape"))
        layer._w["weights"] = to_weights(weights, "add_constant.weights")
        return self._add(layer, "addConstant")

    def add_resize(self, input: ITensor) -> IResizeLayer | None:
        """Resize; set ``shape`` or ``scales`` afterwards (NEAREST, ASYMMETRIC by default)."""
        layer = IResizeLayer(self, [check_type(input, ITensor, "add_resize.input")])
        layer._init_params()
        return self._add(layer, "addResize")

    def add_identity(self, input: ITensor) -> IIdentityLayer | None:
        """Identity (no type conversion)."""
        return self._add(
            IIdentityLayer(self, [check_type(input, ITensor, "add_identity.input")]), "addIdentity"
        )

    def add_cast(self, input: ITensor, to_type: DataType) -> ICastLayer | None:
        """Cast to ``to_type``."""
        layer = ICastLayer(self, [check_type(input, ITensor, "add_cast.input")])
        layer._p.update(to_type=check_type(to_type, DataType, "add_cast.to_type"))
        return self._add(layer, "addCast")

    def add_quantize(
        self, input: ITensor, scale: ITensor, output_type: DataType
    ) -> IQuantizeLayer | None:
        """Quantize to ``output_type`` (INT8, FP8); a scalar scale, or a 1-D one with ``axis``."""
        x = check_type(input, ITensor, "add_quantize.input")
        layer = IQuantizeLayer(self, [x, check_type(scale, ITensor, "add_quantize.scale")])
        layer._p.update(
            axis=-1, to_type=check_type(output_type, DataType, "add_quantize.output_type")
        )
        return self._add(layer, "addQuantize")

    def add_dequantize(
        self, input: ITensor, scale: ITensor, output_type: DataType
    ) -> IDequantizeLayer | None:
        """Dequantize to ``output_type`` (FLOAT, HALF, BF16); scale as in ``add_quantize``."""
        q = check_type(input, ITensor, "add_dequantize.input")
        layer = IDequantizeLayer(self, [q, check_type(scale, ITensor, "add_dequantize.scale")])
        layer._p.update(
            axis=-1, to_type=check_type(output_type, DataType, "add_dequantize.output_type")
        )
        return self._add(layer, "addDequantize")

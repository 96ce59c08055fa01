"""Emulated INetworkDefinition: inputs, outputs and the ``add_*`` layer factories.

As in TensorRT-RTX, ``add_*`` returns the layer even when its inputs or arguments are invalid:
the error is logged when the output's shape is read (``ITensor.shape`` then raises
``RuntimeError: Could not get tensor shape.``) and again by the build. Only a few argument
checks make ``add_*`` log and return None (no inputs to a concatenation, an out-of-range reduce
operation, scale weights of different types, a duplicate or invalid network input). A wrong
Python argument type raises TypeError (pybind11's behaviour).
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from trtdsl.emulator.enums import (
    ActivationType,
    AttentionNormalizationOp,
    BoundingBoxFormat,
    CausalMaskKind,
    CumulativeOperation,
    DataType,
    ElementWiseOperation,
    GatherMode,
    MatrixOperation,
    NetworkDefinitionCreationFlag,
    PoolingType,
    ReduceOperation,
    SampleMode,
    ScaleMode,
    ScatterMode,
    Severity,
    TopKOperation,
    UnaryOperation,
)
from trtdsl.emulator.layers import (
    IActivationLayer,
    IAttention,
    IAttentionInputLayer,
    IAttentionOutputLayer,
    ICastLayer,
    IConcatenationLayer,
    IConstantLayer,
    IConvolutionLayer,
    ICumulativeLayer,
    IDeconvolutionLayer,
    IElementWiseLayer,
    IGatherLayer,
    IIdentityLayer,
    ILayer,
    IMatrixMultiplyLayer,
    INormalizationLayer,
    IPaddingLayer,
    IPoolingLayer,
    IReduceLayer,
    IResizeLayer,
    IScaleLayer,
    ISelectLayer,
    IShapeLayer,
    IShuffleLayer,
    ISliceLayer,
    ISoftMaxLayer,
    ITopKLayer,
    IUnaryLayer,
)
from trtdsl.emulator.layers.base import LayerSpecError, layer_view
from trtdsl.emulator.layers.conv import ConvolutionBase
from trtdsl.emulator.layers.loop import ILoop
from trtdsl.emulator.layers.nms import INMSLayer, IScatterLayer
from trtdsl.emulator.layers.plugin import IPluginV3Layer
from trtdsl.emulator.layers.quantize import IDequantizeLayer, IQuantizeLayer
from trtdsl.emulator.shape_values import Values, infer_with_values
from trtdsl.emulator.tensor import ITensor
from trtdsl.emulator.types import (
    Dims,
    EmulatorRuntimeError,
    EmulatorTypeError,
    Permutation,
    Weights,
    check_type,
    to_dims,
    to_weights,
)

if TYPE_CHECKING:
    from trtdsl.emulator.builder import Builder

_Layer = TypeVar("_Layer", bound=ILayer)
_Conv = TypeVar("_Conv", bound=ConvolutionBase)

_FLOAT32_MAX = 3.4028234663852886e38
_ACTIVATION_DEFAULTS: dict[ActivationType, tuple[float, float]] = {
    # (alpha, beta) that add_activation sets, as float32 values; other types get (0, 0).
    # NOTE: TensorRT 11.4's documentation gives no defaults; these are TensorRT-RTX 1.7's.
    ActivationType.LEAKY_RELU: (0.009999999776482582, 0.0),
    ActivationType.ELU: (1.0, 0.0),
    ActivationType.SELU: (1.6732631921768188, 1.0507010221481323),
    ActivationType.SOFTPLUS: (1.0, 1.0),
    ActivationType.CLIP: (-_FLOAT32_MAX, _FLOAT32_MAX),
    ActivationType.HARD_SIGMOID: (0.20000000298023224, 0.5),
    ActivationType.SCALED_TANH: (1.0, 1.0),
    ActivationType.THRESHOLDED_RELU: (1.0, 0.0),
}

_Result = tuple[Dims | None, DataType]
"""A tensor's inferred shape (None when it cannot be computed) and dtype."""


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
        self._num_loops = 0
        self._weights_names: dict[str, Weights] = {}
        self._results: dict[int, _Result] = {}
        self._values: dict[int, Values | None] = {}  # build-time values of shape tensors
        self._errors: dict[int, str] = {}
        self._valid_layers = 0  # layers [0, _valid_layers) have up-to-date results
        self._views: dict[int, weakref.ref[ILayer]] = {}

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
        """Infer every tensor's shape and dtype in layer order; returns {layer index: error}.

        A layer whose shapes cannot be inferred still gets output dtypes (as in TensorRT,
        ``ITensor.dtype`` of its outputs is readable) and no shapes.
        """
        for tensor in self._inputs:
            assert tensor._input_shape is not None and tensor._input_dtype is not None
            self._results[tensor._id] = (Dims(tensor._input_shape), tensor._input_dtype)
        for index in range(self._valid_layers, len(self._layers)):
            layer = self._layers[index]
            self._errors.pop(index, None)
            inputs = [None if t is None else self._results.get(t._id) for t in layer._inputs]
            dtypes = [r[1] for r in inputs if r is not None]
            try:
                if any(r is None for r in inputs):
                    raise LayerSpecError("an input is not set")
                if any(r[0] is None for r in inputs):  # type: ignore[index]
                    raise LayerSpecError("an input's shape cannot be computed")
                shapes = [tuple(r[0]) for r in inputs]  # type: ignore[arg-type, index]
                values = [self._values.get(t._id) for t in layer._inputs]  # type: ignore[union-attr]
                outs, out_values = infer_with_values(layer, shapes, dtypes, values)
                for tensor, (shape, dtype), value in zip(
                    layer._outputs, outs, out_values, strict=True
                ):
                    self._results[tensor._id] = (Dims(shape), dtype)
                    self._values[tensor._id] = value
            except LayerSpecError as error:
                self._errors[index] = f"{layer._name}: {error}"
                for tensor, dtype in zip(layer._outputs, layer._output_dtypes(dtypes), strict=True):
                    self._results[tensor._id] = (None, dtype)
        self._valid_layers = len(self._layers)
        return self._errors

    def _infer(self, tensor: ITensor) -> _Result:
        """``tensor``'s shape (None where it cannot be computed) and dtype."""
        if tensor._producer is None:
            assert tensor._input_shape is not None and tensor._input_dtype is not None
            return Dims(tensor._input_shape), tensor._input_dtype
        self._infer_layers()
        return self._results[tensor._id]

    def _shape(self, tensor: ITensor) -> Dims:
        """``ITensor.shape``: RuntimeError (the cause logged) where it cannot be computed."""
        shape, _ = self._infer(tensor)
        if shape is None:
            assert tensor._producer is not None
            message = self._errors[tensor._producer[0]._index]
            self._log(Severity.ERROR, f"ITensor::getDimensions: API Usage Error ({message})")
            raise EmulatorRuntimeError("Could not get tensor shape.")
        return shape

    def _add(self, layer: _Layer) -> _Layer:
        self._layers.append(layer)
        return layer

    def _rank(self, tensor: ITensor) -> int:
        """The rank of ``tensor`` for a default that depends on it (0 where it is unknown)."""
        shape, _ = self._infer(tensor)
        return 0 if shape is None else len(shape)

    def _refuse(self, factory: str, message: str) -> None:
        """Log why ``add_*`` returns None (the few argument checks made at creation)."""
        self._log(Severity.ERROR, f"INetworkDefinition::{factory}: API Usage Error ({message})")

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
        """Layer ``index`` as a base ``ILayer`` (as TensorRT), or None (logged).

        NOTE: as in TensorRT, the result is a base ``ILayer`` whatever the layer's type: assign
        its ``__class__`` (``layer.__class__ = trt.IConvolutionLayer``) to read the properties
        of its concrete class. The view shares the layer's state; while a view of class ILayer
        is alive, get_layer returns that same object (pybind11's instance registry).
        """
        check_type(index, int, "get_layer.index")
        if not 0 <= index < len(self._layers):
            self._log(Severity.ERROR, f"INetworkDefinition::getLayer: no layer {index}")
            return None
        return self._view(index)

    def _view(self, index: int) -> ILayer:
        ref = self._views.get(index)
        view = None if ref is None else ref()
        if view is None or type(view) is not ILayer:
            view = layer_view(self._layers[index])
            self._views[index] = weakref.ref(view)
        return view

    def get_input(self, index: int) -> ITensor | None:
        """Network input ``index``, or None (logged)."""
        check_type(index, int, "get_input.index")
        if 0 <= index < len(self._inputs):
            return self._inputs[index]
        self._log(Severity.ERROR, f"INetworkDefinition::getInput: no input {index}")
        return None

    def get_output(self, index: int) -> ITensor | None:
        """Network output ``index``, or None (logged)."""
        check_type(index, int, "get_output.index")
        if 0 <= index < len(self._outputs):
            return self._outputs[index]
        self._log(Severity.ERROR, f"INetworkDefinition::getOutput: no output {index}")
        return None

    def __len__(self) -> int:
        return len(self._layers)

    def __getitem__(self, index: int) -> ILayer:
        """``network[i]``: ``get_layer`` with negative indices; IndexError out of range."""
        if not -len(self._layers) <= index < len(self._layers):
            raise IndexError("Out of bounds")
        return self._view(index % len(self._layers))

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
    ) -> IConvolutionLayer:
        """Convolution; kernel GKCRS, bias K values or None (empty, of the input's type)."""
        args = (input, num_output_maps, kernel_shape, kernel, bias)
        return self._add_convolution_like(IConvolutionLayer, "add_convolution_nd", *args)

    def add_deconvolution_nd(
        self,
        input: ITensor,
        num_output_maps: int,
        kernel_shape: Any,
        kernel: Any,
        bias: Any = None,
    ) -> IDeconvolutionLayer:
        """Deconvolution; kernel CKRS, bias K values or None (empty, of the input's type)."""
        args = (input, num_output_maps, kernel_shape, kernel, bias)
        return self._add_convolution_like(IDeconvolutionLayer, "add_deconvolution_nd", *args)

    def _add_convolution_like(
        self,
        cls: type[_Conv],
        api: str,
        input: ITensor,
        num_output_maps: Any,
        kernel_shape: Any,
        kernel: Any,
        bias: Any,
    ) -> _Conv:
        """The shared body of ``add_convolution_nd`` and ``add_deconvolution_nd`` (``api``, the
        Python name, for argument errors)."""
        tensor = check_type(input, ITensor, f"{api}.input")
        layer = cls(self, [tensor])
        layer._init_params(
            check_type(num_output_maps, int, f"{api}.num_output_maps"),
            to_dims(kernel_shape, f"{api}.kernel_shape"),
        )
        layer._w["kernel"] = to_weights(kernel, f"{api}.kernel")
        layer._w["bias"] = to_weights(bias, f"{api}.bias", tensor.dtype)
        return self._add(layer)

    def add_pooling_nd(self, input: ITensor, type: PoolingType, window_size: Any) -> IPoolingLayer:
        """Pooling; stride defaults to 1 and average excludes padding by default."""
        layer = IPoolingLayer(self, [check_type(input, ITensor, "add_pooling_nd.input")])
        layer._init_params(
            check_type(type, PoolingType, "add_pooling_nd.type"),
            to_dims(window_size, "add_pooling_nd.window_size"),
        )
        return self._add(layer)

    def add_activation(self, input: ITensor, type: ActivationType) -> IActivationLayer:
        """Activation; alpha/beta default per type (LEAKY_RELU 0.01, CLIP +-float32 max, ...,
        as TensorRT-RTX; changing ``type`` later keeps them): set them where the type uses them."""
        layer = IActivationLayer(self, [check_type(input, ITensor, "add_activation.input")])
        kind = check_type(type, ActivationType, "add_activation.type")
        alpha, beta = _ACTIVATION_DEFAULTS.get(kind, (0.0, 0.0))
        layer._p.update(type=kind, alpha=alpha, beta=beta)
        return self._add(layer)

    def _scale(
        self, input: ITensor, mode: ScaleMode, weights: Sequence[Any], axis: int | None
    ) -> IScaleLayer | None:
        tensor = check_type(input, ITensor, "add_scale.input")
        layer = IScaleLayer(self, [tensor])
        rank = self._rank(tensor)
        layer._p.update(mode=check_type(mode, ScaleMode, "add_scale.mode"))
        # add_scale: the channel is the third-to-last dim; add_scale_nd takes channel_axis.
        layer._p.update(channel_axis=rank - 3 if axis is None else axis)
        layer._p.update(min_rank=4 if axis is None else 3)
        for role, value in zip(("shift", "scale", "power"), weights, strict=True):
            layer._w[role] = to_weights(value, f"add_scale.{role}", tensor.dtype)
        types = {w.dtype for w in layer._w.values()}
        if len(types) > 1:
            factory = "addScale" if axis is None else "addScaleNd"
            self._refuse(factory, f"shift, scale and power weights have different types {types}")
            return None
        return self._add(layer)

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

    def add_softmax(self, input: ITensor) -> ISoftMaxLayer:
        """Softmax; default axes = 1 << max(rank - 3, 0): set ``axes`` explicitly."""
        tensor = check_type(input, ITensor, "add_softmax.input")
        layer = ISoftMaxLayer(self, [tensor])
        layer._p.update(axes=1 << max(self._rank(tensor) - 3, 0))
        return self._add(layer)

    def add_concatenation(self, inputs: Sequence[ITensor]) -> IConcatenationLayer | None:
        """Concatenation; default axis max(rank - 3, 0): set ``axis`` explicitly."""
        tensors = [check_type(t, ITensor, "add_concatenation.inputs") for t in inputs]
        if not tensors:
            self._refuse("addConcatenation", "no inputs")
            return None
        layer = IConcatenationLayer(self, tensors)
        layer._p.update(axis=max(self._rank(tensors[0]) - 3, 0))
        return self._add(layer)

    def add_elementwise(
        self, input1: ITensor, input2: ITensor, op: ElementWiseOperation
    ) -> IElementWiseLayer:
        """Binary elementwise op; equal ranks, broadcast over size-1 dims, equal dtypes."""
        a = check_type(input1, ITensor, "add_elementwise.input1")
        b = check_type(input2, ITensor, "add_elementwise.input2")
        layer = IElementWiseLayer(self, [a, b])
        layer._p.update(op=check_type(op, ElementWiseOperation, "add_elementwise.op"))
        return self._add(layer)

    def add_unary(self, input: ITensor, op: UnaryOperation) -> IUnaryLayer:
        """Unary elementwise op."""
        layer = IUnaryLayer(self, [check_type(input, ITensor, "add_unary.input")])
        layer._p.update(op=check_type(op, UnaryOperation, "add_unary.op"))
        return self._add(layer)

    def add_padding_nd(self, input: ITensor, pre_padding: Any, post_padding: Any) -> IPaddingLayer:
        """Zero padding (negative crops) of the last two dims."""
        layer = IPaddingLayer(self, [check_type(input, ITensor, "add_padding_nd.input")])
        layer._p.update(
            pre_padding_nd=to_dims(pre_padding, "add_padding_nd.pre_padding"),
            post_padding_nd=to_dims(post_padding, "add_padding_nd.post_padding"),
        )
        return self._add(layer)

    def add_shuffle(self, input: ITensor) -> IShuffleLayer:
        """Shuffle: first_transpose, reshape_dims, second_transpose (all identity by default)."""
        layer = IShuffleLayer(self, [check_type(input, ITensor, "add_shuffle.input")])
        layer._p.update(
            first_transpose=Permutation(),
            second_transpose=Permutation(),
            reshape_dims=None,
            zero_is_placeholder=True,
        )
        return self._add(layer)

    def add_slice(self, input: ITensor, start: Any, shape: Any, stride: Any) -> ISliceLayer:
        """Slice (STRICT_BOUNDS by default)."""
        layer = ISliceLayer(self, [check_type(input, ITensor, "add_slice.input")])
        layer._p.update(
            start=to_dims(start, "add_slice.start"),
            shape=to_dims(shape, "add_slice.shape"),
            stride=to_dims(stride, "add_slice.stride"),
            mode=SampleMode.STRICT_BOUNDS,
        )
        return self._add(layer)

    def add_reduce(
        self, input: ITensor, op: ReduceOperation, axes: int, keep_dims: bool
    ) -> IReduceLayer | None:
        """Reduce over the dims of the ``axes`` bitmask."""
        layer = IReduceLayer(self, [check_type(input, ITensor, "add_reduce.input")])
        if check_type(op, ReduceOperation, "add_reduce.op") == ReduceOperation.NONE:
            self._refuse("addReduce", "ReduceOperation.NONE is not a reduction")
            return None
        layer._p.update(
            op=op,
            axes=check_type(axes, int, "add_reduce.axes"),
            keep_dims=check_type(keep_dims, bool, "add_reduce.keep_dims"),
        )
        return self._add(layer)

    def add_matrix_multiply(
        self, input0: ITensor, op0: MatrixOperation, input1: ITensor, op1: MatrixOperation
    ) -> IMatrixMultiplyLayer:
        """Batched matrix product (see IMatrixMultiplyLayer)."""
        a = check_type(input0, ITensor, "add_matrix_multiply.input0")
        b = check_type(input1, ITensor, "add_matrix_multiply.input1")
        layer = IMatrixMultiplyLayer(self, [a, b])
        layer._p.update(
            op0=check_type(op0, MatrixOperation, "add_matrix_multiply.op0"),
            op1=check_type(op1, MatrixOperation, "add_matrix_multiply.op1"),
        )
        return self._add(layer)

    def add_constant(self, shape: Any, weights: Any) -> IConstantLayer:
        """A constant tensor of the weights' dtype."""
        layer = IConstantLayer(self, [])
        layer._p.update(shape=to_dims(shape, "add_constant.shape"))
        layer._w["weights"] = to_weights(weights, "add_constant.weights")
        return self._add(layer)

    def add_resize(self, input: ITensor) -> IResizeLayer:
        """Resize; set ``shape`` or ``scales`` afterwards (NEAREST, ASYMMETRIC by default)."""
        layer = IResizeLayer(self, [check_type(input, ITensor, "add_resize.input")])
        layer._init_params()
        return self._add(layer)

    def add_identity(self, input: ITensor) -> IIdentityLayer:
        """Identity (no type conversion)."""
        return self._add(IIdentityLayer(self, [check_type(input, ITensor, "add_identity.input")]))

    def add_cast(self, input: ITensor, to_type: DataType) -> ICastLayer:
        """Cast to ``to_type``."""
        layer = ICastLayer(self, [check_type(input, ITensor, "add_cast.input")])
        layer._p.update(to_type=check_type(to_type, DataType, "add_cast.to_type"))
        return self._add(layer)

    def add_quantize(self, input: ITensor, scale: ITensor, output_type: DataType) -> IQuantizeLayer:
        """Quantize to ``output_type`` (INT8, FP8); a scalar scale, or a 1-D one with ``axis``."""
        x = check_type(input, ITensor, "add_quantize.input")
        layer = IQuantizeLayer(self, [x, check_type(scale, ITensor, "add_quantize.scale")])
        layer._p.update(
            axis=-1, to_type=check_type(output_type, DataType, "add_quantize.output_type")
        )
        return self._add(layer)

    def add_dequantize(
        self, input: ITensor, scale: ITensor, output_type: DataType
    ) -> IDequantizeLayer:
        """Dequantize to ``output_type`` (FLOAT, HALF, BF16); scale as in ``add_quantize``."""
        q = check_type(input, ITensor, "add_dequantize.input")
        layer = IDequantizeLayer(self, [q, check_type(scale, ITensor, "add_dequantize.scale")])
        layer._p.update(
            axis=-1, to_type=check_type(output_type, DataType, "add_dequantize.output_type")
        )
        return self._add(layer)

    # --- shape tensors, gather, top-k, normalization, attention --------------------------------
    def add_shape(self, input: ITensor) -> IShapeLayer:
        """The input's dimensions as a 1-D INT64 shape tensor."""
        return self._add(IShapeLayer(self, [check_type(input, ITensor, "add_shape.input")]))

    def add_gather(self, input: ITensor, indices: ITensor, axis: int) -> IGatherLayer:
        """Gather along ``axis`` (GatherMode.DEFAULT)."""
        data = check_type(input, ITensor, "add_gather.input")
        layer = IGatherLayer(self, [data, check_type(indices, ITensor, "add_gather.indices")])
        layer._p.update(
            axis=check_type(axis, int, "add_gather.axis"),
            mode=GatherMode.DEFAULT,
            num_elementwise_dims=0,
        )
        return self._add(layer)

    def add_select(
        self, condition: ITensor, then_input: ITensor, else_input: ITensor
    ) -> ISelectLayer:
        """``then_input`` where the BOOL ``condition`` holds, else ``else_input`` (broadcast)."""
        tensors = [
            check_type(t, ITensor, f"add_select.{name}")
            for t, name in (
                (condition, "condition"),
                (then_input, "then_input"),
                (else_input, "else_input"),
            )
        ]
        return self._add(ISelectLayer(self, tensors))

    def add_cumulative(
        self,
        input: ITensor,
        axis: ITensor,
        op: CumulativeOperation,
        exclusive: bool,
        reverse: bool,
    ) -> ICumulativeLayer | None:
        """Running reductions of ``input`` along ``axis`` (a 0-D int tensor); None (logged)
        when ``axis`` is not 0-D, as TensorRT-RTX."""
        data = check_type(input, ITensor, "add_cumulative.input")
        axis_tensor = check_type(axis, ITensor, "add_cumulative.axis")
        properties = dict(
            op=check_type(op, CumulativeOperation, "add_cumulative.op"),
            exclusive=check_type(exclusive, bool, "add_cumulative.exclusive"),
            reverse=check_type(reverse, bool, "add_cumulative.reverse"),
        )
        shape, _ = self._infer(axis_tensor)
        if shape is not None and len(shape) != 0:
            self._refuse("addCumulative", f"the axis must be a 0-D tensor, got dims {shape}")
            return None
        layer = ICumulativeLayer(self, [data, axis_tensor])
        layer._p.update(properties)
        return self._add(layer)

    def add_topk(
        self,
        input: ITensor,
        op: TopKOperation,
        k: int,
        axes: int,
        indices_type: DataType = DataType.INT32,
    ) -> ITopKLayer:
        """Top-k along the one dim in ``axes``: values and indices (INT32 unless asked)."""
        layer = ITopKLayer(self, [check_type(input, ITensor, "add_topk.input")])
        layer._p.update(
            op=check_type(op, TopKOperation, "add_topk.op"),
            k=check_type(k, int, "add_topk.k"),
            axes=check_type(axes, int, "add_topk.axes"),
            indices_type=check_type(indices_type, DataType, "add_topk.indices_type"),
        )
        return self._add(layer)

    def add_loop(self) -> ILoop:
        """A new loop: its recurrences, trip limits and outputs are added through it."""
        self._num_loops += 1
        return ILoop(self, self._num_loops - 1)

    def add_nms(
        self,
        boxes: ITensor,
        scores: ITensor,
        max_output_boxes_per_class: ITensor,
        indices_type: DataType = DataType.INT32,
    ) -> INMSLayer:
        """Non-maximum suppression: SelectedIndices (K, 3) and NumOutputBoxes; thresholds are
        optional inputs 3 (IoU) and 4 (score) set with ``set_input``."""
        tensors = [
            check_type(t, ITensor, f"add_nms.{name}")
            for t, name in (
                (boxes, "boxes"),
                (scores, "scores"),
                (max_output_boxes_per_class, "max_output_boxes_per_class"),
            )
        ]
        layer = INMSLayer(self, tensors)
        layer._p.update(
            bounding_box_format=BoundingBoxFormat.CORNER_PAIRS,
            topk_box_limit=5000,
            indices_type=check_type(indices_type, DataType, "add_nms.indices_type"),
        )
        return self._add(layer)

    def add_scatter(
        self, data: ITensor, indices: ITensor, updates: ITensor, mode: ScatterMode
    ) -> IScatterLayer:
        """A copy of ``data`` with ``updates`` written at ``indices`` (ScatterMode.ND)."""
        tensors = [
            check_type(t, ITensor, f"add_scatter.{name}")
            for t, name in ((data, "data"), (indices, "indices"), (updates, "updates"))
        ]
        layer = IScatterLayer(self, tensors)
        layer._p.update(mode=check_type(mode, ScatterMode, "add_scatter.mode"), axis=0)
        return self._add(layer)

    def _normalization(
        self, input: ITensor, scale: ITensor, bias: ITensor, axesMask: int, v2: bool
    ) -> INormalizationLayer:
        api = "add_normalization_v2" if v2 else "add_normalization"
        tensors = [
            check_type(t, ITensor, f"{api}.{name}")
            for t, name in ((input, "input"), (scale, "scale"), (bias, "bias"))
        ]
        layer = INormalizationLayer(self, tensors)
        layer._p.update(
            axes=check_type(axesMask, int, f"{api}.axesMask"),
            epsilon=1e-5,
            num_groups=1,
            is_v2=v2,
        )
        return self._add(layer)

    def add_normalization(
        self, input: ITensor, scale: ITensor, bias: ITensor, axesMask: int
    ) -> INormalizationLayer:
        """[DEPRECATED in 10.15] Normalization over the ``axesMask`` dims (see v2)."""
        return self._normalization(input, scale, bias, axesMask, v2=False)

    def add_normalization_v2(
        self, input: ITensor, scale: ITensor, bias: ITensor, axesMask: int
    ) -> INormalizationLayer:
        """Normalization over the ``axesMask`` dims; scale and bias are tensors of the input's
        rank that broadcast to it."""
        return self._normalization(input, scale, bias, axesMask, v2=True)

    def add_attention_v2(
        self,
        query: ITensor,
        key: ITensor,
        value: ITensor,
        norm_op: AttentionNormalizationOp,
        causal_kind: CausalMaskKind,
    ) -> IAttention:
        """Fused attention softmax(Q K^T) V on (B, heads, S, D) tensors: two layers in the
        network (ATTENTION_INPUT, ATTENTION_OUTPUT) behind one IAttention."""
        tensors = [
            check_type(t, ITensor, f"add_attention_v2.{name}")
            for t, name in ((query, "query"), (key, "key"), (value, "value"))
        ]
        first = IAttentionInputLayer(self, tensors)
        first._p.update(
            norm_op=check_type(norm_op, AttentionNormalizationOp, "add_attention_v2.norm_op"),
            causal_kind=check_type(causal_kind, CausalMaskKind, "add_attention_v2.causal_kind"),
        )
        self._add(first)
        second = self._add(IAttentionOutputLayer(self, [first._outputs[0]]))
        return IAttention(self, first, second)

    def add_plugin_v3(
        self, inputs: Sequence[ITensor], shape_inputs: Sequence[ITensor], plugin: Any
    ) -> IPluginV3Layer | None:
        """A plugin's layer (IPluginV3). The emulator runs it through the plugin's NumPy
        ``run_reference`` (``emulator/plugins.py``); shape inputs are not supported."""
        tensors = [check_type(t, ITensor, "add_plugin_v3.inputs") for t in inputs]
        if shape_inputs:
            self._refuse("addPluginV3", "the emulator supports no plugin shape inputs")
            return None
        if not tensors:
            self._refuse("addPluginV3", "a plugin layer needs at least one input")
            return None
        return self._add(IPluginV3Layer(self, tensors, plugin))

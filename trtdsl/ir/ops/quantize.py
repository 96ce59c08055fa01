"""Quantization ops: ``quantize`` and ``dequantize`` (TensorRT's IQuantizeLayer and
IDequantizeLayer), and the convolution and linear layers whose weights are quantized.

Symmetric only (zero point 0); INT8 or FP8 E4M3; per tensor (a scalar ``scale``) or per
channel (a ``scale`` vector along ``axis``). Scales are weights (role ``scale``, or
``weight_scale`` for quantized weights), so they bind, save and show like any other.
The numerics live in ``trtdsl.kernels.quantize``. MACs: quantize/dequantize count 0; the
quantized convolution and linear layers count as their float versions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from trtdsl.errors import ModelError, OpArgumentError, ShapeError, WeightError
from trtdsl.ir.ops.base import Op, ParamSpec, check_bool, check_int, normalize_axis, register_op
from trtdsl.ir.ops.cast import cast_array
from trtdsl.ir.ops.conv import Conv2d
from trtdsl.ir.ops.linear import Linear
from trtdsl.ir.types import DType, TensorType
from trtdsl.kernels import quantize as qk
from trtdsl.kernels.quantize import float8_e4m3_bits as float8_e4m3_bits

QUANTIZED_DTYPES = (DType.INT8, DType.FLOAT8_E4M3)
"""The types ``quantize`` produces and ``dequantize`` reads."""

DEQUANTIZED_DTYPES = (DType.FLOAT32, DType.FLOAT16, DType.BFLOAT16)
"""The types ``dequantize`` produces (TensorRT: Float, Half or BFloat16)."""


def quant_kind(dtype: DType) -> str:
    """``"int8"`` or ``"fp8"``: the kernel name of a quantized dtype."""
    return "int8" if dtype is DType.INT8 else "fp8"


def _parse_dtype(op: Op, name: str, allowed: tuple[DType, ...]) -> DType:
    value = getattr(op, name)
    try:
        dtype = DType.parse(value)
    except ModelError:
        dtype = None
    if dtype not in allowed:
        raise OpArgumentError(
            f"{op.op_name}: {name} must be one of {', '.join(d.value for d in allowed)}, "
            f"got {value!r}"
        )
    object.__setattr__(op, name, dtype)
    return dtype


def _check_axis(op: Op) -> None:
    axis = getattr(op, "axis")  # noqa: B009  (a dataclass field of every caller)
    if axis is not None:
        check_int(op, "axis")


def _scale_spec(op: Op, x: TensorType, axis: int | None) -> ParamSpec:
    """``()`` per tensor, ``(x.shape[axis],)`` per channel; float32, not a trainable parameter."""
    if axis is None:
        return ParamSpec((), buffer=True)
    a = normalize_axis(op, axis, x.rank)
    d = x.shape[a]
    if not isinstance(d, int):
        raise ShapeError(f"{op.op_name}: the quantization axis {axis} of {x} must be static")
    return ParamSpec((d,), buffer=True)


def _positive_scale(op: Op, scale: np.ndarray, role: str = "scale") -> np.ndarray:
    s = np.asarray(scale, dtype=np.float32)
    if not np.all(np.isfinite(s) & (s > 0)):
        raise WeightError(f"{op.op_name}: every {role} must be positive and finite")
    return s


@register_op
@dataclass(frozen=True)
class Quantize(Op):
    """Symmetric quantization, as TensorRT's IQuantizeLayer: ``q = clamp(round(x / scale))``.

    Rounds half to even and clamps to [-128, 127] (``int8``) or [-448, 448] (``fp8``, then
    rounded to the E4M3 grid), as ``torch.fake_quantize_per_tensor_affine`` with zero point 0
    (without its dequantization) and ``torch.float8_e4m3fn`` casts do.

    Input: any float tensor. Output: the same shape, of ``dtype`` (fp8 values are float32
    numbers on the E4M3 grid in NumPy).

    Weights: ``scale``, () per tensor or (x.shape[axis],) per channel; strictly positive.
    """

    op_name = "quantize"

    dtype: DType | str = DType.INT8
    axis: int | None = None

    def __post_init__(self) -> None:
        _parse_dtype(self, "dtype", QUANTIZED_DTYPES)
        _check_axis(self)

    def params(self, inputs: Sequence[TensorType]) -> dict[str, ParamSpec]:
        return {"scale": _scale_spec(self, inputs[0], self.axis)}

    def infer(self, inputs: Sequence[TensorType]) -> TensorType:
        x = inputs[0]
        if not x.dtype.is_float:
            raise ShapeError(f"quantize: expected a float32, float16 or bfloat16 input, got {x}")
        _scale_spec(self, x, self.axis)
        return x.with_dtype(self.dtype)  # type: ignore[arg-type]

    def reference(
        self, inputs: Sequence[np.ndarray], params: Mapping[str, np.ndarray]
    ) -> np.ndarray:
        x = inputs[0]
        axis = None if self.axis is None else self.axis % x.ndim
        scale = _positive_scale(self, params["scale"])
        return qk.quantize(x, scale, quant_kind(self.dtype), axis)  # type: ignore[arg-type]


@register_op
@dataclass(frozen=True)
class Dequantize(Op):
    """Symmetric dequantization, as TensorRT's IDequantizeLayer: ``y = q * scale``.

    Input: an ``int8`` or ``float8_e4m3`` tensor. Output: the same shape, of ``dtype``
    (float32, float16 or bfloat16; the product is computed in float32 and then rounded).

    Weights: ``scale``, () per tensor or (q.shape[axis],) per channel; strictly positive.
    """

    op_name = "dequantize"

    dtype: DType | str = DType.FLOAT32
    axis: int | None = None

    def __post_init__(self) -> None:
        _parse_dtype(self, "dtype", DEQUANTIZED_DTYPES)
        _check_axis(self)

    def params(self, inputs: Sequence[TensorType]) -> dict[str, ParamSpec]:
        return {"scale": _scale_spec(self, inputs[0], self.axis)}

    def infer(self, inputs: Sequence[TensorType]) -> TensorType:
        q = inputs[0]
        if q.dtype not in QUANTIZED_DTYPES:
            raise ShapeError(f"dequantize: expected an int8 or float8_e4m3 input, got {q}")
        _scale_spec(self, q, self.axis)
        return q.with_dtype(self.dtype)  # type: ignore[arg-type]

    def reference(
        self, inputs: Sequence[np.ndarray], params: Mapping[str, np.ndarray]
    ) -> np.ndarray:
        q = inputs[0]
        axis = None if self.axis is None else self.axis % q.ndim
        scale = _positive_scale(self, params["scale"])
        return cast_array(qk.dequantize(q, scale, axis), self.dtype)  # type: ignore[arg-type]


def _fake_quantized_weight(
    op: Op, weight: np.ndarray, scale: np.ndarray, dtype: DType, like: np.ndarray
) -> np.ndarray:
    """The weight as a quantized layer computes with it: quantized per output channel (axis
    0) and dequantized, in the dtype of ``like`` (the activation)."""
    s = _positive_scale(op, scale, "weight_scale")
    w = qk.fake_quantize(weight, s, quant_kind(dtype), axis=0)
    return w.astype(like.dtype)


@register_op
@dataclass(frozen=True)
class QuantizedConv2d(Op):
    """``conv2d`` whose weight is quantized per output channel: it computes with
    ``dequantize(quantize(weight, weight_scale, axis=0))``. The quantization pass makes these
    from ``conv2d`` nodes; TensorRT fuses them, with the dequantize before the input, into one
    INT8/FP8 convolution.

    Attributes: those of ``conv2d`` (PyTorch names), and ``dtype`` (``int8`` or ``fp8``) of
    the weight.

    Weights: ``weight`` (out_channels, C // groups, kh, kw) in float; ``bias`` (out_channels,)
    if bias; ``weight_scale`` (out_channels,), strictly positive.
    """

    op_name = "quantized_conv2d"

    out_channels: int
    kernel_size: int | tuple[int, int]
    stride: int | tuple[int, int] = 1
    padding: int | tuple[int, int] = 0
    dilation: int | tuple[int, int] = 1
    groups: int = 1
    bias: bool = True
    dtype: DType | str = DType.INT8

    def __post_init__(self) -> None:
        _parse_dtype(self, "dtype", QUANTIZED_DTYPES)
        conv = self.conv()  # validates and normalises the convolution attributes
        for name in ("kernel_size", "stride", "padding", "dilation"):
            object.__setattr__(self, name, getattr(conv, name))

    def conv(self) -> Conv2d:
        """The float convolution with the same attributes."""
        return Conv2d(
            self.out_channels,
            self.kernel_size,
            self.stride,
            self.padding,
            self.dilation,
            self.groups,
            self.bias,
        )

    def params(self, inputs: Sequence[TensorType]) -> dict[str, ParamSpec]:
        specs = self.conv().params(inputs)
        specs["weight_scale"] = ParamSpec((self.out_channels,), buffer=True)
        return specs

    def infer(self, inputs: Sequence[TensorType]) -> TensorType:
        return self.conv().infer(inputs)

    def reference(
        self, inputs: Sequence[np.ndarray], params: Mapping[str, np.ndarray]
    ) -> np.ndarray:
        x = inputs[0]
        w = _fake_quantized_weight(self, params["weight"], params["weight_scale"], self.dtype, x)  # type: ignore[arg-type]
        return self.conv().reference(inputs, {**params, "weight": w})

    def macs(
        self,
        inputs: Sequence[TensorType],
        outputs: Sequence[TensorType],
        sizes: Mapping[str, int] | None = None,
    ) -> int:
        return self.conv().macs(inputs, outputs, sizes)


@register_op
@dataclass(frozen=True)
class QuantizedLinear(Op):
    """``linear`` whose weight is quantized per output feature: it computes with
    ``dequantize(quantize(weight, weight_scale, axis=0))``.

    Attributes: ``out_features``, ``bias`` (as ``linear``) and ``dtype`` (``int8`` or ``fp8``)
    of the weight.

    Weights: ``weight`` (out_features, in_features) in float; ``bias`` (out_features,) if
    bias; ``weight_scale`` (out_features,), strictly positive.
    """

    op_name = "quantized_linear"

    out_features: int
    bias: bool = True
    dtype: DType | str = DType.INT8

    def __post_init__(self) -> None:
        check_int(self, "out_features", 1)
        check_bool(self, "bias")
        _parse_dtype(self, "dtype", QUANTIZED_DTYPES)

    def linear(self) -> Linear:
        """The float linear layer with the same attributes."""
        return Linear(self.out_features, self.bias)

    def params(self, inputs: Sequence[TensorType]) -> dict[str, ParamSpec]:
        specs = self.linear().params(inputs)
        specs["weight_scale"] = ParamSpec((self.out_features,), buffer=True)
        return specs

    def infer(self, inputs: Sequence[TensorType]) -> TensorType:
        return self.linear().infer(inputs)

    def reference(
        self, inputs: Sequence[np.ndarray], params: Mapping[str, np.ndarray]
    ) -> np.ndarray:
        x = inputs[0]
        w = _fake_quantized_weight(self, params["weight"], params["weight_scale"], self.dtype, x)  # type: ignore[arg-type]
        y = np.matmul(x, w.T)
        if self.bias:
            y = y + params["bias"]
        return np.ascontiguousarray(y, dtype=x.dtype)

    def macs(
        self,
        inputs: Sequence[TensorType],
        outputs: Sequence[TensorType],
        sizes: Mapping[str, int] | None = None,
    ) -> int:
        return self.linear().macs(inputs, outputs, sizes)


__all__ = [
    "DEQUANTIZED_DTYPES",
    "QUANTIZED_DTYPES",
    "Dequantize",
    "QuantizedConv2d",
    "QuantizedLinear",
    "Quantize",
    "float8_e4m3_bits",
    "quant_kind",
]

"""Symmetric quantization kernels (INT8 and FP8 E4M3), shared by the IR references of the
``quantize``/``dequantize`` ops and the emulated IQuantizeLayer/IDequantizeLayer.

TensorRT's semantics: ``q = clamp(round(x / scale))`` with round half to even, clamped to
[-128, 127] for INT8 and to [-448, 448] for FP8 E4M3 (then rounded to the E4M3 grid);
``x' = q * scale``. The zero point is always 0. A scale is a scalar (per tensor) or a vector
along ``axis`` (per channel). NumPy has no fp8 type: FP8 values are float32 numbers on the E4M3
grid; ``float8_e4m3_bits`` gives their bit patterns.
"""

from __future__ import annotations

import numpy as np

INT8_MIN = -128
INT8_MAX = 127
FP8_E4M3_MAX = 448.0
"""The largest finite E4M3 (``e4m3fn``: no infinities, one NaN pattern per sign) value."""

QUANT_MAX = {"int8": float(INT8_MAX), "fp8": FP8_E4M3_MAX}
"""The amax that maps to the top of each type's range: ``scale = amax / QUANT_MAX[kind]``."""

_FP8_MIN_NORMAL_EXP = -6
_FP8_MANTISSA_BITS = 3


def round_to_float8_e4m3(x: np.ndarray) -> np.ndarray:
    """float32 values rounded to the nearest E4M3 number (ties to even), saturating at +-448.

    NaN stays NaN. Subnormals (multiples of 2**-9 below 2**-6) are kept, as in the format.
    """
    v = np.clip(np.asarray(x, dtype=np.float32), -FP8_E4M3_MAX, FP8_E4M3_MAX)
    _, exponent = np.frexp(np.abs(v))  # |v| = m * 2**exponent, m in [0.5, 1)
    binade = np.maximum(exponent - 1, _FP8_MIN_NORMAL_EXP)
    quantum = np.ldexp(np.float32(1.0), binade - _FP8_MANTISSA_BITS).astype(np.float32)
    # v / quantum is exact (a power of two); np.rint rounds half to even.
    out: np.ndarray = (np.rint(v / quantum) * quantum).astype(np.float32)
    return out


def float8_e4m3_bits(x: np.ndarray) -> np.ndarray:
    """The E4M3 (``e4m3fn``) bit patterns (uint8) of values rounded as ``round_to_float8_e4m3``."""
    v = round_to_float8_e4m3(x)
    magnitude = np.abs(v)
    _, exponent = np.frexp(magnitude)
    normal = magnitude >= np.float32(2.0**_FP8_MIN_NORMAL_EXP)
    binade = np.where(normal, exponent - 1, _FP8_MIN_NORMAL_EXP)
    steps = np.ldexp(magnitude, _FP8_MANTISSA_BITS - binade)  # mantissa with its hidden bit
    with np.errstate(invalid="ignore"):
        mantissa = np.where(normal, steps - 8, steps).astype(np.int64) & 0x7
        exponent_field = np.where(normal, binade + 7, 0).astype(np.int64)
    bits = (np.signbit(v).astype(np.int64) << 7) | (exponent_field << 3) | mantissa
    bits = np.where(np.isnan(v), 0x7F, bits)
    return bits.astype(np.uint8)


def float8_e4m3_from_bits(bits: np.ndarray) -> np.ndarray:
    """float32 values of E4M3 (``e4m3fn``) bit patterns; 0x7F/0xFF are NaN."""
    b = np.asarray(bits, dtype=np.uint8).astype(np.int64)
    sign = np.where(b & 0x80, -1.0, 1.0)
    exponent_field = (b >> 3) & 0xF
    mantissa = b & 0x7
    normal = exponent_field > 0
    value = np.where(
        normal,
        np.ldexp(1.0 + mantissa / 8.0, exponent_field - 7),
        np.ldexp(mantissa / 8.0, _FP8_MIN_NORMAL_EXP),
    )
    out = np.where((b & 0x7F) == 0x7F, np.nan, sign * value)
    return out.astype(np.float32)


def _broadcast_scale(scale: np.ndarray, ndim: int, axis: int | None) -> np.ndarray:
    s = np.asarray(scale, dtype=np.float32)
    if axis is None or s.ndim == 0:
        return s
    shape = [1] * ndim
    shape[axis] = -1
    return s.reshape(shape)


def quantize(x: np.ndarray, scale: np.ndarray, kind: str, axis: int | None = None) -> np.ndarray:
    """``clamp(round(x / scale))``: int8 values, or float32 values on the E4M3 grid for fp8.

    Args:
        x: float values of any shape (computed in float32).
        scale: a scalar, or a vector of ``x.shape[axis]`` positive values.
        kind: ``"int8"`` or ``"fp8"``.
        axis: the channel axis of a per-channel scale (None: per tensor).
    """
    s = _broadcast_scale(scale, np.ndim(x), axis)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        ratio = np.asarray(x, dtype=np.float32) / s
    if kind == "int8":
        with np.errstate(invalid="ignore"):
            q: np.ndarray = np.clip(np.rint(ratio), INT8_MIN, INT8_MAX).astype(np.int8)
        return q
    if kind == "fp8":
        return round_to_float8_e4m3(ratio)
    raise ValueError(f"unknown quantized type {kind!r}")


def dequantize(q: np.ndarray, scale: np.ndarray, axis: int | None = None) -> np.ndarray:
    """``q * scale`` in float32 (``q``: int8 values or float32 values on the E4M3 grid)."""
    s = _broadcast_scale(scale, np.ndim(q), axis)
    out: np.ndarray = (np.asarray(q, dtype=np.float32) * s).astype(np.float32)
    return out


def fake_quantize(
    x: np.ndarray, scale: np.ndarray, kind: str, axis: int | None = None
) -> np.ndarray:
    """``dequantize(quantize(x))`` in float32: the values a quantized layer computes with."""
    return dequantize(quantize(x, scale, kind, axis), scale, axis)


def scale_from_amax(amax: np.ndarray | float, kind: str) -> np.ndarray:
    """``amax / QUANT_MAX[kind]`` as float32; a zero (or negative, or non-finite) amax gives
    scale 1/QUANT_MAX, since TensorRT requires strictly positive scales."""
    a = np.asarray(amax, dtype=np.float64)
    a = np.where(np.isfinite(a) & (a > 0), a, 1.0)
    out: np.ndarray = np.array(a / QUANT_MAX[kind], dtype=np.float32)  # 0-d stays an array
    return out

"""The one table of numeric tolerances per build precision, used by ``compile``'s check,
``refit``'s check and ``compare``.

A tolerance is a relative error: max |got - reference| / max |reference| over one value.
float32 values differ from the reference only by summation order (TF32 off); fp16 rounds
every layer to a 10-bit mantissa (1.5e-3 to 3e-3 per node on the zoo's ResNet-50, emulated),
bf16 to 7 bits; int8 and fp8 quantize convolution and linear inputs, so their bound is a
gross-error guard only: quantization accuracy is measured on real data (``trtdsl
calibrate``, ``compare --precision int8``). The same number is the margin within which an
argmax's reference scores count as a tie (``debug/discrete.py``).
"""

from __future__ import annotations

from trtdsl.ir.types import Precision

TOLERANCES: dict[Precision, float] = {
    Precision.FP32: 1e-4,
    Precision.TF32: 2e-2,
    Precision.FP16: 2e-2,
    Precision.BF16: 1e-1,
    Precision.INT8: 5e-1,
    Precision.FP8: 5e-1,
}
"""Largest accepted error relative to max |reference|, per precision."""


def default_tolerance(precision: Precision | str) -> float:
    """The tolerance of ``precision`` from ``TOLERANCES``."""
    return TOLERANCES[Precision.parse(precision)]

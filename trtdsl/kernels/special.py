"""Special functions NumPy lacks (erf), vectorised, shared by the IR reference and the emulator."""

from __future__ import annotations

import math

import numpy as np

_SERIES_LIMIT = 2.5
_SERIES_TERMS = 48
_BLOCK = 1 << 15  # elements per block: the ~50 in-place passes stay in cache
# Maclaurin coefficients of erf(x) * sqrt(pi) / (2x) in powers of x^2: (-1)^n / (n! (2n+1)).
_SERIES = tuple((-1) ** n / (math.factorial(n) * (2 * n + 1)) for n in range(_SERIES_TERMS))
# Numerical Recipes' erfc Chebyshev fit (fractional error < 1.2e-7 on erfc); used only for
# |x| >= 2.5 where erfc(x) < 4.1e-4, so the absolute error on erf stays below 5e-11.
ERFC_COEFFS = (
    -1.26551223,
    1.00002368,
    0.37409196,
    0.09678418,
    -0.18628806,
    0.27886807,
    -1.13520398,
    1.48851587,
    -0.82215223,
    0.17087277,
)


def erf(x: np.ndarray) -> np.ndarray:
    """The error function, elementwise; absolute error < 1e-10 (float64 arithmetic).

    Args:
        x: any shape, float dtype (or anything ``np.asarray`` accepts).
    Returns:
        erf(x), same shape, float64 (callers cast to their dtype). NaN stays NaN.
    """
    x = np.asarray(x, dtype=np.float64)
    flat = x.reshape(-1)
    out = np.empty_like(flat)
    for start in range(0, flat.size, _BLOCK):
        _erf_block(flat[start : start + _BLOCK], out[start : start + _BLOCK])
    return out.reshape(x.shape)


def _erf_block(x: np.ndarray, out: np.ndarray) -> None:
    # Series by Horner in x^2 on the clipped input (clipping keeps it free of overflow).
    xs = np.clip(x, -_SERIES_LIMIT, _SERIES_LIMIT)
    x2 = xs * xs
    p = np.full_like(xs, _SERIES[-1])
    for a in _SERIES[-2::-1]:
        p *= x2
        p += a
    p *= xs
    p *= 2.0 / math.sqrt(math.pi)
    large = np.abs(x) >= _SERIES_LIMIT
    if large.any():
        z = np.minimum(np.abs(x[large]), 26.0)  # erf(26) == 1.0; no over/underflow
        t = 1.0 / (1.0 + 0.5 * z)
        poly = np.zeros_like(z)
        for c in reversed(ERFC_COEFFS):
            poly = poly * t + c
        p[large] = np.sign(x[large]) * (1.0 - t * np.exp(-z * z + poly))
    out[:] = p

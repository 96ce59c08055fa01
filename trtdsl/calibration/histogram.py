"""Streaming absolute-value histograms and the amax calibration methods computed from them.

One ``TensorHistogram`` per calibrated tensor holds 2048 bins of |x| over [0, range); when a
batch exceeds the range, the range doubles and adjacent bin pairs merge (exactly), so memory is
fixed whatever the amount of data. The exact running maximum is kept beside the bins.

Methods (``amax`` = the absolute value mapped to the top of the quantized range):

- ``max``: the largest |x| seen.
- ``percentile[:P]``: the P-th percentile of |x| (default 99.99), the upper edge of its bin.
- ``entropy``: TensorRT's legacy KL-divergence algorithm (Migacz, "8-bit Inference with
  TensorRT", GTC 2017): for each candidate threshold i in [128, 2048) bins, clip the histogram
  to i bins (outliers added to the last one), quantize it to 128 levels, expand it back and
  measure the KL divergence to the clipped reference; the threshold with the least divergence
  wins, ``amax = (i + 0.5) * bin width``.
- ``mse``: the bin center that minimises the INT8 quantization mean squared error of the
  histogram (candidates from bin 128 up, as NVIDIA's pytorch-quantization).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from trtdsl.errors import CalibrationError, UsageError

NUM_BINS = 2048
"""Histogram bins per tensor (TensorRT's legacy entropy calibrator uses 2048)."""
QUANTIZED_LEVELS = 128
"""The INT8 magnitudes the entropy method quantizes to (TensorRT's 128)."""
START_BIN = 128
"""The smallest threshold (in bins) the entropy and mse methods consider."""
DEFAULT_PERCENTILE = 99.99
_FLOAT32_TINY = float(np.finfo(np.float32).tiny)

METHODS = ("entropy", "max", "percentile", "mse")


@dataclass(frozen=True)
class Method:
    """A calibration method: ``name`` in METHODS, and the percentile for ``percentile``."""

    name: str
    percentile: float | None = None

    @classmethod
    def parse(cls, text: str) -> Method:
        """``"entropy"``, ``"max"``, ``"mse"``, ``"percentile"`` or ``"percentile:99.9"``."""
        name, colon, arg = str(text).partition(":")
        if name not in METHODS:
            raise UsageError(
                f"--method {text!r}: expected one of entropy, max, percentile[:P], mse"
            )
        if name != "percentile":
            if colon:
                raise UsageError(f"--method {text!r}: only percentile takes a value")
            return cls(name)
        try:
            value = float(arg) if colon else DEFAULT_PERCENTILE
        except ValueError:
            value = math.nan
        if not 0 < value <= 100:
            raise UsageError(f"--method {text!r}: the percentile must be in (0, 100]")
        return cls(name, value)

    def __str__(self) -> str:
        return self.name if self.percentile is None else f"{self.name}:{self.percentile:g}"


class TensorHistogram:
    """The |x| statistics of one tensor over a stream of batches, in bounded memory.

    Attributes:
        counts: int64[NUM_BINS] counts over [0, width * NUM_BINS) (None before any non-zero
            value was seen).
        width: the bin width.
        amax: the largest |x| seen. ``min``/``max``: the smallest and largest values seen.
        total: how many values were seen.
    """

    def __init__(self) -> None:
        self.counts: np.ndarray | None = None
        self.width = 0.0
        self.amax = 0.0
        self.min = math.inf
        self.max = -math.inf
        self.total = 0
        self._zeros = 0  # values seen before the range was known (all zero)

    def update(self, x: np.ndarray) -> None:
        """Add the values of ``x`` (any shape; float).

        Raises:
            CalibrationError: ``x`` holds NaN or inf (the range could not double past them),
            and nothing is added.
        """
        values = np.asarray(x, dtype=np.float32).reshape(-1)
        if values.size == 0:
            return
        low, high = float(values.min()), float(values.max())
        if not (math.isfinite(low) and math.isfinite(high)):
            raise CalibrationError("NaN or inf")
        self.total += values.size
        self.min = min(self.min, low)
        self.max = max(self.max, high)
        magnitude = np.abs(values)
        batch_amax = float(magnitude.max())
        self.amax = max(self.amax, batch_amax)
        if self.counts is None:
            if batch_amax == 0:
                self._zeros += values.size
                return
            self.width = batch_amax / NUM_BINS
            self.counts = np.zeros(NUM_BINS, dtype=np.int64)
            self.counts[0] += self._zeros
        while batch_amax >= self.width * NUM_BINS:
            # Double the range: bins 2k and 2k+1 become bin k (exact, no resampling).
            self.counts = np.concatenate(
                [self.counts.reshape(-1, 2).sum(axis=1), np.zeros(NUM_BINS // 2, np.int64)]
            )
            self.width *= 2
        if self.width >= _FLOAT32_TINY:
            scaled = magnitude / np.float32(self.width)
        else:  # a width float32 cannot hold (subnormal data): divide in float64
            scaled = magnitude.astype(np.float64) / self.width
        index = np.minimum(scaled.astype(np.int64), NUM_BINS - 1)
        self.counts += np.bincount(index, minlength=NUM_BINS)

    def compute_amax(self, method: Method) -> float:
        """The amax of ``method`` (0.0 for a tensor that was always zero)."""
        if self.counts is None or self.amax == 0:
            return 0.0
        if method.name == "max":
            return self.amax
        if method.name == "percentile":
            assert method.percentile is not None
            amax = percentile_amax(self.counts, self.width, method.percentile)
        elif method.name == "entropy":
            amax = entropy_amax(self.counts, self.width)
        elif method.name == "mse":
            amax = mse_amax(self.counts, self.width)
        else:  # pragma: no cover  (Method.parse refuses others)
            raise UsageError(f"unknown calibration method {method}")
        return min(amax, self.amax)


def percentile_amax(counts: np.ndarray, width: float, percentile: float) -> float:
    """The upper edge of the bin holding the ``percentile``-th percentile of the histogram."""
    cdf = np.cumsum(counts, dtype=np.float64)
    target = cdf[-1] * percentile / 100.0
    index = int(np.searchsorted(cdf, target, side="left"))
    return (min(index, len(counts) - 1) + 1) * width


def _smooth_rows(p: np.ndarray, valid: np.ndarray, eps: float = 1e-4) -> np.ndarray:
    """Per row, give the valid zero entries ``eps`` of mass taken evenly from the non-zero ones
    (as MXNet's port of TensorRT's calibrator does), so that the KL divergence is finite; a
    row too small to give that mass only gets a tiny floor on its zeros."""
    zeros = valid & (p == 0)
    n_zeros = zeros.sum(axis=1, keepdims=True)
    n_nonzeros = valid.sum(axis=1, keepdims=True) - n_zeros
    eps1 = eps * n_zeros / np.maximum(n_nonzeros, 1)
    smallest = np.where(valid & ~zeros, p, np.inf).min(axis=1, keepdims=True)
    smoothed = p + eps * zeros - eps1 * (valid & ~zeros)
    floored = np.where(zeros, np.finfo(np.float64).tiny, p)
    out: np.ndarray = np.where((eps1 < smallest) & (n_nonzeros > 0), smoothed, floored)
    return out


def entropy_amax(counts: np.ndarray, width: float, block: int = 64) -> float:
    """TensorRT's legacy entropy (KL divergence) threshold of an |x| histogram.

    The candidates are evaluated ``block`` at a time as rows of matrices (bins beyond a row's
    candidate masked out); the arithmetic per candidate is the loop of the module docstring.
    """
    hist = counts.astype(np.float64)
    n = len(hist)
    if n <= QUANTIZED_LEVELS:
        return n * width
    # NOTE: the exact zeros of a ReLU output pile up in bin 0 and, spread over the first
    # quantized level, dominate the divergence (the threshold collapses to the smallest
    # candidate); NVIDIA's pytorch-quantization flattens that spike the same way.
    hist[0] = hist[1]
    outliers = np.concatenate([np.cumsum(hist[::-1])[::-1], [0.0]])  # outliers[i] = sum(hist[i:])
    nonzero = hist != 0
    cumulative = np.concatenate([[0.0], np.cumsum(hist)])
    cumulative_nonzero = np.concatenate([[0], np.cumsum(nonzero)])
    columns = np.arange(n)
    levels = np.arange(QUANTIZED_LEVELS)
    best_i, best = n, math.inf
    for first in range(START_BIN, n + 1, block):
        candidates = np.arange(first, min(first + block, n + 1))[:, None]  # (B, 1)
        valid = columns[None, :] < candidates  # (B, n)
        # Reference P: the first i bins, the outliers added to the last one.
        p = np.where(valid, hist, 0.0)
        rows = np.arange(len(candidates))
        p[rows, candidates[:, 0] - 1] += outliers[candidates[:, 0]]
        # Candidate Q: the first i bins quantized into 128 groups of i // 128 bins (the last
        # group takes the rest), expanded back: each group's total spread evenly over its
        # non-empty bins.
        merged = candidates // QUANTIZED_LEVELS
        starts = levels[None, :] * merged  # (B, 128)
        ends = np.concatenate([starts[:, 1:], candidates], axis=1)
        totals = cumulative[ends] - cumulative[starts]
        sizes = cumulative_nonzero[ends] - cumulative_nonzero[starts]
        per_bin = np.divide(totals, sizes, out=np.zeros_like(totals), where=sizes > 0)
        group = np.minimum(columns[None, :] // merged, QUANTIZED_LEVELS - 1)
        q = np.where(valid & nonzero, np.take_along_axis(per_bin, group, axis=1), 0.0)
        p_sum, q_sum = p.sum(axis=1, keepdims=True), q.sum(axis=1, keepdims=True)
        usable = (p_sum[:, 0] > 0) & (q_sum[:, 0] > 0)
        p_norm = _smooth_rows(p / np.where(p_sum > 0, p_sum, 1), valid)
        q_norm = _smooth_rows(q / np.where(q_sum > 0, q_sum, 1), valid)
        terms = np.zeros_like(p_norm)
        mask = valid & (p_norm > 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            terms[mask] = p_norm[mask] * np.log(p_norm[mask] / q_norm[mask])
        divergence = np.where(usable, terms.sum(axis=1), np.inf)
        index = int(np.argmin(divergence))
        if divergence[index] < best:
            best, best_i = float(divergence[index]), int(candidates[index, 0])
    return (best_i + 0.5) * width


def mse_amax(counts: np.ndarray, width: float) -> float:
    """The bin center (from bin START_BIN up) whose INT8 fake quantization of the histogram's
    bin centers has the least count-weighted squared error."""
    hist = counts.astype(np.float64)
    centers = (np.arange(len(hist)) + 0.5) * width
    total = hist.sum()
    best_amax, best = centers[-1], math.inf
    for i in range(min(START_BIN, len(hist) - 1), len(hist)):
        amax = centers[i]
        scale = amax / 127.0
        quantized = np.clip(np.rint(centers / scale), -128, 127) * scale
        error = float(np.sum((quantized - centers) ** 2 * hist)) / total
        if error < best:
            best, best_amax = error, amax
    return float(best_amax)

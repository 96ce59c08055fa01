"""Streaming |x| histograms whose counts depend on the values alone, and what one batch of a
tensor contributes to them.

A ``TensorHistogram`` holds NUM_BINS bins over [0, 2**e), e the smallest integer with every
|x| seen below 2**e, so the bin of a value is ``floor(|x| * 2**(11 - e))``: a product by a
power of two, exact in float32, truncated to an integer. Widening the range from 2**e to
2**(e + 1) sums bin pairs (2k, 2k + 1) into bin k, which is exactly what binning at e + 1 would
have given, so a batch is binned once at its own range and merged into the running histogram
(or two workers' histograms into one) with no re-reading and no rounding: the counts are a
function of the multiset of values only, whatever the batch order, batch size or worker split.

Every value enters ``min``, ``max``, ``amax`` and ``total`` (exact). The bins count the
values at a fixed set of each sample's positions (``SamplePlan``), about ``limit`` per sample
and tensor (all of them for small tensors): a regular grid of pixels of every channel of a
feature map, every k-th value of other tensors. Every executor takes the same positions (the
onnxruntime executor inside its graph), so equal activations give equal counts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from trtdsl.calibration.methods import METHODS as METHODS
from trtdsl.calibration.methods import NUM_BINS, Method, clipped_fraction, compute_amax
from trtdsl.calibration.methods import entropy_amax as entropy_amax
from trtdsl.calibration.methods import mse_amax as mse_amax
from trtdsl.calibration.methods import percentile_amax as percentile_amax
from trtdsl.errors import CalibrationError

SAMPLE_VALUES = 8192
"""Values per sample and tensor that enter the bins by default (``--histogram-sample``)."""
_BITS = int(math.log2(NUM_BINS))


@dataclass(frozen=True)
class SamplePlan:
    """Which values of each sample of one tensor are binned.

    Attributes:
        shape: a sample's shape (the tensor's without the batch axis).
        stride: for a (C, H, W) sample, every ``stride``-th row and column of every channel
            (a regular grid from the top-left pixel); for other shapes, every ``stride``-th
            value of the flattened sample, from position 0.
    """

    shape: tuple[int, ...]
    stride: int

    @classmethod
    def of(cls, shape: tuple[int, ...], limit: int | None = SAMPLE_VALUES) -> SamplePlan:
        """The plan for samples of ``shape``, about ``limit`` values binned (None: all):
        the smallest grid stride that gives at most ``limit`` (or one pixel per channel);
        for other shapes the smallest prime stride that does not divide the size."""
        plan = cls(tuple(shape), 1)
        if limit is None or plan.size <= limit:
            return plan
        if plan.spatial:
            _, height, width = shape
            stride = 2
            while cls(plan.shape, stride).count > limit and stride < max(height, width):
                stride += 1
            return cls(plan.shape, stride)
        stride = max(2, -(-plan.size // limit))
        while not (_is_prime(stride) and plan.size % stride):
            stride += 1
        return cls(plan.shape, stride)

    @property
    def size(self) -> int:
        """Values per sample."""
        return math.prod(self.shape)

    @property
    def spatial(self) -> bool:
        """Whether samples are (C, H, W) feature maps (sampled on a grid)."""
        return len(self.shape) == 3

    @property
    def count(self) -> int:
        """Values binned per sample."""
        if self.spatial:
            channels, height, width = self.shape
            return channels * -(-height // self.stride) * -(-width // self.stride)
        return -(-self.size // self.stride)

    def take(self, array: np.ndarray) -> np.ndarray:
        """The binned values of a batch: (samples, count), a view where it can be."""
        if self.spatial:
            maps = array.reshape(-1, *self.shape)
            return maps[:, :, :: self.stride, :: self.stride].reshape(maps.shape[0], -1)
        return array.reshape(-1, self.size)[:, :: self.stride]


def _is_prime(n: int) -> bool:
    return n >= 2 and all(n % d for d in range(2, math.isqrt(n) + 1))


@dataclass(frozen=True)
class BatchStats:
    """What one batch of one tensor gives its histogram.

    Attributes:
        low, high: the smallest and largest value (every value of the batch).
        total: how many values the batch has.
        sample: the binned values: (rows, SamplePlan.count), any float dtype.
    """

    low: float
    high: float
    total: int
    sample: np.ndarray


def batch_stats(array: np.ndarray, plan: SamplePlan) -> BatchStats:
    """The BatchStats of one batch of a tensor (NumPy executors).

    Raises:
        CalibrationError: NaN or inf in ``array`` (nothing is recorded), or a batch that is
        not a whole number of samples of ``plan.shape``.
    """
    if array.size == 0:
        return BatchStats(0.0, 0.0, 0, np.zeros((0, plan.count), np.float32))
    low, high = float(np.min(array)), float(np.max(array))
    if not (math.isfinite(low) and math.isfinite(high)):
        raise CalibrationError("NaN or inf")
    if array.size % plan.size:
        raise CalibrationError(
            f"{array.size} values, not a whole number of samples of {plan.size} (the size "
            "the model's types give); calibration expects the batch on axis 0"
        )
    return BatchStats(low, high, array.size, plan.take(np.ascontiguousarray(array)))


def _exponent(amax: float) -> int:
    """The smallest e with amax < 2**e."""
    return math.frexp(amax)[1]


def bin_values(values: np.ndarray, exponent: int) -> np.ndarray:
    """int64[NUM_BINS] counts of ``floor(|values| * 2**(11 - exponent))`` (every |value| below
    2**exponent)."""
    shift = _BITS - exponent
    if -126 <= shift <= 127 and values.dtype == np.float32:
        scaled = np.multiply(values, np.float32(2.0**shift), dtype=np.float32)
    else:  # a scale float32 cannot hold, or another dtype: exact in float64
        scaled = np.ldexp(np.asarray(values, dtype=np.float64), shift)
    np.abs(scaled, out=scaled)
    index = scaled.astype(np.intp).reshape(-1)
    counts: np.ndarray = np.bincount(index, minlength=NUM_BINS)
    if len(counts) != NUM_BINS:  # unreachable: |values| < 2**exponent
        raise AssertionError(f"bin {len(counts) - 1} of {NUM_BINS}")
    return counts


def _coarsen(counts: np.ndarray, steps: int) -> np.ndarray:
    """The counts of a range 2**steps times wider: bins summed in groups of 2**steps."""
    if steps <= 0:
        return counts
    if steps >= _BITS:
        out = np.zeros(NUM_BINS, np.int64)
        out[0] = counts.sum()
        return out
    group = 1 << steps
    out = np.zeros(NUM_BINS, np.int64)
    out[: NUM_BINS // group] = counts.reshape(-1, group).sum(axis=1)
    return out


class TensorHistogram:
    """The |x| statistics of one tensor over a stream of batches, in fixed memory.

    Attributes:
        counts: int64[NUM_BINS] over [0, 2**exponent) (None until a non-zero value is binned).
        exponent: the range's exponent (None with ``counts``).
        zeros: how many binned values are exactly zero (they are in bin 0).
        binned: how many values the bins count; total: how many values were seen.
        min, max: the smallest and largest values seen; amax: the largest |x|.
    """

    def __init__(self) -> None:
        self.counts: np.ndarray | None = None
        self.exponent: int | None = None
        self.zeros = 0
        self.binned = 0
        self.total = 0
        self.min = math.inf
        self.max = -math.inf

    @property
    def amax(self) -> float:
        return max(-self.min, self.max, 0.0) + 0.0 if self.total else 0.0  # never -0.0

    @property
    def width(self) -> float:
        """The bin width (0.0 before any non-zero value was binned)."""
        return math.ldexp(1.0, self.exponent - _BITS) if self.exponent is not None else 0.0

    def update(self, x: np.ndarray) -> None:
        """Add every value of ``x`` (any shape; float), all of them binned.

        Raises:
            CalibrationError: NaN or inf in ``x`` (nothing is added).
        """
        values = np.asarray(x).reshape(1, -1)
        if not np.issubdtype(values.dtype, np.floating):
            values = values.astype(np.float32)
        self.add(batch_stats(values, SamplePlan((max(values.size, 1),), 1)))

    def add(self, stats: BatchStats) -> None:
        """Add one batch (``batch_stats``, or an executor's)."""
        if stats.total == 0:
            return
        self.total += stats.total
        self.min = min(self.min, stats.low)
        self.max = max(self.max, stats.high)
        sample = stats.sample
        zeros = int(sample.size - np.count_nonzero(sample))
        amax = max(-stats.low, stats.high)
        if amax == 0:
            self._merge(None, None, zeros, sample.size)
            return
        # The range comes from every value of the batch (not only the binned ones), so the
        # final range is the exponent of the tensor's amax, whatever the batches.
        exponent = _exponent(amax)
        self._merge(bin_values(sample, exponent), exponent, zeros, sample.size)

    def merge(self, other: TensorHistogram) -> None:
        """Add another histogram of the same tensor (another worker's), exactly."""
        if other.total == 0:
            return
        self.total += other.total
        self.min = min(self.min, other.min)
        self.max = max(self.max, other.max)
        self._merge(other.counts, other.exponent, other.zeros, other.binned)

    def _merge(
        self, counts: np.ndarray | None, exponent: int | None, zeros: int, binned: int
    ) -> None:
        self.zeros += zeros
        self.binned += binned
        if counts is None or exponent is None:  # zeros only: bin 0 at any range
            if self.counts is not None:
                self.counts[0] += binned
            return
        if self.counts is None or self.exponent is None:
            already = self.binned - binned  # zeros binned before any range was known
            self.counts = counts.astype(np.int64, copy=True)
            self.counts[0] += already
            self.exponent = exponent
            return
        target = max(self.exponent, exponent)
        self.counts = _coarsen(self.counts, target - self.exponent) + _coarsen(
            counts, target - exponent
        )
        self.exponent = target

    def compute_amax(self, method: Method) -> float:
        """The amax of ``method`` (0.0 for a tensor that was always zero)."""
        return compute_amax(method, self.counts, self.width, self.zeros, self.amax)

    def clipped(self, amax: float) -> float:
        """The fraction of binned values above ``amax`` (0 for amax >= the largest |x|)."""
        if amax >= self.amax:
            return 0.0
        return clipped_fraction(self.counts, self.width, amax)

    def state(self) -> tuple[np.ndarray | None, int | None, int, int, int, float, float]:
        """Everything the histogram holds (equal states: equal histograms)."""
        return (
            self.counts,
            self.exponent,
            self.zeros,
            self.binned,
            self.total,
            self.min,
            self.max,
        )

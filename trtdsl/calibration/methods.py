"""The amax methods, computed from a tensor's |x| histogram, and how a method is chosen per
tensor (``--method`` and ``--method-for PATTERN=METHOD``).

A histogram here is ``counts`` (int64[NUM_BINS]) over [0, NUM_BINS * width), the exact number
of zeros among the counted values (they sit in bin 0), and the exact largest |x| (``amax``).
Every method returns a threshold no larger than ``amax``; ``None`` means "no candidate is
usable", and the caller then takes ``amax`` itself (the ``max`` method). Thresholds are bin
edges, so the same histogram always gives the same amax.

- ``max``: the largest |x|.
- ``percentile[:P]``: the upper edge of the bin holding the P-th percentile (default 99.99) of
  the non-zero |x|. Exact zeros are left out: they quantize exactly at any scale, so a tensor
  that is mostly zeros (a sparse ReLU output) does not get an amax inside its zeros' bin.
- ``entropy``: TensorRT's KL-divergence search (Migacz, GTC 2017). Candidate i (in bins, from
  START_BIN to the last non-empty bin + 1) keeps bins [0, i): the reference P is those bins
  with every clipped value added to bin i - 1; Q is the same bins without the clipped values,
  merged into 128 groups of i // 128 bins (the last group takes the rest), each group's count
  spread evenly over its non-empty bins. amax = i * width for the i of least KL(P || Q).
  Bin 0 (a ReLU's zeros) is first given bin 1's count, as in NVIDIA's pytorch-quantization.
  As in TensorRT, the clipped values make bin i - 1 a non-empty bin of Q's expansion. P and
  Q are compared without TensorRT's smoothing of every empty bin (Q is non-zero wherever P
  is) except in one case: when the top quantization level holds no in-range value (a
  threshold in the empty stretch above the bulk, as below a single far outlier), Q gives the
  clipped values' bin EPSILON of its mass, so that clipping a few values costs little and
  clipping many costs much. Degenerate candidates are never chosen:

  * fewer than two non-empty bins in range: Q (and P, once the clipped values join that bin)
    is a single spike (or empty), the divergence is 0 or undefined and says nothing about the
    threshold. Few discrete levels (a centred image's 17 grey levels) collapse this way.
  * more than half of all values clipped: P's mass is mostly clipped values, so a small
    divergence only says that they were folded onto a spike.
  * exact ties go to the larger threshold; a NaN divergence never wins. When no candidate is
    left (everything within the first START_BIN bins, or one level), the method gives max.

  KL ignores how far the clipped values lie: on heavy tails it clips far below mse's
  threshold, which can cost many dB of quantization error (SQNR). So a KL threshold below
  mse's stands only while its squared error on the histogram is within ENTROPY_GUARD_DB of
  mse's least; beyond that, entropy takes mse's threshold. A KL threshold at or above mse's
  (or max) always stands: it clips less than mse, and its extra error is the rounding of the
  values it keeps, which a network's outputs bear better than clipped values (ResNet-50,
  seeded weights: output SQNR 15.22 dB with that case guarded as well, 15.32 without;
  ``benchmarks/README.md``).
- ``mse``: the candidate edge (the same candidates) whose INT8 fake quantization of the
  histogram (values at their bin centres, zeros at 0) has the least count-weighted squared
  error; exact ties go to the larger threshold.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from trtdsl.errors import UsageError

NUM_BINS = 2048
"""Histogram bins per tensor (TensorRT's legacy entropy calibrator uses 2048)."""
QUANTIZED_LEVELS = 128
"""The INT8 magnitudes the entropy method quantizes to (TensorRT's 128)."""
START_BIN = 128
"""The smallest threshold (in bins) the entropy and mse methods consider."""
DEFAULT_PERCENTILE = 99.99
ENTROPY_GUARD_DB = 0.5
"""How much more quantization error (dB) than mse's least the entropy threshold may give."""
EPSILON = 1e-4
"""The share of Q's mass given to the clipped values' bin when its quantization level holds no
in-range value (TensorRT's smoothing constant, applied to that one bin only)."""
METHODS = ("entropy", "max", "percentile", "mse")
_INT8_MAX = 127.0


@dataclass(frozen=True)
class Method:
    """A calibration method: ``name`` in METHODS, and the percentile for ``percentile``."""

    name: str
    percentile: float | None = None

    @classmethod
    def parse(cls, text: str, option: str = "--method") -> Method:
        """``"entropy"``, ``"max"``, ``"mse"``, ``"percentile"`` or ``"percentile:99.9"``."""
        name, colon, arg = str(text).partition(":")
        if name not in METHODS:
            raise UsageError(
                f"{option} {text!r}: expected one of entropy, max, percentile[:P], mse"
            )
        if name != "percentile":
            if colon:
                raise UsageError(f"{option} {text!r}: only percentile takes a value")
            return cls(name)
        try:
            value = float(arg) if colon else DEFAULT_PERCENTILE
        except ValueError:
            value = math.nan
        if not 0 < value <= 100:
            raise UsageError(f"{option} {text!r}: the percentile must be in (0, 100]")
        return cls(name, value)

    def __str__(self) -> str:
        return self.name if self.percentile is None else f"{self.name}:{self.percentile:g}"


@dataclass(frozen=True)
class MethodRule:
    """``--method-for PATTERN=METHOD``: tensors whose name matches the glob take ``method``."""

    pattern: str
    method: Method

    @classmethod
    def parse(cls, text: str) -> MethodRule:
        """``"x=max"``, ``"layer4.*=percentile:99.9"`` (the last ``=`` separates the two)."""
        pattern, equals, method = str(text).rpartition("=")
        if not equals or not pattern:
            raise UsageError(
                f"--method-for {text!r}: expected PATTERN=METHOD (e.g. 'x=max' or "
                "'layer4.*=percentile:99.9')"
            )
        return cls(pattern, Method.parse(method, f"--method-for {text!r}:"))

    def __str__(self) -> str:
        return f"{self.pattern}={self.method}"


def methods_for(
    values: Sequence[str], default: Method, rules: Sequence[MethodRule]
) -> dict[str, Method]:
    """Each calibrated value's method: the first rule whose glob matches its name, else
    ``default``.

    Raises:
        UsageError: a rule that matches none of ``values`` (a misspelt name would otherwise
        silently change nothing).
    """
    chosen: dict[str, Method] = {}
    for rule in rules:
        matched = [v for v in values if fnmatch.fnmatchcase(v, rule.pattern)]
        if not matched:
            shown = ", ".join(values[:8]) + (", ..." if len(values) > 8 else "")
            raise UsageError(
                f"--method-for {str(rule)!r}: no calibrated tensor matches {rule.pattern!r} "
                f"(the {len(values)} calibrated tensors: {shown})"
            )
        for v in matched:
            chosen.setdefault(v, rule.method)
    return {v: chosen.get(v, default) for v in values}


def compute_amax(
    method: Method, counts: np.ndarray | None, width: float, zeros: int, amax: float
) -> float:
    """The amax of ``method`` for a histogram (module docstring); 0.0 for an all-zero tensor.

    Args:
        counts: int64[NUM_BINS] over [0, NUM_BINS * width) (None: nothing but zeros seen).
        zeros: how many of the counted values are exactly 0.
        amax: the largest |x| seen (every value, counted or not).
    """
    if counts is None or amax == 0 or method.name == "max":
        return float(amax)
    if method.name == "percentile":
        assert method.percentile is not None
        found = percentile_amax(counts, width, method.percentile, zeros)
    elif method.name == "entropy":
        found = guarded_entropy_amax(counts, width, zeros, amax)[0]
    elif method.name == "mse":
        found = mse_amax(counts, width, zeros)
    else:  # pragma: no cover  (Method.parse refuses others)
        raise UsageError(f"unknown calibration method {method}")
    return float(amax) if found is None else min(float(found), float(amax))


def percentile_amax(
    counts: np.ndarray, width: float, percentile: float, zeros: int = 0
) -> float | None:
    """The upper edge of the bin holding the ``percentile``-th percentile of the non-zero
    values (``zeros`` of bin 0's count are exact zeros); None when every value is zero."""
    hist = counts.astype(np.float64)
    hist[0] -= zeros
    cdf = np.cumsum(hist)
    if cdf[-1] <= 0:
        return None
    index = int(np.searchsorted(cdf, cdf[-1] * percentile / 100.0, side="left"))
    return (min(index, len(hist) - 1) + 1) * width


def _candidates(counts: np.ndarray) -> np.ndarray:
    """The candidate bin counts i (START_BIN .. last non-empty bin + 1) of entropy and mse."""
    nonzero = np.flatnonzero(counts)
    stop = int(nonzero[-1]) + 1 if len(nonzero) else 0
    return np.arange(START_BIN, stop + 1) if stop > START_BIN else np.arange(0)


def _xlogx_over(t: np.ndarray, n: np.ndarray) -> np.ndarray:
    """``t * log(t / n)`` elementwise, 0 where ``t`` is 0."""
    out = np.zeros_like(t)
    positive = t > 0
    out[positive] = t[positive] * np.log(t[positive] / n[positive])
    return out


def entropy_amax(counts: np.ndarray, width: float) -> float | None:
    """The KL-divergence threshold of the module docstring (None: no usable candidate).

    Every candidate is evaluated in closed form from prefix sums, 128 terms per candidate
    instead of 2048 (the same value as the bin-by-bin sum): with H the total count, R the
    in-range count, c the clipped count, h the last in-range bin's count, and T_g and n_g the
    count and non-empty bins of group g (n_L of the last group counting bin i - 1 when the
    clipped values land there),
    ``H * KL = sum_{b < i-1} h_b log h_b + (R - h) log(R / H) - sum_g T_g log(T_g / n_g)
    + h log(T_L / n_L) + (h + c) log((h + c) / (H q))``, q = T_L / (n_L R) (or EPSILON).
    """
    original = counts.astype(np.float64)
    candidates = _candidates(counts)
    if len(candidates) == 0:
        return None
    n = int(candidates[-1])
    hist = original[:n].copy()
    hist[0] = hist[1]
    total_values = float(original.sum())
    suffix = np.concatenate([np.cumsum(original[::-1])[::-1], [0.0]])  # suffix[i] = sum(h[i:])
    cumulative = np.concatenate([[0.0], np.cumsum(hist)])
    nonzero = np.concatenate([[0], np.cumsum(hist > 0)])
    xlogx = np.where(hist > 0, hist * np.log(np.where(hist > 0, hist, 1.0)), 0.0)
    cumulative_xlogx = np.concatenate([[0.0], np.cumsum(xlogx)])
    usable = (nonzero[candidates] >= 2) & (2 * suffix[candidates] <= total_values)
    if not usable.any():
        return None
    i = candidates[usable]
    c, h = suffix[i], hist[i - 1]
    in_range = cumulative[i]
    total = in_range + c
    # The first QUANTIZED_LEVELS - 1 groups depend on i only through their width i // 128,
    # which 128 consecutive candidates share: their sum is computed once per width.
    merged = i // QUANTIZED_LEVELS
    widths, which = np.unique(merged, return_inverse=True)
    edges = np.arange(QUANTIZED_LEVELS)[None, :] * widths[:, None]  # group starts, and the
    inner_total = np.diff(cumulative[edges], axis=1)  # last group's start as the end of
    inner_bins = np.diff(nonzero[edges], axis=1).astype(np.float64)  # the one before it
    inner = _xlogx_over(inner_total, np.maximum(inner_bins, 1)).sum(axis=1)[which]
    last_start = (QUANTIZED_LEVELS - 1) * merged
    t_last = in_range - cumulative[last_start]
    # As TensorRT: the clipped values make bin i - 1 non-empty in Q's expansion.
    n_last = (nonzero[i] - nonzero[last_start]) + ((h == 0) & (c > 0))
    with np.errstate(divide="ignore", invalid="ignore"):
        q_last = np.where(t_last > 0, t_last / (n_last * in_range), EPSILON)
        scaled = (
            cumulative_xlogx[i - 1]
            + (in_range - h) * np.log(in_range / total)
            - inner
            - _xlogx_over(t_last, np.maximum(n_last, 1).astype(np.float64))
            + np.where(h > 0, h * np.log(t_last / n_last), 0.0)
            + (h + c) * np.log((h + c) / (total * q_last))
        )
    divergence = np.where(np.isnan(scaled), np.inf, scaled / total)
    best = float(divergence.min())
    if not math.isfinite(best):
        return None
    chosen = int(i[np.flatnonzero(divergence == best)[-1]])  # exact ties: the larger
    return chosen * width


def quantization_errors(
    counts: np.ndarray, width: float, zeros: int, thresholds: np.ndarray, block: int = 64
) -> np.ndarray:
    """The count-weighted squared INT8 quantization error of the histogram (values at bin
    centres, the ``zeros`` exact zeros at 0, which quantize exactly) at each threshold."""
    hist = counts.astype(np.float64)
    hist[0] -= zeros
    bins = np.flatnonzero(hist)
    errors = np.zeros(len(thresholds))
    if len(bins) == 0:
        return errors
    weights = hist[bins]
    centers = (bins + 0.5) * width
    for first in range(0, len(thresholds), block):
        scale = np.asarray(thresholds[first : first + block], np.float64)[:, None] / _INT8_MAX
        quantized = np.minimum(np.rint(centers[None, :] / scale), _INT8_MAX) * scale
        errors[first : first + block] = ((quantized - centers[None, :]) ** 2 * weights).sum(1)
    return errors


def mse_amax(counts: np.ndarray, width: float, zeros: int = 0) -> float | None:
    """The candidate edge ``i * width`` of least INT8 quantization error of the histogram
    (``quantization_errors``); None: no usable candidate."""
    candidates = _candidates(counts)
    if len(candidates) == 0 or counts.sum() <= zeros:
        return None
    errors = quantization_errors(counts, width, zeros, candidates * width)
    best = float(errors.min())
    chosen = int(candidates[np.flatnonzero(errors == best)[-1]])  # exact ties: the larger
    return chosen * width


def guarded_entropy_amax(
    counts: np.ndarray, width: float, zeros: int, amax: float
) -> tuple[float, bool]:
    """``(threshold, guarded)``: the KL threshold (or amax), unless it lies below mse's
    threshold and its quantization error exceeds mse's least error by more than
    ENTROPY_GUARD_DB; then mse's threshold."""
    kl = entropy_amax(counts, width)
    chosen = amax if kl is None else min(kl, amax)
    least = mse_amax(counts, width, zeros)
    if least is None:
        return chosen, False
    least = min(least, amax)
    if chosen >= least:  # clips no more than mse: its extra error is rounding, not clipping
        return chosen, False
    errors = quantization_errors(counts, width, zeros, np.array([chosen, least]))
    if errors[0] > errors[1] * 10 ** (ENTROPY_GUARD_DB / 10):
        return least, True
    return chosen, False


def clipped_fraction(counts: np.ndarray | None, width: float, amax: float) -> float:
    """The fraction of counted values above ``amax``: whole bins above it, and the part of
    the bin it falls in that lies above it (values taken as spread evenly in a bin)."""
    if counts is None or width <= 0:
        return 0.0
    total = float(counts.sum())
    if total == 0:
        return 0.0
    position = amax / width
    index = int(math.floor(position))
    if index >= len(counts):
        return 0.0
    above = float(counts[index + 1 :].sum()) + float(counts[index]) * (index + 1 - position)
    return above / total


def describe_methods(methods: Mapping[str, Method], default: Method) -> str:
    """``"entropy"`` or ``"entropy (x: max; fc: percentile:99.9)"``."""
    others: dict[str, list[str]] = {}
    for value, method in methods.items():
        if method != default:
            others.setdefault(str(method), []).append(value)
    if not others:
        return str(default)
    parts = [f"{', '.join(names)}: {method}" for method, names in others.items()]
    return f"{default} ({'; '.join(parts)})"

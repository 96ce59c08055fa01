"""The amax methods on the distributions that break naive calibrators, against onnxruntime's
calibrators on the same data; the degenerate-candidate rules one by one; the closed-form KL
search against a bin-by-bin one; exact, order-free histograms; --method-for rules."""

from __future__ import annotations

import contextlib
import io
import math
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from trtdsl.calibration.histogram import (
    NUM_BINS,
    BatchStats,
    SamplePlan,
    TensorHistogram,
    bin_values,
)
from trtdsl.calibration.methods import (
    ENTROPY_GUARD_DB,
    EPSILON,
    Method,
    MethodRule,
    _candidates,
    clipped_fraction,
    entropy_amax,
    guarded_entropy_amax,
    methods_for,
    mse_amax,
    percentile_amax,
    quantization_errors,
)
from trtdsl.errors import CalibrationError, UsageError

MARGIN_DB = 1.0
"""trtdsl's SQNR may trail onnxruntime's by at most this much on any distribution below."""
VALUES = 200_000


def _digits(rng: np.random.Generator) -> np.ndarray:
    """A centred 8x8 digit's pixels: 17 levels in [-0.5, 0.5], most at -0.5."""
    x = rng.integers(0, 17, VALUES) / 16 - 0.5
    x[rng.random(VALUES) < 0.7] = -0.5
    return x


def _edge_spike(rng: np.random.Generator) -> np.ndarray:
    """ReLU6-like: a fifth of the values exactly at the top."""
    return np.clip(rng.normal(3.5, 2, VALUES), 0, 6)


def _outlier(rng: np.random.Generator) -> np.ndarray:
    x = rng.standard_normal(VALUES)
    x[12345] = 100.0
    return x


def _silu(rng: np.random.Generator) -> np.ndarray:
    z = rng.normal(0, 2, VALUES)
    return z / (1 + np.exp(-z))


DISTRIBUTIONS: dict[str, Callable[[np.random.Generator], np.ndarray]] = {
    "discrete levels": _digits,
    "spike at the edge": _edge_spike,
    "signed": lambda rng: rng.standard_normal(VALUES),
    "one-sided": lambda rng: rng.exponential(1.0, VALUES),
    "single outlier": _outlier,
    "heavy tails": lambda rng: rng.standard_t(2, VALUES),
    "laplace": lambda rng: rng.laplace(size=VALUES),
    "relu": lambda rng: np.maximum(rng.standard_normal(VALUES), 0),
    "silu": _silu,
    "uniform": lambda rng: rng.uniform(-1, 1, VALUES),
    "all zero": lambda rng: np.zeros(VALUES),
}


def fake_quantize(x: np.ndarray, amax: float) -> np.ndarray:
    """INT8 as TensorRT: scale amax / 127, round half to even, clamp to [-128, 127]."""
    if amax == 0:
        return np.zeros_like(x)
    scale = amax / 127
    return np.clip(np.rint(x / scale), -128, 127) * scale


def sqnr_db(x: np.ndarray, amax: float) -> float:
    """SQNR of the fake-quantized ``x`` against ``x`` (inf when exact)."""
    noise = float(np.sum((x.astype(np.float64) - fake_quantize(x, amax)) ** 2))
    signal = float(np.sum(x.astype(np.float64) ** 2))
    return math.inf if noise == 0 else 10 * math.log10(signal / noise)


def _onnxruntime_amax(x: np.ndarray, method: str, **options: float) -> float:
    """onnxruntime's HistogramCollector (its Entropy/Percentile calibrators' collector, as
    ``create_calibrator`` configures it unless ``options`` say otherwise) on ``x`` in four
    batches; the symmetric amax of the (low, high) it returns."""
    calibrate = pytest.importorskip("onnxruntime.quantization.calibrate")
    collector = calibrate.HistogramCollector(
        method=method,
        symmetric=method == "percentile",
        num_bins=int(options.get("num_bins", 2048 if method == "percentile" else 128)),
        num_quantized_bins=128,
        percentile=options.get("percentile", 99.999),
        scenario="same",
    )
    with contextlib.redirect_stdout(io.StringIO()):  # it prints its progress
        for part in np.array_split(x, 4):
            collector.collect({"t": [part]})
        low, high = collector.compute_collection_result()["t"][:2]
    return max(abs(float(low)), abs(float(high)))


def _ours(x: np.ndarray, method: str) -> float:
    histogram = TensorHistogram()
    for part in np.array_split(x, 4):
        histogram.update(part)
    return histogram.compute_amax(Method.parse(method))


@pytest.fixture(scope="module")
def comparisons() -> dict[str, dict[str, float]]:
    """Per distribution: the SQNR (dB) of every trtdsl method and onnxruntime calibrator."""
    rng = np.random.default_rng(20)
    found = {}
    for name, make in DISTRIBUTIONS.items():
        x = make(rng).astype(np.float32)
        amax: dict[str, float | None] = {
            "max": _ours(x, "max"),
            "entropy": _ours(x, "entropy"),
            "percentile": _ours(x, "percentile:99.99"),
            "mse": _ours(x, "mse"),
            "ort minmax": float(np.abs(x).max()),
            "ort entropy": _onnxruntime_amax(x, "entropy"),
            "ort entropy 2048 bins": (
                _onnxruntime_amax(x, "entropy", num_bins=2048) if name in FINE_ENTROPY else None
            ),
            "ort percentile": _onnxruntime_amax(x, "percentile", percentile=99.99),
        }
        found[name] = {key: sqnr_db(x, a) for key, a in amax.items() if a is not None}
    return found


FINE_ENTROPY = ("relu", "single outlier")
"""Where onnxruntime's entropy also runs with 2048 bins (its Python search takes 2 s a
distribution): the cases where that finer search breaks differently from the default."""

PEERS = {
    "max": ("ort minmax",),
    "entropy": ("ort entropy", "ort entropy 2048 bins"),
    "percentile": ("ort percentile",),
    "mse": ("ort minmax", "ort entropy", "ort entropy 2048 bins", "ort percentile"),
}


@pytest.mark.parametrize("method", list(PEERS))
def test_sqnr_never_trails_onnxruntime(
    comparisons: dict[str, dict[str, float]], method: str
) -> None:
    """Each method against onnxruntime's calibrators of the same kind (mse against all of
    them): on every distribution, trtdsl's SQNR is at least theirs minus MARGIN_DB."""
    compared = expected = 0
    for name, sqnr in comparisons.items():
        for peer in PEERS[method]:
            if peer not in sqnr:
                continue
            expected += 1
            if math.isinf(sqnr[peer]):
                assert math.isinf(sqnr[method]), (name, method, sqnr)
            else:
                assert sqnr[method] >= sqnr[peer] - MARGIN_DB, (name, method, peer, sqnr)
            compared += 1
    assert compared == expected >= len(DISTRIBUTIONS) * len(PEERS[method]) - len(DISTRIBUTIONS)


def test_where_naive_calibrators_break(comparisons: dict[str, dict[str, float]]) -> None:
    """Named failures of the peers that trtdsl's methods do not share: onnxruntime's 2048-bin
    entropy collapses on a ReLU's zeros, the 128-bin default (ModelOpt's) keeps a single
    outlier, which entropy clips, and on heavy tails entropy's guard beats max."""
    relu, outlier = comparisons["relu"], comparisons["single outlier"]
    assert relu["entropy"] > relu["ort entropy 2048 bins"] + 5
    assert outlier["entropy"] > outlier["ort entropy"] + 2
    assert outlier["entropy"] > outlier["max"] + 2
    tails = comparisons["heavy tails"]
    assert tails["entropy"] > tails["max"] + 1  # KL alone clips these tails 2.7 dB below max


# -- the degenerate candidates ------------------------------------------------------------------


def _histogram_of(x: np.ndarray) -> TensorHistogram:
    histogram = TensorHistogram()
    histogram.update(np.asarray(x, np.float32))
    return histogram


def test_centred_digits_keep_their_full_range() -> None:
    """The issue's collapse: with the 17 levels of a centred digit, the candidate at 257 bins
    (bin 0 flattened, the 1/16 and 1/8 levels in range, 87% of the values clipped onto the
    1/8 level) or 129 bins (a single spike) had divergence 0. Both are refused now."""
    x = _digits(np.random.default_rng(0))
    histogram = _histogram_of(x)
    assert histogram.width == 1 / NUM_BINS  # range [0, 1): the levels sit at bins 128k
    counts = histogram.counts
    assert counts is not None
    assert set(np.flatnonzero(counts)) == {128 * k for k in range(9)}
    for method in ("entropy", "mse", "percentile", "max"):
        assert histogram.compute_amax(Method.parse(method)) == 0.5, method


def test_single_spike_and_empty_candidates_give_max() -> None:
    counts = np.zeros(NUM_BINS, np.int64)
    counts[1500] = 10  # one level: every candidate has at most one non-empty bin in range
    assert entropy_amax(counts, 1.0) is None
    counts[0] = 1000  # zeros (bin 0 is flattened to bin 1's count: still one spike)
    assert entropy_amax(counts, 1.0) is None
    assert _histogram_of(np.r_[np.zeros(1000), np.full(10, 3.0)]).compute_amax(
        Method("entropy")
    ) == pytest.approx(3.0)


def test_candidates_that_clip_most_values_are_refused() -> None:
    """Two levels, the upper one holding 80% of the values: clipping it would leave two
    in-range levels and a P that is mostly clipped values; the threshold keeps it."""
    counts = np.zeros(NUM_BINS, np.int64)
    counts[[300, 700]] = [10, 20]
    counts[1800] = 120
    amax = entropy_amax(counts, 1.0)
    assert amax is not None and amax > 1800


def test_exact_ties_prefer_the_larger_threshold() -> None:
    """Evenly spaced single bins, each alone in its group: every candidate that clips nothing
    of substance ties; the larger one wins (mse as well)."""
    counts = np.zeros(NUM_BINS, np.int64)
    counts[[200, 1000]] = 5
    entropy = entropy_amax(counts, 1.0)
    assert entropy == 1001.0  # the only candidate that clips nothing
    flat = np.zeros(NUM_BINS, np.int64)
    flat[:10] = 1  # all in the first 128 bins: no candidate below the top
    assert _candidates(flat).size == 0 and mse_amax(flat, 1.0) is None


def test_a_far_outlier_is_clipped_with_epsilon() -> None:
    """The bulk within 80 bins, one value at bin 1600: every threshold between them has an
    empty top level; Q gives the clipped value EPSILON, and the thresholds of the first merge
    band (i < 256, the bulk's bins unmerged) tie at the least divergence: the larger wins."""
    counts = np.zeros(NUM_BINS, np.int64)
    counts[:80] = 10_000
    counts[1600] = 1
    assert EPSILON == 1e-4
    assert entropy_amax(counts, 1.0) == 255.0
    counts[1600] = 100_000  # a heavy far mode is no outlier: kept
    amax = entropy_amax(counts, 1.0)
    assert amax is not None and amax > 1600


def test_entropy_guard_on_heavy_tails() -> None:
    """Student-t tails: KL clips far values whose squared error KL does not see; the guard
    takes mse's threshold when KL's error is more than ENTROPY_GUARD_DB above the least."""
    x = np.random.default_rng(5).standard_t(2, 100_000).astype(np.float32)
    histogram = _histogram_of(x)
    counts = histogram.counts
    assert counts is not None
    kl = entropy_amax(counts, histogram.width)
    threshold, guarded = guarded_entropy_amax(counts, histogram.width, 0, histogram.amax)
    least = mse_amax(counts, histogram.width)
    assert kl is not None and least is not None and guarded and threshold == least
    assert sqnr_db(x, kl) + ENTROPY_GUARD_DB < sqnr_db(x, threshold)
    assert histogram.compute_amax(Method("entropy")) == threshold
    laplace = _histogram_of(np.random.default_rng(6).laplace(size=100_000).astype(np.float32))
    counts = laplace.counts
    assert counts is not None
    kl = entropy_amax(counts, laplace.width)
    assert guarded_entropy_amax(counts, laplace.width, 0, laplace.amax) == (kl, False)


def test_entropy_guard_leaves_thresholds_that_clip_less_than_mse() -> None:
    """|N(0, 1)|: KL keeps nearly the whole range, mse clips more; KL's extra error (more than
    ENTROPY_GUARD_DB) is rounding, not clipping, so the guard leaves its threshold."""
    x = np.abs(np.random.default_rng(7).standard_normal(200_000)).astype(np.float32)
    histogram = _histogram_of(x)
    counts = histogram.counts
    assert counts is not None
    kl = entropy_amax(counts, histogram.width)
    least = mse_amax(counts, histogram.width)
    assert kl is not None and least is not None and kl > least
    errors = quantization_errors(counts, histogram.width, 0, np.array([kl, least]))
    assert 10 * math.log10(errors[0] / errors[1]) > ENTROPY_GUARD_DB
    assert guarded_entropy_amax(counts, histogram.width, 0, histogram.amax) == (kl, False)


def test_percentile_ignores_exact_zeros() -> None:
    x = np.zeros(100_000)
    x[:50] = np.linspace(0.1, 5, 50)  # 0.05% non-zero
    histogram = _histogram_of(x)
    amax = histogram.compute_amax(Method.parse("percentile:99"))
    assert 4.8 < amax <= 5.0  # of the non-zero values; over all, bin 0
    counts = histogram.counts
    assert counts is not None
    assert percentile_amax(counts, histogram.width, 99.0, zeros=0) == histogram.width


def test_all_zero_and_nan() -> None:
    zero = _histogram_of(np.zeros(10))
    for method in ("entropy", "mse", "percentile", "max"):
        assert zero.compute_amax(Method.parse(method)) == 0.0
    assert zero.clipped(0.0) == 0.0
    with pytest.raises(CalibrationError, match="NaN or inf"):
        TensorHistogram().update(np.array([1.0, np.nan], np.float32))


def test_clipped_fraction() -> None:
    counts = np.zeros(NUM_BINS, np.int64)
    counts[[10, 20, 30]] = [50, 30, 20]
    assert clipped_fraction(counts, 1.0, 40.0) == 0.0
    assert clipped_fraction(counts, 1.0, 25.0) == pytest.approx(0.2)
    assert clipped_fraction(counts, 1.0, 20.5) == pytest.approx(0.2 + 0.3 * 0.5)


# -- the closed form against a bin-by-bin KL ----------------------------------------------------


def _kl_bin_by_bin(counts: np.ndarray, i: int) -> float:
    """The divergence of candidate i as the methods' docstring defines it, bin by bin."""
    hist = counts.astype(np.float64).copy()
    hist[0] = hist[1]
    clipped = float(counts[i:].sum())
    p = hist[:i].copy()
    p[i - 1] += clipped
    merged = i // 128
    group = np.minimum(np.arange(i) // merged, 127)
    totals = np.bincount(group, weights=hist[:i], minlength=128)
    nonzero = np.bincount(group, weights=(p > 0).astype(np.float64), minlength=128)
    q = np.where(p > 0, totals[group] / np.maximum(nonzero[group], 1), 0.0)
    q /= hist[:i].sum()
    if q[i - 1] == 0 and clipped > 0:
        q[i - 1] = EPSILON
    p /= p.sum()
    mask = p > 0
    return float((p[mask] * np.log(p[mask] / q[mask])).sum())


def _entropy_bin_by_bin(counts: np.ndarray) -> float | None:
    best, chosen = math.inf, None
    for i in (int(c) for c in _candidates(counts)):
        in_range = counts[:i].astype(np.float64).copy()
        in_range[0] = in_range[1]
        if (in_range > 0).sum() < 2 or 2 * counts[i:].sum() > counts.sum():
            continue
        divergence = _kl_bin_by_bin(counts, i)
        if divergence <= best:
            best, chosen = divergence, i
    return None if chosen is None else float(chosen)


def test_closed_form_equals_bin_by_bin() -> None:
    """Random sparse and dense histograms: the same threshold (or none) as the definition;
    every example reaches the comparison, and both kinds occur."""
    reached = {"threshold": 0, "none": 0}

    @settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @example(spikes=[(300, 5)], bulk=0, far=0)  # one level: no usable candidate
    @example(spikes=[(130, 7), (300, 1)], bulk=0, far=1000)  # most values clipped: none
    @given(
        spikes=st.lists(
            st.tuples(st.integers(0, 511), st.integers(1, 10_000)),
            min_size=1,
            max_size=60,
        ),
        bulk=st.integers(0, 300),
        far=st.sampled_from([0, 0, 1, 1000]),
    )
    def check(spikes: list[tuple[int, int]], bulk: int, far: int) -> None:
        counts = np.zeros(NUM_BINS, np.int64)
        counts[:bulk] += 3
        counts[700] += far  # sometimes a far outlier (or mode) above the rest
        for index, count in spikes:
            counts[index] += count
        ours, theirs = entropy_amax(counts, 1.0), _entropy_bin_by_bin(counts)
        if theirs is None:
            assert ours is None
            reached["none"] += 1
        else:
            assert ours is not None
            # Closed form and bin-by-bin sums round differently: equal, or an equal-valued
            # candidate within float64 noise.
            if ours != theirs:
                assert _kl_bin_by_bin(counts, int(ours)) == pytest.approx(
                    _kl_bin_by_bin(counts, int(theirs)), rel=1e-9, abs=1e-12
                )
            reached["threshold"] += 1

    check()
    assert reached["threshold"] >= 20 and reached["none"] >= 1, reached


# -- exact histograms ------------------------------------------------------------------------


def _equal_states(a: TensorHistogram, b: TensorHistogram) -> bool:
    return all(
        np.array_equal(x, y) if isinstance(x, np.ndarray) else x == y
        for x, y in zip(a.state(), b.state(), strict=True)
    )


def test_histograms_are_bit_equal_however_the_data_is_split() -> None:
    """Any order, any batching, any merge tree of worker histograms: the same state; every
    example reaches the comparison."""
    reached = [0]

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        seed=st.integers(0, 2**32 - 1),
        scales=st.lists(st.floats(1e-3, 1e3), min_size=1, max_size=4),
        cuts=st.lists(st.integers(0, 3000), max_size=6),
        workers=st.integers(1, 4),
    )
    def check(seed: int, scales: list[float], cuts: list[int], workers: int) -> None:
        rng = np.random.default_rng(seed)
        x = np.concatenate([rng.standard_normal(750) * s for s in scales]).astype(np.float32)
        x[rng.random(len(x)) < 0.2] = 0.0
        whole = TensorHistogram()
        whole.update(x)
        order = rng.permutation(len(x))
        parts = np.split(x[order], sorted(c % (len(x) + 1) for c in cuts))
        shards = [TensorHistogram() for _ in range(workers)]
        for k, part in enumerate(parts):
            shards[k % workers].update(part)
        merged = shards[-1]
        for shard in reversed(shards[:-1]):
            merged.merge(shard)
        assert _equal_states(merged, whole)
        reached[0] += 1

    check()
    assert reached[0] >= 50


def test_coarsening_is_binning_at_the_wider_range() -> None:
    rng = np.random.default_rng(1)
    x = (rng.standard_normal(10_000) * 3).astype(np.float32)
    exponent = math.frexp(float(np.abs(x).max()))[1]
    for steps in (1, 3, 11, 12):
        narrow, wide = TensorHistogram(), TensorHistogram()
        narrow.update(x)
        wide.update(np.r_[x, np.float32(2.0 ** (exponent + steps - 1))])
        coarse = TensorHistogram()
        coarse.merge(narrow)
        coarse.update(np.float32([2.0 ** (exponent + steps - 1)]))
        assert _equal_states(coarse, wide), steps
        assert coarse.counts is not None
        assert np.array_equal(
            coarse.counts
            - bin_values(np.float32([2.0 ** (exponent + steps - 1)]), exponent + steps),
            bin_values(x, exponent + steps),
        )


def test_sample_plans() -> None:
    grid = SamplePlan.of((16, 56, 56), 8192)
    assert (
        grid.spatial
        and grid.count <= 8192
        and SamplePlan((16, 56, 56), grid.stride - 1).count > 8192
    )
    maps = np.arange(2 * 16 * 56 * 56, dtype=np.float32).reshape(2, 16, 56, 56)
    np.testing.assert_array_equal(
        grid.take(maps), maps[:, :, :: grid.stride, :: grid.stride].reshape(2, -1)
    )
    flat = SamplePlan.of((1000, 17), 1024)
    assert not flat.spatial and flat.size % flat.stride and flat.count <= 1024 + 1
    assert all(flat.stride % d for d in range(2, flat.stride))  # prime
    assert SamplePlan.of((3, 8, 8), None).stride == 1 and SamplePlan.of((3, 8, 8)).stride == 1
    stats = BatchStats(-1.0, 2.0, 10, np.float32([[0.0, -1.0, 2.0]]))
    histogram = TensorHistogram()
    histogram.add(stats)
    assert (histogram.total, histogram.binned, histogram.zeros, histogram.amax) == (10, 3, 1, 2.0)


# -- --method-for ------------------------------------------------------------------------------


def test_method_rules() -> None:
    rules = [MethodRule.parse("x=max"), MethodRule.parse("layer*.relu=percentile:99.9")]
    chosen = methods_for(["x", "layer1.relu", "layer2.relu", "fc"], Method("entropy"), rules)
    assert chosen == {
        "x": Method("max"),
        "layer1.relu": Method("percentile", 99.9),
        "layer2.relu": Method("percentile", 99.9),
        "fc": Method("entropy"),
    }
    first = methods_for(
        ["x"], Method("mse"), [MethodRule.parse("x=max"), MethodRule("*", Method("entropy"))]
    )
    assert first == {"x": Method("max")}  # the first matching rule wins
    with pytest.raises(UsageError, match=r"--method-for 'y=max': no calibrated tensor matches 'y'"):
        methods_for(["x"], Method("mse"), [MethodRule.parse("y=max")])
    with pytest.raises(UsageError, match="expected PATTERN=METHOD"):
        MethodRule.parse("max")
    with pytest.raises(UsageError, match=r"--method-for 'x=kl': 'kl': expected one of"):
        MethodRule.parse("x=kl")

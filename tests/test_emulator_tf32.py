"""Emulated TF32: with BuilderFlag.TF32 (TensorRT's default, trtdsl's --precision tf32) the
emulator rounds float32 convolution and matrix-multiply operands to TF32's 10 mantissa bits,
so a tf32 build shows TF32's error instead of exact float32 results."""

from __future__ import annotations

import numpy as np

from trtdsl import ModelBuilder
from trtdsl.backends.reference import run_reference
from trtdsl.backends.trt import BuildConfig, build_engine, emit_network, import_trt
from trtdsl.debug.check import run_plan
from trtdsl.emulator.types import round_to_tf32
from trtdsl.weights import random_weights


def test_round_to_tf32_keeps_ten_mantissa_bits_to_nearest_even() -> None:
    x = np.random.default_rng(0).standard_normal(10_000).astype(np.float32) * 100
    y = round_to_tf32(x)
    assert not (y.view(np.uint32) & np.uint32(0x1FFF)).any()  # 13 low mantissa bits cleared
    assert np.all(np.abs(y - x) <= np.abs(x) * 2.0**-11)  # half a unit in the last TF32 place
    one = np.float32(1.0)
    ulp = np.float32(2.0**-10)
    ties = np.array([one + ulp / 2, one + ulp * 1.5], np.float32)
    np.testing.assert_array_equal(round_to_tf32(ties), [one, one + 2 * ulp])  # to even
    specials = np.array([np.inf, -np.inf, np.nan, 0.0], np.float32)
    np.testing.assert_array_equal(round_to_tf32(specials), specials)


def _model() -> tuple[object, dict[str, np.ndarray]]:
    b = ModelBuilder("m")
    x = b.input("x", (2, 16, 8, 8))
    y = b.conv2d(x, out_channels=32, kernel_size=3, padding=1, name="conv")
    y = b.flatten(b.adaptive_avg_pool2d(y, output_size=1, name="gap"), name="flat")
    b.output(b.linear(y, out_features=10, name="fc"), "y")
    graph = b.build()
    return graph, random_weights(graph, seed=1)


def test_a_tf32_build_shows_tf32_error_and_fp32_stays_exact() -> None:
    trt = import_trt("emulated")
    graph, weights = _model()
    x = np.random.default_rng(2).standard_normal((2, 16, 8, 8)).astype(np.float32)
    want = run_reference(graph, weights, {"x": x})["y"]  # type: ignore[arg-type]
    errors = {}
    for precision in ("fp32", "tf32"):
        plan = build_engine(emit_network(trt, graph, weights), BuildConfig(precision=precision))  # type: ignore[arg-type]
        got = run_plan(trt, plan, {"x": x})["y"]
        errors[precision] = float(np.max(np.abs(got - want)) / np.max(np.abs(want)))
    assert errors["fp32"] < 1e-6
    assert 1e-5 < errors["tf32"] < 2e-2  # TF32: about 3 decimal digits per operand

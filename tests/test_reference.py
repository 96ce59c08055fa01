"""The reference executor: input and weight checks, per-node type checks, freeing of
intermediates, capture, and batch independence."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from trtdsl import ModelBuilder
from trtdsl.backends.reference import capture_reference, run_reference
from trtdsl.errors import ShapeError, UsageError, WeightError
from trtdsl.ir.graph import Graph
from trtdsl.ir.ops.activation import ReLU, Tanh
from trtdsl.weights import random_weights


def _two_input_graph() -> Graph:
    b = ModelBuilder("pair")
    x = b.input("x", ("N", 3, 8, 8), dims={"N": (1, 2, 4)})
    y = b.input("y", ("N", 4, 8, 8))
    h = b.conv2d(x, out_channels=4, kernel_size=3, padding=1, name="conv")
    h = b.tanh(h, name="act")
    s = b.add(h, y, name="sum")
    b.output(s, "out")
    b.output(h, "features")
    return b.build()


def _arrays(n: int = 2, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "x": rng.standard_normal((n, 3, 8, 8)).astype(np.float32),
        "y": rng.standard_normal((n, 4, 8, 8)).astype(np.float32),
    }


@pytest.fixture(scope="module")
def pair() -> tuple[Graph, dict[str, np.ndarray]]:
    graph = _two_input_graph()
    return graph, random_weights(graph, seed=3)


def test_outputs_by_port_name_and_values(pair: tuple[Graph, dict[str, np.ndarray]]) -> None:
    graph, weights = pair
    inputs = _arrays()
    out = run_reference(graph, weights, inputs)
    assert sorted(out) == ["features", "out"]
    w, b = weights["conv.weight"], weights["conv.bias"]
    # Direct (loop) convolution as an independent check.
    xp = np.pad(inputs["x"], ((0, 0), (0, 0), (1, 1), (1, 1)))
    conv = np.zeros((2, 4, 8, 8), np.float64)
    for i in range(3):
        for j in range(3):
            conv += np.einsum("nchw,kc->nkhw", xp[:, :, i : i + 8, j : j + 8], w[:, :, i, j])
    conv += b.reshape(1, 4, 1, 1)
    np.testing.assert_allclose(out["features"], np.tanh(conv), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(out["out"], out["features"] + inputs["y"], rtol=1e-6)
    assert all(a.flags.c_contiguous and a.dtype == np.float32 for a in out.values())


def test_batch_of_four_equals_four_single_runs(
    pair: tuple[Graph, dict[str, np.ndarray]],
) -> None:
    graph, weights = pair
    inputs = _arrays(n=4, seed=1)
    batched = run_reference(graph, weights, inputs)
    for i in range(4):
        single = run_reference(graph, weights, {k: v[i : i + 1] for k, v in inputs.items()})
        for name in batched:
            np.testing.assert_allclose(batched[name][i : i + 1], single[name], rtol=0, atol=1e-6)


def test_capture_returns_every_value(pair: tuple[Graph, dict[str, np.ndarray]]) -> None:
    graph, weights = pair
    inputs = _arrays()
    values = capture_reference(graph, weights, inputs)
    assert sorted(values) == ["act", "conv", "sum", "x", "y"]
    out = run_reference(graph, weights, inputs)
    np.testing.assert_array_equal(values["sum"], out["out"])
    np.testing.assert_allclose(values["act"], np.tanh(values["conv"]), rtol=1e-6)


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        (lambda a: a.pop("y"), UsageError, r"missing input\(s\) 'y' \(inputs: x, y\)"),
        (lambda a: a.update(z=a["x"]), UsageError, r"unknown input\(s\) 'z'"),
        (
            lambda a: a.update(x=a["x"][:, :2]),
            ShapeError,
            r"input 'x': expected shape Nx3x8x8, got 2x2x8x8 \(axis 1: 2 != 3\)",
        ),
        (lambda a: a.update(x=a["x"][0]), ShapeError, r"input 'x'.*\(rank 4\), got 3x8x8"),
        (
            lambda a: a.update(x=a["x"].astype(np.float64)),
            ShapeError,
            "input 'x': expected dtype float32, got float64",
        ),
        (
            lambda a: a.update(y=np.concatenate([a["y"], a["y"]])),
            ShapeError,
            r"input 'y': dimension N is 4 on axis 0 but 2 in input 'x'",
        ),
    ],
    ids=["missing", "unknown", "shape", "rank", "dtype", "symbol"],
)
def test_bad_inputs_raise_one_line_errors(
    pair: tuple[Graph, dict[str, np.ndarray]],
    change: Callable[[dict[str, np.ndarray]], object],
    error: type[Exception],
    match: str,
) -> None:
    graph, weights = pair
    inputs = _arrays()
    change(inputs)
    with pytest.raises(error, match=match) as info:
        run_reference(graph, weights, inputs)
    assert "\n" not in str(info.value)


def test_weight_problems_are_reported_together(
    pair: tuple[Graph, dict[str, np.ndarray]],
) -> None:
    graph, weights = pair
    bad = dict(weights)
    del bad["conv.bias"]
    bad["conv.weight"] = bad["conv.weight"][:2]
    with pytest.raises(WeightError, match=r"2 weight problem\(s\): conv\.weight is float32"):
        run_reference(graph, bad, _arrays())
    with pytest.raises(WeightError, match=r"conv\.bias missing"):
        run_reference(graph, bad, _arrays())


def test_a_node_result_of_the_wrong_type_is_an_internal_error(
    pair: tuple[Graph, dict[str, np.ndarray]], monkeypatch: pytest.MonkeyPatch
) -> None:
    graph, weights = pair
    monkeypatch.setattr(Tanh, "compute", lambda self, x: np.tanh(x)[:, :2])
    with pytest.raises(AssertionError, match=r"^act: act has shape \(2, 2, 8, 8\)"):
        run_reference(graph, weights, _arrays())


def test_intermediates_are_freed_after_their_last_reader(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    b = ModelBuilder("chain")
    h = b.input("x", (1, 4))
    for i in range(4):
        h = b.tanh(h, name=f"r{i}")
    b.output(h, "y")
    graph = b.build()
    produced: list[weakref.ref[np.ndarray]] = []
    alive_at_call: list[list[bool]] = []

    def compute(self: Tanh, x: np.ndarray) -> np.ndarray:
        gc.collect()
        alive_at_call.append([r() is not None for r in produced])
        out = np.tanh(x)
        produced.append(weakref.ref(out))
        return out

    monkeypatch.setattr(Tanh, "compute", compute)
    x = np.ones((1, 4), np.float32)
    run_reference(graph, {}, {"x": x})
    # When r3 runs, r0 and r1 are dead and r2 (its input) is alive.
    assert alive_at_call[3] == [False, False, True]
    alive_at_call.clear()
    produced.clear()
    capture_reference(graph, {}, {"x": x})
    assert alive_at_call[3] == [True, True, True]


def _relu_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the ReLU results computed into new arrays (``reference()``, not in place)."""
    calls: list[int] = []
    original = ReLU.reference

    def reference(self: ReLU, inputs: Any, params: Any) -> np.ndarray:
        calls.append(1)
        return original(self, inputs, params)

    monkeypatch.setattr(ReLU, "reference", reference)
    return calls


def test_in_place_ops_never_touch_caller_arrays_or_live_views(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    b = ModelBuilder("alias")
    x = b.input("x", (2, 3, 4, 4))
    same = b.identity(x, name="same")  # the caller's array itself
    c = b.relu(same, name="r0")  # must not write over x
    view = b.flatten(c, name="view")  # a view of r0, still live below
    r = b.relu(c, name="r1")  # r0 dies here, but "view" shares its memory
    s = b.add(b.flatten(r, name="flat"), view, name="sum")  # "flat" is dead: may be reused
    b.output(b.relu(s, name="r2"), "y")
    graph = b.build()
    calls = _relu_calls(monkeypatch)
    x_array = np.random.default_rng(0).standard_normal((2, 3, 4, 4)).astype(np.float32)
    x_copy = x_array.copy()
    y = run_reference(graph, {}, {"x": x_array})["y"]
    np.testing.assert_array_equal(x_array, x_copy)
    relu = np.maximum(x_copy, 0).reshape(2, -1)
    np.testing.assert_array_equal(y, np.maximum(relu + relu, 0))
    # r0 and r1 could not reuse their inputs (caller's array, live view); r2 did.
    assert len(calls) == 2
    calls.clear()
    capture_reference(graph, {}, {"x": x_array})
    assert len(calls) == 3  # captured values are never overwritten


def test_conv_relu_fusion_equals_separate_ops() -> None:
    b = ModelBuilder("fused")
    x = b.input("x", (2, 3, 9, 9))
    c = b.conv2d(x, out_channels=5, kernel_size=3, stride=2, padding=1, name="conv")
    r = b.relu(c, name="act")  # the conv's only reader: fused into the conv kernel
    c2 = b.conv2d(r, out_channels=4, kernel_size=1, name="conv2")
    r2 = b.relu(c2, name="act2")  # conv2 is also a graph output: not fused
    b.output(r2, "y")
    b.output(c2, "pre")
    graph = b.build()
    weights = random_weights(graph, seed=2)
    x_array = np.random.default_rng(3).standard_normal((2, 3, 9, 9)).astype(np.float32)
    out = run_reference(graph, weights, {"x": x_array})
    values = capture_reference(graph, weights, {"x": x_array})  # no fusion when capturing
    assert values["conv"].min() < 0  # the captured conv value is taken before the relu
    np.testing.assert_array_equal(values["act"], np.maximum(values["conv"], 0))
    np.testing.assert_array_equal(out["y"], values["act2"])
    np.testing.assert_array_equal(out["pre"], values["conv2"])
    assert out["pre"].min() < 0

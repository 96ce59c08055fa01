"""Emulated loops compute what their semantics say (layers/loop.py): counted loops, WHILE
loops that stop on a condition computed in the body, and the greedy suppression loop of the
TensorRT-RTX NMS lowering; plus ELEMENT gathers."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import trtdsl.emulator as trt
from trtdsl.emulator.execute import run_plan
from trtdsl.emulator.plan import load_plan


def _network() -> tuple[Any, Any]:
    builder = trt.Builder(trt.Logger())
    return builder, builder.create_network(0)


def _run(builder: Any, network: Any, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    plan = builder.build_serialized_network(network, builder.create_builder_config())
    assert plan is not None
    return run_plan(load_plan(bytes(plan)), inputs)


def _constant(network: Any, value: Any, dtype: Any) -> Any:
    array = np.asarray(value, dtype=dtype)
    return network.add_constant(array.shape, array).get_output(0)


@pytest.mark.parametrize(("count", "expected"), [(0, 5.0), (1, 5.0), (4, 8.0)])
def test_counted_loop_outputs_the_last_iterations_value(count: int, expected: float) -> None:
    """r starts at 5 and adds 1 per iteration: LAST_VALUE is r as the last iteration began
    (the initial value when no iteration runs)."""
    builder, net = _network()
    loop = net.add_loop()
    r = loop.add_recurrence(net.add_input("x", trt.float32, (1,)))
    r.set_input(
        1,
        net.add_elementwise(
            r.get_output(0), _constant(net, [1.0], np.float32), trt.ElementWiseOperation.SUM
        ).get_output(0),
    )
    loop.add_trip_limit(_constant(net, count, np.int32), trt.TripLimit.COUNT)
    net.mark_output(loop.add_loop_output(r.get_output(0), trt.LoopOutput.LAST_VALUE).get_output(0))
    (out,) = _run(builder, net, {"x": np.array([5.0], np.float32)}).values()
    assert out.tolist() == [expected]


@pytest.mark.parametrize("limit", [3, 100])
def test_while_loop_stops_when_its_condition_is_false(limit: int) -> None:
    """Doubling r while r < 50 (and at most ``limit`` iterations, a second trip limit)."""
    builder, net = _network()
    loop = net.add_loop()
    r = loop.add_recurrence(net.add_input("x", trt.float32, ()))
    r.set_input(
        1,
        net.add_elementwise(
            r.get_output(0), _constant(net, 2.0, np.float32), trt.ElementWiseOperation.PROD
        ).get_output(0),
    )
    below = net.add_elementwise(
        r.get_output(0), _constant(net, 50.0, np.float32), trt.ElementWiseOperation.LESS
    )
    loop.add_trip_limit(below.get_output(0), trt.TripLimit.WHILE)
    loop.add_trip_limit(_constant(net, limit, np.int32), trt.TripLimit.COUNT)
    net.mark_output(loop.add_loop_output(r.get_output(0), trt.LoopOutput.LAST_VALUE).get_output(0))
    (out,) = _run(builder, net, {"x": np.array(3.0, np.float32)}).values()
    # 3, 6, 12, 24, 48 run (96 fails the condition); at most 3 iterations: 3, 6, 12.
    assert float(out) == (12.0 if limit == 3 else 48.0)


def test_a_while_loop_that_never_ends_is_stopped(monkeypatch: pytest.MonkeyPatch) -> None:
    """A WHILE condition that stays true (a forged plan, or a bug) is stopped after
    MAX_ITERATIONS with an error naming the loop, not run forever."""
    import trtdsl.emulator.loops as loops
    from trtdsl.emulator.plan import PlanError

    monkeypatch.setattr(loops, "MAX_ITERATIONS", 50)
    builder, net = _network()
    loop = net.add_loop()
    r = loop.add_recurrence(net.add_input("x", trt.float32, ()))
    r.name = "spin"
    r.set_input(
        1,
        net.add_elementwise(
            r.get_output(0), _constant(net, 1.0, np.float32), trt.ElementWiseOperation.SUM
        ).get_output(0),
    )
    always = net.add_elementwise(
        r.get_output(0), r.get_output(0), trt.ElementWiseOperation.EQUAL
    )  # r == r: true for every finite r
    loop.add_trip_limit(always.get_output(0), trt.TripLimit.WHILE)
    net.mark_output(loop.add_loop_output(r.get_output(0), trt.LoopOutput.LAST_VALUE).get_output(0))
    with pytest.raises(PlanError, match=r"loop 'spin': still running after 50 iterations"):
        _run(builder, net, {"x": np.array(0.0, np.float32)})


def _greedy(suppress: np.ndarray) -> np.ndarray:
    keep: list[bool] = []
    for j in range(suppress.shape[0]):
        keep.append(not any(keep[i] and suppress[i, j] for i in range(j)))
    return np.array(keep, np.float32)


def test_fixed_point_loop_is_greedy_suppression() -> None:
    """keep = NOT any(keep_i AND S_ij) iterated until unchanged equals the greedy sequential
    result (the TensorRT-RTX NMS lowering)."""
    builder, net = _network()
    size = 12
    s = net.add_input("S", trt.float32, (3, size, size))
    v = net.add_input("v", trt.float32, (3, 1, size))
    loop = net.add_loop()
    keep = loop.add_recurrence(v)
    flag = loop.add_recurrence(
        net.add_elementwise(
            _constant(net, 1.0, np.float32),
            _constant(net, 0.0, np.float32),
            trt.ElementWiseOperation.GREATER,
        ).get_output(0)
    )
    loop.add_trip_limit(flag.get_output(0), trt.TripLimit.WHILE)
    hits = net.add_matrix_multiply(
        keep.get_output(0), trt.MatrixOperation.NONE, s, trt.MatrixOperation.NONE
    ).get_output(0)
    suppressed = net.add_elementwise(
        hits, _constant(net, [[[0.0]]], np.float32), trt.ElementWiseOperation.GREATER
    ).get_output(0)
    kept = net.add_cast(
        net.add_unary(suppressed, trt.UnaryOperation.NOT).get_output(0), trt.float32
    ).get_output(0)
    following = net.add_elementwise(kept, v, trt.ElementWiseOperation.PROD).get_output(0)
    change = net.add_unary(
        net.add_elementwise(following, keep.get_output(0), trt.ElementWiseOperation.SUB).get_output(
            0
        ),
        trt.UnaryOperation.ABS,
    ).get_output(0)
    total = net.add_reduce(change, trt.ReduceOperation.SUM, 0b111, False).get_output(0)
    flag.set_input(
        1,
        net.add_elementwise(
            total, _constant(net, 0.0, np.float32), trt.ElementWiseOperation.GREATER
        ).get_output(0),
    )
    keep.set_input(1, following)
    net.mark_output(
        loop.add_loop_output(keep.get_output(0), trt.LoopOutput.LAST_VALUE).get_output(0)
    )
    rng = np.random.default_rng(7)
    suppress = np.triu(rng.random((3, size, size)) < 0.3, 1).astype(np.float32)
    # A chain 0 -> 1 -> 2 -> ... (each suppresses the next) needs many iterations.
    suppress[2] = np.eye(size, k=1, dtype=np.float32)
    valid = (rng.random((3, 1, size)) < 0.9).astype(np.float32)
    valid[2] = 1.0
    (out,) = _run(builder, net, {"S": suppress, "v": valid}).values()
    for n in range(3):
        masked = suppress[n] * valid[n, 0][:, None]
        assert out[n, 0].tolist() == (_greedy(masked) * valid[n, 0]).tolist()
    assert out[2, 0].tolist() == [1.0, 0.0] * (size // 2)


def test_element_gather_picks_along_the_axis() -> None:
    builder, net = _network()
    layer = net.add_gather(
        net.add_input("x", trt.float32, (2, 5, 4)), net.add_input("i", trt.int32, (2, 3, 2)), 1
    )
    layer.mode = trt.GatherMode.ELEMENT
    net.mark_output(layer.get_output(0))
    rng = np.random.default_rng(0)
    x = rng.random((2, 5, 4), dtype=np.float32)
    i = rng.integers(-5, 5, (2, 3, 2)).astype(np.int32)
    (out,) = _run(builder, net, {"x": x, "i": i}).values()
    expected = np.take_along_axis(x[:, :, :2], np.where(i < 0, i + 5, i).astype(np.int64), axis=1)
    assert np.array_equal(out, expected)

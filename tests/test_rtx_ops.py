"""Every op case on NVIDIA's real builder (TensorRT-RTX on the CPU) at fp32, fp16 and bf16.

Each case is emitted into a real INetworkDefinition and built into a real engine (the plan
starts with b"vtrt"; it cannot run here), and the emulator's network for the same graph must
equal the real one layer by layer: names, LayerType and operation, input and output shapes and
dtypes, metadata. ``assert_same_network`` is the comparison (test_rtx_zoo.py uses it too).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from cases import CASES, OpCase, case_arrays
from test_trt_emit import case_graph

from trtdsl.backends.trt import (
    BuildConfig,
    EmittedNetwork,
    build_engine,
    emit_network,
    import_trt,
    network_layers,
    prepare_graph,
)
from trtdsl.backends.trt.layers import LayerInfo, format_layers, network_io
from trtdsl.backends.trt.module import downcast_layer
from trtdsl.backends.trt.ops.activation import finite_max
from trtdsl.ir.graph import Graph
from trtdsl.ir.ops.base import param_key
from trtdsl.ir.types import DType, Precision

PRECISIONS = ("fp32", "fp16", "bf16")
PLAN_MAGIC = b"vtrt"
"""The first bytes of a TensorRT-RTX plan."""


@functools.cache
def rtx() -> ModuleType:
    return import_trt("tensorrt-rtx")


@functools.cache
def emulator() -> ModuleType:
    return import_trt("emulated")


def first_difference(emulated: list[LayerInfo], real: list[LayerInfo]) -> str | None:
    """None when the two layer lists are equal, else a report of the first differing layer:
    its index, the fields that differ, and both rows as ``format_layers`` prints them."""
    for index, (mine, theirs) in enumerate(zip(emulated, real, strict=False)):
        if mine == theirs:
            continue
        fields = [
            f"  {name}: emulator {getattr(mine, name)!r}\n  {' ' * len(name)}  real     "
            f"{getattr(theirs, name)!r}"
            for name in ("name", "type", "inputs", "outputs", "metadata")
            if getattr(mine, name) != getattr(theirs, name)
        ]
        return (
            f"layer {index} differs:\n"
            + "\n".join(fields)
            + f"\nemulator: {format_layers([mine])}\nreal:     {format_layers([theirs])}"
        )
    if len(emulated) != len(real):
        longer, label = (emulated, "emulator") if len(emulated) > len(real) else (real, "real")
        extra = longer[min(len(emulated), len(real))]
        return (
            f"the emulator has {len(emulated)} layers, the real network {len(real)}; first "
            f"layer only the {label} has:\n{format_layers([extra])}"
        )
    return None


def assert_same_network(emulated: EmittedNetwork, real: EmittedNetwork) -> None:
    """The emulator's network equals the real one: I/O tensors and every layer."""
    emulated_io = network_io(emulated.network)
    real_io = network_io(real.network)
    assert emulated_io == real_io, f"network I/O differs: emulator {emulated_io}, real {real_io}"
    difference = first_difference(
        network_layers(emulated.trt, emulated.network), network_layers(real.trt, real.network)
    )
    assert difference is None, difference


def emit_both(
    graph: Graph, weights: Mapping[str, np.ndarray]
) -> tuple[EmittedNetwork, EmittedNetwork]:
    """(emulated, real) networks of one prepared graph, compared layer by layer (the emulator
    emits the network TensorRT-RTX gets: its ``nms`` lowering)."""
    real = emit_network(rtx(), graph, weights)
    emulated = emit_network(emulator(), graph, weights, product="tensorrt-rtx")
    assert_same_network(emulated, real)
    return emulated, real


def _prepared_case(case: OpCase, precision: str) -> tuple[Graph, dict[str, np.ndarray]]:
    _, params = case_arrays(case)
    weights = {param_key("op", role): a for role, a in params.items()}
    return prepare_graph(case_graph(case), weights, precision)


@pytest.mark.rtx
@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_case_builds_and_matches_the_emulator(case: OpCase, precision: str) -> None:
    graph, weights = _prepared_case(case, precision)
    _, real = emit_both(graph, weights)
    plan = build_engine(real, BuildConfig(precision=Precision.parse(precision)))
    assert plan[:4] == PLAN_MAGIC


# -- one-sided clip in half precision --------------------------------------------------------

CLIP_CASES = [c for c in CASES if c.id in ("clip-min-only", "clip-max-only")]
HALF = {"fp16": DType.FLOAT16, "bf16": DType.BFLOAT16}


def test_one_sided_clip_cases_exist() -> None:
    assert len(CLIP_CASES) == 2


def _clip_layer(trt: ModuleType, emitted: EmittedNetwork) -> Any:
    for index in range(emitted.network.num_layers):
        layer = downcast_layer(trt, emitted.network.get_layer(index))
        if layer.name == "op":
            return layer
    raise AssertionError("no layer named op")


@pytest.mark.parametrize(
    "module", ["emulated", pytest.param("tensorrt-rtx", marks=pytest.mark.rtx)]
)
@pytest.mark.parametrize("precision", sorted(HALF))
@pytest.mark.parametrize("case", CLIP_CASES, ids=lambda c: c.id)
def test_one_sided_clip_bounds_are_in_the_compute_dtype_range(
    module: str, case: OpCase, precision: str
) -> None:
    trt = import_trt(module)
    graph, weights = _prepared_case(case, precision)
    layer = _clip_layer(trt, emit_network(trt, graph, weights))
    largest = finite_max(HALF[precision])
    assert -largest <= layer.alpha <= layer.beta <= largest
    assert largest in (-layer.alpha, layer.beta)  # the open bound is the dtype's largest value


@pytest.mark.rtx
@pytest.mark.parametrize("precision", sorted(HALF))
@pytest.mark.parametrize("case", CLIP_CASES, ids=lambda c: c.id)
def test_one_sided_clip_builds_without_a_lossy_cast_warning(
    case: OpCase, precision: str, capfd: pytest.CaptureFixture[str]
) -> None:
    """TensorRT-RTX prints "operand op_beta payload type requires precision-lose casting" to
    stdout (not through the ILogger) for a half-precision bound at the float32 maximum."""
    graph, weights = _prepared_case(case, precision)
    capfd.readouterr()
    emitted = emit_network(rtx(), graph, weights)
    plan = build_engine(emitted, BuildConfig(precision=Precision.parse(precision)))
    assert plan[:4] == PLAN_MAGIC
    captured = capfd.readouterr()
    assert "precision-lose" not in captured.out + captured.err

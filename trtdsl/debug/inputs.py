"""Seeded inputs: the one way trtdsl makes random input arrays for checks, runs and benches.

Input ``i`` (in model or engine order) drawn with seed ``s`` comes from
``numpy.random.default_rng((s, i))``: the same array whether it is drawn alone
(``--input x=random:3``) or with the others (``--seed 3``), and different inputs differ.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Literal

import numpy as np

from trtdsl.errors import TrtdslError, UsageError
from trtdsl.files import require_memory
from trtdsl.ir.graph import Graph
from trtdsl.ir.types import ValueRange

SizePoint = Literal["min", "opt", "max"]


def seeded_array(
    shape: tuple[int, ...],
    dtype: np.dtype | type,
    seed: int,
    position: int = 0,
    value_range: ValueRange | None = None,
) -> np.ndarray:
    """Standard-normal floats, integers or booleans of ``dtype`` and ``shape`` for the input
    at ``position`` drawn with ``seed``: integers uniform in ``value_range`` (both ends
    included; the input's declared ``range``), else 0..9; booleans 0..1."""
    dtype = np.dtype(dtype)
    count = math.prod(shape)
    # standard_normal and integers draw 8-byte values before the cast
    require_memory(count * (8 + dtype.itemsize), f"a random input of shape {shape}")
    rng = np.random.default_rng((seed, position))
    if dtype.kind == "f":
        return rng.standard_normal(shape).astype(dtype)
    low, high = (0, 1) if dtype.kind == "b" else (0, 9)
    if value_range is not None:
        low, high = value_range.low, value_range.high
    return rng.integers(low, high, shape, endpoint=True).astype(dtype)


def check_value_range(array: np.ndarray, value_range: ValueRange | None, what: str) -> None:
    """UsageError naming ``what`` when ``array`` holds a value outside ``value_range``."""
    if value_range is None or array.size == 0:
        return
    low, high = array.min(), array.max()
    if low < value_range.low or high > value_range.high:
        raise UsageError(
            f"{what}: values {low}..{high} are outside the input's declared range "
            f"{value_range} (both ends included)"
        )


def seeded_inputs(
    graph: Graph,
    seed: int = 0,
    shapes: Mapping[str, tuple[int, ...]] | None = None,
    at: SizePoint = "opt",
) -> dict[str, np.ndarray]:
    """One seeded array per graph input.

    Args:
        shapes: fixed shapes for some inputs; the others take their declared shape with
            symbolic dimensions at their ``at`` size.
    """
    sizes = graph.sizes(at)
    shapes = shapes or {}
    concrete = {
        name: tuple(shapes.get(name, graph.types[name].concrete(sizes))) for name in graph.inputs
    }
    require_graph_memory(graph, concrete)
    result = {}
    for position, name in enumerate(graph.inputs):
        t = graph.types[name]
        result[name] = seeded_array(
            concrete[name], t.dtype.to_numpy(), seed, position, graph.input_ranges.get(name)
        )
    return result


def peak_value_bytes(graph: Graph, shapes: Mapping[str, tuple[int, ...]]) -> int:
    """A lower bound of the memory running ``graph`` on inputs of ``shapes`` takes: the
    largest sum of one node's input and output values (all live at once while it runs).
    Symbolic dimensions take their sizes from ``shapes`` where an input has the symbol as a
    whole dimension, else their opt size."""
    sizes = graph.sizes("opt")
    for name, shape in shapes.items():
        t = graph.types.get(name)
        if t is not None and t.rank == len(shape):
            sizes.update((d, s) for d, s in zip(t.shape, shape, strict=True) if isinstance(d, str))

    def nbytes(value: str) -> int:
        t = graph.types[value]
        try:
            count = math.prod(shapes[value] if value in shapes else t.concrete(sizes))
        except TrtdslError:
            return 0
        return count * t.dtype.to_numpy().itemsize

    return max(
        (sum(nbytes(v) for v in (*n.inputs, *n.outputs)) for n in graph.nodes),
        default=sum(nbytes(v) for v in graph.inputs),
    )


def require_graph_memory(graph: Graph, shapes: Mapping[str, tuple[int, ...]]) -> None:
    """ResourceLimitError naming the input shapes unless running ``graph`` on them fits in
    memory (``peak_value_bytes``), checked before any input is made."""
    shown = ", ".join(f"{n}={'x'.join(map(str, s))}" for n, s in shapes.items())
    require_memory(peak_value_bytes(graph, shapes), f"running model {graph.name!r} on {shown}")

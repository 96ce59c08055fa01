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

from trtdsl.errors import TrtdslError
from trtdsl.files import require_memory
from trtdsl.ir.graph import Graph

SizePoint = Literal["min", "opt", "max"]


def seeded_array(
    shape: tuple[int, ...], dtype: np.dtype | type, seed: int, position: int = 0
) -> np.ndarray:
    """Standard-normal floats, integers 0..9 or booleans of ``dtype`` and ``shape`` for the
    input at ``position`` drawn with ``seed``."""
    dtype = np.dtype(dtype)
    count = math.prod(shape)
    # standard_normal and integers draw 8-byte values before the cast
    require_memory(count * (8 + dtype.itemsize), f"a random input of shape {shape}")
    rng = np.random.default_rng((seed, position))
    if dtype.kind == "f":
        return rng.standard_normal(shape).astype(dtype)
    if dtype.kind == "b":
        return rng.integers(0, 2, shape).astype(dtype)
    return rng.integers(0, 10, shape).astype(dtype)


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
        result[name] = seeded_array(concrete[name], t.dtype.to_numpy(), seed, position)
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

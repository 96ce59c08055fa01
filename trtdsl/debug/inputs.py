"""Seeded inputs: the one way trtdsl makes random input arrays for checks, runs and benches.

Input ``i`` (in model or engine order) drawn with seed ``s`` comes from
``numpy.random.default_rng((s, i))``: the same array whether it is drawn alone
(``--input x=random:3``) or with the others (``--seed 3``), and different inputs differ.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import numpy as np

from trtdsl.ir.graph import Graph

SizePoint = Literal["min", "opt", "max"]


def seeded_array(
    shape: tuple[int, ...], dtype: np.dtype | type, seed: int, position: int = 0
) -> np.ndarray:
    """Standard-normal floats, integers 0..9 or booleans of ``dtype`` and ``shape`` for the
    input at ``position`` drawn with ``seed``."""
    rng = np.random.default_rng((seed, position))
    dtype = np.dtype(dtype)
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
    result = {}
    for position, name in enumerate(graph.inputs):
        t = graph.types[name]
        shape = tuple(shapes.get(name, t.concrete(sizes)))
        result[name] = seeded_array(shape, t.dtype.to_numpy(), seed, position)
    return result

"""Seeded random weights with PyTorch-like default initialisation, stable per key.

Each key draws from its own generator, seeded by ``(seed, sha256(key))``, so values depend only
on the seed, the key and the shape: adding a layer leaves every other layer's values unchanged,
and results are identical across runs and platforms (NumPy's PCG64 and ``random()`` are
platform-independent).
"""

from __future__ import annotations

import hashlib
import math

import numpy as np

from trtdsl.errors import WeightError
from trtdsl.files import require_memory
from trtdsl.ir.graph import Graph
from trtdsl.ir.ops.base import ParamSpec


def random_weights(graph: Graph, seed: int = 0) -> dict[str, np.ndarray]:
    """Random weights for every non-optional parameter of ``graph``, with the expected shapes.

    Float roles are float32, initialised as PyTorch does by default: a weight of rank >= 2
    (conv ``(out, in/groups, kh, kw)``, linear ``(out, in)``) is uniform in
    ``+-1/sqrt(fan_in)`` (``kaiming_uniform_(a=sqrt(5))``), and so is the bias of the same node.
    Rank-1 weights without such a sibling (normalisation scales) are ``1 + U(-0.1, 0.1)``, their
    biases ``U(-0.1, 0.1)``; ``running_mean`` is ``U(-0.1, 0.1)``, ``running_var``
    ``U(0.5, 1.5)``; quantization scales (``scale``, ``weight_scale``) ``U(0.01, 0.05)``.
    Integer roles are zeros.

    Args:
        graph: the model.
        seed: a non-negative int.
    Returns:
        key -> array, in ``graph.params()`` order.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise WeightError(f"random weights: seed must be a non-negative int, got {seed!r}")
    params = [(key, node.name, role, spec) for key, node, role, spec in graph.params()]
    fan_ins: dict[str, int] = {}
    for _key, node_name, role, spec in params:
        if role == "weight" and len(spec.shape) >= 2:
            fan_ins[node_name] = math.prod(spec.shape[1:])
    total = sum(math.prod(spec.shape) for _k, _n, _r, spec in params if not spec.optional)
    # float64 draws before the float32 cast: the largest tensor's 8 bytes per value on top
    largest = max((math.prod(s.shape) for _k, _n, _r, s in params if not s.optional), default=0)
    require_memory(4 * total + 8 * largest, f"random weights for model {graph.name!r}")
    result: dict[str, np.ndarray] = {}
    for key, node_name, role, spec in params:
        if spec.optional:
            continue
        rng = np.random.default_rng([int(seed), _key_hash(key)])
        result[key] = _init(rng, role, spec, fan_ins.get(node_name))
    return result


def _key_hash(key: str) -> int:
    return int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "little")


def _uniform(
    rng: np.random.Generator, shape: tuple[int, ...], low: float, high: float
) -> np.ndarray:
    return np.asarray(low + (high - low) * rng.random(shape), dtype=np.float32)  # () stays 0-d


def _init(rng: np.random.Generator, role: str, spec: ParamSpec, fan_in: int | None) -> np.ndarray:
    if not spec.dtype.is_float:
        return np.zeros(spec.shape, spec.dtype.to_numpy())
    if role == "running_var":
        return _uniform(rng, spec.shape, 0.5, 1.5)
    if role == "running_mean":
        return _uniform(rng, spec.shape, -0.1, 0.1)
    if role in ("scale", "weight_scale"):  # quantization scales must be positive
        return _uniform(rng, spec.shape, 0.01, 0.05)
    if fan_in is not None and role in ("weight", "bias"):
        bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
        return _uniform(rng, spec.shape, -bound, bound)
    if role == "weight":
        return _uniform(rng, spec.shape, 0.9, 1.1)
    return _uniform(rng, spec.shape, -0.1, 0.1)

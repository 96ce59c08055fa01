"""Batch-norm folding: ``conv2d -> batch_norm2d`` becomes one conv2d with a bias.

``bn(conv(x)) = conv(x) * scale + shift`` per output channel, with
``scale = weight / sqrt(running_var + eps)`` and ``shift = bias - running_mean * scale``; so the
folded conv has ``weight' = weight * scale[k]`` and ``bias' = bias * scale + shift``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import numpy as np

from trtdsl.errors import WeightError
from trtdsl.ir.graph import Graph, Node
from trtdsl.ir.ops.conv import Conv2d
from trtdsl.ir.ops.normalization import BatchNorm2d
from trtdsl.ir.types import TensorType

__all__ = ["fold_batchnorm", "foldable_batchnorms"]

_BN_ROLES = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")


def foldable_batchnorms(graph: Graph) -> list[tuple[Node, Node]]:
    """The ``(conv, bn)`` pairs ``fold_batchnorm`` folds, in graph order.

    A batch_norm2d folds when its input is a conv2d's output that nothing else reads and that
    is not a graph output.
    """
    graph_outputs = {p.value for p in graph.outputs}
    readers: dict[str, int] = {}
    for node in graph.nodes:
        for v in node.inputs:
            readers[v] = readers.get(v, 0) + 1
    pairs = []
    for node in graph.nodes:
        if not isinstance(node.op, BatchNorm2d):
            continue
        value = node.inputs[0]
        conv = graph.producer(value)
        if (
            conv is not None
            and isinstance(conv.op, Conv2d)
            and readers.get(value) == 1
            and value not in graph_outputs
        ):
            pairs.append((conv, node))
    return pairs


def fold_batchnorm(
    graph: Graph, weights: Mapping[str, np.ndarray]
) -> tuple[Graph, dict[str, np.ndarray]]:
    """Fold every foldable batch_norm2d into the conv2d before it.

    The folded node keeps the conv's name, gains a bias (``<conv>.bias``) and defines the BN's
    output value, so every reader of the BN is unchanged. Other BNs stay as they are. The
    arithmetic is done in float64 and cast back to the conv weight's dtype.

    Args:
        graph: a verified graph.
        weights: ``"{node}.{role}"`` -> array (e.g. ``BoundWeights.arrays``).
    Returns:
        (the new verified graph, the new weights: without the folded BNs' keys, with the
        folded convs' ``weight`` and ``bias``, every other array passed through unchanged).
    Raises:
        WeightError listing the weights a fold needs but ``weights`` lacks.
    """
    pairs = foldable_batchnorms(graph)
    missing = [key for conv, bn in pairs for key in _needed_keys(conv, bn) if key not in weights]
    if missing:
        raise WeightError(f"batch-norm folding: missing weight(s) {', '.join(missing)}")
    folded_by_bn = {bn.name: conv for conv, bn in pairs}
    conv_of = {conv.name: bn for conv, bn in pairs}
    new_weights = dict(weights)
    new_types: dict[str, TensorType] = dict(graph.types)
    nodes: list[Node] = []
    for node in graph.nodes:
        if node.name in folded_by_bn:
            continue  # replaced by the conv it followed
        bn = conv_of.get(node.name)
        if bn is None:
            nodes.append(node)
            continue
        assert isinstance(node.op, Conv2d) and isinstance(bn.op, BatchNorm2d)
        weight, bias = _fold_arrays(node, bn, weights)
        for role in _BN_ROLES:
            new_weights.pop(f"{bn.name}.{role}", None)
        new_weights[f"{node.name}.weight"] = weight
        new_weights[f"{node.name}.bias"] = bias
        del new_types[node.output]
        nodes.append(
            dataclasses.replace(
                node, op=dataclasses.replace(node.op, bias=True), outputs=bn.outputs
            )
        )
    return graph.replace_nodes(tuple(nodes), new_types).verify(), new_weights


def _needed_keys(conv: Node, bn: Node) -> list[str]:
    keys = [f"{conv.name}.weight"]
    assert isinstance(conv.op, Conv2d)
    if conv.op.bias:
        keys.append(f"{conv.name}.bias")
    keys += [f"{bn.name}.{role}" for role in _BN_ROLES[:4]]
    return keys


def _fold_arrays(
    conv: Node, bn: Node, weights: Mapping[str, np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """The folded conv ``weight`` (K, C/g, R, S) and ``bias`` (K,)."""
    assert isinstance(conv.op, Conv2d) and isinstance(bn.op, BatchNorm2d)
    w = weights[f"{conv.name}.weight"]
    gamma, beta, mean, var = (
        np.asarray(weights[f"{bn.name}.{role}"], dtype=np.float64) for role in _BN_ROLES[:4]
    )
    scale = gamma / np.sqrt(var + bn.op.eps)
    shift = beta - mean * scale
    if conv.op.bias:
        b = weights[f"{conv.name}.bias"]
        bias_dtype = b.dtype
        bias64 = b.astype(np.float64) * scale + shift
    else:
        bias_dtype = w.dtype
        bias64 = shift
    # Multiply in float64 and round once into the output, without a float64 copy of the kernel
    # (bit-identical to ``(w.astype(f64) * scale).astype(w.dtype)``; keeps peak memory low).
    folded = np.multiply(
        w, scale.reshape(-1, 1, 1, 1), out=np.empty_like(w), dtype=np.float64, casting="unsafe"
    )
    return folded, bias64.astype(bias_dtype)

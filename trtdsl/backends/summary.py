"""Summaries of output tensors shared by ``run`` and ``compile``: top-k classes of logits."""

from __future__ import annotations

import numpy as np

from trtdsl.ir.graph import Graph
from trtdsl.ir.ops.conv import Conv2d
from trtdsl.ir.ops.linear import Linear
from trtdsl.ir.ops.matmul import MatMul
from trtdsl.ir.ops.quantize import Dequantize, QuantizedConv2d, QuantizedLinear
from trtdsl.ir.ops.shape import Dropout, Flatten, Identity, Reshape

MIN_CLASSES = 10
"""A rank-2 floating-point output with at least this many columns is treated as class logits."""

BUNDLED_CLASS_COUNTS = (1000, 21, 80)
"""Widths with bundled class names (``trtdsl.vision.classes``): ImageNet, VOC, COCO."""

_SCORING = (Linear, QuantizedLinear, Conv2d, QuantizedConv2d, MatMul)
"""Ops whose output is a classifier's scores when nothing but reshaping follows them."""
_RESHAPING = (Flatten, Reshape, Identity, Dropout, Dequantize)


def is_classifier_output(array: np.ndarray) -> bool:
    """True for (batch, classes) floating-point logits with >= MIN_CLASSES classes."""
    return array.ndim == 2 and array.shape[1] >= MIN_CLASSES and array.dtype.kind == "f"


def is_logits(array: np.ndarray, graph: Graph | None = None, value: str | None = None) -> bool:
    """Whether ``array``, the model's value ``value``, holds class logits worth a top-k.

    Without a graph (an engine file), ``is_classifier_output``. With one, the array must
    also have a width with bundled class names, or come from a scoring op (linear, conv,
    matmul) with only reshaping after it: a pooled embedding (BERT's ``tanh`` pooler, a
    flattened pool of features) is no classifier's output.
    """
    if not is_classifier_output(array):
        return False
    if graph is None or value is None or array.shape[1] in BUNDLED_CLASS_COUNTS:
        return True
    node = graph.producer(value)
    while node is not None and isinstance(node.op, _RESHAPING) and node.inputs:
        node = graph.producer(node.inputs[0])
    return node is not None and isinstance(node.op, _SCORING)


def top_classes(array: np.ndarray, k: int = 5) -> np.ndarray:
    """Indices of the ``k`` largest logits of each row, largest first (ties: lower index).

    Args:
        array: logits, shape (batch, classes).
    Returns:
        int64 array of shape (batch, min(k, classes)).
    """
    return np.argsort(-array, axis=1, kind="stable")[:, :k]

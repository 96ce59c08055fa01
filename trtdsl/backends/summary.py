"""Summaries of output tensors shared by ``run`` and ``compile``: top-k classes of logits."""

from __future__ import annotations

import numpy as np

MIN_CLASSES = 10
"""A rank-2 floating-point output with at least this many columns is treated as class logits."""


def is_classifier_output(array: np.ndarray) -> bool:
    """True for (batch, classes) floating-point logits with >= MIN_CLASSES classes."""
    return array.ndim == 2 and array.shape[1] >= MIN_CLASSES and array.dtype.kind == "f"


def top_classes(array: np.ndarray, k: int = 5) -> np.ndarray:
    """Indices of the ``k`` largest logits of each row, largest first (ties: lower index).

    Args:
        array: logits, shape (batch, classes).
    Returns:
        int64 array of shape (batch, min(k, classes)).
    """
    return np.argsort(-array, axis=1, kind="stable")[:, :k]

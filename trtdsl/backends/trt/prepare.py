"""The passes a graph goes through before emission: batch-norm folding, then precision."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from trtdsl.ir.graph import Graph
from trtdsl.ir.types import Precision
from trtdsl.passes.fold_bn import fold_batchnorm
from trtdsl.passes.precision import apply_precision


def prepare_graph(
    graph: Graph,
    weights: Mapping[str, np.ndarray],
    precision: Precision | str = Precision.FP32,
    keep_fp32: Sequence[str] = (),
) -> tuple[Graph, dict[str, np.ndarray]]:
    """Fold batch norms into convolutions (in float64), then make precision explicit.

    Returns:
        (graph ready for ``emit_network``, its weights in each node's compute dtype).
    """
    folded, folded_weights = fold_batchnorm(graph, weights)
    return apply_precision(folded, folded_weights, precision, keep_fp32)

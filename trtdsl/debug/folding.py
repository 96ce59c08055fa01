"""How much batch-norm folding changes a model's outputs (reference executor, seeded input)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from trtdsl.backends.reference import run_reference
from trtdsl.debug.compare import compare_arrays
from trtdsl.debug.inputs import seeded_inputs
from trtdsl.ir.graph import Graph
from trtdsl.passes.fold_bn import fold_batchnorm


def folding_error(graph: Graph, weights: Mapping[str, np.ndarray], seed: int = 0) -> float:
    """Max absolute difference over all outputs between ``graph`` and its folded form.

    Both run through the reference executor on seeded inputs (symbolic dimensions at their
    ``opt`` size); the metric is ``compare_arrays``'s (inf where a value is not finite).
    """
    folded, folded_weights = fold_batchnorm(graph, weights)
    inputs = seeded_inputs(graph, seed)
    before = run_reference(graph, weights, inputs)
    after = run_reference(folded, folded_weights, inputs)
    return max((compare_arrays(before[k], after[k])[1] for k in before), default=0.0)

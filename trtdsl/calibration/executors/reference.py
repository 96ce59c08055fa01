"""The NumPy reference executor: the specification, and the executor everywhere."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from trtdsl.backends.reference import node_params
from trtdsl.calibration.executors.base import Executor, Targets, input_stats, observed
from trtdsl.calibration.histogram import BatchStats
from trtdsl.errors import BackendError, CalibrationError, TrtdslError


class ReferenceExecutor(Executor):
    """Runs the graph node by node with the ops' NumPy references, observing each calibrated
    value as it is produced and freeing every value after its last reader, so memory holds one
    batch's live activations. Stateless: threads run batches at once."""

    name = "reference"
    description = "the NumPy reference"

    def __init__(self, targets: Targets, weights: Mapping[str, np.ndarray]) -> None:
        self.targets = targets
        self.weights = weights
        graph = targets.graph
        self._last_use = {name: -1 for name in graph.inputs}
        for i, node in enumerate(graph.nodes):
            for v in (*node.inputs, *node.outputs):
                self._last_use[v] = i
        self._outputs = {p.value for p in graph.outputs}

    def run(self, inputs: Mapping[str, np.ndarray]) -> dict[str, BatchStats]:
        graph, plans = self.targets.graph, self.targets.plans
        stats = input_stats(self.targets, inputs)
        values: dict[str, np.ndarray] = dict(inputs)
        for i, node in enumerate(graph.nodes):
            try:
                result = node.op.reference(
                    [values[v] for v in node.inputs], node_params(graph, node, self.weights)
                )
            except TrtdslError as e:
                raise BackendError(f"{node.where()}: {e}") from None
            results = result if isinstance(result, tuple) else (result,)
            for v, array in zip(node.outputs, results, strict=True):
                values[v] = array
                if v in plans:
                    try:
                        stats[v] = observed(v, array, plans[v])
                    except CalibrationError as e:
                        raise CalibrationError(f"{node.where()}: {e}") from None
            for v in list(values):
                if self._last_use.get(v, -1) <= i and v not in self._outputs:
                    del values[v]
        return stats

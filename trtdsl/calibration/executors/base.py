"""What every calibration executor shares: the tensors it observes and the BatchStats it
returns per batch."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from trtdsl.calibration.histogram import BatchStats, SamplePlan, batch_stats
from trtdsl.errors import CalibrationError
from trtdsl.ir.graph import Graph


@dataclass(frozen=True)
class Targets:
    """The calibrated values of a graph and how each is sampled.

    Attributes:
        graph: the graph the executors run (the float32 graph after batch-norm folding).
        plans: calibrated value name -> SamplePlan, in graph order.
    """

    graph: Graph
    plans: Mapping[str, SamplePlan]

    @property
    def inputs(self) -> list[str]:
        """The calibrated values that are graph inputs (observed from the data itself)."""
        return [v for v in self.plans if v in self.graph.inputs]

    @property
    def computed(self) -> list[str]:
        """The calibrated values an executor computes."""
        return [v for v in self.plans if v not in self.graph.inputs]


def input_stats(targets: Targets, inputs: Mapping[str, np.ndarray]) -> dict[str, BatchStats]:
    """The BatchStats of the calibrated graph inputs (the data, as given)."""
    return {v: observed(v, inputs[v], targets.plans[v]) for v in targets.inputs}


def observed(value: str, array: np.ndarray, plan: SamplePlan) -> BatchStats:
    """``batch_stats`` with the value named in its errors."""
    try:
        return batch_stats(array, plan)
    except CalibrationError as e:
        raise CalibrationError(f"{e} in value {value!r}") from None


class Executor:
    """Runs batches of the calibrated graph; ``run`` may be called from several threads at
    once (each executor serializes what cannot run concurrently).

    Attributes:
        name: ``"reference"``, ``"onnxruntime"`` or ``"engine"``.
        description: what runs, for the output (``"onnxruntime 1.32.0, CPU, 1 thread per
            worker"``).
    """

    name = ""
    description = ""

    def run(self, inputs: Mapping[str, np.ndarray]) -> dict[str, BatchStats]:
        """The BatchStats of every calibrated value for one batch of ``inputs``.

        Raises:
            CalibrationError: NaN or inf in a value (naming it); BackendError: the executor
            failed (naming the node where it can).
        """
        raise NotImplementedError

    def close(self) -> None:
        """Release what ``run`` holds (sessions, engines, device memory)."""


def static_batch(graph: Graph) -> int | None:
    """The batch a model's inputs fix (an int on axis 0), or None when it is a dimension."""
    for name in graph.inputs:
        shape = graph.types[name].shape
        if shape and isinstance(shape[0], int):
            return shape[0]
    return None


class FixedBatch(Executor):
    """Runs a model whose inputs fix the batch (``x: [2, 3, 224, 224]``) on a last, smaller
    batch: the batch is padded with copies of its last sample, which changes no minimum or
    maximum, and the copies' rows are dropped from every sample."""

    def __init__(self, inner: Executor, batch: int) -> None:
        self.inner, self.batch = inner, batch
        self.name, self.description = inner.name, inner.description

    def run(self, inputs: Mapping[str, np.ndarray]) -> dict[str, BatchStats]:
        count = next(iter(inputs.values())).shape[0]
        if count == self.batch:
            return self.inner.run(inputs)
        padded = {
            name: np.concatenate([a, np.repeat(a[-1:], self.batch - count, axis=0)])
            for name, a in inputs.items()
        }
        stats = self.inner.run(padded)
        return {
            v: BatchStats(s.low, s.high, s.total // self.batch * count, s.sample[:count])
            for v, s in stats.items()
        }

    def close(self) -> None:
        self.inner.close()

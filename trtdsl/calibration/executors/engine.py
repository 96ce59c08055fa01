"""The engine executor: an fp32 (or tf32) TensorRT engine of the model whose calibrated
values are marked as outputs (``build_in_memory(..., debug_outputs=...)``); the histograms
are fed from its outputs, copied from the device.

One engine and one runner serve every worker thread: a lock serializes the engine, and each
worker bins its batch's outputs while the next batch runs. ``--backend emulated`` runs the
same network in trtdsl's CPU emulator (through device memory where a GPU is visible).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

import numpy as np

from trtdsl.calibration.executors.base import Executor, Targets, input_stats, observed
from trtdsl.calibration.histogram import BatchStats
from trtdsl.errors import BackendError, CalibrationError
from trtdsl.ir.graph import Graph
from trtdsl.ir.types import Precision

ENGINE_PRECISIONS = ("fp32", "tf32")


class EngineExecutor(Executor):
    """Builds the engine at construction (module docstring).

    Args:
        targets: the calibrated values (their graph is the folded float32 graph).
        graph, weights: the model as loaded (the build folds batch norms the same way).
        backend: ``auto``, ``tensorrt``, ``tensorrt-rtx`` or ``emulated``.
        precision: ``fp32`` (TF32 off) or ``tf32``.
        batch_size: the largest batch the engine will run.
    Raises:
        EngineNotRunnableError: the engine built, but this machine cannot run it;
        BackendError: a calibrated value is not among the engine's outputs.
    """

    name = "engine"

    def __init__(
        self,
        targets: Targets,
        graph: Graph,
        weights: Mapping[str, np.ndarray],
        backend: str = "auto",
        precision: str = "fp32",
        batch_size: int = 8,
    ) -> None:
        # NOTE: the runtime sits above calibration in the layering; only this executor
        # reaches it, and only when chosen.
        from trtdsl.backends.trt import BuildConfig
        from trtdsl.runtime.engines import build_in_memory, describe_run
        from trtdsl.runtime.runner import EngineRunner

        if precision not in ENGINE_PRECISIONS:
            raise BackendError(f"engine precision {precision!r}: expected fp32 or tf32")
        self.targets = targets
        _check_batch(graph, batch_size)
        loaded = build_in_memory(
            graph,
            weights,
            backend,
            debug_outputs=targets.computed,
            config=BuildConfig(precision=Precision.parse(precision)),
        )
        self._runner = EngineRunner(loaded.engine, loaded.trt)
        self._keep: list[Any] = [loaded]
        ports = {p.value: p.name for p in graph.outputs}
        self._names = {v: ports.get(v, v) for v in targets.computed}
        available = {t.name for t in self._runner.outputs}
        missing = [v for v, name in self._names.items() if name not in available]
        if missing:
            self._runner.close()
            raise BackendError(
                f"the engine has no output for calibrated value(s) {', '.join(missing)} "
                "(folded away); --executor onnxruntime or reference calibrates them"
            )
        self.description = f"{describe_run(loaded, self._runner.memory.kind)}, {precision}"
        self._lock = threading.Lock()

    def run(self, inputs: Mapping[str, np.ndarray]) -> dict[str, BatchStats]:
        stats = input_stats(self.targets, inputs)
        feed = {name: inputs[name] for name in self.targets.graph.inputs}
        with self._lock:
            outputs = self._runner.infer(feed)
        for v, name in self._names.items():
            try:
                stats[v] = observed(v, outputs[name], self.targets.plans[v])
            except CalibrationError as e:
                node = self.targets.graph.producer(v)
                where = node.where() if node is not None else v
                raise CalibrationError(f"{where}: {e}") from None
        return stats

    def close(self) -> None:
        self._runner.close()
        self._keep.clear()


def _check_batch(graph: Graph, batch_size: int) -> None:
    """BackendError when the model's batch range cannot hold ``batch_size``."""
    for name in graph.inputs:
        shape = graph.types[name].shape
        if shape and isinstance(shape[0], str) and shape[0] in {d.name for d in graph.dims}:
            top = graph.dim(shape[0]).max
            if batch_size > top:
                raise BackendError(
                    f"--batch-size {batch_size}: input {name!r} takes at most {top} samples "
                    f"({shape[0]} max {top}); the engine executor needs a batch inside it"
                )

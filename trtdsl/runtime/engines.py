"""Getting an engine to run: deserialize a plan file, or build one in memory from a model.

The TensorRT module (real or emulated) always comes from ``trtdsl.backends.trt.import_trt``;
this module never imports ``tensorrt`` itself.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import numpy as np

from trtdsl.errors import BackendError, UsageError
from trtdsl.ir.graph import Graph

_LOG = logging.getLogger("trtdsl")

ENGINE_SUFFIXES = (".engine", ".plan", ".trt")
"""File name endings taken as serialized engines rather than models."""

BUILD_BACKENDS = ("emulated", "trt")
"""``--backend`` values that build an engine: the CPU emulator, or real TensorRT."""


@dataclass
class LoadedEngine:
    """A deserialized engine and what is needed to run and describe it.

    Attributes:
        engine: the ICudaEngine (real or emulated); ``trt``: the module it came from.
        description: ``"TensorRT 11.4.0"`` or the emulator's description (says "emulated").
        source: the plan file, or ``"built in memory"``.
        graph: the IR graph the engine was built from (None for a plan file).
        keep: objects that must outlive the engine (the runtime, the logger).
    """

    engine: Any
    trt: ModuleType
    description: str
    source: str
    graph: Graph | None = None
    keep: list[Any] = field(default_factory=list)

    @property
    def emulated(self) -> bool:
        return self.trt.__name__.startswith("trtdsl.emulator")

    def node_names(self) -> list[str] | None:
        return [n.name for n in self.graph.nodes] if self.graph is not None else None


def is_engine_path(spec: str) -> bool:
    """Whether ``spec`` names a serialized engine (by its suffix)."""
    return str(spec).lower().endswith(ENGINE_SUFFIXES)


def is_emulated_plan(data: bytes) -> bool:
    """Whether plan bytes were serialized by trtdsl's emulator (checked by the emulator)."""
    from trtdsl.backends.trt import import_trt

    emulator = import_trt(emulate=True)
    return bool(emulator.plan.is_emulated_plan(data))


def deserialize(data: bytes, trt: ModuleType, source: str) -> LoadedEngine:
    """Deserialize plan bytes with ``trt`` (``import_trt(emulate)``)."""
    from trtdsl.backends.trt import CapturingLogger
    from trtdsl.backends.trt.module import describe_version

    logger = CapturingLogger(trt)
    runtime = trt.Runtime(logger.trt_logger)
    engine = runtime.deserialize_cuda_engine(data)
    if engine is None:
        errors = logger.errors_text() or "no error was logged"
        raise BackendError(f"{source}: cannot deserialize the engine: {errors}")
    return LoadedEngine(engine, trt, describe_version(trt), source, None, [runtime, logger])


def open_engine(path: str | os.PathLike[str]) -> LoadedEngine:
    """Read and deserialize an engine file; emulator plans are recognised by their header.

    Raises:
        UsageError if the file cannot be read; TensorRTMissingError for a real plan without
        TensorRT; BackendError if deserialization fails.
    """
    from trtdsl.backends.trt import import_trt

    text = os.fspath(path)
    try:
        with open(text, "rb") as f:
            data = f.read()
    except OSError as e:
        raise UsageError(f"{text}: cannot read the engine: {e.strerror or e}") from None
    emulate = is_emulated_plan(data)
    return deserialize(data, import_trt(emulate), text)


def build_in_memory(
    graph: Graph,
    weights: Mapping[str, np.ndarray],
    backend: str,
    debug_outputs: Sequence[str] = (),
    prepared: bool = False,
) -> LoadedEngine:
    """Build ``graph`` into an engine without writing a file, and deserialize it.

    Args:
        graph, weights: the model (original, or already ``prepare_graph``-ed if ``prepared``).
        backend: ``"emulated"`` or ``"trt"``.
        debug_outputs: IR value names to mark as extra engine outputs (tensor name = value
            name) in this build; values that do not exist in the emitted network (folded away)
            are skipped. Marking prevents fusion across these tensors.
    Returns:
        the engine; ``graph`` is the graph actually emitted (after batch-norm folding).
    """
    from trtdsl.backends.trt import BuildConfig, build_engine, emit_network, import_trt
    from trtdsl.backends.trt import prepare_graph as prepare
    from trtdsl.backends.trt.module import TensorRTMissingError, tensorrt_available

    if backend not in BUILD_BACKENDS:
        raise UsageError(f"--backend must be one of {', '.join(BUILD_BACKENDS)}, got {backend!r}")
    if backend == "trt" and not tensorrt_available():
        raise TensorRTMissingError(
            "--backend trt: TensorRT is not installed (pip install 'trtdsl[trt]' on a machine "
            "with an NVIDIA GPU); --backend emulated builds with trtdsl's CPU emulator instead "
            "(results labelled emulated)"
        )
    trt = import_trt(emulate=backend == "emulated")
    if not prepared:
        graph, weights = prepare(graph, weights)
    emitted = emit_network(trt, graph, weights)
    marked = mark_debug_outputs(emitted.network, debug_outputs)
    if debug_outputs:
        _LOG.info("debug build: marked %d of %d values as outputs", marked, len(debug_outputs))
    plan = build_engine(emitted, BuildConfig())
    loaded = deserialize(plan, trt, "built in memory")
    loaded.graph = graph
    return loaded


def mark_debug_outputs(network: Any, values: Sequence[str]) -> int:
    """Mark the network tensors named ``values`` as outputs (Polygraphy's ``mark_layerwise``).

    The backend names every node-output tensor after its IR value. Tensors that are already
    outputs or network inputs are left alone. Returns how many tensors were marked.
    """
    wanted = set(values)
    if not wanted:
        return 0
    marked = 0
    for index in range(network.num_layers):
        layer = network.get_layer(index)
        for out in range(layer.num_outputs):
            tensor = layer.get_output(out)
            if tensor is None or tensor.name not in wanted:
                continue
            if tensor.is_network_output or tensor.is_network_input:
                continue
            network.mark_output(tensor)
            wanted.discard(tensor.name)
            marked += 1
    return marked


class EngineBackend:
    """A ``trtdsl run --backend`` entry: build the model in memory, run it through the runner.

    ``EngineBackend("emulated")`` uses trtdsl's CPU emulator (through device memory when a GPU
    is visible, else host memory); ``EngineBackend("trt")`` real TensorRT on the GPU.
    ``last_description`` says what the last call ran on, for the CLI to print.
    """

    def __init__(self, backend: str, memory: str = "auto") -> None:
        if backend not in BUILD_BACKENDS:
            raise ValueError(f"backend must be one of {BUILD_BACKENDS}, got {backend!r}")
        self.backend = backend
        self.memory = memory
        self.last_description = ""

    def __call__(
        self,
        graph: Graph,
        weights: Mapping[str, np.ndarray],
        inputs: Mapping[str, np.ndarray],
    ) -> dict[str, np.ndarray]:
        """Run ``graph``; returns output port name -> array, in the graph's output order."""
        from trtdsl.runtime.runner import EngineRunner

        loaded = build_in_memory(graph, weights, self.backend)
        with EngineRunner(loaded.engine, loaded.trt, self.memory) as runner:
            outputs = runner.infer(inputs)
            self.last_description = describe_run(loaded, runner.memory.kind)
        return {p.name: outputs[p.name] for p in graph.outputs}


def describe_run(loaded: LoadedEngine, memory: str) -> str:
    """``"<engine description>, device memory (cuda-python)"`` or ``..., host memory"``."""
    where = "device memory (cuda-python)" if memory == "device" else "host memory (NumPy)"
    return f"{loaded.description}; buffers in {where}"

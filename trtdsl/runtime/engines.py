"""Getting an engine to run: deserialize a plan file, or build one in memory from a model.

The TensorRT module (real or emulated) always comes from ``trtdsl.backends.trt.import_trt``;
this module never imports ``tensorrt`` itself.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np

from trtdsl.backends.trt.module import BACKENDS
from trtdsl.errors import BackendError, EngineNotRunnableError, FileError, FileFormatError
from trtdsl.files import read_bytes
from trtdsl.ir.graph import Graph

if TYPE_CHECKING:
    from trtdsl.backends.trt import BuildConfig, EmittedNetwork
    from trtdsl.backends.trt.sidecar import EngineSidecar

PlanBuilder = Callable[["EmittedNetwork", "BuildConfig"], bytes]
"""``(emitted, config) -> plan``: how ``build_in_memory`` builds (default ``build_engine``;
``trtdsl.deploy.cache.EngineCache.plan_builder()`` goes through an engine cache)."""

_LOG = logging.getLogger("trtdsl")

ENGINE_SUFFIXES = (".engine", ".plan", ".trt")
"""File name endings taken as serialized engines rather than models."""

BUILD_BACKENDS = BACKENDS
"""``--backend`` values that build an engine (``trtdsl.backends.trt.module.BACKENDS``)."""


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

    emulator = import_trt("emulated")
    return bool(emulator.plan.is_emulated_plan(data))


RTX_RUNTIME_TARGETS = (75, 80, 86, 89, 120, 121)
"""Compute capabilities TensorRT-RTX 1.7 engines run on (its ``ComputeCapability`` members;
sm_90 and sm_100 datacenter GPUs are not among them)."""


def machine_gpu(trt: ModuleType) -> tuple[int | None, str]:
    """``(compute capability, description)`` of this machine's GPU 0 for running ``trt``'s
    engines, or ``(None, why this machine cannot run them)``."""
    from trtdsl.backends.trt.module import is_rtx
    from trtdsl.runtime.cuda import gpu_compute_capability

    cc, description = gpu_compute_capability()
    if cc is not None and is_rtx(trt) and cc not in RTX_RUNTIME_TARGETS:
        targets = ", ".join(f"{t // 10}.{t % 10}" for t in RTX_RUNTIME_TARGETS)
        return None, f"{description}, which TensorRT-RTX does not run on (it runs on {targets})"
    return cc, description


def deserialize(
    data: bytes, trt: ModuleType, source: str, targets: str | None = None
) -> LoadedEngine:
    """Deserialize plan bytes with ``trt`` (from ``import_trt``); ``targets`` (the GPUs the
    engine was built for, from its sidecar) goes into the message when it cannot run here.

    Raises:
        EngineNotRunnableError: a real engine and no GPU here that can run it (the message
            names the product and what this machine has).
        BackendError: TensorRT refused the plan (quoting its errors).
    """
    from trtdsl.backends.trt.module import describe_version, is_emulator, shared_logger

    if not is_emulator(trt):
        cc, why = machine_gpu(trt)
        if cc is None:
            built_for = f" built for {targets}" if targets else ""
            raise EngineNotRunnableError(
                f"{source} is a {describe_version(trt)} engine{built_for}; this machine cannot "
                f"run it: {why}"
            )
    from trtdsl.backends.trt.plugin import register_plugin_creators

    register_plugin_creators(trt)  # the plugin ops registered by --ops FILE.py
    logger = shared_logger(trt)
    since = logger.mark()
    runtime = trt.Runtime(logger.trt_logger)
    engine = runtime.deserialize_cuda_engine(data)
    if engine is None:
        errors = logger.errors_text(since) or "no error was logged"
        if "cannot run on this GPU" in errors:
            raise EngineNotRunnableError(f"{source}: {errors}")
        raise BackendError(f"{source}: cannot deserialize the engine: {errors}")
    return LoadedEngine(engine, trt, describe_version(trt), source, None, [runtime])


@dataclass(frozen=True)
class EngineFile:
    """An engine file as read: its bytes, the product that wrote them (told by the plan's
    first bytes), and its sidecar when one lies beside it (checked to belong to it).

    Attributes:
        path: the engine file; plan: its bytes.
        backend: ``emulated``, ``tensorrt-rtx`` or ``tensorrt`` (``plan_backend``).
        sidecar: ``ENGINE.json`` (None when there is none).
    """

    path: str
    plan: bytes
    backend: str
    sidecar: EngineSidecar | None


def read_engine_file(path: str | os.PathLike[str], sidecar_required: bool = False) -> EngineFile:
    """Read an engine file and its sidecar, and check that they belong together.

    Raises:
        FileError: the engine is missing, not a regular file, or does not fit in memory.
        FileFormatError: the bytes are no engine trtdsl knows; the sidecar is damaged or
            forged (naming the field); or the engine's sha256 is not the one its sidecar
            records (naming both files): a truncated engine, or another engine's sidecar.
    """
    from trtdsl.backends.trt.sidecar import check_custom_ops, read_sidecar, sidecar_path

    text = os.fspath(path)
    plan = read_bytes(text)
    backend = plan_backend(plan, text)
    sidecar = read_sidecar(text)
    if sidecar is None and sidecar_required:
        raise FileError(
            f"{sidecar_path(text)}: no such file; this command needs the sidecar trtdsl "
            "compile wrote beside the engine"
        )
    if sidecar is not None:
        digest = hashlib.sha256(plan).hexdigest()
        if digest != sidecar.engine_sha256:
            raise FileFormatError(
                f"{text} and {sidecar_path(text)} do not belong together: the engine's sha256 "
                f"is {digest[:12]}..., its sidecar records {sidecar.engine_sha256[:12]}... "
                f"({len(plan):,} bytes here, {sidecar.engine_bytes:,} recorded): a truncated "
                "or replaced engine, or another engine's sidecar"
            )
        check_custom_ops(sidecar, text)
    return EngineFile(text, plan, backend, sidecar)


def open_engine(path: str | os.PathLike[str]) -> LoadedEngine:
    """Read and deserialize an engine file (``read_engine_file``'s checks first).

    Raises:
        FileError/FileFormatError as ``read_engine_file``; TensorRTMissingError for a real
        plan without its product; EngineNotRunnableError; BackendError if TensorRT (or the
        emulator) refuses the plan.
    """
    from trtdsl.backends.trt import import_trt

    engine = read_engine_file(path)
    targets = engine.sidecar.targets if engine.sidecar is not None else None
    return deserialize(engine.plan, import_trt(engine.backend), engine.path, targets)


_ULTRALYTICS_PREFIX = 4
"""Ultralytics writes ``.engine`` files as a 4-byte little-endian length, JSON metadata of
that length, then the TensorRT plan."""


def plan_backend(data: bytes, source: str = "the plan") -> str:
    """The product that wrote plan bytes, from their first bytes: ``emulated`` (the
    emulator's header), ``tensorrt-rtx`` (``vtrt``) or ``tensorrt`` (``ftrt``).

    Raises:
        FileFormatError naming ``source`` for bytes that are none of these.
    """
    if is_emulated_plan(data):
        return "emulated"
    head = bytes(data[:4])
    if head == b"vtrt":
        return "tensorrt-rtx"
    if head == b"ftrt":
        return "tensorrt"
    length = int.from_bytes(head, "little") if len(head) == 4 else -1
    start = _ULTRALYTICS_PREFIX + length
    if 0 < length < len(data) and data[start : start + 4] in (b"ftrt", b"vtrt"):
        raise FileFormatError(
            f"{source}: an Ultralytics engine ({length} bytes of JSON metadata before the "
            f"TensorRT plan); trtdsl runs plain plans: drop its first {start} bytes"
        )
    shown = bytes(data[:8])
    raise FileFormatError(
        f"{source}: not an engine trtdsl knows ({len(data):,} bytes starting with {shown!r}; "
        "a TensorRT plan starts with b'ftrt', a TensorRT-RTX plan with b'vtrt', an emulated "
        "plan with b'TRTDSL-EMULATED-PLAN')"
    )


def build_in_memory(
    graph: Graph,
    weights: Mapping[str, np.ndarray],
    backend: str,
    debug_outputs: Sequence[str] = (),
    prepared: bool = False,
    config: BuildConfig | None = None,
    emulate_if_not_runnable: bool = False,
    build: PlanBuilder | None = None,
    product: str | None = None,
) -> LoadedEngine:
    """Build ``graph`` into an engine without writing a file, and deserialize it.

    Args:
        graph, weights: the model (original, or already ``prepare_graph``-ed if ``prepared``).
        backend: one of BUILD_BACKENDS (``auto``: TensorRT, else TensorRT-RTX).
        debug_outputs: IR value names to mark as extra engine outputs (tensor name = value
            name) in this build; values that do not exist in the emitted network (folded away)
            are skipped. Marking prevents fusion across these tensors.
        config: precision, keep-fp32 patterns and builder options (default: exact fp32).
        emulate_if_not_runnable: with ``backend="auto"``, when the real engine builds but this
            machine cannot run it, run the same network in the emulator instead; the engine's
            description says so and why.
        build: builds the plan (default ``build_engine``), e.g. through an engine cache.
        product: the backend whose network to emit (``emit_network``; default: the one built
            with); the emulator standing in for TensorRT-RTX gets ``"tensorrt-rtx"``.
    Returns:
        the engine; ``graph`` is the graph actually emitted (after batch-norm folding).
    Raises:
        EngineNotRunnableError: the engine built, but this machine cannot run it (the message
            says why and that ``--backend emulated`` runs the same network on the CPU).
    """
    from trtdsl.backends.trt import (
        BuildConfig,
        build_engine,
        emit_network,
        import_trt,
        prepare_for_build,
    )

    config = config or BuildConfig()
    trt = import_trt(backend)
    if not prepared:
        graph, weights = prepare_for_build(graph, weights, config)
    emitted = emit_network(trt, graph, weights, product=product)
    marked = mark_debug_outputs(emitted.network, debug_outputs)
    if debug_outputs:
        _LOG.info("debug build: marked %d of %d values as outputs", marked, len(debug_outputs))
    plan = (build or build_engine)(emitted, config)
    try:
        loaded = deserialize(plan, trt, "the engine built in memory")
    except EngineNotRunnableError as e:
        if emulate_if_not_runnable and backend == "auto":
            from trtdsl.backends.trt.module import backend_of, describe_version

            emulator_config = config.for_emulator()
            loaded = build_in_memory(
                graph,
                weights,
                "emulated",
                debug_outputs,
                True,
                emulator_config,
                build=build,
                product=backend_of(trt),
            )
            loaded.description += (
                f" (--backend auto chose {describe_version(trt)}; its engine built, but "
                f"{not_runnable_reason(str(e))}, so the same network ran in the emulator)"
            )
            return loaded
        raise EngineNotRunnableError(
            f"--backend {backend}: {e}; --backend emulated runs the same network in trtdsl's "
            "CPU emulator (labelled emulated)"
        ) from None
    loaded.graph = graph
    return loaded


def not_runnable_reason(message: str) -> str:
    """``"this machine cannot run it (<why>)"`` out of an EngineNotRunnableError message."""
    _, sep, rest = message.partition("this machine cannot run it: ")
    return f"this machine cannot run it ({rest})" if sep else message


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
    is visible, else host memory); ``"tensorrt"``/``"tensorrt-rtx"``/``"auto"`` a real engine
    on the GPU (EngineNotRunnableError where this machine cannot run it).
    ``last_description`` says what the last call ran on, for the CLI to print.
    """

    def __init__(
        self,
        backend: str,
        memory: str = "auto",
        config: BuildConfig | None = None,
        build: PlanBuilder | None = None,
        every_value: bool = False,
        prepared: bool = False,
    ) -> None:
        if backend not in BUILD_BACKENDS:
            raise ValueError(f"backend must be one of {BUILD_BACKENDS}, got {backend!r}")
        self.backend = backend
        self.memory = memory
        self.config = config
        self.build = build
        self.every_value = every_value
        self.prepared = prepared  # graphs come already through prepare_graph
        self.last_description = ""

    def __call__(
        self,
        graph: Graph,
        weights: Mapping[str, np.ndarray],
        inputs: Mapping[str, np.ndarray],
    ) -> dict[str, np.ndarray]:
        """Run ``graph``; returns output port name -> array, in the graph's output order (with
        ``every_value``, then every node value the engine exposes, by value name: a debug
        build that marks them all as outputs, which prevents fusion across them)."""
        from trtdsl.runtime.runner import EngineRunner

        values = [v for n in graph.nodes for v in n.outputs] if self.every_value else []
        loaded = build_in_memory(
            graph,
            weights,
            self.backend,
            debug_outputs=values,
            prepared=self.prepared,
            config=self.config,
            emulate_if_not_runnable=True,
            build=self.build,
        )
        with EngineRunner(loaded.engine, loaded.trt, self.memory) as runner:
            outputs = runner.infer(inputs)
            self.last_description = describe_run(loaded, runner.memory.kind)
        result = {p.name: outputs[p.name] for p in graph.outputs}
        result.update((name, array) for name, array in outputs.items() if name not in result)
        return result


def describe_run(loaded: LoadedEngine, memory: str) -> str:
    """``"<engine description>, device memory (cuda-python)"`` or ``..., host memory"``."""
    where = "device memory (cuda-python)" if memory == "device" else "host memory (NumPy)"
    return f"{loaded.description}; buffers in {where}"

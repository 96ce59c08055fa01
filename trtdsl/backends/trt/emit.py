"""IR graph -> TensorRT INetworkDefinition, one registered emitter per op."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import numpy as np

from trtdsl.backends.trt import ops as _ops  # noqa: F401  (fills EMITTERS)
from trtdsl.backends.trt.context import EMITTERS, EmitContext, trt_dims, trt_dtype
from trtdsl.backends.trt.logger import CapturingLogger
from trtdsl.backends.trt.module import create_network, shared_logger
from trtdsl.errors import BackendError, TrtdslError
from trtdsl.ir.graph import Graph, Node
from trtdsl.ir.ops.base import Op

_log = logging.getLogger("trtdsl")


@dataclass
class EmittedNetwork:
    """A filled INetworkDefinition and everything that must outlive it until the build.

    Attributes:
        trt: the TensorRT module (or the emulator) that built it.
        graph: the IR graph it was emitted from.
        builder, network, logger: the TensorRT objects (the logger captures errors).
        keep: every weight buffer TensorRT holds by reference (TensorRT copies weights only
            when the engine is built; until then these arrays must stay alive).
        named_weights: state_dict key -> the weights TensorRT holds under that name (what a
            refit must set for that name).
    """

    trt: ModuleType
    graph: Graph
    builder: Any
    network: Any
    logger: CapturingLogger
    keep: list[Any] = field(default_factory=list)
    named_weights: dict[str, Any] = field(default_factory=dict)

    @property
    def num_layers(self) -> int:
        return int(self.network.num_layers)


def emitter_for(op: Op) -> Any:
    """The registered emitter of ``op``'s class, or BackendError."""
    from trtdsl.ir.ops.custom import CustomOp

    if isinstance(op, CustomOp) and type(op) not in EMITTERS:
        from trtdsl.backends.trt.ops.custom import emit_custom

        return emit_custom
    try:
        return EMITTERS[type(op)]
    except KeyError:
        raise BackendError(
            f"op {op.op_name!r} ({type(op).__name__}) has no TensorRT emitter"
        ) from None


def emit_network(
    trt: ModuleType,
    graph: Graph,
    weights: Mapping[str, np.ndarray],
    logger: CapturingLogger | None = None,
    product: str | None = None,
) -> EmittedNetwork:
    """Emit ``graph`` into a new strongly typed TensorRT network.

    Args:
        trt: ``import_trt(emulate)``.
        graph: a verified graph; its precision is already explicit (run
            ``prepare_graph`` first: batch-norm folding and the precision pass).
        weights: state_dict key -> array, in each node's compute dtype.
        logger: the ILogger given to the builder (default and recommended: the process's
            ``shared_logger(trt)``).
        product: the backend whose network to emit (default: ``trt``'s own). The emulator
            given ``"tensorrt-rtx"`` builds the network TensorRT-RTX gets (its ``nms``
            lowering), so an emulated check of a TensorRT-RTX engine runs the same layers.
    Returns:
        the network, with one layer named after each node (auxiliary layers ``node/part``).
    Raises:
        BackendError: an op has no emitter, TensorRT refused a layer, or a shape differs.
    """
    logger = logger or shared_logger(trt)
    since = logger.mark()
    builder = trt.Builder(logger.trt_logger)
    network = create_network(trt, builder)
    ctx = EmitContext(trt, network, graph, weights, lambda: logger.errors_text(since), product)
    for name in graph.inputs:
        t = graph.types[name]
        tensor = network.add_input(name, trt_dtype(trt, t.dtype), trt_dims(t))
        if tensor is None:
            raise BackendError(f"input {name}: TensorRT refused {t}: {logger.errors_text(since)}")
        ctx.tensors[name] = tensor
    for node in graph.nodes:
        _emit_node(ctx, node, logger)
    for port in graph.outputs:
        _mark_output(ctx, graph, port.name, port.value)
    _log.debug("emitted %d TensorRT layers for %d nodes", network.num_layers, len(graph.nodes))
    return EmittedNetwork(trt, graph, builder, network, logger, ctx.keep, ctx.named_weights)


def _emit_node(ctx: EmitContext, node: Node, logger: CapturingLogger) -> None:
    emit = emitter_for(node.op)
    since = logger.mark()
    try:
        layer = emit(ctx, node)
    except TrtdslError:
        raise
    except Exception as e:  # TensorRT raises plain TypeError/RuntimeError on bad arguments
        detail = logger.errors_text(since)
        raise BackendError(
            f"{node.where()}: emitting {node.op.op_name} failed: {type(e).__name__}: {e}"
            + (f"; TensorRT: {detail}" if detail else "")
        ) from e
    ctx.define(node, layer)


def _mark_output(ctx: EmitContext, graph: Graph, port: str, value: str) -> None:
    tensor = ctx.tensors[value]
    if tensor.is_network_input or tensor.is_network_output:
        # A tensor can be one network output only, and an input cannot be an output: copy it.
        node = Node(port, _IDENTITY, (value,), (port,))
        layer = ctx.network.add_identity(tensor)
        ctx.add(node, layer, "output")
        tensor = layer.get_output(0)
    tensor.name = port
    ctx.network.mark_output(tensor)


class _OutputCopy(Op):
    op_name = "output"


_IDENTITY = _OutputCopy()

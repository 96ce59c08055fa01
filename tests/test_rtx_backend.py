"""Real builder (TensorRT-RTX on CPU): the fixes for the ways real TensorRT differs from what
trtdsl's emitter first assumed. Each test fails without its fix."""

from __future__ import annotations

from types import ModuleType

import pytest

from trtdsl import ModelBuilder
from trtdsl.backends.trt import emit_network, network_layers, prepare_graph
from trtdsl.backends.trt.context import EmitContext
from trtdsl.backends.trt.module import import_trt, shared_logger
from trtdsl.errors import BackendError
from trtdsl.ir.graph import Graph
from trtdsl.weights import random_weights

pytestmark = pytest.mark.rtx


@pytest.fixture(scope="module")
def rtx() -> ModuleType:
    return import_trt("tensorrt-rtx")


def _model() -> Graph:
    b = ModelBuilder("m")
    x = b.input("x", ("N", 3, 8, 8), dims={"N": (1, 2, 4)})
    y = b.relu(b.conv2d(x, out_channels=4, kernel_size=3, padding=1, name="conv"), name="relu")
    y = b.add(y, y, name="add")
    y = b.flatten(b.adaptive_avg_pool2d(y, output_size=1, name="gap"), name="flatten")
    b.output(b.linear(y, out_features=3, name="fc"), "logits")
    return b.build()


def test_layer_kinds_are_read_through_the_concrete_class(rtx: ModuleType) -> None:
    """``get_layer`` returns a base ILayer: ``op``/``to_type``/the activation type need the
    downcast (without it, reading them raised AttributeError and compile died)."""
    graph, weights = prepare_graph(_model(), random_weights(_model()), "fp16")
    kinds = {
        la.name: la.type for la in network_layers(rtx, emit_network(rtx, graph, weights).network)
    }
    assert kinds["relu"] == "ACTIVATION (RELU)" and kinds["add"] == "ELEMENTWISE (SUM)"
    assert kinds["x.to_fp16"] == "CAST (float16)" and kinds["gap"] == "REDUCE (AVG)"


def test_failed_shape_inference_names_the_node_and_quotes_tensorrt(rtx: ModuleType) -> None:
    """Real TensorRT returns the layer and ``ITensor.shape`` raises "Could not get tensor
    shape"; trtdsl turns that into one BackendError naming the node, with TensorRT's cause."""
    b = ModelBuilder("bad")
    x = b.input("x", (1, 3, 8, 8))
    b.output(b.relu(x, name="relu"), "y")
    graph = b.build()
    builder = rtx.Builder(shared_logger(rtx).trt_logger)
    network = builder.create_network(0)
    logger = shared_logger(rtx)
    since = logger.mark()
    ctx = EmitContext(rtx, network, graph, {}, lambda: logger.errors_text(since))
    a = network.add_input("a", rtx.float32, (1, 3, 8, 8))
    c = network.add_input("c", rtx.float32, (1, 5, 7, 8))
    layer = network.add_elementwise(a, c, rtx.ElementWiseOperation.SUM)
    assert layer is not None  # the real API hands back a layer it cannot infer shapes for
    with pytest.raises(
        BackendError, match=r"relu: TensorRT could not infer the output shape .*Shape Error"
    ):
        ctx.define(graph.node("relu"), layer)


def test_every_builder_shares_the_one_logger(rtx: ModuleType) -> None:
    """A second ILogger makes real TensorRT log "logger ... differs" from inside
    createInferBuilder while holding a lock (a GC there deadlocked the test suite)."""
    logger = shared_logger(rtx)
    since = logger.mark()
    graph, weights = prepare_graph(_model(), random_weights(_model()))
    first = emit_network(rtx, graph, weights)
    second = emit_network(rtx, graph, weights)
    assert first.logger is second.logger is logger
    new = logger.mark() - since  # ([-0:] would be every earlier record, from other tests)
    messages = [r.message for r in list(logger.records)[-new:]] if new else []
    assert not [m for m in messages if "logger passed into createInferBuilder differs" in m]


def test_the_logger_keeps_a_bounded_history(rtx: ModuleType) -> None:
    """Marks count every message ever logged, though only the last ``keep`` are held."""
    from trtdsl.backends.trt.logger import CapturingLogger

    logger = CapturingLogger(rtx, keep=4)
    start = logger.mark()
    for i in range(10):
        logger.record(rtx.Logger.ERROR, f"error\n{i}")
    assert logger.mark() == start + 10 and len(logger.records) == 4
    assert logger.errors(logger.mark() - 2) == ["error\n8", "error\n9"]
    assert logger.errors_text(start) == "error 6; error 7; error 8; error 9"

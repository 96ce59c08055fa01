"""Custom ops on real builders: composed Mish built by TensorRT-RTX on this CPU (its network
equal to the emulator's, layer by layer), and the Mish plugin inside a real TensorRT engine
(``tensorrt`` marker: needs datacenter TensorRT and a GPU)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import trtdsl
from trtdsl.backends.trt import emit_network, import_trt
from trtdsl.backends.trt.layers import network_layers
from trtdsl.ir.ops.custom import custom_op_scope

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "custom_ops"


@pytest.fixture(autouse=True)
def _ops() -> Iterator[None]:
    with custom_op_scope():
        trtdsl.load_ops(EXAMPLES / "mish.py")
        yield


def _graph_and_weights() -> tuple[trtdsl.Graph, dict[str, np.ndarray]]:
    graph = trtdsl.load_model(EXAMPLES / "mish_net.yaml")
    return graph, trtdsl.random_weights(graph)


@pytest.mark.rtx
@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_composed_mish_builds_on_tensorrt_rtx_and_equals_the_emulators_network(
    precision: str,
) -> None:
    from trtdsl.backends.trt import BuildConfig, build_engine, prepare_graph

    graph, weights = _graph_and_weights()
    config = BuildConfig(precision=trtdsl.Precision.parse(precision))
    prepared, prepared_weights = prepare_graph(graph, weights, precision)
    rtx = import_trt("tensorrt-rtx")
    real = emit_network(rtx, prepared, prepared_weights)
    emulated = emit_network(
        import_trt("emulated"), prepared, prepared_weights, product="tensorrt-rtx"
    )
    assert network_layers(rtx, real.network) == network_layers(emulated.trt, emulated.network)
    kinds = [la.type for la in network_layers(rtx, real.network) if la.metadata == "act"]
    assert kinds[:2] == ["ACTIVATION (SOFTPLUS)", "ACTIVATION (TANH)"]
    result = build_engine(real, config)
    assert bytes(result[:4]) == b"vtrt" and len(result) > 1000


@pytest.mark.rtx
def test_compile_records_the_custom_ops_and_a_composed_op_needs_no_ops_file_to_run(
    cli: Any, tmp_path: Path
) -> None:
    """A composed op is plain TensorRT layers in the plan: inspect and run need no --ops (run
    stops here only because this machine cannot run a TensorRT-RTX engine). Plugin ops,
    which need their creator, are refused by name (test_custom_ops.py)."""
    mish = str(EXAMPLES / "mish.py")
    engine = str(tmp_path / "m.engine")
    built = cli("compile", str(EXAMPLES / "mish_net.yaml"), "--ops", mish, "--weights", "random",
                "--backend", "tensorrt-rtx", "-o", engine)  # fmt: skip
    assert built.code == 0, built.err
    sidecar = trtdsl.files.read_json(engine + ".json")
    (record,) = sidecar["custom_ops"]
    assert record["name"] == "mish" and record["lowering"] == "composed"
    with custom_op_scope():
        for name in ("mish", "mish_plugin"):
            del trtdsl.OPS[name]  # as in a fresh process without --ops
        inspected = cli("inspect", engine)
        assert inspected.code == 0, inspected.err
        ran = cli("run", engine, "--input", "random")
        assert "custom op" not in ran.err and "--ops" not in ran.err, ran.err
    result = cli("inspect", engine, "--ops", mish)
    assert result.code == 0, result.err


@pytest.mark.tensorrt
def test_mish_plugin_inside_a_real_tensorrt_engine() -> None:
    pytest.importorskip("tensorrt", reason="needs datacenter TensorRT (pip install -e '.[trt]')")
    from trtdsl.runtime import EngineRunner
    from trtdsl.runtime.engines import build_in_memory

    b = trtdsl.ModelBuilder("m")
    b.output(b.mish_plugin(b.input("x", (2, 3, 17, 9)), name="act"), "y")
    graph = b.build()
    x = np.linspace(-20, 20, 2 * 3 * 17 * 9, dtype=np.float32).reshape(2, 3, 17, 9)
    loaded = build_in_memory(graph, {}, "tensorrt")
    with EngineRunner(loaded.engine, loaded.trt) as runner:
        got = runner.infer({"x": x})["y"]
    np.testing.assert_allclose(got, graph.nodes[0].op.reference([x], {}), rtol=1e-5, atol=1e-6)

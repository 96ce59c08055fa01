"""ONNX export, cross-checked by running the exported model in onnxruntime against the
reference executor: every op case of ``cases.py``, the zoo ResNets, and ``trtdsl export``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from cases import CASES, OpCase, case_arrays, case_input_types

from trtdsl import ModelBuilder
from trtdsl.backends.onnx_export import EXPORTERS, export_onnx, to_onnx_model
from trtdsl.backends.reference import run_reference
from trtdsl.cli.main import main
from trtdsl.errors import WeightError
from trtdsl.frontend.load import load_model
from trtdsl.ir.graph import Graph
from trtdsl.ir.ops import OPS
from trtdsl.ir.ops.base import param_key
from trtdsl.passes import fold_batchnorm
from trtdsl.weights import random_weights

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


def _run_onnx(path: Path, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    # NOTE: ORT's extended optimizations turn DequantizeLinear + MatMul into
    # DynamicQuantizeMatMul, which quantizes the activation too; basic ones keep the semantics.
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, inputs), strict=True))


def _case_graph(case: OpCase) -> tuple[Graph, dict[str, np.ndarray], dict[str, np.ndarray]]:
    """A one-node graph applying the case's op (plus a cast back to float32 for bfloat16,
    which NumPy and onnxruntime's Python API cannot hold)."""
    b = ModelBuilder(case.id)
    types = case_input_types(case)
    xs = [b.input(f"x{i}", t.shape, dtype=t.dtype) for i, t in enumerate(types)]
    y = b.node(case.op, *xs, name="op")
    if str(y.dtype) == "bfloat16":
        y = b.cast(y, dtype="float32", name="to_float32")
    b.output(y, "y")
    inputs, params = case_arrays(case, seed=0)
    weights = {param_key("op", role): array for role, array in params.items()}
    return b.build(), weights, {f"x{i}": x for i, x in enumerate(inputs)}


def test_every_op_has_an_exporter() -> None:
    assert sorted(n for n, cls in OPS.items() if cls not in EXPORTERS) == []


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_reference_agrees_with_onnxruntime(case: OpCase, tmp_path: Path) -> None:
    graph, weights, inputs = _case_graph(case)
    path = tmp_path / "op.onnx"
    export_onnx(graph, weights, path)
    expected = run_reference(graph, weights, inputs)["y"]
    got = _run_onnx(path, inputs)["y"]
    assert got.dtype == expected.dtype and got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=max(case.rtol, 1e-5), atol=max(case.atol, 1e-5))


def test_names_carry_over(tmp_path: Path) -> None:
    b = ModelBuilder("named")
    x = b.input("x", ("N", 3, 8, 8), dims={"N": (1, 2, 4)})
    with b.scope("features"):
        y = b.conv2d(x, out_channels=4, kernel_size=3, padding=1, name="0")
        y = b.gelu(y, name="1")
    b.output(y, "out")
    graph = b.build()
    model = to_onnx_model(graph, random_weights(graph))
    initializers = {t.name for t in model.graph.initializer}
    assert {"features.0.weight", "features.0.bias"} <= initializers
    node_names = [n.name for n in model.graph.node]
    assert "features.0" in node_names and "features.1" in node_names
    assert any(n.op_type == "Erf" for n in model.graph.node)
    dims = model.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param == "N" and [d.dim_value for d in dims[1:]] == [3, 8, 8]
    assert [o.name for o in model.graph.output] == ["out"]


def test_missing_weight_is_reported(tmp_path: Path) -> None:
    graph = load_model("resnet18", {"x": (1, 3, 32, 32)})
    weights = random_weights(graph)
    del weights["layer1.0.conv1.weight"]
    with pytest.raises(WeightError, match=r"layer1\.0\.conv1\.weight missing"):
        export_onnx(graph, weights, tmp_path / "r.onnx")
    assert not (tmp_path / "r.onnx").exists()


@pytest.mark.parametrize("name", ["resnet18", "resnet50"])
def test_zoo_resnet_agrees_with_onnxruntime(name: str, tmp_path: Path) -> None:
    graph = load_model(name, {"x": (2, 3, 96, 96)})  # small images keep the test fast
    weights = random_weights(graph, seed=1)
    x = np.random.default_rng(0).standard_normal((2, 3, 96, 96)).astype(np.float32)
    path = tmp_path / f"{name}.onnx"
    export_onnx(graph, weights, path)
    expected = run_reference(graph, weights, {"x": x})["logits"]
    got = _run_onnx(path, {"x": x})["logits"]
    assert got.shape == (2, 1000)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


def test_export_cli_folds_and_writes_a_checked_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "r18.onnx"
    code = main(
        ["export", "resnet18", "--weights", "random:2", "--fold-bn", "--shape", "x=1x3x64x64"]
        + ["--onnx", str(out)]
    )
    assert code == 0 and "20 batch-norm(s) folded" in capsys.readouterr().out
    model = onnx.load(str(out))
    onnx.checker.check_model(model)
    assert not any(n.op_type == "BatchNormalization" for n in model.graph.node)
    graph = load_model("resnet18", {"x": (1, 3, 64, 64)})
    folded, weights = fold_batchnorm(graph, random_weights(graph, seed=2))
    x = np.random.default_rng(0).standard_normal((1, 3, 64, 64)).astype(np.float32)
    np.testing.assert_allclose(
        _run_onnx(out, {"x": x})["logits"],
        run_reference(folded, weights, {"x": x})["logits"],
        rtol=1e-4,
        atol=1e-5,
    )


def test_export_cli_bad_directory_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["export", "resnet18", "--weights", "random", "--onnx", "/no/such/dir/r.onnx"])
    assert code == 2
    assert "directory /no/such/dir does not exist" in capsys.readouterr().err

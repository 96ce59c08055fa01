"""ONNX opsets: each op exports, and agrees with onnxruntime, at the oldest opset it declares
(``MIN_OPSET`` or its ``OPSETS`` entry) and at the newest one onnxruntime runs; an older
opset is refused with a message naming the op, its node and the opset that works."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from cases import CASES, OpCase
from test_onnx_export import _case_graph, _run_onnx

from trtdsl import ModelBuilder
from trtdsl.backends.onnx_export import export_onnx
from trtdsl.backends.onnx_ops import MIN_OPSET, OPSETS
from trtdsl.backends.reference import run_reference
from trtdsl.errors import BackendError
from trtdsl.ir.ops import OPS
from trtdsl.weights import random_weights

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

NEWEST = 21
"""The newest opset checked: onnxruntime 1.17 (the oldest the test extra allows) runs it."""


def _oldest(case: OpCase) -> int:
    return OPSETS.get(type(case.op), (MIN_OPSET, ""))[0]


def _export_and_compare(case: OpCase, opset: int, tmp_path: Path) -> None:
    graph, weights, inputs = _case_graph(case)
    path = tmp_path / f"op{opset}.onnx"
    try:
        export_onnx(graph, weights, path, opset=opset)
    except BackendError as e:
        # A dtype of this case may need more than the op does (bfloat16 casts: 13).
        needed = re.search(r"needs opset >= (\d+) \((.+?)\), got opset", str(e))
        assert needed and f"{case.op.op_name} needs" in str(e), (
            f"{case.op.op_name} does not export at opset {opset}, the oldest its exporter "
            f"declares; give its @_exporter(..., opset=N, needs=...) the opset it needs: {e}"
        )
        opset = int(needed.group(1))
        export_onnx(graph, weights, path, opset=opset)
    assert onnx.load(str(path)).opset_import[0].version == opset
    expected = run_reference(graph, weights, inputs)["y"]
    got = _run_onnx(path, inputs)["y"]
    np.testing.assert_allclose(got, expected, rtol=max(case.rtol, 1e-5), atol=max(case.atol, 1e-5))


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_each_case_agrees_with_onnxruntime_at_its_oldest_opset(
    case: OpCase, tmp_path: Path
) -> None:
    _export_and_compare(case, _oldest(case), tmp_path)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_each_case_agrees_with_onnxruntime_at_the_newest_opset(
    case: OpCase, tmp_path: Path
) -> None:
    _export_and_compare(case, NEWEST, tmp_path)


@pytest.mark.parametrize("op_name", sorted(n for n, cls in OPS.items() if cls in OPSETS))
def test_an_opset_too_old_for_an_op_names_it(op_name: str, tmp_path: Path) -> None:
    case = next(c for c in CASES if c.op.op_name == op_name)
    graph, weights, _ = _case_graph(case)
    version, needs = OPSETS[OPS[op_name]]
    message = (
        rf": op: ONNX export: {op_name} needs opset >= {version} \({re.escape(needs)}\), "
        rf"got opset {version - 1}; this graph exports with opset >= {version}$"
    )
    with pytest.raises(BackendError, match=message):
        export_onnx(graph, weights, tmp_path / "m.onnx", opset=version - 1)


def test_the_first_op_is_named_and_the_others_listed(tmp_path: Path) -> None:
    b = ModelBuilder("m")
    x = b.input("x", (1, 4))
    y = b.softmax(b.hardswish(x, name="act"), name="probs")
    b.output(y, "y")
    graph = b.build()
    with pytest.raises(BackendError) as info:
        export_onnx(graph, random_weights(graph), tmp_path / "m.onnx", opset=12)
    assert re.fullmatch(
        r".*test_onnx_opset\.py:\d+: act: ONNX export: hardswish needs opset >= 14 "
        r"\(ONNX HardSwish\), got opset 12; so do softmax; this graph exports with opset >= 14",
        str(info.value),
    ), str(info.value)
    with pytest.raises(BackendError, match=r"^ONNX export: opset 10 is older than trtdsl"):
        export_onnx(graph, random_weights(graph), tmp_path / "m.onnx", opset=10)


def test_export_cli_names_the_op_that_needs_a_newer_opset(
    write_model: object, cli: object, tmp_path: Path
) -> None:
    path = write_model(  # type: ignore[operator]
        "m.yaml",
        """
        name: m
        inputs:
          x: {shape: [1, 4]}
        layers:
          - {name: act, op: hardswish}
        outputs:
          y: act
        """,
    )
    result = cli(  # type: ignore[operator]
        "export", str(path), "--weights", "random", "--onnx", str(tmp_path / "m.onnx"),
        "--opset", "13",
    )  # fmt: skip
    assert result.code == 2 and result.err.count("\n") == 1, result
    assert re.search(
        r"m\.yaml:5: act: ONNX export: hardswish needs opset >= 14 \(ONNX HardSwish\), got "
        r"opset 13; this graph exports with opset >= 14$",
        result.err.strip(),
    ), result.err

"""The precision pass: explicit casts, typed weights, overrides (node, scope, --keep-fp32)."""

from __future__ import annotations

import numpy as np
import pytest

from trtdsl import ModelBuilder
from trtdsl.errors import UsageError
from trtdsl.ir.graph import Graph
from trtdsl.ir.ops.cast import Cast, cast_array, round_to_bfloat16
from trtdsl.ir.types import DType
from trtdsl.passes.precision import Precision, apply_precision, compute_dtypes
from trtdsl.weights import random_weights


def _model() -> Graph:
    """x -> conv -> bn -> relu -> block.conv (scope precision fp32) -> flatten -> fc -> softmax."""
    b = ModelBuilder("p")
    x = b.input("x", ("N", 3, 6, 6), dims={"N": (1, 2, 4)})
    y = b.conv2d(x, out_channels=4, kernel_size=3, padding=1, bias=False, name="conv")
    y = b.batch_norm2d(y, name="bn")
    y = b.relu(y, name="relu")
    with b.scope("block", precision="fp32"):
        y = b.conv2d(y, out_channels=4, kernel_size=1, name="conv")
    y = b.flatten(y, name="flatten")
    y = b.linear(y, out_features=5, name="fc")
    y = b.softmax(y, dim=-1, name="softmax")
    b.output(y, "probs")
    return b.build()


def _casts(graph: Graph) -> dict[str, tuple[str, DType]]:
    return {n.name: (n.inputs[0], n.op.dtype) for n in graph.nodes if isinstance(n.op, Cast)}


def test_fp32_adds_no_casts_and_makes_weights_float32() -> None:
    graph = _model()
    weights = {k: v.astype(np.float64) for k, v in random_weights(graph).items()}
    new, new_weights = apply_precision(graph, weights, "fp32")
    assert new == graph
    assert {str(a.dtype) for a in new_weights.values()} == {"float32"}


def test_fp16_casts_at_entry_between_dtypes_and_at_exit() -> None:
    graph = _model()
    new, weights = apply_precision(graph, random_weights(graph), Precision.FP16)
    assert _casts(new) == {
        "x.to_fp16": ("x", DType.FLOAT16),
        "relu.to_fp32": ("relu", DType.FLOAT32),  # block.conv has precision fp32
        "flatten.to_fp16": ("flatten", DType.FLOAT16),  # flatten follows block.conv; fc is fp16
        "softmax.to_fp32": ("softmax", DType.FLOAT32),  # the output keeps its float32
    }
    assert new.types["conv"].dtype is DType.FLOAT16
    assert new.types["block.conv"].dtype is DType.FLOAT32
    assert new.types["flatten"].dtype is DType.FLOAT32
    assert [(p.name, p.value) for p in new.outputs] == [("probs", "softmax.to_fp32")]
    assert new.types["softmax.to_fp32"] == graph.types["softmax"]
    assert weights["conv.weight"].dtype == np.float16
    assert weights["fc.weight"].dtype == np.float16
    assert weights["block.conv.weight"].dtype == np.float32
    # Batch-norm statistics stay float32: the emitter derives scale and shift from them.
    assert weights["bn.running_var"].dtype == np.float32


def test_keep_fp32_glob_keeps_matching_nodes_in_float32() -> None:
    graph = _model()
    new, _ = apply_precision(graph, random_weights(graph), "fp16", keep_fp32=["soft*"])
    assert new.types["softmax"].dtype is DType.FLOAT32
    assert _casts(new)["fc.to_fp32"] == ("fc", DType.FLOAT32)
    assert "softmax.to_fp32" not in _casts(new)


def test_keep_fp32_pattern_matching_nothing_is_an_error() -> None:
    graph = _model()
    with pytest.raises(UsageError, match=r"--keep-fp32 pattern\(s\) 'sofmax' match no node"):
        apply_precision(graph, random_weights(graph), "fp16", keep_fp32=["sofmax"])


def test_node_precision_overrides_the_build_in_both_directions() -> None:
    graph = _model()
    dtypes = compute_dtypes(graph, "fp32")
    assert dtypes["block.conv"] is DType.FLOAT32 and dtypes["conv"] is DType.FLOAT32
    assert dtypes["flatten"] is None  # data movement follows its input
    b = ModelBuilder("q")
    x = b.input("x", (1, 4))
    y = b.node("relu", x, name="half", precision="fp16")
    b.output(y, "y")
    new, _ = apply_precision(b.build(), {}, "fp32")
    assert new.types["half"].dtype is DType.FLOAT16
    assert new.types[new.outputs[0].value].dtype is DType.FLOAT32


def test_bf16_weights_hold_bfloat16_values_in_float32_arrays() -> None:
    graph = _model()
    new, weights = apply_precision(graph, random_weights(graph), "bf16")
    w = weights["conv.weight"]
    assert w.dtype == np.float32
    assert not np.any(w.view(np.uint32) & 0xFFFF)
    assert new.types["conv"].dtype is DType.BFLOAT16


def test_precision_parse_accepts_aliases_and_rejects_others() -> None:
    assert Precision.parse("float16") is Precision.FP16
    assert Precision.parse(DType.BFLOAT16) is Precision.BF16
    assert Precision.TF32.dtype is DType.FLOAT32 and Precision.TF32.allows_tf32
    assert not Precision.FP32.allows_tf32
    assert Precision.parse("fp8") is Precision.FP8 and Precision.FP8.quantized is not None
    with pytest.raises(UsageError, match=r"unknown precision 'fp4'; expected one of fp32, tf32"):
        Precision.parse("fp4")


def test_round_to_bfloat16_rounds_to_nearest_even() -> None:
    # 1 + 2^-8 is halfway between bf16 1.0 and 1.0078125: ties go to the even (1.0).
    halfway = np.float32(1.0) + np.float32(2.0**-8)
    above = np.nextafter(halfway, np.float32(2.0))
    out = round_to_bfloat16(np.array([halfway, above, -3.0, np.nan], dtype=np.float32))
    assert out[0] == 1.0 and out[1] == np.float32(1.0078125) and out[2] == -3.0
    assert np.isnan(out[3])
    assert cast_array(np.array([1.5, 70000.0]), DType.FLOAT16).dtype == np.float16


def test_keep_fp32_keeps_weightless_layers_between_kept_layers_in_fp32() -> None:
    """conv2 and fc kept: relu2, pool and flatten between them stay float32 instead of casting
    down and straight back up; relu3, read by a float16 conv, casts relu2 down for itself;
    relu1 (fed by a float16 conv) stays float16, and relu4 (no float32 reader) too."""
    b = ModelBuilder("m")
    x = b.input("x", (1, 3, 12, 12))
    y = b.relu(b.conv2d(x, out_channels=4, kernel_size=3, name="conv1"), name="relu1")
    r2 = b.relu(b.conv2d(y, out_channels=4, kernel_size=3, name="conv2"), name="relu2")
    y = b.max_pool2d(r2, kernel_size=2, name="pool")
    z = b.conv2d(b.relu(r2, name="relu3"), out_channels=4, kernel_size=1, name="conv3")
    b.output(b.relu(z, name="relu4"), "side")
    y = b.linear(b.flatten(y, name="flat"), out_features=3, name="fc")
    b.output(y, "y")
    graph = b.build()
    dtypes = compute_dtypes(graph, "fp16", ["conv2", "fc"])
    assert dtypes["relu1"] is DType.FLOAT16 and dtypes["conv3"] is DType.FLOAT16
    assert dtypes["relu2"] is DType.FLOAT32 and dtypes["pool"] is DType.FLOAT32
    assert dtypes["flat"] is DType.FLOAT32
    assert dtypes["relu3"] is DType.FLOAT16 and dtypes["relu4"] is DType.FLOAT16
    prepared, _ = apply_precision(graph, random_weights(graph), "fp16", ["conv2", "fc"])
    casts = {n.name for n in prepared.nodes if n.op.op_name == "cast"}
    assert {"relu1.to_fp32", "relu2.to_fp16"} <= casts
    assert not casts & {"conv2.to_fp16", "relu2.to_fp32", "pool.to_fp16", "pool.to_fp32"}
    assert compute_dtypes(graph, "fp32", ["conv2"]) == compute_dtypes(graph, "fp32")

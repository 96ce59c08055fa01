"""The Python DSL: names and scopes, precision, outputs, rename rules and located errors."""

from __future__ import annotations

import inspect
import re

import pytest

from trtdsl import DimRange, DType, ModelBuilder, Tensor
from trtdsl.errors import ModelError
from trtdsl.ir.ops.conv import Conv2d


def line() -> int:
    """The caller's line number."""
    frame = inspect.currentframe()
    assert frame is not None and frame.f_back is not None
    return frame.f_back.f_lineno


def small() -> tuple[ModelBuilder, Tensor]:
    b = ModelBuilder("m")
    return b, b.input("x", ("N", 3, 8, 8), dims={"N": (1, 2, 4)})


def test_scopes_name_nodes_by_dotted_path() -> None:
    b, x = small()
    assert b.prefix == ""
    with b.scope("layer1"):
        with b.scope(0):
            assert b.prefix == "layer1.0"
            y = b.conv2d(x, out_channels=4, kernel_size=3, padding=1, name="conv1")
    assert b.prefix == ""
    assert y.name == "layer1.0.conv1"
    assert y.shape == ("N", 4, 8, 8) and y.dtype is DType.FLOAT32
    b.output(y, "y")
    graph = b.build()
    assert graph.node("layer1.0.conv1").inputs == ("x",)
    assert graph.dims == (DimRange("N", 1, 2, 4),)


def test_unnamed_nodes_get_op_names_with_counters() -> None:
    b, x = small()
    a = b.relu(x)
    c = b.relu(a)
    d = b.relu(c, name="relu_2")
    e = b.relu(d)
    assert [a.name, c.name, d.name, e.name] == ["relu", "relu_1", "relu_2", "relu_3"]


def test_precision_from_scope_and_per_node() -> None:
    b, x = small()
    with b.scope("half", precision="float16"):
        y = b.relu(x, name="a")
        z = b.node("relu", y, name="b", precision="float32")
    w = b.relu(z, name="c")
    b.output(w)
    graph = b.build()
    assert graph.node("half.a").precision is DType.FLOAT16
    assert graph.node("half.b").precision is DType.FLOAT32
    assert graph.node("c").precision is None
    assert graph.outputs[0].name == "c"  # default: the value's name


def test_node_accepts_op_instances_and_records_the_callers_line() -> None:
    b, x = small()
    y = b.node(Conv2d(out_channels=2, kernel_size=1), x, name="proj")
    expected_line = line() - 1
    b.output(y, "y")
    graph = b.build()
    assert graph.node("proj").op == Conv2d(out_channels=2, kernel_size=1)
    source = graph.node("proj").source
    assert source is not None and source.endswith(f"test_builder.py:{expected_line}")


def test_op_errors_name_the_calling_line_and_node_path() -> None:
    b, x = small()
    with b.scope("stem"), pytest.raises(ModelError) as info:
        b.conv2d(x, out_channels=4, name="conv")  # missing kernel_size
    expected_line = line() - 1
    assert re.fullmatch(
        rf".*test_builder\.py:{expected_line}: stem\.conv: conv2d: missing required "
        r"argument\(s\) kernel_size",
        str(info.value),
    )


def test_shape_errors_are_raised_at_the_call() -> None:
    b, x = small()
    y = b.conv2d(x, out_channels=4, kernel_size=1, name="a")
    with pytest.raises(ModelError, match=r"test_builder\.py:\d+: sum: add: shapes Nx4x8x8 and "
                       r"Nx3x8x8 do not broadcast \(4 vs 3\)"):  # fmt: skip
        b.add(y, x, name="sum")


def test_unknown_op_method_suggests_a_close_name() -> None:
    b, _ = small()
    with pytest.raises(AttributeError, match=r"no op or method 'conv2'; did you mean 'conv2d'"):
        b.conv2  # noqa: B018


def test_duplicate_names_and_foreign_tensors_are_rejected() -> None:
    b, x = small()
    b.relu(x, name="a")
    with pytest.raises(ModelError, match=r": a: duplicate name 'a'"):
        b.relu(x, name="a")
    other, y = small()
    with pytest.raises(ModelError, match=r"tensor 'x' does not belong to this builder"):
        b.relu(Tensor("x", y.type.with_shape((1, 3, 8, 8))), name="z")
    with pytest.raises(ModelError, match=r"attributes given together with an Op instance"):
        b.node(Conv2d(out_channels=2, kernel_size=1), x, name="p", stride=2)


def test_outputs_are_checked() -> None:
    b, x = small()
    y = b.relu(x, name="a")
    b.output(y, "out", source="m.yaml:9")
    with pytest.raises(ModelError, match=r"^m\.yaml:10: output 'out' declared twice$"):
        b.output(y, "out", source="m.yaml:10")
    c, z = small()
    c.relu(z)
    with pytest.raises(
        ModelError, match=r"test_builder\.py:\d+: model m: the graph has no outputs; mark"
    ):
        c.build()


def test_inputs_and_dims_are_validated() -> None:
    b = ModelBuilder("m")
    with pytest.raises(ModelError, match=r"input x: dimension\(s\) \['B'\] used but not declared"):
        b.input("x", ("B", 3))
    b.dim("N", 1, 2, 4)
    with pytest.raises(ModelError, match=r"dimension 'N' declared twice with different ranges"):
        b.dim("N", 1, 2, 8)
    with pytest.raises(ModelError, match=r"input y: unknown dtype 'float33'"):
        b.input("y", (1,), "float33")


def test_weight_rename_rules() -> None:
    b, x = small()
    b.rename_weights(r"^module\.", "")
    b.rename_weights(r"^(.*)\.gamma$", r"\1.weight")
    with pytest.raises(ModelError, match=r"bad weight rename rule '\('"):
        b.rename_weights("(", "")
    with pytest.raises(ModelError, match=r"bad weight rename rule 'a': invalid group reference"):
        b.rename_weights("a", r"\1")
    with pytest.raises(ModelError, match=r"weight rename rules are two strings"):
        b.rename_weights("a", 3)  # type: ignore[arg-type]
    b.output(b.relu(x))
    assert b.build().weight_renames == ((r"^module\.", ""), (r"^(.*)\.gamma$", r"\1.weight"))

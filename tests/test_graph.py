"""The IR itself: TensorType, DimRange, DType, Graph.verify errors, structural equality, format."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from trtdsl.errors import ModelError
from trtdsl.ir.graph import Graph, Node, Port, output_names
from trtdsl.ir.ops import make_op
from trtdsl.ir.types import DimRange, DType, TensorType

F32 = DType.FLOAT32


def t(*shape: int | str, dtype: DType = F32) -> TensorType:
    return TensorType(dtype, shape)


# -- TensorType, DimRange, DType ----------------------------------------------------------------


@pytest.mark.parametrize("bad", [-1, 1.5, True, None, (2,)])
def test_tensor_type_rejects_bad_dims(bad: object) -> None:
    with pytest.raises(ModelError, match=r"bad dimension"):
        TensorType(F32, (1, bad))  # type: ignore[arg-type]


def test_tensor_type_rejects_non_dtype() -> None:
    with pytest.raises(ModelError, match="expected a DType, got 'float32'"):
        TensorType("float32", (1,))  # type: ignore[arg-type]


def test_tensor_type_properties() -> None:
    x = TensorType(F32, ["N", 3, 224, 224])  # type: ignore[arg-type]
    assert x.shape == ("N", 3, 224, 224)  # normalised to a tuple
    assert x.rank == 4 and not x.is_static and x.symbols == ("N",)
    assert x.concrete({"N": 8}) == (8, 3, 224, 224)
    assert x.numel() == 3 * 224 * 224 and x.numel({"N": 2}) == 2 * 3 * 224 * 224
    assert str(x) == "float32[N,3,224,224]" and x.format_shape() == "Nx3x224x224"
    assert t().format_shape() == "scalar" and t().rank == 0 and t().is_static
    assert x.with_dtype(DType.FLOAT16).dtype is DType.FLOAT16
    assert x.with_shape((1,)) == t(1)
    with pytest.raises(ModelError, match="no size given for dimension N"):
        x.concrete({})


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (("1N", 1, 1, 1), "must be an identifier"),
        (("N", 0, 1, 1), "min must be a positive int, got 0"),
        (("N", 1, 2.0, 3), "opt must be a positive int"),
        (("N", 1, True, 3), "opt must be a positive int"),
        (("N", 2, 1, 3), r"expected min <= opt <= max, got 2, 1, 3"),
        (("N", 1, 4, 3), r"got 1, 4, 3"),
    ],
)
def test_dim_range_validation(args: tuple, match: str) -> None:
    with pytest.raises(ModelError, match=match):
        DimRange(*args)


def test_dtype_parse_and_numpy() -> None:
    assert DType.parse("fp16") is DType.FLOAT16 and DType.parse("FLOAT32") is F32
    assert DType.parse(DType.INT8) is DType.INT8
    assert DType.from_numpy(np.float16) is DType.FLOAT16
    assert DType.BFLOAT16.to_numpy() == np.float32 and DType.BFLOAT16.itemsize == 2
    assert DType.FLOAT16.is_float and not DType.INT32.is_float
    with pytest.raises(ModelError, match="unknown dtype 'float8'; expected one of float32"):
        DType.parse("float8")
    with pytest.raises(ModelError, match="NumPy dtype complex64 has no trtdsl equivalent"):
        DType.from_numpy(np.complex64)


# -- a small valid graph and its mutations -------------------------------------------------------

CONV = make_op("conv2d", dict(out_channels=4, kernel_size=3, padding=1))
RELU = make_op("relu", {})
ADD = make_op("add", {})


def small_graph(**changes: object) -> Graph:
    """x -> conv -> relu -> add(relu, conv) -> output y."""
    fields: dict[str, object] = dict(
        name="small",
        inputs=("x",),
        outputs=(Port("y", "add"),),
        nodes=(
            Node("conv", CONV, ("x",), ("conv",), source="m.yaml:3"),
            Node("relu", RELU, ("conv",), ("relu",), source="m.yaml:4"),
            Node("add", ADD, ("relu", "conv"), ("add",)),
        ),
        types={
            "x": t("N", 3, 8, 8),
            "conv": t("N", 4, 8, 8),
            "relu": t("N", 4, 8, 8),
            "add": t("N", 4, 8, 8),
        },
        dims=(DimRange("N", 1, 2, 4),),
    )
    fields.update(changes)
    return Graph(**fields)  # type: ignore[arg-type]


def test_small_graph_verifies_and_answers_queries() -> None:
    g = small_graph()
    assert g.verify() is g
    assert g.node("relu").op == RELU
    assert g.producer("conv") is g.nodes[0] and g.producer("x") is None
    assert [n.name for n in g.consumers("conv")] == ["relu", "add"]
    assert [key for key, *_ in g.params()] == ["conv.weight", "conv.bias"]
    assert g.sizes() == {"N": 2} and g.sizes("max") == {"N": 4}
    assert g.input_types(g.node("add")) == (t("N", 4, 8, 8),) * 2
    with pytest.raises(ModelError, match="no node named 'relu2'"):
        g.node("relu2")
    with pytest.raises(ModelError, match="no dimension named 'M'"):
        g.dim("M")


def _nodes(g: Graph) -> list[Node]:
    return list(g.nodes)


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        # use before definition: relu reads conv before conv runs
        (
            lambda g: dict(nodes=(g.nodes[1], g.nodes[0], g.nodes[2])),
            r"m.yaml:4: relu: input 'conv' is not defined before this node",
        ),
        (
            lambda g: dict(nodes=(*g.nodes, replace(g.nodes[1], inputs=("add",)))),
            r"relu: duplicate node name 'relu'",
        ),
        (
            lambda g: dict(nodes=(*g.nodes, replace(g.nodes[1], name="relu2"))),
            r"relu2: value 'relu' assigned twice",
        ),
        (
            lambda g: dict(types={**g.types, "relu": t("N", 4, 8, 9)}),
            r"relu: recorded type float32\[N,4,8,9\] of 'relu' differs from inferred "
            r"float32\[N,4,8,8\]",
        ),
        (
            lambda g: dict(dims=()),
            r"input 'x': undeclared dimension\(s\) \['N'\]",
        ),
        (lambda g: dict(outputs=()), "the graph has no outputs"),
        (
            lambda g: dict(outputs=(Port("y", "nothing"),)),
            "output 'y' refers to undefined value 'nothing'",
        ),
        (
            lambda g: dict(outputs=(Port("y", "add"), Port("y", "relu"))),
            r"duplicate output names in \['y', 'y'\]",
        ),
        (lambda g: dict(inputs=("x", "x")), "input 'x' declared twice"),
        (
            lambda g: dict(types={k: v for k, v in g.types.items() if k != "x"}),
            "input 'x' has no type",
        ),
        (
            lambda g: dict(dims=(DimRange("N", 1, 1, 1), DimRange("N", 1, 2, 2))),
            "dimension declared twice",
        ),
        # an op's own ShapeError is re-raised naming the node and where it was written
        (
            lambda g: dict(nodes=(replace(g.nodes[0], inputs=("x", "x")), *g.nodes[1:])),
            r"m.yaml:3: conv: conv2d: expected 1 input\(s\), got 2",
        ),
        (
            lambda g: dict(nodes=(replace(g.nodes[0], outputs=("conv", "conv:1")), *g.nodes[1:])),
            "conv: op gives 1 outputs, node declares 2",
        ),
    ],
)
def test_verify_catches(mutate, match: str) -> None:  # type: ignore[no-untyped-def]
    g = small_graph(**mutate(small_graph()))
    with pytest.raises(ModelError, match=match):
        g.verify()


def test_equality_is_structural_and_ignores_source() -> None:
    a = small_graph()
    b = small_graph(nodes=tuple(replace(n, source=None) for n in a.nodes))
    assert a == b
    assert a != small_graph(name="other")
    other_conv = make_op("conv2d", dict(out_channels=4, kernel_size=3, padding=1, bias=False))
    assert a != small_graph(nodes=(replace(a.nodes[0], op=other_conv), *a.nodes[1:]))
    assert a != small_graph(nodes=(*a.nodes[:2], replace(a.nodes[2], precision=DType.FLOAT16)))
    assert a != small_graph(weight_renames=(("^module\\.", ""),))
    assert a != small_graph(dims=(DimRange("N", 1, 3, 4),))
    assert (a == "small") is False
    with pytest.raises(TypeError):
        hash(a)


def test_graph_types_are_read_only() -> None:
    g = small_graph()
    with pytest.raises(TypeError):
        g.types["x"] = t(1)  # type: ignore[index]


def test_format_lists_every_input_node_output_and_dim() -> None:
    g = small_graph(
        nodes=(*small_graph().nodes[:2], replace(small_graph().nodes[2], precision=DType.FLOAT16))
    )
    text = g.format()
    lines = text.splitlines()
    assert lines[0] == "graph small"
    assert "  dim N = 1..2..4" in lines
    assert "  input x: float32[N,3,8,8]" in lines
    assert any(
        line.startswith("  conv: float32[N,4,8,8] = conv2d(x; out_channels=4, kernel_size=(3, 3)")
        for line in lines
    )
    assert "  relu: float32[N,4,8,8] = relu(conv; )" in lines
    assert "  add: float32[N,4,8,8] = add(relu, conv; ) precision=float16" in lines
    assert lines[-1] == "  output y = add: float32[N,4,8,8]"
    assert len(lines) == 1 + 1 + 1 + 3 + 1


def test_node_output_helpers() -> None:
    assert output_names("split", 1) == ("split",)
    assert output_names("split", 3) == ("split:0", "split:1", "split:2")
    n = Node("s", RELU, ("x",), ("s:0", "s:1"), source="a.py:7")
    assert n.where() == "a.py:7: s"
    with pytest.raises(ModelError, match="s: has 2 outputs, not 1"):
        n.output  # noqa: B018

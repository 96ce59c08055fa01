"""The YAML DSL builds the same graphs as the Python DSL: wiring, blocks, repeat, parameters."""

from __future__ import annotations

from pathlib import Path

import pytest

from trtdsl import DType, ModelBuilder
from trtdsl.errors import ModelError, UsageError
from trtdsl.frontend.load import load_model
from trtdsl.frontend.yaml import load_yaml, load_yaml_text
from trtdsl.frontend.yaml_expr import ExpressionError, evaluate
from trtdsl.frontend.yaml_values import substitute
from trtdsl.ir.types import parse_shapes

DATA = Path(__file__).parent / "data" / "yaml"

TINY = """\
name: tiny
dims:
  N: {min: 1, opt: 4, max: 8}
inputs:
  x: {shape: [N, 3, 16, 16], dtype: float32}
weights:
  rename:
    - {prefix: "module.", to: ""}
    - {regex: "^backbone\\\\.(.*)$", to: "\\\\1"}
blocks:
  unit:
    params: {channels: required, stride: 1, project: false}
    layers:
      - {name: conv, op: conv2d, out_channels: $channels * 2, kernel_size: 3, stride: $stride,
         padding: 1, bias: false}
      - {name: bn, op: batch_norm2d}
      - {name: act, op: relu}
      - name: proj
        inputs: input
        when: $project
        layers:
          - {name: "0", op: conv2d, out_channels: $channels * 2, kernel_size: 1,
             stride: $stride, bias: false}
          - {name: "1", op: batch_norm2d}
      - {name: add, op: add, inputs: [act, proj]}
layers:
  - {name: stem, op: conv2d, out_channels: 8, kernel_size: 3, padding: 1}
  - {name: stage1, block: unit, repeat: 3, args: {channels: 8}, first: {stride: 2, project: true},
     precision: float16}
  - {op: relu}
  - {name: pool, op: adaptive_avg_pool2d, output_size: 1}
  - {name: flat, op: flatten}
  - {name: head, op: linear, out_features: 10}
outputs:
  logits: head
"""


def build_tiny() -> ModelBuilder:
    b = ModelBuilder("tiny")
    x = b.input("x", ("N", 3, 16, 16), "float32", dims={"N": (1, 4, 8)})
    b.rename_weights("^module\\.", "")
    b.rename_weights("^backbone\\.(.*)$", "\\1")
    y = b.conv2d(x, out_channels=8, kernel_size=3, padding=1, name="stem")
    with b.scope("stage1", precision="float16"):
        for index in range(3):
            first = index == 0
            stride = 2 if first else 1
            with b.scope(index):
                z = b.conv2d(
                    y, out_channels=16, kernel_size=3, stride=stride, padding=1, bias=False,
                    name="conv",
                )  # fmt: skip
                z = b.batch_norm2d(z, name="bn")
                z = b.relu(z, name="act")
                identity = y
                if first:
                    with b.scope("proj"):
                        identity = b.conv2d(
                            y, out_channels=16, kernel_size=1, stride=stride, bias=False, name="0"
                        )
                        identity = b.batch_norm2d(identity, name="1")
                y = b.add(z, identity, name="add")
    y = b.relu(y)
    y = b.adaptive_avg_pool2d(y, output_size=1, name="pool")
    y = b.flatten(y, name="flat")
    y = b.linear(y, out_features=10, name="head")
    b.output(y, "logits")
    return b


def test_yaml_and_python_build_equal_graphs() -> None:
    from_yaml = load_yaml_text(TINY, "tiny.yaml")
    from_python = build_tiny().build()
    assert from_yaml == from_python
    assert [n.name for n in from_yaml.nodes][:7] == [
        "stem",
        "stage1.0.conv",
        "stage1.0.bn",
        "stage1.0.act",
        "stage1.0.proj.0",
        "stage1.0.proj.1",
        "stage1.0.add",
    ]
    # the projection exists only in the first repetition; later ones add their input
    assert "stage1.1.proj.0" not in {n.name for n in from_yaml.nodes}
    assert from_yaml.node("stage1.1.add").inputs == ("stage1.1.act", "stage1.0.add")
    assert from_yaml.node("stage1.2.conv").precision is DType.FLOAT16
    assert from_yaml.node("relu").precision is None
    assert from_yaml.weight_renames == (("^module\\.", ""), ("^backbone\\.(.*)$", "\\1"))
    assert str(from_yaml.types["head"]) == "float32[N,10]"


def test_nodes_remember_their_yaml_line() -> None:
    graph = load_yaml_text(TINY, "tiny.yaml")
    assert graph.node("stem").source == "tiny.yaml:27"
    assert graph.node("stage1.1.conv").source == "tiny.yaml:14"  # written in the block
    assert graph.node("stage1.0.proj.1").source == "tiny.yaml:24"


def test_prefix_rename_escapes_regex_characters() -> None:
    text = TINY.replace('{prefix: "module.", to: ""}', '{prefix: "a.b(", to: "c\\\\d"}')
    graph = load_yaml_text(text, "t.yaml")
    assert graph.weight_renames[0] == ("^a\\.b\\(", "c\\\\d")


def test_named_inputs_groups_dotted_references_and_auto_names() -> None:
    graph = load_yaml_text(
        """
name: two
inputs:
  a: {shape: [1, 4, 8, 8]}
  b: {shape: [1, 4, 8, 8]}
layers:
  - {name: sum, op: add, inputs: [a, b]}
  - name: branch
    layers:
      - {name: c1, op: conv2d, out_channels: 4, kernel_size: 1}
      - {op: relu}
      - {op: relu}
    output: c1
  - {name: cat, op: concat, inputs: [branch, branch.relu_1, sum], dim: 1}
  - {name: last, op: relu, inputs: branch.c1}
outputs:
  cat: cat
  last: last
""",
        "two.yaml",
    )
    assert graph.node("branch.c1").inputs == ("sum",)
    assert graph.node("branch.relu").inputs == ("branch.c1",)
    assert graph.node("branch.relu_1").inputs == ("branch.relu",)
    assert graph.node("cat").inputs == ("branch.c1", "branch.relu_1", "sum")
    assert str(graph.types["cat"]) == "float32[1,12,8,8]"
    assert [p.name for p in graph.outputs] == ["cat", "last"]


def test_nested_blocks_pass_parameters_and_skipped_layers_alias_their_input() -> None:
    graph = load_yaml_text(
        """
inputs:
  x: {shape: [2, 6]}
blocks:
  dense:
    params: {width: required, act: true}
    layers:
      - {name: fc, op: linear, out_features: $width}
      - {name: act, op: relu, when: $act}
  mlp:
    params: {width: required, depth: 2}
    layers:
      - {name: layers, block: dense, repeat: $depth, args: {width: $width},
         first: {act: false}}
layers:
  - {name: mlp, block: mlp, args: {width: 5, depth: 3}}
outputs:
  y: mlp
""",
        "mlp.yaml",
    )
    assert [n.name for n in graph.nodes] == [
        "mlp.layers.0.fc",
        "mlp.layers.1.fc",
        "mlp.layers.1.act",
        "mlp.layers.2.fc",
        "mlp.layers.2.act",
    ]
    assert graph.node("mlp.layers.1.fc").inputs == ("mlp.layers.0.fc",)
    assert graph.name == "mlp"  # default: the file's stem
    assert str(graph.types["mlp.layers.2.act"]) == "float32[2,5]"


def test_block_with_two_inputs_and_explicit_output() -> None:
    graph = load_yaml_text(
        """
inputs:
  a: {shape: [1, 3]}
  b: {shape: [1, 3]}
blocks:
  gate:
    inputs: [left, right]
    output: prod
    layers:
      - {name: sig, op: sigmoid, inputs: right}
      - {name: prod, op: mul, inputs: [left, sig]}
      - {name: unused, op: relu}
layers:
  - {name: g, block: gate, inputs: [a, b]}
  - {name: out, op: tanh}
outputs:
  y: out
""",
        "gate.yaml",
    )
    assert graph.node("g.prod").inputs == ("a", "g.sig")
    assert graph.node("out").inputs == ("g.prod",)


def test_literal_dollar_string_and_string_parameters() -> None:
    graph = load_yaml_text(
        """
inputs:
  x: {shape: [1, 3]}
blocks:
  act:
    params: {mode: required}
    layers:
      - {name: g, op: gelu, approximate: $mode}
layers:
  - {name: a, block: act, args: {mode: tanh}}
outputs:
  y: a
""",
        "s.yaml",
    )
    assert graph.node("a.g").op.approximate == "tanh"
    assert substitute(["$$cost", "$c", {"k": "$c"}], {"c": 3}, "f:1", "p", 0) == [
        "$cost",
        3,
        {"k": 3},
    ]


def test_include_shares_blocks_between_files() -> None:
    graph = load_yaml(DATA / "model_includes_good.yaml")
    assert [n.name for n in graph.nodes] == ["stage.0.conv", "stage.0.act", "stage.1.conv",
                                             "stage.1.act"]  # fmt: skip
    assert graph.node("stage.0.conv").op.stride == (2, 2)
    assert graph.node("stage.1.conv").op.stride == (1, 1)
    assert graph.node("stage.0.conv").source == f"{DATA / 'blocks_good.yaml'}:6"


def test_shape_override_rebuilds_and_reinfers() -> None:
    path = DATA / "model_includes_good.yaml"
    graph = load_model(path, shapes={"x": (2, 3, 32, 32)})
    assert str(graph.types["stage.1.act"]) == "float32[2,4,16,16]"
    assert graph.inputs == ("x",)
    with pytest.raises(UsageError, match=r"--shape y: the model has no input 'y' \(inputs: x\)"):
        load_model(path, shapes={"y": (1, 3, 8, 8)})
    with pytest.raises(ModelError, match=r"blocks_good\.yaml:6: stage\.0\.conv: conv2d: "
                       r"expected a rank-4 NCHW input"):  # fmt: skip
        load_model(path, shapes={"x": (1, 3)})


def test_symbolic_shape_override_drops_unused_dims() -> None:
    graph = load_yaml_text(TINY, "tiny.yaml")
    assert [d.name for d in graph.dims] == ["N"]
    static = load_model_from_text(graph, {"x": (2, 3, 16, 16)})
    assert static.dims == ()
    assert str(static.types["head"]) == "float32[2,10]"
    assert static.node("stage1.0.conv").precision is DType.FLOAT16
    assert static.weight_renames == graph.weight_renames


def load_model_from_text(graph, shapes):  # type: ignore[no-untyped-def]
    from trtdsl.frontend.load import with_input_shapes

    return with_input_shapes(graph, shapes)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("x=1x3x224x224", ("x", (1, 3, 224, 224))),
        ("input.0=1,3", ("input.0", (1, 3))),
        ("x=7", ("x", (7,))),
    ],
)
def test_parse_shapes_reads_one_fixed_shape(
    text: str, expected: tuple[str, tuple[int, ...]]
) -> None:
    name, shape = expected
    (parsed,) = parse_shapes([text]).items()
    assert parsed[0] == name and parsed[1].is_fixed and parsed[1].opt == shape


@pytest.mark.parametrize("text", ["x", "x=", "=1x2", "x=1xa", "x=1x-2", "x=1.5"])
def test_parse_shapes_rejects(text: str) -> None:
    with pytest.raises(UsageError, match=r"--shape"):
        parse_shapes([text])


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        ("$planes", 64),
        ("$planes * 4", 256),
        ("$(planes + 1) * 2", 130),
        ("$planes // 3 - -1", 22),
        ("$planes % 5 + $flag_int", 5),
        ("$ planes*expansion", 256),
        ("$flag", True),
        ("$sizes", [1, 2]),
        ("$planes == 64", True),
        ("$planes // 2 != 32", False),
        ("$expansion < 4 or planes >= 64", True),
        ("$not flag", False),
        ("$flag and not (planes > 100)", True),
        ("$-planes < -63 and 1 <= 2", True),
    ],
)
def test_expressions(expression: str, value: object) -> None:
    params = {"planes": 64, "expansion": 4, "flag": True, "flag_int": 1, "sizes": [1, 2]}
    assert evaluate(expression, params) == value


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("$", r"empty '\$' expression"),
        ("$plane", r"unknown parameter 'plane'; did you mean 'planes'\?"),
        ("$planes ** 2", r"unexpected"),
        ("$planes / 2", r"unexpected '/ 2'; expected a parameter name"),
        ("$flag * 2", r"'\*' needs integers, found True"),
        ("$planes and flag", r"'and' needs true/false, found 64"),
        ("$not planes", r"'not' needs true/false, found 64"),
        ("$flag == 1", r"'==' needs integers, found True"),
        ("$planes < 1 < 2", r"unexpected '<'"),
        ("$(planes", r"expected '\)'"),
        ("$planes // 0", r"division by zero"),
        ("$__import__('os')", r"unexpected"),
        ("$planes " + "* 4096 " * 10, r"value out of range"),
    ],
)
def test_expression_errors(expression: str, message: str) -> None:
    with pytest.raises(ExpressionError, match=message):
        evaluate(expression, {"planes": 64, "flag": True})


def test_when_takes_a_comparison() -> None:
    graph = load_yaml_text(
        """
inputs:
  x: {shape: [1, 4, 8, 8]}
blocks:
  pool_if_strided:
    params: {stride: 1}
    layers:
      - {name: pool, op: max_pool2d, kernel_size: $stride, when: $stride > 1}
      - {name: act, op: relu}
layers:
  - {name: a, block: pool_if_strided, repeat: 2, args: {stride: 1}, first: {stride: 2}}
outputs:
  y: a
""",
        "w.yaml",
    )
    assert [n.name for n in graph.nodes] == ["a.0.pool", "a.0.act", "a.1.act"]
    assert graph.node("a.1.act").inputs == ("a.0.act",)

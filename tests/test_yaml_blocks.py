"""Blocks with several inputs inside ``repeat``, ``repeat`` naming (start, prefix, explicit
names), what a block body sees (its inputs and the model's inputs), and integer inputs with a
declared value range, in YAML and in Python."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from trtdsl import ModelBuilder
from trtdsl.cli.main import main
from trtdsl.debug.inputs import seeded_array, seeded_inputs
from trtdsl.errors import ModelError
from trtdsl.frontend.load import with_input_shapes
from trtdsl.frontend.yaml import load_yaml_text
from trtdsl.ir.types import ValueRange

ENCODER = """\
dims:
  B: {min: 1, opt: 2, max: 4}
inputs:
  hidden: {shape: [B, 8]}
  attention_mask: {shape: [B, 8], dtype: int32, range: [0, 1]}
blocks:
  layer:
    inputs: [h, mask]
    layers:
      - {name: fc, op: linear, out_features: 8, inputs: h}
      - {name: masked, op: mul, inputs: [fc, mask]}
      - {name: residual, op: add, inputs: [masked, hidden]}
layers:
  - {name: mask, op: cast, dtype: float32, inputs: attention_mask}
  - {name: encoder, block: layer, REPEAT, inputs: [hidden, mask]}
outputs:
  y: encoder
"""


def test_a_repeated_block_takes_its_extra_inputs_in_every_repetition() -> None:
    graph = load_yaml_text(ENCODER.replace("REPEAT", "repeat: 3"))
    assert graph.node("encoder.0.fc").inputs == ("hidden",)
    for i in (1, 2):  # the first input chains; the mask goes to every repetition
        assert graph.node(f"encoder.{i}.fc").inputs == (f"encoder.{i - 1}.residual",)
        assert graph.node(f"encoder.{i}.masked").inputs == (f"encoder.{i}.fc", "mask")
        assert graph.node(f"encoder.{i}.residual").inputs == (f"encoder.{i}.masked", "hidden")
    assert graph.outputs[0].value == "encoder.2.residual"
    assert graph.input_ranges == {"attention_mask": ValueRange(0, 1)}


@pytest.mark.parametrize(
    ("repeat", "names"),
    [
        ("repeat: {count: 3, start: 1, prefix: b}", ["b1", "b2", "b3"]),
        ("repeat: {count: 2, start: 4}", ["4", "5"]),
        ("repeat: {count: 2, prefix: layer_}", ["layer_0", "layer_1"]),
        ("repeat: [first, second]", ["first", "second"]),
        ("repeat: [7, 9]", ["7", "9"]),
    ],
)
def test_repeat_names_its_repetitions(repeat: str, names: list[str]) -> None:
    graph = load_yaml_text(ENCODER.replace("REPEAT", repeat))
    fcs = [n.name for n in graph.nodes if n.name.endswith(".fc")]
    assert fcs == [f"encoder.{name}.fc" for name in names]


def test_repeat_count_is_an_expression_and_first_applies_to_the_first_name() -> None:
    graph = load_yaml_text(
        """
inputs:
  x: {shape: [1, 4, 8, 8]}
blocks:
  unit:
    params: {stride: 1}
    layers:
      - {name: conv, op: conv2d, out_channels: 4, kernel_size: 3, padding: 1, stride: $stride}
  stage:
    params: {depth: required}
    layers:
      - {name: blocks, block: unit, repeat: {count: $depth, start: 1, prefix: b},
         first: {stride: 2}}
layers:
  - {name: s1, block: stage, args: {depth: 2}}
outputs:
  y: s1
"""
    )
    assert [n.name for n in graph.nodes] == ["s1.blocks.b1.conv", "s1.blocks.b2.conv"]
    assert graph.types["s1.blocks.b1.conv"].shape == (1, 4, 4, 4)  # stride 2 on b1 only
    assert graph.types["s1.blocks.b2.conv"].shape == (1, 4, 4, 4)


@pytest.mark.parametrize(
    ("repeat", "message"),
    [
        ("repeat: {count: 2, strat: 1}", r"repeat: unknown key 'strat'; did you mean 'start'\?"),
        ("repeat: {start: 1}", r"repeat: missing 'count'"),
        ("repeat: {count: 2, start: -1}", r"repeat\.start: expected an int >= 0"),
        ("repeat: {count: 2, prefix: 'a.b'}", r"repeat\.prefix: expected letters, digits"),
        ("repeat: [a, a]", r"repeat: duplicate name\(s\) a"),
        ("repeat: []", r"repeat: expected 1 to 4096 names"),
        ("repeat: {count: 0}", r"repeat: expected an int from 1 to 4096"),
    ],
)
def test_repeat_mistakes_are_one_line_at_their_line(repeat: str, message: str) -> None:
    text = ENCODER.replace("REPEAT", repeat)
    line = text.splitlines().index(
        next(x for x in text.splitlines() if "REPEAT" in x or repeat in x)
    )
    with pytest.raises(ModelError) as info:
        load_yaml_text(text, "m.yaml")
    assert str(info.value).startswith(f"m.yaml:{line + 1}: encoder: "), str(info.value)
    assert re.search(message, str(info.value)), str(info.value)


OUTSIDE = """\
inputs:
  hidden: {shape: [2, 8]}
  attention_mask: {shape: [2, 8], dtype: int32, range: [0, 1]}
blocks:
  layer:
    layers:
      - {name: fc, op: linear, out_features: 8}
      - {name: masked, op: add, inputs: [fc, hidden]}
      - {name: residual, op: add, inputs: [masked, mask]}
layers:
  - {name: mask, op: cast, dtype: float32, inputs: attention_mask}
  - {name: encoder, block: layer, repeat: 2, inputs: hidden}
outputs:
  y: encoder
"""


def test_a_block_sees_the_model_inputs_but_not_the_layers_around_its_use() -> None:
    with pytest.raises(ModelError) as info:
        load_yaml_text(OUTSIDE, "m.yaml")
    message = str(info.value)
    assert message.startswith("m.yaml:9: encoder.0.residual: 'mask' is a layer outside block ")
    assert "(defined at m.yaml:11)" in message and "\n" not in message
    assert "declare it in blocks.layer ('inputs: [input, mask]')" in message
    assert "pass it where the block is used ('inputs: [..., mask]'" in message
    # the model input hidden was found inside the block: the error is about mask
    unknown = OUTSIDE.replace("[masked, mask]", "[masked, hiden]")
    with pytest.raises(ModelError, match=r"unknown input 'hiden'.*did you mean 'hidden'\?"):
        load_yaml_text(unknown, "m.yaml")


def test_value_ranges_in_yaml_and_python_give_equal_graphs() -> None:
    yaml_graph = load_yaml_text(
        """
name: ids
dims:
  B: {min: 1, opt: 2, max: 4}
inputs:
  input_ids: {shape: [B, 6], dtype: int32, range: [0, 30521]}
layers:
  - {name: f, op: cast, dtype: float32}
outputs:
  y: f
"""
    )
    b = ModelBuilder("ids")
    ids = b.input("input_ids", ("B", 6), "int32", dims={"B": (1, 2, 4)}, range=(0, 30521))
    b.output(b.cast(ids, dtype="float32", name="f"), "y")
    python_graph = b.build()
    assert yaml_graph == python_graph
    assert "input input_ids: int32[B,6] range [0, 30521]" in yaml_graph.format()
    other = ModelBuilder("ids")
    ids = other.input("input_ids", ("B", 6), "int32", dims={"B": (1, 2, 4)}, range=(0, 9))
    other.output(other.cast(ids, dtype="float32", name="f"), "y")
    assert other.build() != python_graph
    # --shape rebuilds the graph: the range stays
    static = with_input_shapes(python_graph, {"input_ids": (3, 6)})
    assert static.input_ranges == {"input_ids": ValueRange(0, 30521)}
    with pytest.raises(ModelError, match=r"test_yaml_blocks\.py:\d+: input ids: range: .*low <="):
        ModelBuilder().input("ids", (1, 4), "int32", range=(3, 1))


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("{shape: [1, 4], dtype: int32, range: [5, 2]}", r"low <= high"),
        ("{shape: [1, 4], dtype: uint8, range: [0, 256]}", r"does not fit uint8 \(0\.\.255\)"),
        ("{shape: [1, 4], dtype: float32, range: [0, 1]}", r"applies to integer and bool inputs"),
        ("{shape: [1, 4], dtype: bool, range: [0, 2]}", r"does not fit bool \(0\.\.1\)"),
        ("{shape: [1, 4], dtype: int32, range: [0]}", r"range: expected \[low, high\]"),
        ("{shape: [1, 4], dtype: int32, range: [0, 1.5]}", r"range: expected \[low, high\]"),
    ],
)
def test_bad_ranges_are_one_line(spec: str, message: str) -> None:
    text = f"inputs:\n  ids: {spec}\nlayers:\n  - {{name: y, op: cast, dtype: float32}}\n"
    with pytest.raises(ModelError) as info:
        load_yaml_text(text + "outputs:\n  y: y\n", "m.yaml")
    assert str(info.value).startswith("m.yaml:2: ") and "\n" not in str(info.value)
    assert re.search(message, str(info.value)), str(info.value)


def test_random_inputs_respect_the_declared_range() -> None:
    graph = load_yaml_text(ENCODER.replace("REPEAT", "repeat: 1"))
    mask = seeded_inputs(graph, seed=0, shapes={"attention_mask": (4, 500), "hidden": (4, 8)})
    values = mask["attention_mask"]
    assert set(np.unique(values)) == {0, 1} and values.dtype == np.int32
    ids = seeded_array((2000,), np.int64, 3, 1, ValueRange(30000, 30521))
    assert ids.min() >= 30000 and ids.max() == 30521  # both ends included
    default = seeded_array((2000,), np.int32, 3, 1)
    assert default.min() == 0 and default.max() == 9  # undeclared: 0..9 as before


def test_input_files_and_info_respect_the_range(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = tmp_path / "enc.yaml"
    model.write_text(ENCODER.replace("REPEAT", "repeat: 1"))
    hidden = tmp_path / "h.npy"
    np.save(hidden, np.zeros((2, 8), np.float32))
    bad = tmp_path / "mask.npy"
    np.save(bad, np.full((2, 8), 3, np.int32))
    argv = ["run", str(model), "--weights", "random", "--backend", "reference"]
    assert main([*argv, "--input", f"hidden={hidden}", "--input", f"attention_mask={bad}"]) == 2
    err = capsys.readouterr().err
    assert f"--input attention_mask={bad}: values 3..3 are outside the input's declared " in err
    assert "range [0, 1] (both ends included)" in err
    assert main(["info", str(model)]) == 0
    assert "attention_mask int32[B,8] in [0, 1]" in capsys.readouterr().out
    assert main(["info", str(model), "--format", "json"]) == 0
    assert '"range": [\n        0,\n        1\n      ]' in capsys.readouterr().out


def test_a_range_must_fit_the_embedding_it_feeds() -> None:
    text = """\
inputs:
  input_ids: {shape: [2, 8], dtype: int32, range: [0, RANGE]}
layers:
  - {name: word_embeddings, op: embedding, num_embeddings: 100, embedding_dim: 4}
outputs:
  y: word_embeddings
"""
    assert load_yaml_text(text.replace("RANGE", "99")).input_ranges["input_ids"].high == 99
    with pytest.raises(ModelError) as info:
        load_yaml_text(text.replace("RANGE", "100"), "m.yaml")
    assert str(info.value) == (
        "m.yaml:2: input input_ids: range [0, 100] holds ids that embedding word_embeddings has "
        "no row for (100 rows: ids 0..99); both ends of a range are included: write [0, 99]"
    )

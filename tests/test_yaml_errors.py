"""Every user mistake in a YAML model gives one ModelError line ``FILE:LINE: PATH: message``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from trtdsl.errors import ModelError
from trtdsl.frontend.load import load_model
from trtdsl.frontend.yaml import load_yaml, load_yaml_text

DATA = Path(__file__).parent / "data" / "yaml"

HEAD = "name: t\ninputs:\n  x: {shape: [1, 3, 8, 8]}\n"  # lines 1-3; "layers:" is line 4
CONV = "  - {name: conv, op: conv2d, out_channels: 4, kernel_size: 3, padding: 1}\n"  # line 5
ACT = "  - {name: act, op: relu}\n"  # line 6
BLOCK = (  # lines 4-9 when given as `extra`; "layers:" is then line 10, CONV 11, next 12
    "blocks:\n  unit:\n    params: {channels: required, stride: 1}\n    layers:\n"
    "      - {name: conv, op: conv2d, out_channels: $channels, kernel_size: 3, "
    "stride: $stride, padding: 1}\n"
    "      - {name: act, op: relu}\n"
)
RENAME = "weights:\n  rename:\n    - {0}\n"  # the rule is line 6 when given as `extra`


def model(layers: str, outputs: str = "outputs:\n  y: act\n", extra: str = "") -> str:
    return HEAD + extra + "layers:\n" + layers + outputs


def use_block(line: str) -> str:
    return model(CONV + line, extra=BLOCK)


# id -> (document, line of the error, regex the message must match after "m.yaml:LINE: ")
CASES: dict[str, tuple[str, int, str]] = {
    "unknown_op": (
        model(CONV + "  - {name: act, op: rleu}\n"),
        6,
        r"^act: unknown op 'rleu'; did you mean 'relu'\?$",
    ),
    "unknown_argument": (
        model("  - {name: conv, op: conv2d, out_channels: 4, kernel: 3}\n" + ACT),
        5,
        r"^conv: conv2d: unknown argument 'kernel'; did you mean 'kernel_size'\? \(accepted: ",
    ),
    "missing_argument": (
        model("  - {name: conv, op: conv2d, out_channels: 4}\n" + ACT),
        5,
        r"^conv: conv2d: missing required argument\(s\) kernel_size$",
    ),
    "ill_typed_argument": (
        model("  - {name: conv, op: conv2d, out_channels: four, kernel_size: 3}\n" + ACT),
        5,
        r"^conv: conv2d: out_channels must be an int >= 1, got 'four'$",
    ),
    "unknown_input": (
        model(CONV + "  - {name: act, op: relu, inputs: [cnv]}\n"),
        6,
        r"^act: unknown input 'cnv', expected an earlier layer or input name; "
        r"did you mean 'conv'\?$",
    ),
    "defined_later": (
        model("  - {name: act, op: relu, inputs: [conv]}\n" + CONV),
        5,
        r"^act: input 'conv' is defined later \(at m\.yaml:6\); .*cycle",
    ),
    "own_output_is_a_cycle": (
        model(CONV + "  - {name: act, op: relu, inputs: act}\n"),
        6,
        r"^act: layer 'act' takes its own output as input \(a cycle\)",
    ),
    "duplicate_name": (
        model(CONV + "  - {name: conv, op: relu}\n", outputs="outputs:\n  y: conv\n"),
        6,
        r"^conv: duplicate name 'conv'",
    ),
    "shape_mismatch": (
        model(
            CONV
            + "  - {name: wide, op: conv2d, out_channels: 8, kernel_size: 1, inputs: x}\n"
            + "  - {name: act, op: add, inputs: [conv, wide]}\n"
        ),
        7,
        r"^act: add: shapes 1x4x8x8 and 1x8x8x8 do not broadcast \(4 vs 8\)$",
    ),
    "malformed_yaml": (
        model(CONV + "  - {name: act, op: relu\n"),
        7,
        r"^malformed YAML: expected ',' or '}', but got ':'",
    ),
    "tab_indentation": (
        "name: t\ninputs:\n\tx: 1\n",
        3,
        r"^malformed YAML: found character '\\t' that cannot start any token",
    ),
    "duplicate_key": (
        model("  - {name: conv, op: conv2d, out_channels: 4, out_channels: 5, kernel_size: 3}\n"),
        5,
        r"^duplicate key 'out_channels' \(first at line 5\)$",
    ),
    "top_level_not_mapping": (
        "- just\n- a list\n",
        1,
        r"^model: expected a mapping of model sections, found a list of 2$",
    ),
    "layers_not_a_list": (
        HEAD + "layers: {conv: 1}\noutputs:\n  y: x\n",
        4,
        r"^layers: expected a non-empty list of layers, found a mapping with keys conv$",
    ),
    "inputs_not_a_mapping": (
        "name: t\ninputs: [x]\nlayers:\n" + ACT + "outputs:\n  y: act\n",
        2,
        r"^inputs: expected a mapping name -> spec, found a list of 1$",
    ),
    "shape_not_a_list": (
        "name: t\ninputs:\n  x: {shape: 3}\nlayers:\n" + ACT + "outputs:\n  y: act\n",
        3,
        r"^inputs\.x\.shape: expected a list of sizes or dimension names, found the number 3$",
    ),
    "unknown_top_level_key": (
        HEAD + "layer:\n" + CONV + "outputs:\n  y: conv\n",
        4,
        r"^model: unknown top-level key 'layer'; did you mean 'layers'\? \(expected: ",
    ),
    "missing_layers": (
        HEAD + "outputs:\n  y: x\n",
        1,
        r"^model: missing 'layers'; expected a list of layers$",
    ),
    "missing_outputs": (model(CONV + ACT, outputs=""), 1, r"^model: missing 'outputs'"),
    "output_names_unknown_layer": (
        model(CONV + ACT, outputs="outputs:\n  y: actt\n"),
        8,
        r"^outputs\.y: unknown input 'actt'.*did you mean 'act'\?$",
    ),
    "output_index_out_of_range": (
        model(CONV + ACT, outputs="outputs:\n  y: act:3\n"),
        8,
        r"^outputs\.y: 'act:3': expected an output index below 1, found '3'$",
    ),
    "unknown_block": (
        use_block("  - {name: act, block: unti, args: {channels: 4}}\n"),
        12,
        r"^act: unknown block 'unti'; did you mean 'unit'\? \(defined: unit\)$",
    ),
    "repeat_zero": (
        use_block("  - {name: act, block: unit, repeat: 0, args: {channels: 4}}\n"),
        12,
        r"^act: repeat: expected an int from 1 to 4096, \{count, start, prefix\} or a list "
        r"of names, found the number 0$",
    ),
    "repeat_not_an_int": (
        use_block("  - {name: act, block: unit, repeat: two, args: {channels: 4}}\n"),
        12,
        r"^act: repeat: expected an int from 1 to 4096, \{count, start, prefix\} or a list "
        r"of names, found the string 'two'$",
    ),
    "first_without_repeat": (
        use_block("  - {name: act, block: unit, args: {channels: 4}, first: {stride: 2}}\n"),
        12,
        r"^act: 'first' needs 'repeat'$",
    ),
    "block_unknown_parameter": (
        use_block("  - {name: act, block: unit, args: {channel: 4}}\n"),
        12,
        r"^act: block 'unit' has no parameter 'channel'; did you mean 'channels'\?",
    ),
    "block_missing_parameter": (
        use_block("  - {name: act, block: unit}\n"),
        12,
        r"^act: block 'unit' needs argument\(s\) channels",
    ),
    "block_argument_ill_typed": (  # reported where the op is written, with the instance path
        use_block("  - {name: act, block: unit, args: {channels: 4, stride: x2}}\n"),
        8,
        r"^act\.conv: conv2d: stride must be an int or a pair of ints, got 'x2'$",
    ),
    "block_expression_unknown_parameter": (
        model(
            CONV + "  - {name: act, block: unit, args: {channels: 4}}\n",
            extra=BLOCK.replace("$stride,", "$strde,"),
        ),  # fmt: skip
        8,
        r"^act\.conv: stride: unknown parameter 'strde'; did you mean 'stride'\?",
    ),
    "block_expression_malformed": (
        model(
            CONV + "  - {name: act, block: unit, args: {channels: 4}}\n",
            extra=BLOCK.replace("$channels,", "$channels * ,"),
        ),  # fmt: skip
        8,
        r"^act\.conv: out_channels: '\$channels \*': ends early; expected a value$",
    ),
    "block_recursion": (
        model(
            CONV + "  - {name: act, block: loop}\n",
            extra="blocks:\n  loop:\n    layers:\n      - {name: inner, block: loop}\n",
        ),  # fmt: skip
        7,
        r"^act\.inner: block 'loop' uses itself \(recursion\)$",
    ),
    "parameter_outside_block": (
        model("  - {name: conv, op: conv2d, out_channels: $c, kernel_size: 3}\n" + ACT),
        5,
        r"^conv: out_channels: unknown parameter 'c' \(no parameters here\)$",
    ),
    "op_layer_with_repeat": (
        model(CONV + "  - {name: act, op: relu, repeat: 2}\n"),
        6,
        r"^act: 'repeat' applies to block or group layers, not to an op$",
    ),
    "op_and_block": (
        use_block("  - {name: act, op: relu, block: unit}\n"),
        12,
        r"^act: expected exactly one of 'op', 'block' or 'layers', found op and block$",
    ),
    "layer_without_kind": (
        model(CONV + "  - {name: act}\n"),
        6,
        r"^act: expected exactly one of 'op', 'block' or 'layers', found keys name$",
    ),
    "layer_not_a_mapping": (
        model(CONV + "  - relu\n"),
        6,
        r"^layers\[1\]: expected a mapping with 'op', 'block' or 'layers', found the string",
    ),
    "bad_layer_name": (
        model(CONV + "  - {name: 'a b', op: relu}\n", outputs="outputs:\n  y: conv\n"),
        6,
        r"^layers\[1\]: name: expected a dotted name of letters, digits, '_' and '-', "
        r"found the string 'a b'$",
    ),
    "bad_dtype": (
        HEAD.replace("8]}", "8], dtype: flaot32}") + "layers:\n" + ACT + "outputs:\n  y: act\n",
        3,
        r"^input x: unknown dtype 'flaot32'; expected one of float32",
    ),
    "undeclared_dimension": (
        HEAD.replace("[1, 3", "[N, 3") + "layers:\n" + ACT + "outputs:\n  y: act\n",
        3,
        r"^input x: dimension\(s\) \['N'\] used but not declared with min/opt/max$",
    ),
    "bad_dimension_range": (
        "name: t\ndims:\n  N: {min: 4, opt: 2, max: 8}\n"
        + HEAD[8:]
        + "layers:\n"
        + ACT
        + "outputs:\n  y: act\n",
        3,
        r"^dims\.N: dimension N: expected min <= opt <= max, got 4, 2, 8$",
    ),
    "bad_precision": (
        model(CONV + "  - {name: act, op: relu, precision: fp13}\n"),
        6,
        r"^act: precision: unknown dtype 'fp13'",
    ),
    "bad_when": (
        model(CONV + "  - {name: act, op: relu, when: maybe}\n"),
        6,
        r"^act: when: expected true or false, found the string 'maybe'$",
    ),
    "bad_rename_regex": (
        model(CONV + ACT, extra=RENAME.format("{regex: '(', to: ''}")),
        6,
        r"^weights\.rename\[0\]: bad weight rename rule '\('",
    ),
    "rename_prefix_and_regex": (
        model(CONV + ACT, extra=RENAME.format("{regex: a, prefix: b, to: ''}")),
        6,
        r"^weights\.rename\[0\]: expected exactly one of 'prefix' or 'regex', and 'to'",
    ),
    "several_inputs_without_wiring": (
        "name: t\ninputs:\n  a: {shape: [1, 4]}\n  b: {shape: [1, 4]}\nlayers:\n"
        "  - {name: s, op: add}\noutputs:\n  y: s\n",
        6,
        r"^s: no previous layer output to take .*expected 'inputs'$",
    ),
    "arity": (
        model(CONV + "  - {name: act, op: add}\n"),
        6,
        r"^act: add: expected 2 inputs \(or 1 and 'other'\), got 1$",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_document(tmp_path: Path, case: str) -> None:
    document, line, pattern = CASES[case]
    path = tmp_path / "m.yaml"
    path.write_text(document)
    with pytest.raises(ModelError) as info:
        load_yaml_text(document, "m.yaml")
    message = str(info.value)
    assert "\n" not in message
    prefix = f"m.yaml:{line}: "
    assert message.startswith(prefix), message
    assert re.search(pattern, message[len(prefix) :]), message
    # the same error through a file and load_model, naming the file's path
    with pytest.raises(ModelError, match=re.escape(f"{path}:{line}: ")):
        load_model(path)


def test_include_cycle_is_reported_at_the_include() -> None:
    cycle_b = DATA / "cycle_b.yaml"
    with pytest.raises(ModelError, match=rf"^{re.escape(str(cycle_b))}:2: include: 'cycle_a\.yaml'"
                       r" is already being included \(an include cycle\)$"):  # fmt: skip
        load_yaml(DATA / "model_includes_cycle.yaml")


def test_error_in_included_block_names_the_library_file_and_instance_path() -> None:
    library = DATA / "blocks_bad_op.yaml"
    with pytest.raises(
        ModelError,
        match=rf"^{re.escape(str(library))}:7: stage\.0\.act: unknown op 'rleu'; "
        r"did you mean 'relu'\?$",
    ):
        load_yaml(DATA / "model_includes_bad_op.yaml")


def test_missing_include_file(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(
        "include: [nowhere.yaml]\n" + HEAD[8:] + "layers:\n" + ACT + "outputs:\n  y: act\n"
    )
    with pytest.raises(ModelError, match=rf"^{re.escape(str(path))}:1: include: cannot read "
                       r"'nowhere\.yaml'"):  # fmt: skip
        load_yaml(path)


def test_missing_model_file_and_unknown_zoo_name(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"no such model file"):
        load_model(tmp_path / "absent.yaml")
    with pytest.raises(ModelError, match=r"'resnet5' is neither a model file nor a zoo model; "
                       r"did you mean 'resnet50'\? \(zoo: .*resnet18.*resnet50"):  # fmt: skip
        load_model("resnet5")


def test_python_model_without_build(tmp_path: Path) -> None:
    path = tmp_path / "m.py"
    path.write_text("x = 1\n")
    with pytest.raises(ModelError, match=r"m\.py: expected a function build\(\) -> Graph"):
        load_model(path)
    path.write_text("def build(:\n")
    with pytest.raises(ModelError, match=r"m\.py:1: syntax error"):
        load_model(path)
    path.write_text("def build():\n    return 3\n")
    with pytest.raises(ModelError, match=r"m\.py:1: build\(\) returned int, expected a Graph"):
        load_model(path)

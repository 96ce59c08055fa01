"""The error contract for models: a mistake in a Python or YAML model exits 2 with one line
``FILE:LINE: ...`` pointing into the model, never a traceback; a layer that reaches no output is
warned about; ModelBuilder's op methods have real signatures (help, IDEs, type checkers)."""

from __future__ import annotations

import dataclasses
import inspect
import logging
import pydoc
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from trtdsl import ModelBuilder
from trtdsl.errors import ModelError
from trtdsl.frontend import op_methods
from trtdsl.frontend.builder import unused_nodes
from trtdsl.frontend.load import load_model
from trtdsl.frontend.signatures import render_stub, signature_text
from trtdsl.ir.ops import OPS

WriteModel = Callable[[str, str], Path]
Cli = Callable[..., Any]
"""The ``cli`` fixture of conftest.py: returns a CliResult (code, out, err)."""

HEADER = """\
from trtdsl import ModelBuilder


def build():
    b = ModelBuilder("m")
    x = b.input("x", (1, 3, 8, 8))
"""
"""Lines 1-6 of every Python model below; the mistake is on line 7."""

PYTHON_MISTAKES = {
    "misspelled_op": (
        "    y = b.conv2dd(x, out_channels=4, kernel_size=3)\n",
        r"ModelBuilder has no op or method 'conv2dd'; did you mean 'conv2d'\?$",
    ),
    "unknown_op_far_from_any": (
        "    y = b.frobnicate_everything(x)\n",
        r"no op or method 'frobnicate_everything' "
        r"\(ops: abs, adaptive_avg_pool2d, .*conv2d, .*relu",
    ),
    "list_to_varargs": (
        "    y = b.concat([x, b.relu(x)])\n",
        r"concat: got a list of 2 tensor\(s\) as one argument; pass the tensors as separate "
        r"arguments: b\.concat\(a, b, \.\.\.\)",
    ),
    "list_to_one_input": (
        "    y = b.relu([x])\n",
        r"relu: got a list of 1 tensor\(s\) as input 0; pass the tensor itself",
    ),
    "positional_attribute": (
        "    y = b.conv2d(x, 4, kernel_size=3)\n",
        r"conv2d: positional argument 2 is int 4, not a Tensor \(takes 1 input tensor\(s\); "
        r"attributes are keywords\); did you mean out_channels=4\? \(signature: conv2d\(input, "
        r"\*, out_channels, kernel_size, stride=1",
    ),
    "unknown_attribute": (
        "    y = b.conv2d(x, out_channel=4, kernel_size=3)\n",
        r"conv2d: unknown argument 'out_channel'; did you mean 'out_channels'\?",
    ),
    "no_output": (
        "    return b.build()\n",
        r"model m: the graph has no outputs; mark one with b\.output\(tensor, name\)$",
    ),
    "python_error": (
        "    y = b.relu(undefined_name)\n",
        r"NameError: name 'undefined_name' is not defined$",
    ),
    "wrong_call_of_a_method": (
        "    b.output()\n",
        r"TypeError: ModelBuilder\.output\(\) missing 1 required positional argument: 'tensor'$",
    ),
}


@pytest.mark.parametrize("mistake", sorted(PYTHON_MISTAKES))
def test_python_model_mistakes_exit_2_with_one_line_at_the_model_line(
    mistake: str,
    write_model: WriteModel,
    cli: Cli,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    line, message = PYTHON_MISTAKES[mistake]
    body = line if "return" in line else line + "    b.output(y, 'y')\n    return b.build()\n"
    path = write_model("m.py", HEADER + body)
    monkeypatch.chdir(path.parent)
    result = cli("info", "m.py")
    assert result.code == 2, result
    assert result.out == "" and "Traceback" not in result.err
    assert result.err.count("\n") == 1, result.err
    line_number = 7 + line.count("\n") - 1 if "return" in line else 7
    assert result.err.startswith(f"trtdsl: error: m.py:{line_number}: "), result.err
    assert re.search(message, result.err.strip()), result.err


def test_python_model_without_build_or_returning_nothing(write_model: WriteModel) -> None:
    path = write_model("m.py", "x = 1\n")
    with pytest.raises(ModelError, match=r"m\.py: expected a function build\(\) -> Graph"):
        load_model(path)
    path = write_model("m.py", "def build():\n    pass\n")
    with pytest.raises(ModelError, match=r"m\.py:1: build\(\) returned NoneType, expected a Graph"):
        load_model(path)


def test_an_error_raised_inside_trtdsl_is_a_bug_with_its_traceback(
    write_model: WriteModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    # conv2d's infer run on a relu fails inside trtdsl's code (relu has no _in_channels)
    monkeypatch.setattr(OPS["relu"], "infer", OPS["conv2d"].infer)
    path = write_model("m.py", HEADER + "    b.output(b.relu(x), 'y')\n    return b.build()\n")
    with pytest.raises(AttributeError, match="_in_channels"):
        load_model(path)


# -- YAML ------------------------------------------------------------------------------------------

YAML_MISTAKES = {
    "input_at_top_level": (
        "name: m\ninput:\n  x: {shape: [1, 3, 8, 8]}\nlayers:\n  - {name: a, op: relu}\n"
        "outputs:\n  y: a\n",
        r"m\.yaml:2: model: unknown top-level key 'input'; did you mean 'inputs'\?",
    ),
    "input_in_a_layer": (
        "name: m\ninputs:\n  x: {shape: [1, 3, 8, 8]}\nlayers:\n  - {name: a, op: relu}\n"
        "  - {name: b, op: sigmoid, input: x}\noutputs:\n  y: b\n",
        r"m\.yaml:6: b: unknown key 'input'; did you mean 'inputs'\? \(layer keys: name, inputs",
    ),
    "unknown_op": (
        "name: m\ninputs:\n  x: {shape: [1, 3, 8, 8]}\nlayers:\n  - {name: a, op: zzzq}\n"
        "outputs:\n  y: a\n",
        r"m\.yaml:5: a: unknown op 'zzzq' \(ops: abs, adaptive_avg_pool2d, .*relu.*; trtdsl ops "
        r"describes them\)",
    ),
    "misspelled_op": (
        "name: m\ninputs:\n  x: {shape: [1, 3, 8, 8]}\nlayers:\n  - {name: a, op: rleu}\n"
        "outputs:\n  y: a\n",
        r"m\.yaml:5: a: unknown op 'rleu'; did you mean 'relu'\?$",
    ),
}


@pytest.mark.parametrize("mistake", sorted(YAML_MISTAKES))
def test_yaml_mistakes_say_what_was_meant(
    mistake: str, write_model: WriteModel, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    text, message = YAML_MISTAKES[mistake]
    path = write_model("m.yaml", text)
    monkeypatch.chdir(path.parent)
    result = cli("info", "m.yaml")
    assert result.code == 2 and result.err.count("\n") == 1, result
    assert re.search(message, result.err.strip()), result.err


# -- layers that reach no output -------------------------------------------------------------------

DEAD_YAML = """\
name: m
inputs:
  x: {shape: [1, 3, 8, 8]}
layers:
  - {name: a, op: relu}
  - {name: b, op: sigmoid, inputs: x}
outputs:
  y: b
"""


def test_a_layer_that_reaches_no_output_is_warned_about_once(
    write_model: WriteModel, caplog: pytest.LogCaptureFixture
) -> None:
    path = write_model("m.yaml", DEAD_YAML)
    with caplog.at_level(logging.WARNING, logger="trtdsl"):
        graph = load_model(path, {"x": (2, 3, 8, 8)})  # the shape override rebuilds: still once
    assert [n.name for n in unused_nodes(graph)] == ["a"]
    assert [r.getMessage() for r in caplog.records] == [
        f"{path}:5: model m: layer a (relu) reaches no output: it is computed but never used"
    ]


def test_the_cli_prints_the_unused_layer_warning_on_stderr(write_model: WriteModel) -> None:
    """In a process of its own: pytest's log capture would take the record otherwise."""
    path = write_model("m.yaml", DEAD_YAML)
    result = subprocess.run(
        [sys.executable, "-c", "from trtdsl.cli.main import main; main(['info', 'm.yaml'])"],
        cwd=path.parent,
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stderr.splitlines() == [
        "trtdsl: warning: m.yaml:5: model m: layer a (relu) reaches no output: it is computed "
        "but never used"
    ]


def test_python_model_warning_points_at_the_line_of_the_unused_layer(
    write_model: WriteModel, caplog: pytest.LogCaptureFixture
) -> None:
    body = "    unused = b.relu(x)\n    b.output(b.sigmoid(x), 'y')\n    return b.build()\n"
    path = write_model("m.py", HEADER + body)
    with caplog.at_level(logging.WARNING, logger="trtdsl"):
        load_model(path)
    (record,) = caplog.records
    assert re.search(r"m\.py:7: model m: layer relu \(relu\) reaches no", record.getMessage())


# -- discoverable op methods ---------------------------------------------------------------------


def test_every_op_is_a_method_with_its_signature_and_docstring() -> None:
    for name, cls in OPS.items():
        method = vars(op_methods.OpMethods)[name]
        assert method.__doc__.startswith(inspect.cleandoc(cls.__doc__ or "")[:40]), name
        parameters = inspect.signature(method).parameters
        for field in dataclasses.fields(cls):
            assert parameters[field.name].kind == inspect.Parameter.KEYWORD_ONLY, (name, field)
        assert "name" in parameters and "precision" in parameters
    conv = inspect.signature(ModelBuilder.conv2d)
    assert str(conv).startswith(
        "(self, input: Tensor, /, *, out_channels: int, kernel_size: int | tuple[int, int], "
        "stride: int | tuple[int, int] = 1,"
    )
    assert str(inspect.signature(ModelBuilder.concat)).startswith(
        "(self, *tensors: Tensor, dim: int = 1,"
    )
    assert signature_text("concat") == "concat(*tensors, dim=1)"


def test_help_lists_the_op_methods() -> None:
    text = pydoc.render_doc(ModelBuilder, renderer=pydoc.plaintext)
    assert "conv2d(self, input: Tensor, /, *, out_channels: int, kernel_size:" in text
    assert "batch_norm2d(self, input: Tensor, /, *, eps: float = 1e-05" in text


def test_the_op_methods_stub_is_current() -> None:
    """op_methods.pyi declares the methods for IDEs and type checkers; regenerate it with
    ``python tools/generate_ops.py`` after adding or changing an op."""
    stub = Path(op_methods.__file__).with_suffix(".pyi")
    assert stub.read_text(encoding="utf-8") == render_stub(), (
        "trtdsl/frontend/op_methods.pyi is out of date: run python tools/generate_ops.py"
    )


def test_a_misspelled_op_is_an_attribute_error_for_hasattr() -> None:
    b = ModelBuilder("m")
    assert not hasattr(b, "conv2dd") and hasattr(b, "conv2d")
    assert getattr(b, "nothing_like_an_op", None) is None


def test_node_with_an_unknown_op_name_lists_the_ops() -> None:
    b = ModelBuilder("m")
    x = b.input("x", (1, 4))
    with pytest.raises(ModelError, match=r"unknown op 'zzzq' \(ops: abs, adaptive_avg_pool2d, "):
        b.node("zzzq", x)
    with pytest.raises(ModelError, match=r"unknown op 'rleu'; did you mean 'relu'\?$"):
        b.node("rleu", x, name="r")

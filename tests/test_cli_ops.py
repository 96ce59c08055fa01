"""``trtdsl ops``: the op catalogue from the op classes and the backend registries, one op in
detail, JSON, and the generated op reference ``docs/ops.md`` (kept current here)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from trtdsl.backends.onnx_export import EXPORTERS
from trtdsl.backends.trt import EMITTERS
from trtdsl.cli.ops import describe_ops, render_markdown
from trtdsl.errors import UsageError
from trtdsl.ir.ops import OPS
from trtdsl.ir.ops.conv import Conv2d

ROOT = Path(__file__).resolve().parents[1]
Cli = Callable[..., Any]


def test_the_list_has_every_op_with_its_arguments_types_defaults_and_backends(cli: Cli) -> None:
    result = cli("ops")
    assert result.code == 0 and result.err == ""
    lines = result.out.splitlines()
    first_words = {line.split()[0] for line in lines[3:] if line and not line.startswith(" ")}
    assert set(OPS) <= first_words
    conv = next(line for line in lines if line.startswith("conv2d "))
    assert conv.split() == (
        "conv2d 1 out_channels int required torch.nn.Conv2d yes yes opset 11+".split()
    )
    assert re.search(r"^ +kernel_size +int \| tuple\[int, int\] +required$", result.out, re.M)
    assert re.search(r"^ +stride +int \| tuple\[int, int\] +1$", result.out, re.M)
    assert re.search(r"^hardswish +1 +- +torch\.nn\.functional\.hardswish .* opset 14\+$",
                     result.out, re.M)  # fmt: skip
    assert lines[-1].startswith(f"{len(OPS)} ops; trtdsl ops NAME describes one")


def test_one_op_in_detail(cli: Cli) -> None:
    result = cli("ops", "conv2d")
    assert result.code == 0
    out = result.out
    assert out.startswith("conv2d (Conv2d): 2-D convolution, as torch.nn.Conv2d ")
    assert "  Python    b.conv2d(input, *, out_channels, kernel_size, stride=1, padding=0," in out
    assert "  YAML      {op: conv2d, out_channels: ..., kernel_size: ...}" in out
    assert (
        "  backends  reference yes; TensorRT (emulated and real) yes; ONNX yes (opset >= 11)" in out
    )
    assert re.search(r"^  kernel_size +int \| tuple\[int, int\] +required$", out, re.M)
    assert re.search(r"^    weight +float32 \(8, 4, 3, 3\)$", out, re.M)
    assert re.search(r"^    bias +float32 \(8,\)$", out, re.M)
    assert "Ho = (H + 2*padding[0]" in out  # the docstring


def test_weights_say_which_are_buffers_and_which_optional(cli: Cli) -> None:
    out = cli("ops", "batch_norm2d").out
    assert re.search(r"^    running_mean +float32 \(4,\)  \(buffer\)$", out, re.M)
    assert re.search(r"^    num_batches_tracked +int64 \(\)  \(optional\)$", out, re.M)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("conv", r"unknown op 'conv'; did you mean 'conv2d'\?$"),
        (
            "nothing_like_it",
            r"unknown op 'nothing_like_it' \(ops: abs, adaptive_avg_pool2d, .*relu",
        ),
    ],
)
def test_an_unknown_op_exits_2_with_a_suggestion_or_the_list(
    cli: Cli, name: str, message: str
) -> None:
    result = cli("ops", name)
    assert result.code == 2 and result.out == "" and result.err.count("\n") == 1
    assert re.search(message, result.err.strip()), result.err


def test_json_has_every_op_and_its_fields(cli: Cli) -> None:
    data = json.loads(cli("ops", "--format", "json").out)
    assert [op["name"] for op in data] == sorted(OPS)
    conv = next(op for op in data if op["name"] == "conv2d")
    assert conv["torch"] == "torch.nn.Conv2d" and conv["inputs"] == "1"
    assert conv["arguments"][0] == {"name": "out_channels", "type": "int", "default": None}
    assert conv["arguments"][2] == {
        "name": "stride",
        "type": "int | tuple[int, int]",
        "default": "1",
    }
    assert (conv["reference"], conv["tensorrt"], conv["onnx"], conv["onnx_opset"]) == (
        True,
        True,
        True,
        11,
    )
    assert [w["role"] for w in conv["weights"]] == ["weight", "bias"]


def test_backends_come_from_the_registries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(EMITTERS, Conv2d)
    monkeypatch.delitem(EXPORTERS, Conv2d)
    (info,) = describe_ops(["conv2d"])
    assert (info.reference, info.tensorrt, info.onnx, info.onnx_opset) == (True, False, False, None)
    with pytest.raises(UsageError, match="unknown op 'conv'"):
        describe_ops(["conv"])


def test_help_text(capsys: pytest.CaptureFixture[str]) -> None:
    from trtdsl.cli.main import main

    with pytest.raises(SystemExit) as exit_info:
        main(["ops", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "examples:" in out and "trtdsl ops conv2d" in out and "--markdown" in out


def test_markdown_is_the_op_reference(cli: Cli) -> None:
    assert cli("ops", "--markdown").out == render_markdown()


def test_the_op_reference_is_current() -> None:
    """docs/ops.md is generated from the op classes; after adding or changing an op, run
    ``python tools/generate_ops.py`` (or ``trtdsl ops --markdown > docs/ops.md``)."""
    text = (ROOT / "docs" / "ops.md").read_text(encoding="utf-8")
    assert text == render_markdown(), "docs/ops.md is out of date: run python tools/generate_ops.py"
    for name in OPS:
        assert f"\n## {name}\n" in text
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "[docs/ops.md](docs/ops.md)" in readme

"""``trtdsl info``: layer rows, totals, JSON, shape overrides, one-line errors; the shared
table helpers of ``trtdsl.cli.format``."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from trtdsl.cli.format import Column, format_table, print_table
from trtdsl.cli.main import main
from trtdsl.frontend.load import ZOO_DIR


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_python_and_yaml_resnet50_print_the_same_rows(capsys: pytest.CaptureFixture[str]) -> None:
    code_py, out_py, _ = run_cli(capsys, "info", str(ZOO_DIR / "resnet50.py"))
    code_yaml, out_yaml, _ = run_cli(capsys, "info", str(ZOO_DIR / "resnet50.yaml"))
    assert code_py == code_yaml == 0
    assert out_py == out_yaml
    lines = out_py.splitlines()
    assert lines[0] == "resnet50: x float32[N,3,224,224] -> logits float32[N,1000]"
    assert lines[1].split() == ["#", "name", "op", "inputs", "output", "shape", "dtype",
                                "params", "MACs"]  # fmt: skip
    first = lines[3].split()
    assert first == [
        "0",
        "conv1",
        "conv2d",
        "x",
        "Nx64x112x112",
        "float32",
        "9,408",
        "944,111,616",
    ]  # fmt: skip  (MACs at N=8: 8*64*112*112*3*7*7)
    assert 8 * 64 * 112 * 112 * 3 * 7 * 7 == 944_111_616
    assert len(lines) == 3 + 175 + 2
    assert lines[-2].startswith("total: 175 layers, 25,557,032 params, ")
    assert lines[-2].endswith("GMACs (at opt size N=8)")


def test_shape_override_gives_static_rows(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "info", "resnet50", "--shape", "x=1x3x224x224")
    assert code == 0
    assert "1x64x112x112" in out
    assert "Nx" not in out
    total = next(line for line in out.splitlines() if line.startswith("total:"))
    assert total == "total: 175 layers, 25,557,032 params, 4.09 GMACs"


def test_json_format(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "info", "resnet18", "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert data["model"] == "resnet18"
    assert data["inputs"] == [{"name": "x", "type": "float32[N,3,224,224]"}]
    assert data["macs_at"] == {"N": 8}
    assert len(data["layers"]) == len({row["name"] for row in data["layers"]})
    fc = data["layers"][-1]
    assert fc == {
        "index": len(data["layers"]) - 1,
        "name": "fc",
        "op": "linear",
        "inputs": ["flatten"],
        "shape": "Nx1000",
        "dtype": "float32",
        "params": 513_000,
        "buffers": 0,
        "macs": 8 * 512 * 1000,
    }
    bn1 = next(row for row in data["layers"] if row["name"] == "bn1")
    assert (bn1["params"], bn1["buffers"]) == (2 * 64, 2 * 64)
    assert data["totals"]["params"] == 11_689_512  # torchvision's published ResNet-18 count
    assert data["totals"]["params"] == sum(row["params"] for row in data["layers"])
    assert data["totals"]["buffers"] == sum(row["buffers"] for row in data["layers"])
    assert data["totals"]["macs"] == sum(row["macs"] for row in data["layers"])


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["info", "missing/model.yaml"], r"missing/model\.yaml: no such model file"),
        (["info", "resnet5"], r"'resnet5' is neither a model file nor a zoo model"),
        (["info", "resnet18", "--shape", "x=1xbad"], r"--shape 'x=1xbad': dimensions must be"),
        (["info", "resnet18", "--shape", "y=1x3x8x8"], r"the model has no input 'y'"),
        (["info", "resnet18", "--shape", "x=1x3"], r"--shape x=1x3: expected 4 dimensions"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    import re

    code, out, err = run_cli(capsys, *argv)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("trtdsl: error: ")
    assert "Traceback" not in err
    assert re.search(message, err), err


def test_bad_yaml_error_names_file_and_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("inputs:\n  x: {shape: [1, 3]}\nlayers:\n  - {op: rleu}\noutputs:\n  y: x\n")
    code, _, err = run_cli(capsys, "info", str(path))
    assert code == 2
    assert err == f"trtdsl: error: {path}:4: layers[0]: unknown op 'rleu'; did you mean 'relu'?\n"


def test_help_has_examples(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["info", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "examples:" in out and "trtdsl info zoo/resnet50.yaml" in out and "--shape" in out


COLUMNS = (Column("name", "name"), Column("count", "count", "right"))
ROWS = [{"name": "conv1", "count": 9408}, {"name": "fc", "count": 2_049_000}]


def test_format_table_aligns_columns() -> None:
    text = format_table(COLUMNS, ROWS, title="t", footer=["total"])
    assert text.splitlines() == [
        "t",
        "name       count",
        "-----  ---------",
        "conv1      9,408",
        "fc     2,049,000",
        "total",
    ]


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_print_table_uses_rich_on_a_terminal_and_plain_text_elsewhere() -> None:
    plain = io.StringIO()
    print_table(COLUMNS, ROWS, title="t", stream=plain)
    assert plain.getvalue() == format_table(COLUMNS, ROWS, title="t") + "\n"
    terminal = _Terminal()
    print_table(COLUMNS, ROWS, title="t", footer=["total [x]"], stream=terminal)
    text = terminal.getvalue()
    assert "2,049,000" in text and "total [x]" in text
    assert any(ch in text for ch in "┃│━─")  # a rich box, not the plain rule


def test_tiny_model_counts_parameters_and_buffers(
    cli: Callable[..., Any], tiny_model: Path
) -> None:
    result = cli("info", str(tiny_model), "--format", "json")
    assert result.code == 0, result
    totals = json.loads(result.out)["totals"]
    # conv 4x3x3x3 (no bias), batch norm weight and bias 2x4, linear 5x4 + 5
    assert totals["params"] == 108 + 8 + 25 and totals["buffers"] == 8

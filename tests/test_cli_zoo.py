"""``trtdsl zoo``: the table and JSON list every zoo model with torchvision's parameter counts."""

from __future__ import annotations

import json

import pytest

from trtdsl.cli.main import main
from trtdsl.cli.zoo import natural_key, zoo_entry
from trtdsl.frontend.load import load_model, zoo_models


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_table_has_a_row_per_model(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "zoo")
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[1].split() == ["model", "input", "params", "MACs", "nodes", "file"]
    rows = {line.split()[0]: line.split() for line in lines[3:-1]}
    assert set(rows) == set(zoo_models())
    assert rows["resnet50"][1:6] == ["x", "float32[N,3,224,224]", "25,557,032", "4.09", "G"]
    assert rows["inception_v3"][2] == "float32[N,3,299,299]"
    assert rows["mobilenet_v2"][3] == "3,504,872"
    assert lines[-1].startswith(f"{len(zoo_models())} model(s); params as PyTorch counts them")


def test_json_selected_models(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "zoo", "squeezenet1_1", "vgg16", "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert [d["model"] for d in data] == ["squeezenet1_1", "vgg16"]
    assert data[0] == {
        "model": "squeezenet1_1",
        "input": "x float32[N,3,224,224]",
        "params": 1_235_496,
        "macs": 349_151_936,
        "nodes": 66,
        "file": "squeezenet1_1.yaml",
    }
    # torchvision's documented 15.47 GFLOPS (MACs) for VGG-16.
    assert data[1]["params"] == 138_357_544 and round(data[1]["macs"] / 1e9, 2) == 15.47


def test_unknown_model_is_one_line_with_a_suggestion(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "zoo", "mobilenet_v9")
    assert code == 2 and out == ""
    assert err.count("\n") == 1
    assert "did you mean 'mobilenet_v2'" in err


def test_macs_scale_with_the_batch_size() -> None:
    graph = load_model("resnet18")
    assert graph.num_macs({"N": 4}) == 4 * graph.num_macs()
    assert zoo_entry("resnet18").macs == graph.num_macs()


def test_rows_are_in_natural_order(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run_cli(capsys, "zoo")
    names = [line.split()[0] for line in out.splitlines()[3:-1]]
    resnets = [n for n in names if n.startswith("resnet")]
    assert resnets == ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152"]
    assert natural_key("vgg16") < natural_key("vgg16_bn")

"""``trtdsl weights init|show|check``: atomic writes, listings, binding reports, errors."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file
from scripts import load_script

from trtdsl.cli.main import main
from trtdsl.frontend.load import load_model
from trtdsl.weights import open_safetensors, random_weights

MODEL = """
from trtdsl import ModelBuilder


def build():
    b = ModelBuilder("small")
    x = b.input("x", (1, 3, 8, 8))
    y = b.conv2d(x, out_channels=4, kernel_size=3, bias=False, name="conv1")
    y = b.batch_norm2d(y, name="bn1")
    y = b.relu(y, name="relu")
    y = b.adaptive_avg_pool2d(y, output_size=1, name="avgpool")
    y = b.flatten(y, name="flatten")
    b.output(b.linear(y, out_features=3, name="fc"), "logits")
    return b.build()
"""


@pytest.fixture
def model_file(tmp_path: Path) -> str:
    path = tmp_path / "small.py"
    path.write_text(MODEL)
    return str(path)


def test_init_writes_seeded_weights(
    tmp_path: Path, model_file: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "w.safetensors"
    assert main(["weights", "init", model_file, "-o", str(out), "--seed", "3"]) == 0
    line = capsys.readouterr().out.strip()
    assert line == (
        f"wrote {out}: 7 tensors (0.0 MiB float32) for model small, seed 3: 131 parameters "
        "+ 8 buffer elements (BatchNorm running statistics: saved and bound, but not "
        "parameters, as trtdsl info and PyTorch count them)"
    )
    written = load_file(str(out))
    expected = random_weights(load_model(model_file), 3)
    assert set(written) == set(expected)
    for key, value in expected.items():
        np.testing.assert_array_equal(written[key], value)
    assert open_safetensors(out).metadata["trtdsl.init"] == "random:3"
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_init_failure_leaves_the_old_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "w.safetensors"
    out.write_bytes(b"old")
    assert main(["weights", "init", str(tmp_path / "missing.py"), "-o", str(out)]) == 2
    assert "trtdsl: error:" in capsys.readouterr().err
    assert out.read_bytes() == b"old"


def test_init_into_a_missing_directory(
    tmp_path: Path, model_file: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "nowhere" / "w.safetensors"
    assert main(["weights", "init", model_file, "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"trtdsl: error: -o {out}: directory {out.parent} does not exist")
    assert len(err.strip().splitlines()) == 1


def test_init_rejects_a_negative_seed(
    tmp_path: Path, model_file: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(["weights", "init", model_file, "-o", str(tmp_path / "w.safetensors"), "--seed", "-1"])
        == 2
    )
    assert "--seed must be a non-negative integer, got -1" in capsys.readouterr().err


def test_show_table_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "w.safetensors"
    save_file(
        {"fc.weight": np.zeros((3, 4), np.float32), "n": np.array(2, np.int64)},
        str(path),
        metadata={"format": "pt"},
    )
    assert main(["weights", "show", str(path)]) == 0
    out = capsys.readouterr().out
    assert "fc.weight  F32    3x4" in out
    assert "n          I64    scalar" in out
    assert "total: 2 tensors, 13 elements, 0.0 MiB (F32 x1, I64 x1)" in out
    assert "metadata: format=pt" in out
    assert main(["weights", "show", str(path), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["metadata"] == {"format": "pt"}
    assert data["total_bytes"] == 56
    assert data["tensors"][1] == {
        "key": "fc.weight",
        "dtype": "F32",
        "shape": [3, 4],
        "numel": 12,
        "nbytes": 48,
        "data_offsets": [8, 56],
    }


def test_show_a_corrupt_file_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.safetensors"
    path.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all")
    assert main(["weights", "show", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"trtdsl: error: {path}: header is not valid JSON")
    assert len(err.strip().splitlines()) == 1


def test_check_reports_a_binding(
    tmp_path: Path, model_file: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "w.safetensors"
    weights = random_weights(load_model(model_file), 0)
    save_file({f"module.{k}": v for k, v in weights.items()}, str(path))
    assert main(["weights", "check", model_file, str(path), "--rename", r"^module\.", ""]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "model small: weights bind"
    assert "renamed: 7 keys" in out and "conversions: none (zero-copy)" in out


def test_check_lists_every_problem(
    tmp_path: Path, model_file: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "w.safetensors"
    weights = random_weights(load_model(model_file), 0)
    weights["fc.weights"] = weights.pop("fc.weight")
    weights["bn1.bias"] = np.zeros(5, np.float32)
    save_file(weights, str(path))
    assert main(["weights", "check", model_file, str(path)]) == 2
    (line,) = capsys.readouterr().err.splitlines()  # every problem, on one line
    assert line.startswith(f"trtdsl: error: weights {path} do not match model 'small': 1 missing")
    assert "missing fc.weight (float32 (3, 4)); did you mean fc.weights?;" in line
    assert "; shape bn1.bias: expected (4,), got (5,)" in line


def test_check_random(model_file: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["weights", "check", model_file, "random:2"]) == 0
    assert "weights: random:2" in capsys.readouterr().out
    assert main(["weights", "check", model_file, "random:x"]) == 2
    assert "expected random or random:SEED" in capsys.readouterr().err


@pytest.mark.oracle
def test_init_output_loads_strictly_into_torch(tmp_path: Path, model_file: str) -> None:
    import torch
    from safetensors.torch import load_file as torch_load_file

    class Small(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv1 = torch.nn.Conv2d(3, 4, 3, bias=False)
            self.bn1 = torch.nn.BatchNorm2d(4)
            self.fc = torch.nn.Linear(4, 3)

    out = tmp_path / "w.safetensors"
    assert main(["weights", "init", model_file, "-o", str(out)]) == 0
    net = Small()
    net.load_state_dict(torch_load_file(str(out)), strict=True)  # num_batches_tracked optional
    assert os.path.getsize(out) > 0


def test_info_appends_the_binding_report(
    tmp_path: Path, model_file: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["info", model_file, "--weights", "random:4"]) == 0
    out = capsys.readouterr().out
    assert "total: 6 layers" in out
    assert out.rstrip().endswith("conversions: none (zero-copy)")
    assert "weights: random:4\n  tensors: 7 bound, 556 B (float32 x7)" in out
    assert main(["info", model_file, "--weights", "random:4", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["weights"]["tensors"] == 7 and data["weights"]["bytes"] == 556
    bad = tmp_path / "bad.safetensors"
    save_file({"conv1.weight": np.zeros((4, 3, 3, 3), np.float32)}, str(bad))
    assert main(["info", model_file, "--weights", str(bad)]) == 2
    assert "6 missing" in capsys.readouterr().err


FAKE_TORCHVISION = """
import torch

__version__ = "0.0+fake"


class _Models:
    calls = []

    @staticmethod
    def get_model(name, weights=None):
        if weights is not None:
            raise AssertionError("export tried to download weights")
        if name not in ("tiny", "googlenet"):
            raise ValueError(f"Unknown model {name}")
        net = torch.nn.Sequential()
        net.add_module("conv1", torch.nn.Conv2d(3, 4, 3, bias=False))
        net.add_module("bn1", torch.nn.BatchNorm2d(4))
        if name == "googlenet":  # torchvision keeps the training-only auxiliary heads
            net.add_module("aux1", torch.nn.Linear(4, 2))
        return net


models = _Models()
"""


@pytest.mark.oracle
def test_export_torchvision_builds_without_downloading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import sys
    import types

    import torch

    fake = types.ModuleType("torchvision")
    exec(FAKE_TORCHVISION, fake.__dict__)
    monkeypatch.setitem(sys.modules, "torchvision", fake)
    script = Path(__file__).resolve().parents[1] / "weights" / "export_torchvision.py"
    export = load_script(script, "export_torchvision")

    out = tmp_path / "a.safetensors"
    assert export.main(["tiny", "-o", str(out), "--seed", "5"]) == 0
    stdout = capsys.readouterr().out
    assert stdout.startswith(f"wrote {out}: 6 tensors, 125 elements (random, seed 5)")
    assert "not checked: tiny is not a trtdsl zoo model" in stdout
    written = load_file(str(out))
    torch.manual_seed(5)
    expected = fake.models.get_model("tiny").state_dict()
    assert sorted(written) == sorted(expected)
    for key, value in expected.items():
        np.testing.assert_array_equal(written[key], value.numpy())
    meta = open_safetensors(out).metadata
    assert meta["source"] == "torchvision.models.tiny" and meta["torchvision"] == "0.0+fake"

    aux = tmp_path / "g.safetensors"
    assert export.main(["googlenet", "-o", str(aux), "--no-check"]) == 0
    assert (
        "left out 2 tensors of the auxiliary classifiers (aux1.*, aux2.*)"
        in capsys.readouterr().out
    )
    assert sorted(load_file(str(aux))) == sorted(k for k in expected)

    assert export.main(["nonesuch", "-o", str(tmp_path / "c.safetensors")]) == 2
    assert "unknown model 'nonesuch'" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.safetensors", "g.safetensors"]


def test_init_and_info_count_the_same_parameters(
    tmp_path: Path, model_file: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["weights", "init", model_file, "-o", str(tmp_path / "w.safetensors")]) == 0
    init = capsys.readouterr().out
    assert main(["info", model_file, "--format", "json"]) == 0
    totals = json.loads(capsys.readouterr().out)["totals"]
    assert f": {totals['params']:,} parameters + {totals['buffers']:,} buffer elements" in init
    assert load_model(model_file).num_parameters() == totals["params"] == 131


def _torch_zip_checkpoint(path: Path) -> None:
    """The layout torch.save writes (a zip with ``archive/data.pkl``), made without torch."""
    import zipfile

    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", b"\x80\x02}q\x00.")
        archive.writestr("archive/version", b"3\n")


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("model.pth", "a PyTorch checkpoint (torch.save zip archive)"),
        ("legacy.pt", "a Python pickle (a PyTorch checkpoint from torch.save?)"),
    ],
)
@pytest.mark.parametrize("command", ["info", "weights check"])
def test_a_pytorch_pickle_as_weights_says_how_to_convert_it(
    tmp_path: Path, model_file: str, cli: Callable[..., Any], name: str, kind: str, command: str
) -> None:
    path = tmp_path / name
    if name.endswith(".pth"):
        _torch_zip_checkpoint(path)
    else:  # torch.save before 1.6: a pickle starting with PROTO 2 and the LONG1 magic number
        path.write_bytes(b"\x80\x02\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19.\x80\x02M\xe9\x03.")
    argv = ["info", model_file, "--weights", str(path)]
    if command == "weights check":
        argv = ["weights", "check", model_file, str(path)]
    result = cli(*argv)
    assert result.code == 2 and result.out == "", result
    assert result.err.count("\n") == 1 and "Traceback" not in result.err
    assert result.err.startswith(f"trtdsl: error: {path}: {kind}, not safetensors; ")
    target = str(path.with_suffix(".safetensors"))
    assert f"torch.load({str(path)!r}, map_location='cpu', weights_only=True)" in result.err
    assert f"for k, v in sd.items()}}, {target!r})" in result.err


def test_an_npz_as_weights_says_how_to_convert_it(tmp_path: Path) -> None:
    from trtdsl.errors import WeightError

    path = tmp_path / "w.npz"
    np.savez(path, w=np.ones(2))
    with pytest.raises(WeightError, match=r"w\.npz: a NumPy \.npz archive, not safetensors; "):
        open_safetensors(path)


def test_a_safetensors_header_that_looks_like_a_pickle_is_still_read(tmp_path: Path) -> None:
    """A header of 0x0280 bytes starts with the bytes of a pickle's PROTO 2: not a pickle."""
    path = tmp_path / "w.safetensors"
    size = 0x0280
    save_file({"x" * (size - 60): np.ones(1, np.float32)}, str(path))
    header_len = int.from_bytes(path.read_bytes()[:8], "little")
    assert path.read_bytes()[:2] == b"\x80\x02", header_len
    assert list(open_safetensors(path)) == ["x" * (size - 60)]


def _prefixed_checkpoint(tmp_path: Path, model_file: str) -> Path:
    path = tmp_path / "ddp.safetensors"
    weights = random_weights(load_model(model_file), 0)
    save_file({f"module.{k}": v for k, v in weights.items()}, str(path))
    return path


def test_the_rename_hint_is_written_for_the_interface_in_use(
    tmp_path: Path, model_file: str
) -> None:
    from trtdsl.errors import WeightError
    from trtdsl.weights import load_weights

    path = _prefixed_checkpoint(tmp_path, model_file)
    graph = load_model(model_file)
    with pytest.raises(WeightError) as python:
        load_weights(path, graph)
    assert "bind with rename={'^module\\\\.': ''}" in str(python.value)
    assert "b.rename_weights('^module\\\\.', '') in the model" in str(python.value)
    with pytest.raises(WeightError) as cli:
        load_weights(path, graph, interface="cli")
    assert "; add --rename '^module\\.' '' (or declare it once: weights: {rename: " in str(
        cli.value
    )


def test_the_cli_prints_the_rename_hint_as_a_rename_option(
    tmp_path: Path, model_file: str, cli: Callable[..., Any]
) -> None:
    path = _prefixed_checkpoint(tmp_path, model_file)
    result = cli("weights", "check", model_file, str(path))
    assert result.code == 2
    assert "add --rename '^module\\.' ''" in result.err


def test_weights_check_takes_weights_as_every_command_does(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["weights", "check", "resnet18", "--weights", "random:2"]) == 0
    assert "model resnet18: weights bind" in capsys.readouterr().out
    assert main(["weights", "check", "resnet18"]) == 2
    assert "--weights W is required" in capsys.readouterr().err
    assert main(["weights", "check", "resnet18", "random", "--weights", "random"]) == 2
    assert "give the weights once" in capsys.readouterr().err

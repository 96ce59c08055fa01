"""``trtdsl run``: input parsing, the output summary, the .npz file and exit codes."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from trtdsl.cli.main import main
from trtdsl.cli.run import BACKENDS, parse_inputs
from trtdsl.frontend.load import load_model

SMALL = ["resnet18", "--weights", "random:1", "--shape", "x=2x3x32x32"]


def test_summary_has_top5_and_npz_has_every_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out.npz"
    assert main(["run", *SMALL, "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "output logits: float32[2x1000] min " in text
    assert "row 0 top-5: " in text and "row 1 top-5: " in text
    with np.load(out) as saved:
        assert sorted(saved.files) == ["logits"]
        logits = saved["logits"]
    assert logits.shape == (2, 1000) and logits.dtype == np.float32
    top = ", ".join(f"{i} ({logits[0, i]:.4g})" for i in np.argsort(-logits[0])[:5])
    assert f"row 0 top-5: {top}" in text
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp")]


def test_bare_npy_and_named_random_inputs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    graph = load_model("resnet18", {"x": (2, 3, 32, 32)})
    from_random = parse_inputs(graph, ["x=random:7"])
    np.save(tmp_path / "x.npy", from_random["x"])
    a, b = tmp_path / "a.npz", tmp_path / "b.npz"
    assert main(["run", *SMALL, "--input", str(tmp_path / "x.npy"), "-o", str(a)]) == 0
    assert main(["run", *SMALL, "--input", "x=random:7", "-o", str(b)]) == 0
    with np.load(a) as first, np.load(b) as second:
        np.testing.assert_array_equal(first["logits"], second["logits"])
    assert "input x: float32[2x3x32x32]" in capsys.readouterr().out


def test_random_inputs_use_the_opt_size_of_symbolic_dims() -> None:
    graph = load_model("resnet18")
    batch = graph.dim("N").opt
    inputs = parse_inputs(graph, [], seed=3)
    assert inputs["x"].shape == (batch, 3, 224, 224) and inputs["x"].dtype == np.float32
    np.testing.assert_array_equal(inputs["x"], parse_inputs(graph, ["random:3"])["x"])


def test_fold_bn_reports_the_folding_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", *SMALL, "--fold-bn"]) == 0
    text = capsys.readouterr().out
    error = float(text.split("max abs folding error ")[1].split()[0])
    assert "folded 20 batch-norm(s)" in text and 0 <= error < 1e-4


def test_json_summary(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    assert main(["run", *SMALL, "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    logits = report["outputs"]["logits"]
    assert logits["shape"] == [2, 1000] and len(logits["top5"]) == 2
    assert len(logits["top5"][0]) == 5 and report["backend"] == "reference"


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        (["--input", "y=random"], "--input 'y=random': the model has no input 'y'"),
        (["--input", "x=random", "--input", "x=random:2"], "input 'x' given twice"),
        (["--input", "x=random:abc"], r"expected random or random:SEED"),
        (["--input", "BAD_NPY"], r"cannot read '.*bad\.npy' as \.npy"),
        (["--input", "WRONG_SHAPE"], r"input 'x': expected shape 2x3x32x32, got 1x3x8x8"),
        (["--shape", "q=1x3"], "the model has no input 'q'"),
    ],
    ids=["unknown-name", "twice", "bad-seed", "bad-npy", "wrong-shape", "bad-shape-name"],
)
def test_errors_exit_2_with_one_line(
    extra: list[str], match: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.npy"
    bad.write_bytes(b"not an npy file")
    wrong = tmp_path / "wrong.npy"
    np.save(wrong, np.zeros((1, 3, 8, 8), np.float32))
    extra = [str(bad) if e == "BAD_NPY" else str(wrong) if e == "WRONG_SHAPE" else e for e in extra]
    out = tmp_path / "never.npz"
    assert main(["run", *SMALL, *extra, "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert re.search(match, err), err
    assert not out.exists()


def test_backends_table_has_the_reference() -> None:
    assert "reference" in BACKENDS

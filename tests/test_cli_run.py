"""``trtdsl run``: input parsing, the output summary, the .npz file and exit codes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from trtdsl.cli.inputs import model_inputs
from trtdsl.cli.main import main
from trtdsl.frontend.load import load_model
from trtdsl.vision import imagenet_classes

SMALL = ["resnet18", "--weights", "random:1", "--shape", "x=2x3x32x32", "--backend", "reference"]


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
    names = imagenet_classes()
    top = ", ".join(f"{i} {names[i]} ({logits[0, i]:.4g})" for i in np.argsort(-logits[0])[:5])
    assert f"row 0 top-5: {top}" in text
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp")]


def test_bare_npy_and_named_random_inputs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    graph = load_model("resnet18", {"x": (2, 3, 32, 32)})
    from_random = model_inputs(graph, ["x=random:7"])
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
    inputs = model_inputs(graph, [], seed=3)
    assert inputs["x"].shape == (batch, 3, 224, 224) and inputs["x"].dtype == np.float32
    np.testing.assert_array_equal(inputs["x"], model_inputs(graph, ["random:3"])["x"])


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
        (["--input", "BAD_NPY"], r"--input x=.*bad\.npy: not a NumPy \.npy array"),
        (
            ["--input", "WRONG_SHAPE"],
            r"--input x=.*wrong\.npy: shape x=1x3x8x8: does not fit the declared shape "
            r"2x3x32x32; --shape x=1x3x8x8 runs the model at this size$",
        ),
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


TINY_DYNAMIC = """\
name: tiny
dims:
  N: {min: 1, opt: 2, max: 4}
inputs:
  x: {shape: [N, 3, 8, 8], dtype: float32}
layers:
  - {name: relu, op: relu}
outputs:
  y: relu
"""


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        (["--shape", "x=8x3x8x8"], r"--shape x=8x3x8x8: N=8 is outside the declared profile "),
        (
            ["--input", "BIG"],
            r"--input x=.*big\.npy: shape x=8x3x8x8: N=8 is outside the declared profile Nx3x8x8",
        ),
        (["--shape", "x=1x3x8x8:2x3x8x8:4x3x8x8"], r"this command runs one shape"),
        (["--precision", "fp16"], r"--precision fp16/bf16/tf32 and --keep-fp32 need an engine"),
    ],
    ids=["shape", "input", "range", "precision-on-reference"],
)
def test_run_refuses_shapes_outside_the_declared_profile(
    extra: list[str], match: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = tmp_path / "tiny.yaml"
    model.write_text(TINY_DYNAMIC)
    big = tmp_path / "big.npy"
    np.save(big, np.zeros((8, 3, 8, 8), np.float32))
    extra = [str(big) if e == "BIG" else e for e in extra]
    argv = ["run", str(model), "--weights", "random", "--backend", "reference", *extra]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and re.search(match, err), err


@pytest.mark.rtx
def test_run_on_a_real_backend_this_machine_cannot_run_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Real builder: the engine builds; running it needs a GPU TensorRT-RTX supports."""
    import tensorrt_rtx

    from trtdsl.runtime.engines import machine_gpu

    if machine_gpu(tensorrt_rtx)[0] is not None:
        pytest.skip("this machine can run TensorRT-RTX engines")
    model = tmp_path / "tiny.yaml"
    model.write_text(TINY_DYNAMIC)
    argv = ["run", str(model), "--weights", "random", "--backend", "tensorrt-rtx"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "--backend tensorrt-rtx: the engine built in memory is a TensorRT-RTX" in err
    assert "this machine cannot run it" in err and "--backend emulated" in err


EMBEDDING = """\
name: pooler
inputs:
  x: {shape: [2, 16]}
layers:
  - {name: dense, op: linear, out_features: 128}
  - {name: pooled, op: tanh}
  - {name: classifier, op: linear, out_features: 12}
outputs:
  pooled: pooled
  logits: classifier
"""


def test_top5_is_for_logits_not_for_a_pooled_embedding(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = tmp_path / "pooler.yaml"
    model.write_text(EMBEDDING)
    assert main(["run", str(model), "--weights", "random", "--backend", "reference"]) == 0
    text = capsys.readouterr().out
    pooled, logits = text.split("output logits:")
    assert "output pooled: float32[2x128]" in pooled and "top-" not in pooled
    assert "row 0 top-5: " in logits and "row 1 top-5: " in logits
    argv = ["run", str(model), "--weights", "random", "--backend", "reference", "--format", "json"]
    assert main(argv) == 0
    outputs = json.loads(capsys.readouterr().out)["outputs"]
    assert "top5" not in outputs["pooled"] and len(outputs["logits"]["top5"]) == 2

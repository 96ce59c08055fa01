"""Calibration: streaming histograms and the amax methods, calibration data (.npy, .npz, image
folders with their preprocessing) and its refusals, the scales file, and ``trtdsl calibrate``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from trtdsl import ModelBuilder
from trtdsl.calibration import (
    Calibration,
    CalibrationData,
    Method,
    Preprocess,
    TensorHistogram,
    calibrate,
)
from trtdsl.calibration.histogram import NUM_BINS, entropy_amax, mse_amax, percentile_amax
from trtdsl.errors import CalibrationError, UsageError
from trtdsl.ir.graph import Graph
from trtdsl.passes.quantize import plan_quantization
from trtdsl.weights import random_weights

# -- histograms and methods ---------------------------------------------------------------------


def test_histogram_range_doubles_exactly_and_memory_is_fixed() -> None:
    rng = np.random.default_rng(0)
    h = TensorHistogram()
    h.update(np.zeros(10, np.float32))  # zeros before any range is known are kept
    h.update(rng.uniform(-1, 1, 10_000))
    first_width = h.width
    h.update(np.float32([100.0]))
    assert h.counts is not None and len(h.counts) == NUM_BINS
    assert h.width == first_width * 2 ** int(np.ceil(np.log2(100.0 / (first_width * NUM_BINS))))
    assert int(h.counts.sum()) == h.total == 10_011
    assert h.amax == 100.0 and h.min == pytest.approx(-1, abs=1e-3) and h.max == 100.0


def test_methods_on_known_distributions() -> None:
    rng = np.random.default_rng(1)
    h = TensorHistogram()
    for _ in range(4):
        h.update(rng.uniform(-10, 10, 250_000).astype(np.float32))
    assert h.compute_amax(Method.parse("max")) == pytest.approx(10, abs=1e-3)
    assert h.compute_amax(Method.parse("percentile:90")) == pytest.approx(9, abs=0.02)
    assert h.compute_amax(Method.parse("percentile")) == pytest.approx(10, abs=0.01)
    # a uniform distribution has no tail worth clipping
    assert h.compute_amax(Method.parse("entropy")) > 9.5
    assert h.compute_amax(Method.parse("mse")) > 9.5
    g = TensorHistogram()
    g.update(rng.standard_normal(1_000_000).astype(np.float32))
    for name in ("entropy", "mse", "percentile:99.9"):
        assert 2.5 < g.compute_amax(Method.parse(name)) < g.amax, name
    zero = TensorHistogram()
    zero.update(np.zeros(5, np.float32))
    assert zero.compute_amax(Method.parse("entropy")) == 0.0


def test_method_helpers_directly() -> None:
    counts = np.zeros(NUM_BINS, np.int64)
    counts[:1000] = 10
    assert percentile_amax(counts, 1.0, 50.0) == 500.0
    assert 900 <= entropy_amax(counts, 1.0) <= 1001
    assert 800 <= mse_amax(counts, 1.0) <= 1001


@pytest.mark.parametrize(
    ("text", "message"),
    [("kl", "expected one of entropy"), ("max:3", "only percentile"), ("percentile:0", "in")],
)
def test_method_parse_errors(text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        Method.parse(text)
    assert str(Method.parse("percentile:99.9")) == "percentile:99.9"


# -- data ----------------------------------------------------------------------------------------


def _model(channels: int = 3, size: int = 8) -> Graph:
    b = ModelBuilder("tiny")
    x = b.input("x", ("N", channels, size, size), dims={"N": (1, 4, 16)})
    y = b.relu(b.conv2d(x, out_channels=4, kernel_size=3, padding=1, name="conv"), name="relu")
    y = b.flatten(b.adaptive_avg_pool2d(y, output_size=1, name="pool"), name="flat")
    b.output(b.linear(y, out_features=3, name="fc"), "logits")
    return b.build()


def _samples(n: int = 10, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, 3, 8, 8)).astype(np.float32)


def test_npy_data_in_batches(tmp_path: Path) -> None:
    path = tmp_path / "x.npy"
    np.save(path, _samples(10))
    data = CalibrationData(path, _model(), limit=7)
    assert data.samples == 7 and data.kind == "npy"
    batches = list(data.batches(3))
    assert [start for start, _ in batches] == [0, 3, 6]
    assert [b["x"].shape[0] for _, b in batches] == [3, 3, 1]
    assert len(data.digest()) == 64


@pytest.mark.parametrize(("executor", "background"), [("onnxruntime", True), ("reference", False)])
def test_digests_of_weights_and_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, executor: str, background: bool
) -> None:
    """The scales file records the sha256 of the weights and of the data, computed on a
    background thread while the batches run, except for the reference executor (its worker
    processes are forked, which a running thread would make unsafe)."""
    import sys
    import threading

    pytest.importorskip("onnxruntime")
    from trtdsl.calibration import weights_digest

    module = sys.modules["trtdsl.calibration.calibrate"]
    threads: list[str] = []

    def recording(weights: dict[str, np.ndarray]) -> str:
        threads.append(threading.current_thread().name)
        return weights_digest(weights)

    monkeypatch.setattr(module, "weights_digest", recording)
    path = tmp_path / "x.npy"
    np.save(path, _samples(10))
    graph = _model()
    weights = random_weights(graph, 0)
    result = calibrate(graph, weights, CalibrationData(path, graph), "max", 4, executor=executor,
                       workers=2)  # fmt: skip
    assert result.weights["sha256"] == weights_digest(weights)
    assert result.data["sha256"] == CalibrationData(path, graph).digest()
    assert len(threads) == 1
    assert threads[0].startswith("trtdsl-digest") == background, threads


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.zeros((4, 3, 8, 8)), r"x\.npy: dtype float64, but model input 'x' is float32"),
        (np.zeros((4, 3, 8, 9), np.float32), r"x\.npy: shape 4x3x8x9 does not fit .* Nx3x8x8"),
        (np.zeros((0, 3, 8, 8), np.float32), r"x\.npy: holds no samples"),
    ],
)
def test_npy_data_refused(tmp_path: Path, array: np.ndarray, message: str) -> None:
    path = tmp_path / "x.npy"
    np.save(path, array)
    with pytest.raises(CalibrationError, match=message):
        CalibrationData(path, _model())


def test_nan_is_refused_naming_file_and_sample(tmp_path: Path) -> None:
    x = _samples(6)
    x[4, 1, 2, 3] = np.inf
    np.save(tmp_path / "x.npy", x)
    data = CalibrationData(tmp_path / "x.npy", _model())
    with pytest.raises(CalibrationError, match=r"x\.npy: sample 4 holds NaN or inf"):
        list(data.batches(4))


def test_npz_by_input_name(tmp_path: Path) -> None:
    np.savez(tmp_path / "ok.npz", x=_samples(5))
    assert CalibrationData(tmp_path / "ok.npz", _model()).samples == 5
    np.savez(tmp_path / "bad.npz", y=_samples(5))
    with pytest.raises(CalibrationError, match=r"bad\.npz: arrays \['y'\] do not match"):
        CalibrationData(tmp_path / "bad.npz", _model())


def test_missing_and_foreign_paths(tmp_path: Path) -> None:
    with pytest.raises(CalibrationError, match="no such file or folder"):
        CalibrationData(tmp_path / "none.npy", _model())
    (tmp_path / "data.csv").write_text("1,2\n")
    with pytest.raises(CalibrationError, match=r"data\.csv: expected an \.npy file"):
        CalibrationData(tmp_path / "data.csv", _model())


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """scikit-learn's two bundled photos (china.jpg, flower.jpg, 427x640) written as JPEGs."""
    sklearn_datasets = pytest.importorskip("sklearn.datasets")
    from PIL import Image

    folder = tmp_path_factory.mktemp("photos")
    bunch = sklearn_datasets.load_sample_images()
    for name, image in zip(bunch.filenames, bunch.images, strict=True):
        Image.fromarray(image).save(folder / Path(name).name, quality=95)
    return folder


def test_image_folder_with_default_preprocessing(photos: Path) -> None:
    data = CalibrationData(photos, _model(size=32))
    assert data.kind == "images" and data.samples == 2
    assert data.preprocess == Preprocess(resize=37, crop=(32, 32))
    ((_, batch),) = data.batches(8)
    x = batch["x"]
    assert x.shape == (2, 3, 32, 32) and x.dtype == np.float32
    assert -2.2 < x.min() < x.max() < 2.7  # ImageNet mean/std normalised


def test_image_preprocess_options(photos: Path) -> None:
    pre = Preprocess.from_mapping(
        {"resize": 40, "mean": "0,0,0", "std": [1, 1, 1], "channels": "bgr"}, "test"
    )
    ((_, batch),) = CalibrationData(photos, _model(size=32), pre).batches(2)
    assert 0.0 <= batch["x"].min() and batch["x"].max() <= 1.0
    gray = CalibrationData(photos, _model(channels=1, size=16), Preprocess(mean=(0.5,), std=(0.5,)))
    ((_, batch),) = gray.batches(2)
    assert batch["x"].shape == (2, 1, 16, 16)
    with pytest.raises(UsageError, match=r"test: unknown preprocess key\(s\) 'size'"):
        Preprocess.from_mapping({"size": 3}, "test")
    with pytest.raises(UsageError, match="std must be finite positive numbers"):
        Preprocess.from_mapping({"std": "1,0,1"}, "test")


def test_image_folder_refusals(tmp_path: Path, photos: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(CalibrationError, match="empty: the folder has no files"):
        CalibrationData(empty, _model(size=32))
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    (mixed / "a.jpg").write_bytes((photos / "china.jpg").read_bytes())
    (mixed / "notes.txt").write_text("not an image")
    data = CalibrationData(mixed, _model(size=32))
    with pytest.raises(CalibrationError, match=r"notes\.txt: not an image Pillow can read"):
        list(data.batches(8))
    with pytest.raises(CalibrationError, match="crop 16x16 differs from model input size 32x32"):
        CalibrationData(photos, _model(size=32), Preprocess(crop=(16, 16)))


# -- calibrate and the scales file ---------------------------------------------------------------


def test_calibrate_records_every_planned_tensor(tmp_path: Path) -> None:
    graph = _model()
    weights = random_weights(graph)
    np.save(tmp_path / "x.npy", _samples(9))
    data = CalibrationData(tmp_path / "x.npy", graph)
    seen: list[tuple[int, int]] = []
    result = calibrate(  # one worker: batches finish in order (with two, 9 = 4 + 1 + 4 may)
        graph, weights, data, "max", batch_size=4, progress=lambda d, t: seen.append((d, t)),
        workers=1,
    )  # fmt: skip
    assert seen == [(4, 9), (8, 9), (9, 9)]
    assert set(result.amax) == set(plan_quantization(graph).values) == {"x", "flat"}
    assert result.amax["x"] == pytest.approx(float(np.abs(_samples(9)).max()))
    path = tmp_path / "s.json"
    result.save(path)
    again = Calibration.load(path)
    assert again.amax == result.amax and again.method == Method("max")
    again.check(graph, weights)
    document = json.loads(path.read_text())
    assert document["data"]["samples"] == 9 and document["method"] == "max"
    assert set(document) >= {"model", "weights", "data", "tensors", "histogram_bins"}


def test_scales_fit_the_model_with_a_stage_appended_but_not_a_changed_one(
    tmp_path: Path,
) -> None:
    """Scales of a model also fit it with nodes appended after calibration (``--nms``): the
    file records a digest of the calibrated nodes; a changed node is still refused."""
    graph = _model()
    weights = random_weights(graph)
    np.save(tmp_path / "x.npy", _samples(4))
    result = calibrate(graph, weights, CalibrationData(tmp_path / "x.npy", graph), "max")

    def variant(out_features: int, appended: bool) -> Graph:
        b = ModelBuilder("tiny")
        x = b.input("x", ("N", 3, 8, 8), dims={"N": (1, 4, 16)})
        y = b.relu(b.conv2d(x, out_channels=4, kernel_size=3, padding=1, name="conv"), name="relu")
        y = b.flatten(b.adaptive_avg_pool2d(y, output_size=1, name="pool"), name="flat")
        y = b.linear(y, out_features=out_features, name="fc")
        b.output(b.softmax(y, dim=1, name="probabilities") if appended else y, "logits")
        return b.build()

    assert variant(3, appended=False) == graph
    result.check(variant(3, appended=True), weights)
    with pytest.raises(CalibrationError, match="scales made for model 'tiny'"):
        result.check(variant(5, appended=True))


def test_scales_file_refusals(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(CalibrationError, match=r"bad\.json: not valid JSON \(Expecting property"):
        Calibration.load(tmp_path / "bad.json")
    (tmp_path / "other.json").write_text('{"format": "something"}')
    with pytest.raises(CalibrationError, match=r"other\.json: not a trtdsl scales file"):
        Calibration.load(tmp_path / "other.json")
    with pytest.raises(CalibrationError, match=r"missing\.json: no such file"):
        Calibration.load(tmp_path / "missing.json")


# -- the command ---------------------------------------------------------------------------------


def _write_model(tmp_path: Path, preprocess: str = "") -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(
        "name: tiny\n"
        "dims: {N: {min: 1, opt: 2, max: 8}}\n"
        "inputs: {x: {shape: [N, 3, 24, 24], dtype: float32}}\n" + preprocess + "layers:\n"
        "  - {name: conv, op: conv2d, out_channels: 4, kernel_size: 3, padding: 1}\n"
        "  - {name: relu, op: relu}\n"
        "  - {name: pool, op: adaptive_avg_pool2d, output_size: 1}\n"
        "  - {name: flat, op: flatten, start_dim: 1}\n"
        "  - {name: fc, op: linear, out_features: 3}\n"
        "outputs: {logits: fc}\n"
    )
    return path


def test_cli_calibrate_writes_scales(cli, tmp_path: Path, photos: Path) -> None:  # type: ignore[no-untyped-def]
    model = _write_model(tmp_path, "preprocess: {resize: 30, mean: [0, 0, 0], std: [1, 1, 1]}\n")
    out = tmp_path / "s.json"
    result = cli(
        "calibrate", str(model), "--weights", "random", "--data", str(photos), "-o", str(out)
    )
    assert result.code == 0, result.err
    assert "2 sample(s) (images); method: entropy" in result.out
    assert f"scales: {out}" in result.out
    document = json.loads(out.read_text())
    assert document["data"]["preprocess"]["resize"] == 30
    assert document["data"]["preprocess"]["mean"] == [0, 0, 0]
    result = cli(
        "calibrate", str(model), "--weights", "random", "--data", str(photos), "-o", str(out),
        "--method", "percentile:99", "--resize", "26", "--batch-size", "1", "--limit", "1",
    )  # fmt: skip
    assert result.code == 0, result.err
    document = json.loads(out.read_text())
    assert document["method"] == "percentile" and document["percentile"] == 99.0
    assert document["data"]["samples"] == 1 and document["data"]["preprocess"]["resize"] == 26


def test_cli_calibrate_bad_data_exits_2_and_writes_nothing(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    model = _write_model(tmp_path)
    bad = np.zeros((3, 3, 24, 24), np.float32)
    bad[1, 0, 0, 0] = np.nan
    np.save(tmp_path / "bad.npy", bad)
    out = tmp_path / "s.json"
    result = cli(
        "calibrate",
        str(model),
        "--weights",
        "random",
        "--data",
        str(tmp_path / "bad.npy"),
        "-o",
        str(out),
    )
    assert result.code == 2
    assert result.err.strip().count("\n") == 0
    assert "bad.npy: sample 1 holds NaN or inf" in result.err
    assert not out.exists() and not list(tmp_path.glob(".tmp*"))
    result = cli(
        "calibrate",
        str(model),
        "--weights",
        "random",
        "--data",
        str(tmp_path / "bad.npy"),
        "-o",
        str(out),
        "--method",
        "kl",
    )
    assert result.code == 2 and "--method 'kl'" in result.err


def test_cli_method_for_executor_workers_and_the_table(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    model = _write_model(tmp_path)
    np.save(
        tmp_path / "x.npy",
        np.random.default_rng(0).standard_normal((6, 3, 24, 24)).astype(np.float32),
    )
    out = tmp_path / "s.json"
    result = cli(
        "calibrate", str(model), "--weights", "random", "--data", str(tmp_path / "x.npy"),
        "-o", str(out), "--method", "mse", "--method-for", "x=max", "--executor", "reference",
        "--workers", "2", "--batch-size", "2", "--histogram-sample", "all",
    )  # fmt: skip
    assert result.code == 0, result.err
    assert "executor: reference; 2 worker(s)" in result.out
    lines = result.out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("tensor"))
    assert lines[header].split() == ["tensor", "method", "amax", "max", "|x|", "clipped"]
    assert lines[header + 1].split()[:2] == ["x", "max"] and lines[header + 1].endswith("0.000%")
    assert lines[header + 2].split()[:2] == ["flat", "mse"]
    assert "on reference: the NumPy reference, 2 worker(s)" in result.out
    document = json.loads(out.read_text())
    assert document["method"] == "mse" and document["method_for"] == ["x=max"]
    assert document["tensors"]["x"]["method"] == "max" and document["tensors"]["x"]["clipped"] == 0
    assert document["tensors"]["flat"]["method"] == "mse"
    assert document["histogram_sample"] is None and document["executor"].startswith("reference")
    loaded = Calibration.load(out)
    assert loaded.method_of("x") == Method("max") and loaded.method_of("flat") == Method("mse")
    assert loaded.clipped["x"] == 0.0


def test_cli_warns_once_naming_every_tensor_that_clips(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    model = _write_model(tmp_path)
    np.save(
        tmp_path / "x.npy",
        np.random.default_rng(0).standard_normal((4, 3, 24, 24)).astype(np.float32),
    )
    argv = ["calibrate", str(model), "--weights", "random", "--data", str(tmp_path / "x.npy"),
            "-o", str(tmp_path / "s.json")]  # fmt: skip
    result = cli(*argv, "--method", "percentile:90")
    assert result.code == 0, result.err
    warnings = [line for line in result.err.splitlines() if line.startswith("trtdsl: warning:")]
    assert len(warnings) == 1, result.err
    assert "more than 1% of the calibration values lie above the chosen amax" in warnings[0]
    assert "percentile:90 clips x (" in warnings[0] and "--method-for 'x=max'" in warnings[0]
    result = cli(
        *argv, "--method", "percentile:90", "--method-for", "x=max", "--method-for", "*=max"
    )
    assert result.code == 0 and "warning" not in result.err, result.err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--method-for", "y=max"], "--method-for 'y=max': no calibrated tensor matches 'y'"),
        (["--method-for", "x=kl"], "--method-for 'x=kl': 'kl': expected one of"),
        (["--method-for", "max"], "--method-for 'max': expected PATTERN=METHOD"),
        (["--workers", "0"], "--workers must be from 1 to 1024, got 0"),
        (["--workers", "100000"], "--workers must be from 1 to 1024, got 100000"),
        (["--batch-size", "0"], "--batch-size must be >= 1, got 0"),
        (["--histogram-sample", "0"], "--histogram-sample '0': expected a positive count or all"),
        (["--executor", "engine", "--backend", "emulated", "--batch-size", "9"],
         "--batch-size 9: input 'x' takes at most 8 samples"),
    ],
)  # fmt: skip
def test_cli_calibrate_usage_errors(cli, tmp_path: Path, extra: list[str], message: str) -> None:  # type: ignore[no-untyped-def]
    model = _write_model(tmp_path)
    np.save(tmp_path / "x.npy", np.zeros((2, 3, 24, 24), np.float32))
    result = cli("calibrate", str(model), "--weights", "random", "--data",
                 str(tmp_path / "x.npy"), "-o", str(tmp_path / "s.json"), *extra)  # fmt: skip
    assert result.code == 2 and result.err.count("\n") == 1, result.err
    assert message in result.err
    assert not (tmp_path / "s.json").exists()


def test_cli_calibrate_help_and_constants(capsys: pytest.CaptureFixture[str]) -> None:
    from trtdsl import calibration
    from trtdsl.cli import calibrate as command
    from trtdsl.cli.main import main

    assert command.EXECUTORS == calibration.EXECUTORS
    assert command.SAMPLE_VALUES == calibration.SAMPLE_VALUES
    with pytest.raises(SystemExit):
        main(["calibrate", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    needles = (
        "--method-for 'x=max'",
        "--executor reference",
        "--workers 8",
        "--backend emulated",
        "is never chosen",
        "exact ties go to the larger threshold",
        "auto the engine",
    )
    for needle in needles:
        assert needle in text, needle

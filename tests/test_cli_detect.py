"""Detectors on the command line: ``--nms`` appends the engine's NMS stage, ``run --boxes``
letterboxes a photo as Ultralytics does and draws the detections."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from trtdsl.cli.main import main


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    from PIL import Image

    pixels = (np.random.default_rng(0).random((240, 320, 3)) * 255).astype(np.uint8)
    path = tmp_path / "photo.jpg"
    Image.fromarray(pixels).save(path)
    return path


def test_run_boxes_draws_the_detections_on_the_photo(
    photo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "boxes.png"
    argv = ["run", "yolov8n", "--weights", "random", "--backend", "reference"]
    argv += ["--shape", "x=1x3x320x320", "--input", f"x={photo}", "--boxes", str(out)]
    assert main([*argv, "--conf", "0.01", "--max-det", "5"]) == 0
    text = capsys.readouterr().out
    assert "output boxes: float32[1x5x4]" in text and "output count: int32[1]" in text
    assert f"wrote {out}: " in text and " detection(s) drawn on the photo" in text
    from PIL import Image

    with Image.open(out) as drawn:
        assert drawn.size == (320, 240)  # the original photo's size, boxes scaled back


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--conf", "1.5"], "--nms"),
        (["--iou", "-0.1"], "--nms"),
        (["--max-det", "0"], "--nms"),
        (["--max-candidates", "6000"], "--nms: nms: max_candidates must be at most 5000"),
    ],
)
def test_bad_nms_options_exit_2_in_one_line(
    extra: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["run", "yolov8n", "--weights", "random"]
    assert main([*argv, "--backend", "reference", "--nms", *extra]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err


def test_boxes_needs_one_photo(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    argv = ["run", "yolov8n", "--weights", "random", "--backend", "reference"]
    assert main([*argv, "--boxes", str(tmp_path / "b.png")]) == 2
    assert "--boxes draws on one photo" in capsys.readouterr().err
    assert main([*argv, "--boxes", str(tmp_path / "missing" / "b.png")]) == 2
    assert "does not exist" in capsys.readouterr().err


@pytest.mark.rtx
def test_max_candidates_above_topk_is_refused_for_tensorrt_rtx_in_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    argv = ["compile", "yolov8n", "--weights", "random", "--backend", "tensorrt-rtx", "--nms"]
    engine = tmp_path / "y.engine"
    assert main([*argv, "--max-candidates", "4000", "-o", str(engine)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "TensorRT-RTX keeps at most 3840 candidates" in err
    assert not engine.exists()

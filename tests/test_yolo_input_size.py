"""A detector's input size must be a multiple of its largest stride: ``--shape`` with another
height or width exits 2 with one line naming the input, the stride, the detection head's
anchor node and the nearest valid sizes (not an error deep inside the network), on every
command that loads a model with ``--shape``; a valid size builds and runs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from trtdsl.errors import UsageError
from trtdsl.frontend.load import load_model
from trtdsl.frontend.strides import check_stride_multiples, largest_stride

YOLO_600 = (
    "trtdsl: error: --shape x=1x3x600x600: height and width 600x600 must be multiples of 32, "
    "the largest stride of the detection head model.22.anchors (anchor_points, strides "
    "[8, 16, 32] at "
)
"""The start of the error line for yolov8n at 600x600 (the head's source location follows)."""

Cli = Callable[..., Any]


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    from PIL import Image

    pixels = (np.random.default_rng(0).random((48, 64, 3)) * 255).astype(np.uint8)
    path = tmp_path / "photo.jpg"
    Image.fromarray(pixels).save(path)
    return path


def assert_one_line_stride_error(result: Any, shape: str = "1x3x600x600") -> None:
    assert result.code == 2, result.out + result.err
    assert result.err.count("\n") == 1 and "Traceback" not in result.err, result.err
    assert result.err.startswith(f"trtdsl: error: --shape x={shape}: "), result.err
    assert "must be multiples of 32" in result.err and "model.22.anchors" in result.err


def test_compile_refuses_600x600_naming_the_stride_and_nearest_sizes(
    cli: Cli, tmp_path: Path
) -> None:
    out = tmp_path / "y.engine"
    result = cli(
        "compile", "yolov8n", "--weights", "random", "--backend", "emulated",
        "--shape", "x=1x3x600x600", "-o", str(out),
    )  # fmt: skip
    assert_one_line_stride_error(result)
    assert result.err.startswith(YOLO_600), result.err
    assert result.err.rstrip("\n").endswith(
        "yolo_blocks.yaml:191); nearest valid: x=1x3x576x576 or x=1x3x608x608"
    ), result.err
    assert result.out == ""
    assert list(tmp_path.iterdir()) == []


@pytest.mark.rtx
def test_compile_with_a_real_builder_writes_no_engine(cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "y.engine"
    result = cli(
        "compile", "yolov8n", "--weights", "random", "--backend", "tensorrt-rtx",
        "--shape", "x=1x3x600x600", "-o", str(out),
    )  # fmt: skip
    assert_one_line_stride_error(result)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "argv",
    [
        ["info", "yolov8n"],
        ["run", "yolov8n", "--weights", "random", "--backend", "reference"],
        ["bench", "yolov8n", "--weights", "random", "--backend", "emulated"],
        ["inspect", "yolov8n", "--weights", "random", "--backend", "emulated"],
        ["compare", "yolov8n", "--weights", "random", "--backend", "emulated"],
        ["export", "yolov8n", "--weights", "random", "--onnx", "{tmp}/y.onnx"],
    ],
    ids=lambda argv: argv[0],
)
def test_every_command_refuses_it_the_same_way(cli: Cli, tmp_path: Path, argv: list[str]) -> None:
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    result = cli(*argv, "--shape", "x=1x3x600x600")
    assert_one_line_stride_error(result)
    assert result.err.startswith(YOLO_600)
    assert list(tmp_path.iterdir()) == []


def test_only_the_bad_side_is_rounded(cli: Cli) -> None:
    result = cli("info", "yolov8n", "--shape", "x=2x3x640x20")
    assert_one_line_stride_error(result, "2x3x640x20")
    assert result.err.rstrip("\n").endswith("nearest valid: x=2x3x640x32"), result.err


def test_run_boxes_refuses_it_before_reading_the_photo(
    cli: Cli, photo: Path, tmp_path: Path
) -> None:
    boxes = tmp_path / "boxes.png"
    result = cli(
        "run", "yolov8n", "--weights", "random", "--backend", "reference",
        "--shape", "x=1x3x600x600", "--input", f"x={photo}", "--boxes", str(boxes),
    )  # fmt: skip
    assert_one_line_stride_error(result)
    assert not boxes.exists()


def test_608x608_compiles_on_the_emulator(cli: Cli) -> None:
    result = cli(
        "compile", "yolov8n", "--weights", "random", "--backend", "emulated",
        "--shape", "x=1x3x608x608",
    )  # fmt: skip
    assert result.code == 0, result.err
    assert "check (emulated): output0: " in result.out
    assert "on input x=1x3x608x608" in result.out


def test_a_small_multiple_of_32_runs_with_a_letterboxed_photo(
    cli: Cli, photo: Path, tmp_path: Path
) -> None:
    boxes = tmp_path / "boxes.png"
    result = cli(
        "run", "yolov8n", "--weights", "random", "--backend", "reference",
        "--shape", "x=1x3x64x64", "--input", f"x={photo}", "--boxes", str(boxes),
        "--conf", "0.01", "--max-det", "5",
    )  # fmt: skip
    assert result.code == 0, result.err
    assert "input x: float32[1x3x64x64]" in result.out
    assert boxes.is_file()


DETECTOR_YAML = """\
name: tiny_detector
inputs:
  x: {shape: [1, 3, 16, 16]}
  scale: {shape: [1, 1, 5, 5]}
layers:
  - {name: p1, op: conv2d, inputs: [x], out_channels: 4, kernel_size: 4, stride: 4}
  - {name: p2, op: conv2d, inputs: [p1], out_channels: 4, kernel_size: 2, stride: 2}
  - {name: grid, op: anchor_points, inputs: [p1, p2], strides: [4, 8]}
  - {name: other, op: relu, inputs: [scale]}
outputs:
  anchors: grid
  other: other
"""
"""A two-level anchor grid with strides 4 and 8 fed by input x; input scale does not reach it."""


def test_the_check_is_generic_in_the_head_strides(
    cli: Cli, write_model: Callable[[str, str], Path]
) -> None:
    model = write_model("detector.yaml", DETECTOR_YAML)
    graph = load_model(model)
    head = largest_stride(graph)
    assert head is not None and head[0].name == "grid" and head[1] == 8
    result = cli("info", str(model), "--shape", "x=1x3x20x20")
    assert result.code == 2 and result.err.count("\n") == 1, result.err
    assert "height and width 20x20 must be multiples of 8" in result.err
    assert "detection head grid (anchor_points, strides [4, 8] at " in result.err
    assert result.err.rstrip("\n").endswith("nearest valid: x=1x3x16x16 or x=1x3x24x24")
    assert cli("info", str(model), "--shape", "x=1x3x24x24").code == 0
    # Below the stride there is no smaller valid size to offer.
    with pytest.raises(UsageError, match=r"nearest valid: x=1x3x8x8$"):
        check_stride_multiples(graph, {"x": (1, 3, 4, 4)})
    # An input that does not reach the head is not checked.
    check_stride_multiples(graph, {"scale": (1, 1, 5, 5)})


def test_a_graph_without_anchor_nodes_is_not_checked(tiny_model: Path) -> None:
    graph = load_model(tiny_model)
    assert largest_stride(graph) is None
    check_stride_multiples(graph, {"x": (2, 3, 7, 9)})

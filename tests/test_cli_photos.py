"""Photos on the command line: ``--input x=photo.jpg`` preprocessed as the model declares
(ImageNet's by default), top-5 with ImageNet class names, and ``--mask`` for segmenters."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from trtdsl.cli.main import main
from trtdsl.vision import class_names, imagenet_classes, mask_labels, voc_classes, voc_palette

SEG = """\
name: seg
inputs:
  x: {shape: [1, 3, 32, 48], dtype: float32}
layers:
  - {name: conv, op: conv2d, out_channels: 21, kernel_size: 3, padding: 1}
outputs:
  out: conv
"""


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    from PIL import Image

    pixels = (np.random.default_rng(1).random((300, 400, 3)) * 255).astype(np.uint8)
    path = tmp_path / "photo.jpg"
    Image.fromarray(pixels).save(path)
    return path


def test_bundled_class_names() -> None:
    assert len(imagenet_classes()) == 1000 and imagenet_classes()[0] == "tench"
    assert imagenet_classes()[207] == "golden retriever"
    assert voc_classes()[0] == "__background__" and voc_classes()[15] == "person"
    assert class_names(21) == voc_classes() and class_names(7) is None
    assert voc_palette(3).tolist() == [[0, 0, 0], [128, 0, 0], [0, 128, 0]]


def test_a_photo_is_preprocessed_as_imagenet_and_top5_has_names(
    photo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from PIL import Image

    out = tmp_path / "out.npz"
    argv = ["run", "resnet18", "--weights", "random", "--backend", "reference"]
    assert main([*argv, "--input", f"x={photo}", "--save-outputs", "all", "-o", str(out)]) == 0
    text = capsys.readouterr().out
    top = text.split("row 0 top-5: ")[1].splitlines()[0]
    first = int(top.split()[0])
    assert top.startswith(f"{first} {imagenet_classes()[first]} (")
    with np.load(out) as saved:
        x = saved["x"]
    # torchvision's evaluation transform by hand: shorter side 256, center 224, ImageNet norm.
    with Image.open(photo) as image:
        resized = np.asarray(image.convert("RGB").resize((341, 256), Image.Resampling.BILINEAR))
    crop = resized[16:240, 58:282].astype(np.float32) / 255
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    want = ((crop - mean) / std).transpose(2, 0, 1)[None].astype(np.float32)
    np.testing.assert_allclose(x, want, atol=1e-6)


def test_a_yolo_photo_is_letterboxed_as_with_boxes(photo: Path, tmp_path: Path) -> None:
    """The YOLO zoo models declare ``preprocess: {letterbox: true, mean 0, std 1}``: a photo
    input is the same array ``--boxes`` draws from (Ultralytics' letterbox in [0, 1])."""
    from trtdsl.vision.detect import prepare_image

    out = tmp_path / "out.npz"
    argv = ["run", "yolov8n", "--weights", "random", "--backend", "reference"]
    shape = ["--shape", "x=1x3x64x64", "--input", f"x={photo}"]
    assert main([*argv, *shape, "--save-outputs", "all", "-o", str(out)]) == 0
    with np.load(out) as saved:
        x = saved["x"]
    want, box, _ = prepare_image(photo, (1, 3, 64, 64))
    assert box.pad == (0, 8)  # 400x300 -> 64x48, padded 8 rows above and below
    np.testing.assert_array_equal(x, want)


def test_mask_writes_a_colour_png_with_a_legend(
    photo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from PIL import Image

    model = tmp_path / "seg.yaml"
    model.write_text(SEG)
    mask = tmp_path / "mask.png"
    argv = ["run", str(model), "--weights", "random", "--backend", "reference"]
    assert (
        main([*argv, "--input", f"x={photo}", "--mask", str(mask), "-o", str(tmp_path / "o.npz")])
        == 0
    )
    text = capsys.readouterr().out
    assert f"wrote {mask}: " in text and "class(es) present (" in text
    with np.load(tmp_path / "o.npz") as saved:
        labels = mask_labels(saved["out"])
    with Image.open(mask) as drawn:
        pixels = np.asarray(drawn.convert("RGB"))
    assert pixels.shape[1] >= 48 and pixels.shape[0] > 32  # the mask, then the legend
    np.testing.assert_array_equal(pixels[:32, :48], voc_palette()[labels])
    values, counts = np.unique(labels, return_counts=True)
    most = voc_classes()[int(values[np.argmax(counts)])]
    assert f"class(es) present ({most} " in text


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--mask", "NOWHERE/m.png"], "does not exist"),
        (["--input", "x=BAD"], "not an image Pillow can read"),
    ],
)
def test_photo_errors_exit_2_in_one_line(
    extra: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.jpg"
    bad.write_text("not an image")
    extra = [
        e.replace("NOWHERE", str(tmp_path / "missing")).replace("BAD", str(bad)) for e in extra
    ]
    argv = ["run", "resnet18", "--weights", "random", "--backend", "reference", *extra]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err

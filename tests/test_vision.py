"""Letterboxing as Ultralytics does it, box rescaling, and --boxes drawing (Pillow)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from trtdsl.backends.reference import run_reference
from trtdsl.errors import UsageError
from trtdsl.frontend.load import load_model
from trtdsl.passes.nms import add_nms_stage
from trtdsl.vision import COCO_NAMES, letterbox, prepare_image, scale_boxes, write_boxes_png
from trtdsl.weights import random_weights


def _photo(h: int, w: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    low = rng.integers(0, 256, (h // 8 + 1, w // 8 + 1, 3)).astype(np.float64)
    return np.repeat(np.repeat(low, 8, 0), 8, 1)[:h, :w].astype(np.uint8)


@pytest.mark.parametrize("shape", [(480, 640), (427, 640), (640, 360), (200, 300)])
def test_letterbox_geometry_matches_ultralytics(shape: tuple[int, int]) -> None:
    tensor, box = letterbox(_photo(*shape))
    assert tensor.shape == (1, 3, 640, 640) and tensor.dtype == np.float32
    h, w = shape
    r = min(640 / h, 640 / w)
    assert box.ratio == r
    new_w, new_h = round(w * r), round(h * r)
    assert box.pad == (round((640 - new_w) / 2 - 0.1), round((640 - new_h) / 2 - 0.1))
    grey = 114 / 255
    if box.pad[1] > 0:
        assert np.all(tensor[0, :, 0] == np.float32(grey))


def test_letterbox_pixels_match_ultralytics_letterbox() -> None:
    pytest.importorskip("cv2")
    from ultralytics_support import import_ultralytics

    import_ultralytics()
    from ultralytics.data.augment import LetterBox

    image = _photo(427, 640)
    want = LetterBox(new_shape=(640, 640), auto=False)(image=image[..., ::-1].copy())[..., ::-1]
    got, _ = letterbox(image)
    diff = np.abs(np.rint(got[0].transpose(1, 2, 0) * 255) - want.astype(np.float64))
    assert diff.max() <= 2  # OpenCV's fixed-point bilinear vs exact rounding


def test_input_size_not_a_multiple_of_the_stride_is_refused() -> None:
    with pytest.raises(UsageError, match="not a multiple of the largest stride 32"):
        letterbox(_photo(100, 100), (650, 640))


def test_scale_boxes_undo_the_letterbox() -> None:
    _, box = letterbox(_photo(320, 640))
    mapped = scale_boxes(np.array([[0.0, 160.0, 640.0, 480.0]]), box)
    np.testing.assert_allclose(mapped, [[0, 0, 640, 320]])


def test_boxes_png_from_the_nms_stage(tmp_path: Path) -> None:
    from PIL import Image

    photo = tmp_path / "photo.jpg"
    Image.fromarray(_photo(240, 320)).save(photo)
    graph = add_nms_stage(load_model("yolov8n", {"x": (1, 3, 320, 320)}), score_threshold=0.0)
    x, box, image = prepare_image(photo, graph.types["x"].shape)
    outputs = run_reference(graph, random_weights(graph, seed=0), {"x": x})
    drawn = write_boxes_png(tmp_path / "out.png", image, box, outputs)
    assert drawn == int(outputs["count"][0]) > 0
    with Image.open(tmp_path / "out.png") as out:
        assert out.size == (320, 240)
    assert len(COCO_NAMES) == 80 and COCO_NAMES[0] == "person"


def test_boxes_need_the_nms_outputs(tmp_path: Path) -> None:
    _, box = letterbox(_photo(64, 64))
    with pytest.raises(UsageError, match="add the NMS stage"):
        write_boxes_png(tmp_path / "o.png", _photo(64, 64), box, {"output0": np.zeros(1)})

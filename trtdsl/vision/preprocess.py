"""How a photo becomes a model input (``Preprocess``), and a YAML model's ``preprocess:``
mapping. Used by ``vision.photos`` (photos in) and by calibration's image folders."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from trtdsl.errors import ModelError, UsageError
from trtdsl.files import read_text

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
RESIZE_RATIO = 256 / 224
"""torchvision's ImageNet evaluation: resize the shorter side to 256, center-crop 224."""

PREPROCESS_KEYS = ("resize", "crop", "mean", "std", "channels", "letterbox")


@dataclass(frozen=True)
class Preprocess:
    """How an image becomes a model input sample.

    Attributes:
        resize: the shorter side after resizing (bilinear); None: the crop's larger side x
            256/224, torchvision's ImageNet ratio.
        crop: (height, width) of the center crop; None: the model input's spatial size.
        mean, std: per channel, applied after scaling pixels to [0, 1] (ImageNet's by default;
            mean 0 and std 1 for none).
        channels: ``"rgb"`` or ``"bgr"`` (channel order of the NCHW sample).
        letterbox: resize to fit inside the input keeping the aspect ratio and pad with gray
            (114), as Ultralytics' detectors expect (``resize`` is then unused); otherwise
            resize the shorter side and center-crop.
    """

    resize: int | None = None
    crop: tuple[int, int] | None = None
    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD
    channels: str = "rgb"
    letterbox: bool = False

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], where: str) -> Preprocess:
        """A Preprocess from a YAML ``preprocess:`` mapping or CLI options (``where`` names
        the source in errors)."""
        unknown = [k for k in values if k not in PREPROCESS_KEYS]
        if unknown:
            raise UsageError(
                f"{where}: unknown preprocess key(s) {', '.join(map(repr, unknown))} "
                f"(expected: {', '.join(PREPROCESS_KEYS)})"
            )
        kwargs: dict[str, Any] = {}
        if values.get("resize") is not None:
            kwargs["resize"] = _positive_int(values["resize"], f"{where}: resize")
        if values.get("crop") is not None:
            kwargs["crop"] = _size(values["crop"], f"{where}: crop")
        for key in ("mean", "std"):
            if values.get(key) is not None:
                kwargs[key] = _floats(values[key], f"{where}: {key}", positive=key == "std")
        if values.get("channels") is not None:
            channels = str(values["channels"]).lower()
            if channels not in ("rgb", "bgr"):
                raise UsageError(
                    f"{where}: channels must be rgb or bgr, got {values['channels']!r}"
                )
            kwargs["channels"] = channels
        if values.get("letterbox") is not None:
            if not isinstance(values["letterbox"], bool):
                raise UsageError(
                    f"{where}: letterbox must be true or false, got {values['letterbox']!r}"
                )
            kwargs["letterbox"] = values["letterbox"]
        return cls(**kwargs)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["crop"] = list(self.crop) if self.crop else None
        d["mean"], d["std"] = list(self.mean), list(self.std)
        return d


def _positive_int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UsageError(f"{what} must be a positive int, got {value!r}")
    return value


def _size(value: Any, what: str) -> tuple[int, int]:
    if isinstance(value, str):
        try:
            value = [int(v) for v in value.lower().split("x")]
        except ValueError:
            raise UsageError(f"{what} must be N or HxW, got {value!r}") from None
    if isinstance(value, int):
        value = [value]
    if not isinstance(value, (list, tuple)) or len(value) not in (1, 2):
        raise UsageError(f"{what} must be N or HxW, got {value!r}")
    sizes = [_positive_int(v, what) for v in value]
    return (sizes[0], sizes[-1])


def _floats(value: Any, what: str, positive: bool = False) -> tuple[float, ...]:
    if isinstance(value, str):
        value = value.split(",")
    try:
        result = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        raise UsageError(f"{what} must be a list of numbers, got {value!r}") from None
    if not result or not all(np.isfinite(result)) or (positive and min(result) <= 0):
        raise UsageError(f"{what} must be finite{' positive' if positive else ''} numbers")
    return result


def read_model_preprocess(model_path: str | os.PathLike[str] | None) -> dict[str, Any]:
    """The ``preprocess:`` mapping of a YAML model file ({} if it has none).

    Raises:
        FileError: the file cannot be read; ModelError: it is not YAML; UsageError: its
        ``preprocess:`` is not a mapping.
    """
    if model_path is None or Path(model_path).suffix not in (".yaml", ".yml"):
        return {}
    import yaml

    where = os.fspath(model_path)
    text = read_text(model_path)
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(e, "problem", None) or type(e).__name__
        raise ModelError(f"{where}: not valid YAML{line} ({problem})") from None
    except RecursionError:
        raise ModelError(f"{where}: not valid YAML (nested too deeply)") from None
    section = document.get("preprocess") if isinstance(document, dict) else None
    if section is None:
        return {}
    if not isinstance(section, dict):
        raise UsageError(f"{where}: preprocess: expected a mapping of {PREPROCESS_KEYS}")
    return section

"""Class names bundled with trtdsl: ImageNet-1k (torchvision's classifiers, 1000 names in
class-index order) and Pascal VOC (torchvision's segmenters, 21 with background first).

The name lists are torchvision's (``torchvision/models/_meta.py``, BSD-3-Clause), kept as
plain text files so the package needs no torchvision at run time.
"""

from __future__ import annotations

from functools import cache
from importlib import resources


@cache
def imagenet_classes() -> tuple[str, ...]:
    """The 1000 ImageNet-1k class names, by class index."""
    return _read("imagenet_classes.txt")


@cache
def voc_classes() -> tuple[str, ...]:
    """The 21 Pascal VOC class names of torchvision's segmenters (index 0: background)."""
    return _read("voc_classes.txt")


def class_names(count: int) -> tuple[str, ...] | None:
    """The bundled names for a ``count``-class output (1000: ImageNet, 21: VOC, 80: COCO),
    or None when trtdsl bundles none of that size."""
    from trtdsl.vision.coco import COCO_NAMES

    for names in (imagenet_classes(), voc_classes(), COCO_NAMES):
        if len(names) == count:
            return names
    return None


def _read(name: str) -> tuple[str, ...]:
    text = resources.files("trtdsl.vision").joinpath(name).read_text(encoding="utf-8")
    return tuple(line for line in text.splitlines() if line)

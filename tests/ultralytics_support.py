"""Ultralytics YOLO models for parity tests, built offline from Ultralytics' bundled YAML.

Ultralytics imports torchvision, whose compiled ops (``torchvision::nms``) do not load with
the CPU torch here; ``import_ultralytics`` registers a bare ``torchvision`` package (its Python
files, not its C extension) whose ``ops.nms`` is Ultralytics' own pure-torch ``TorchNMS.nms``
(documented to match torchvision exactly), then imports ``ultralytics``. Nothing is downloaded.
Install: ``pip install ultralytics --no-deps`` plus opencv-python-headless, polars, psutil,
matplotlib, ultralytics-thop, and ``torchvision --no-deps``.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import sys
import tempfile
import types
from typing import Any

import numpy as np
import pytest


def _stub_torchvision() -> None:
    """A bare ``torchvision`` package (its Python files, its ``__init__`` not run, so its C
    extension is not loaded) unless one is registered already (tests/test_zoo_dense.py does
    the same), and ``torchvision.ops.nms`` replaced by Ultralytics' pure-torch NMS."""
    if "torchvision" not in sys.modules:
        spec = importlib.util.find_spec("torchvision")
        package = types.ModuleType("torchvision")
        package.__path__ = list(spec.submodule_search_locations or []) if spec else []
        package.__spec__ = importlib.machinery.ModuleSpec("torchvision", None, is_package=True)
        package.__version__ = "0.0.0+trtdsl-stub"  # type: ignore[attr-defined]
        sys.modules["torchvision"] = package
    import torchvision.ops as ops

    def nms(boxes: Any, scores: Any, iou_threshold: float) -> Any:
        from ultralytics.utils.nms import TorchNMS

        return TorchNMS.nms(boxes, scores, iou_threshold)

    ops.nms = nms


def import_ultralytics() -> types.ModuleType:
    """``ultralytics.nn.tasks`` (skips the calling test where Ultralytics is not installed)."""
    pytest.importorskip("torch")
    if importlib.util.find_spec("ultralytics") is None:
        pytest.skip("needs ultralytics (see tests/ultralytics_support.py for the install)")
    config = os.path.join(tempfile.gettempdir(), "trtdsl-ultralytics")
    os.environ.setdefault("YOLO_CONFIG_DIR", config)
    os.environ.setdefault("YOLO_OFFLINE", "1")
    _stub_torchvision()
    from PIL import Image

    open_image = Image.open
    from ultralytics.nn import tasks

    # Ultralytics replaces PIL's Image.open (HEIF support through pi_heif, absent here), which
    # makes a non-image raise ModuleNotFoundError in every later test of this process.
    Image.open = open_image
    return tasks


def detection_model(cfg: str, seed: int = 0) -> Any:
    """Ultralytics' ``DetectionModel(cfg)`` (``yolov8n.yaml``, ...) in eval mode, seeded, with
    non-trivial BatchNorm statistics and affine parameters (uniform random)."""
    import torch

    tasks = import_ultralytics()
    torch.manual_seed(seed)
    model = tasks.DetectionModel(cfg, verbose=False)
    generator = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                c = module.num_features
                module.running_mean.copy_(torch.randn(c, generator=generator) * 0.1)
                module.running_var.copy_(torch.rand(c, generator=generator) * 0.5 + 0.5)
                module.weight.copy_(torch.rand(c, generator=generator) * 0.5 + 0.75)
                module.bias.copy_(torch.randn(c, generator=generator) * 0.1)
        # Detect's bias_init puts every class logit near -10 (scores ~1e-4); spread them so
        # that scores cover (0, 1) and some boxes pass a 0.25 threshold.
        detect = model.model[-1]
        for branch in detect.cv3:
            branch[-1].bias.copy_(torch.randn(detect.nc, generator=generator) - 4.0)
    return model.eval()


def state_dict_arrays(model: Any) -> dict[str, np.ndarray]:
    """The model's state_dict as NumPy arrays (keys unchanged)."""
    return {k: v.detach().cpu().numpy().copy() for k, v in model.state_dict().items()}

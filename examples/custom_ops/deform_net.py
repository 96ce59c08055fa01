"""A Python model using custom ops from files beside it: a convolution predicts the offsets
and the modulation mask of a deformable convolution (deformable ConvNets v2), with Mish.

    trtdsl info examples/custom_ops/deform_net.py
    trtdsl run examples/custom_ops/deform_net.py --weights random --backend emulated

A ``.py`` model registers its ops by loading their files (``trtdsl.load_ops``); no ``--ops``
is needed for it.
"""

from __future__ import annotations

from pathlib import Path

import trtdsl

HERE = Path(__file__).resolve().parent
trtdsl.load_ops(HERE / "mish.py")
trtdsl.load_ops(HERE / "deform_conv2d.py")


def build() -> trtdsl.Graph:
    b = trtdsl.ModelBuilder("deform_net")
    x = b.input("x", (1, 4, 12, 12))
    offset = b.conv2d(x, out_channels=18, kernel_size=3, padding=1, name="offset")
    mask = b.sigmoid(b.conv2d(x, out_channels=9, kernel_size=3, padding=1, name="mask_conv"),
                     name="mask")  # fmt: skip
    y = b.deform_conv2d(x, offset, mask, out_channels=8, kernel_size=3, padding=1, name="dcn")
    b.output(b.mish(y, name="act"), "y")
    return b.build()

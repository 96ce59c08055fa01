"""Channel shuffle (ShuffleNet), as ``torch.nn.ChannelShuffle``. MACs: 0."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from trtdsl.errors import ShapeError
from trtdsl.ir.ops.base import Op, check_int, register_op
from trtdsl.ir.types import TensorType


@register_op
@dataclass(frozen=True)
class ChannelShuffle(Op):
    """Interleave ``groups`` channel groups, as ``torch.nn.ChannelShuffle(groups)``.

    Input (N, C, d2, ..., dk), k >= 2, C divisible by ``groups``; output of the same shape
    where output channel ``j * groups + g`` is input channel ``g * (C // groups) + j``
    (view as (N, groups, C // groups, ...), swap axes 1 and 2, view back).
    Only the batch dimension N may be symbolic. No weights.
    """

    op_name = "channel_shuffle"

    groups: int

    def __post_init__(self) -> None:
        check_int(self, "groups", 1)

    def infer(self, inputs: Sequence[TensorType]) -> TensorType:
        x = inputs[0]
        if x.rank < 3:
            raise ShapeError(
                f"channel_shuffle: expected an input (N, C, ...) of rank >= 3, got {x}"
            )
        symbolic = [d for d in x.shape[1:] if isinstance(d, str)]
        if symbolic:
            raise ShapeError(
                f"channel_shuffle: only the batch dimension may be symbolic, got {x} "
                f"(symbolic {symbolic})"
            )
        channels = x.shape[1]
        assert isinstance(channels, int)
        if channels % self.groups:
            raise ShapeError(
                f"channel_shuffle: {channels} channels of {x} do not divide into "
                f"{self.groups} groups"
            )
        return x

    def reference(
        self, inputs: Sequence[np.ndarray], params: Mapping[str, np.ndarray]
    ) -> np.ndarray:
        x = inputs[0]
        n, c, *rest = x.shape
        grouped = x.reshape(n, self.groups, c // self.groups, *rest)
        return np.ascontiguousarray(np.swapaxes(grouped, 1, 2)).reshape(x.shape)

"""Emitter for channel shuffle: two IShuffleLayers (view + transpose, view back)."""

from __future__ import annotations

from typing import Any

from trtdsl.backends.trt.context import EmitContext, emitter
from trtdsl.ir.graph import Node
from trtdsl.ir.ops.shuffle import ChannelShuffle


@emitter(ChannelShuffle)
def emit_channel_shuffle(ctx: EmitContext, node: Node) -> Any:
    """(N, C, ...) -> reshape (N, groups, C/groups, ...) and swap axes 1, 2 (one IShuffleLayer,
    ``node/group``), then reshape to (N, C, ...). Only N may be dynamic: it is written as 0,
    which copies the input's size at the same index (``zero_is_placeholder``, the default)."""
    op: ChannelShuffle = node.op  # type: ignore[assignment]
    x = ctx.input_type(node)
    batch = x.shape[0] if isinstance(x.shape[0], int) else 0
    channels = int(x.shape[1])
    rest = tuple(int(d) for d in x.shape[2:])
    grouped = ctx.network.add_shuffle(ctx.input(node))
    if grouped is not None:
        grouped.reshape_dims = (batch, op.groups, channels // op.groups, *rest)
        grouped.second_transpose = (0, 2, 1, *range(3, x.rank + 1))
    swapped = ctx.add(node, grouped, "group").get_output(0)
    merged = ctx.network.add_shuffle(swapped)
    if merged is not None:
        merged.reshape_dims = (batch, channels, *rest)
    return merged

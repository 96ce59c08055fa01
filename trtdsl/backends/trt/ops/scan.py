"""Emitter for ``cumsum``: ICumulativeLayer (SUM, inclusive, forward)."""

from __future__ import annotations

from typing import Any

import numpy as np

from trtdsl.backends.trt.context import EmitContext, emitter, trt_dtype
from trtdsl.ir.graph import Node
from trtdsl.ir.ops.scan import Cumsum
from trtdsl.ir.types import DType


@emitter(Cumsum)
def emit_cumsum(ctx: EmitContext, node: Node) -> Any:
    """ICumulativeLayer along ``dim``, given as a 0-D int32 constant (``node/axis``: TensorRT
    takes the axis as a build-time constant tensor); an int32 input is cast to int64 first
    (``node/to_int64``), as PyTorch promotes integers."""
    op: Cumsum = node.op  # type: ignore[assignment]
    x_type = ctx.input_type(node)
    x = ctx.input(node)
    if x_type.dtype is DType.INT32:
        cast = ctx.network.add_cast(x, trt_dtype(ctx.trt, DType.INT64))
        x = ctx.add(node, cast, "to_int64").get_output(0)
    axis = ctx.constant(node, "axis", np.asarray(op.dim % x_type.rank, np.int32), DType.INT32)
    return ctx.network.add_cumulative(x, axis, ctx.trt.CumulativeOperation.SUM, False, False)

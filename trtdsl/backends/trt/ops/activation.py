"""Emitters for pointwise activations: IActivationLayer, or a short chain where TensorRT has
no matching ActivationType (SiLU, Hardswish)."""

from __future__ import annotations

from typing import Any

import numpy as np

from trtdsl.backends.trt.context import EmitContext, emitter
from trtdsl.errors import BackendError
from trtdsl.ir.graph import Node
from trtdsl.ir.ops.activation import (
    GELU,
    Clip,
    Hardsigmoid,
    Hardswish,
    LeakyReLU,
    ReLU,
    ReLU6,
    Sigmoid,
    SiLU,
    Tanh,
)
from trtdsl.ir.types import DType

_FINITE_MAX = {
    DType.FLOAT32: float(np.finfo(np.float32).max),
    DType.FLOAT16: float(np.finfo(np.float16).max),  # 65504
    DType.BFLOAT16: float(np.uint32(0x7F7F0000).view(np.float32)),  # (2 - 2**-7) * 2**127
}
"""The largest finite value of each float compute dtype (every one exact in float32)."""


def finite_max(dtype: DType) -> float:
    """The largest finite value of ``dtype``: the open bound of a one-sided clip.

    NOTE: TensorRT-RTX keeps CLIP's alpha/beta in the layer's compute type; a float16 or
    bfloat16 bound at the float32 maximum overflows and it prints "operand op_beta payload type
    requires precision-lose casting" on stdout. Inside the dtype's range the bound only clips
    infinities to the largest finite value.
    """
    try:
        return _FINITE_MAX[dtype]
    except KeyError:
        raise BackendError(f"clip: no finite range for {dtype} (a float dtype is needed)") from None


def _activation(
    ctx: EmitContext,
    node: Node,
    kind: str,
    alpha: float | None = None,
    beta: float | None = None,
    part: str | None = None,
) -> Any:
    """``add_activation(x, ActivationType.<kind>)`` with alpha/beta set when given."""
    layer = ctx.network.add_activation(ctx.input(node), getattr(ctx.trt.ActivationType, kind))
    if layer is not None:
        if alpha is not None:
            layer.alpha = alpha
        if beta is not None:
            layer.beta = beta
    return layer if part is None else ctx.add(node, layer, part)


@emitter(ReLU)
def emit_relu(ctx: EmitContext, node: Node) -> Any:
    return _activation(ctx, node, "RELU")


@emitter(ReLU6)
def emit_relu6(ctx: EmitContext, node: Node) -> Any:
    """CLIP computes max(alpha, min(beta, x)): alpha = 0, beta = 6."""
    return _activation(ctx, node, "CLIP", alpha=0.0, beta=6.0)


@emitter(Clip)
def emit_clip(ctx: EmitContext, node: Node) -> Any:
    """CLIP with alpha = min, beta = max; a missing bound is the compute dtype's largest finite
    value (see ``finite_max``)."""
    op: Clip = node.op  # type: ignore[assignment]
    largest = finite_max(ctx.compute_dtype(node))
    low = -largest if op.min is None else op.min
    high = largest if op.max is None else op.max
    return _activation(ctx, node, "CLIP", alpha=low, beta=high)


@emitter(LeakyReLU)
def emit_leaky_relu(ctx: EmitContext, node: Node) -> Any:
    op: LeakyReLU = node.op  # type: ignore[assignment]
    return _activation(ctx, node, "LEAKY_RELU", alpha=op.negative_slope)


@emitter(Sigmoid)
def emit_sigmoid(ctx: EmitContext, node: Node) -> Any:
    return _activation(ctx, node, "SIGMOID")


@emitter(Tanh)
def emit_tanh(ctx: EmitContext, node: Node) -> Any:
    return _activation(ctx, node, "TANH")


@emitter(GELU)
def emit_gelu(ctx: EmitContext, node: Node) -> Any:
    """GELU_ERF for ``approximate="none"`` (PyTorch's default), GELU_TANH for ``"tanh"``."""
    op: GELU = node.op  # type: ignore[assignment]
    return _activation(ctx, node, "GELU_TANH" if op.approximate == "tanh" else "GELU_ERF")


@emitter(Hardsigmoid)
def emit_hardsigmoid(ctx: EmitContext, node: Node) -> Any:
    """HARD_SIGMOID is max(0, min(1, alpha*x + beta)); PyTorch's is alpha 1/6, beta 0.5."""
    return _activation(ctx, node, "HARD_SIGMOID", alpha=1.0 / 6.0, beta=0.5)


@emitter(SiLU)
def emit_silu(ctx: EmitContext, node: Node) -> Any:
    """x * sigmoid(x). NOTE: ActivationType has no SiLU/Swish (``SILU`` is a MoE enum)."""
    gate = _activation(ctx, node, "SIGMOID", part="sigmoid")
    return ctx.network.add_elementwise(
        ctx.input(node), gate.get_output(0), ctx.trt.ElementWiseOperation.PROD
    )


@emitter(Hardswish)
def emit_hardswish(ctx: EmitContext, node: Node) -> Any:
    """x * hardsigmoid(x), as ``torch.nn.functional.hardswish``."""
    gate = _activation(ctx, node, "HARD_SIGMOID", alpha=1.0 / 6.0, beta=0.5, part="hardsigmoid")
    return ctx.network.add_elementwise(
        ctx.input(node), gate.get_output(0), ctx.trt.ElementWiseOperation.PROD
    )

"""Mish, ``x * tanh(softplus(x))`` (as YOLOv4 uses, ``torch.nn.functional.mish``), defined
outside trtdsl twice: composed from TensorRT layers (``mish``: builds on TensorRT,
TensorRT-RTX and the emulator) and as a TensorRT plugin with a CUDA C kernel compiled by
NVRTC (``mish_plugin``: TensorRT only; the emulator runs its reference).

Use it with ``trtdsl ... --ops examples/custom_ops/mish.py`` or, from a Python model,
``trtdsl.load_ops(Path(__file__).with_name("mish.py"))``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

import trtdsl


def mish_reference(x: np.ndarray) -> np.ndarray:
    """Mish of ``x`` in float32, with softplus as ``logaddexp(0, x)`` (no overflow)."""
    x32 = np.asarray(x, dtype=np.float32)
    return (x32 * np.tanh(np.logaddexp(np.float32(0), x32))).astype(x.dtype)


@trtdsl.custom_op
@dataclass(frozen=True)
class Mish(trtdsl.CustomOp):
    """Mish, x * tanh(softplus(x)), as ``torch.nn.functional.mish``; composed from TensorRT
    layers: SOFTPLUS and TANH activations and a product. Shape and dtype preserved."""

    op_name = "mish"
    follows_precision = True  # plain TensorRT layers: any float precision works

    def infer(self, inputs: Sequence[trtdsl.TensorType]) -> trtdsl.TensorType:
        if not inputs[0].dtype.is_float:
            raise trtdsl.ShapeError(f"mish: expected a floating-point input, got {inputs[0]}")
        return inputs[0]

    def reference(
        self, inputs: Sequence[np.ndarray], params: Mapping[str, np.ndarray]
    ) -> np.ndarray:
        return mish_reference(inputs[0])

    def emit(self, ctx: Any, node: Any) -> Any:
        trt, network = ctx.trt, ctx.network
        x = ctx.input(node)
        softplus = network.add_activation(x, trt.ActivationType.SOFTPLUS)
        if softplus is not None:  # softplus(x) = alpha * log(exp(beta * x) + 1)
            softplus.alpha, softplus.beta = 1.0, 1.0
        ctx.add(node, softplus, "softplus")
        tanh = ctx.add(
            node, network.add_activation(softplus.get_output(0), trt.ActivationType.TANH), "tanh"
        )
        return network.add_elementwise(x, tanh.get_output(0), trt.ElementWiseOperation.PROD)


MISH_CUDA = r"""
extern "C" __global__ void mish_kernel(const float* x, float* y, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        float v = x[i];
        // softplus(v) = log1p(exp(v)), computed without overflow for large v
        float sp = v > 20.0f ? v : log1pf(expf(v));
        y[i] = v * tanhf(sp);
    }
}
"""


@trtdsl.custom_op
@dataclass(frozen=True)
class MishPlugin(trtdsl.CustomOp):
    """Mish as a TensorRT plugin: one CUDA thread per element (float32). Shape preserved."""

    op_name = "mish_plugin"
    kernel = trtdsl.PluginKernel(MISH_CUDA, "mish_kernel")

    def infer(self, inputs: Sequence[trtdsl.TensorType]) -> trtdsl.TensorType:
        if inputs[0].dtype is not trtdsl.DType.FLOAT32:
            raise trtdsl.ShapeError(f"mish_plugin: expected a float32 input, got {inputs[0]}")
        return inputs[0]

    def reference(
        self, inputs: Sequence[np.ndarray], params: Mapping[str, np.ndarray]
    ) -> np.ndarray:
        return mish_reference(inputs[0])

    def launch(self, shapes: Sequence[tuple[int, ...]]) -> trtdsl.KernelLaunch:
        n = int(np.prod(shapes[0]))
        return trtdsl.KernelLaunch(grid=((n + 255) // 256, 1, 1), block=(256, 1, 1), scalars=(n,))

"""Pointwise activations in float32, written over their input a cache-sized block at a time.

Each formula is the op's definition rearranged for float32 (no float64 temporaries, no
allocation per call): e.g. ``silu(x) = x / (1 + exp(-x))``, ``gelu(x) = x * Phi(x)`` with the
normal CDF from the erfc fit of Numerical Recipes (relative error below 1.2e-7 at every x,
tails included). Results are within a few float32 ulps of the float64 definitions in
``trtdsl.ir.ops.activation`` (``tests/test_kernels_pointwise.py`` checks it), and every
element is computed by the same sequence of ufuncs whatever the array's size, layout, blocking
or thread count: a fused conv epilogue equals the separate op bit for bit.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from trtdsl.kernels.parallel import parallel_for
from trtdsl.kernels.scratch import scratch
from trtdsl.kernels.special import ERFC_COEFFS

KINDS = (
    "relu",
    "relu6",
    "clip",
    "leaky_relu",
    "sigmoid",
    "silu",
    "x_sigmoid",
    "tanh",
    "gelu",
    "gelu_tanh",
    "hardsigmoid",
    "hardswish",
)
"""The activations these kernels compute (``gelu`` is the erf form, ``gelu_tanh`` PyTorch's
``approximate="tanh"``; ``clip`` takes ``alpha``/``beta`` as min/max, ``leaky_relu`` ``alpha``
as the negative slope; ``x_sigmoid`` is SiLU as TensorRT lowers it, ``x * sigmoid(x)``: the
product of x and the rounded ``sigmoid`` value)."""

BLOCK = 1 << 14
"""Elements per block: the passes of a formula run on one block (64 KiB of float32 per
temporary) while it is in cache."""

_WHOLE = frozenset({"relu", "relu6", "clip"})
"""Kinds computed in place with no temporary and no floating-point warning (maxima and minima):
applied to the whole array in one call per pass. Blocks only keep other formulas' temporaries
in cache, and cost a Python call each (a conv tile's ReLU was 8 calls at batch 8)."""

TILE = 1 << 18
"""Elements per parallel tile of ``activate`` (a whole number of blocks)."""


@dataclass(frozen=True)
class Activation:
    """A pointwise activation: ``kind`` (one of KINDS) and its parameters.

    ``clip``: ``alpha`` = min, ``beta`` = max (``-inf``/``inf`` for no bound);
    ``leaky_relu``: ``alpha`` = negative slope. Others ignore ``alpha`` and ``beta``.
    """

    kind: str
    alpha: float = 0.0
    beta: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown activation {self.kind!r}; expected one of {KINDS}")

    def apply_(self, x: np.ndarray) -> None:
        """Overwrite ``x`` (float32, any shape; contiguous innermost axis is fastest) with f(x).

        Arrays larger than BLOCK are done in blocks when C-contiguous (temporaries are
        per-thread scratch of one block), except the ``_WHOLE`` kinds.
        """
        assert x.dtype == np.float32, x.dtype
        if self.kind in _WHOLE:
            _FORMULAS[self.kind](x, self)
            return
        formula = _FORMULAS[self.kind]
        with np.errstate(all="ignore"):  # once per call, not per block
            if x.size > BLOCK and x.flags.c_contiguous:
                flat = x.reshape(-1)
                for start in range(0, flat.size, BLOCK):
                    formula(flat[start : start + BLOCK], self)
            else:
                formula(x, self)


def activate(x: np.ndarray, activation: Activation, out: np.ndarray | None = None) -> np.ndarray:
    """``activation`` of ``x``, computed in float32 on the kernels' threads.

    Args:
        x: any shape, float16/float32 (or other floats, computed in float32).
        out: where to write (x's shape and dtype, C-contiguous), e.g. ``x`` itself; None for a
            new array.
    Returns:
        C-contiguous, x's shape and dtype.
    """
    if out is None:
        out = np.empty(x.shape, x.dtype)
    assert out.shape == x.shape and out.dtype == x.dtype and out.flags.c_contiguous
    src = np.ascontiguousarray(x).reshape(-1)
    dst = out.reshape(-1)
    same = np.may_share_memory(src, dst)
    tiles = -(-src.size // TILE)

    def tile(i: int) -> None:
        lo, hi = i * TILE, min((i + 1) * TILE, src.size)
        if dst.dtype == np.float32:
            if not same:
                np.copyto(dst[lo:hi], src[lo:hi], casting="unsafe")
            activation.apply_(dst[lo:hi])  # in blocks where its formula needs them
            return
        for start in range(lo, hi, BLOCK):  # computed in float32, rounded once
            stop = min(start + BLOCK, hi)
            block = scratch("activate", (stop - start,), np.float32)
            np.copyto(block, src[start:stop], casting="unsafe")
            activation.apply_(block)
            np.copyto(dst[start:stop], block, casting="unsafe")

    parallel_for(tiles, tile)
    return out


def _temp(x: np.ndarray, slot: str, dtype: type = np.float32) -> np.ndarray:
    return scratch(f"pointwise.{slot}", x.shape, dtype)


def _relu(x: np.ndarray, a: Activation) -> None:
    np.maximum(x, np.float32(0), out=x)


def _relu6(x: np.ndarray, a: Activation) -> None:
    np.maximum(x, np.float32(0), out=x)
    np.minimum(x, np.float32(6), out=x)


def _clip(x: np.ndarray, a: Activation) -> None:
    if a.alpha > -math.inf:
        np.maximum(x, np.float32(a.alpha), out=x)
    if a.beta < math.inf:
        np.minimum(x, np.float32(a.beta), out=x)


def _leaky_relu(x: np.ndarray, a: Activation) -> None:
    negative = _temp(x, "mask", np.bool_)
    np.less_equal(x, np.float32(0), out=negative)  # NaN stays NaN (it is not <= 0)
    np.multiply(x, np.float32(a.alpha), out=x, where=negative)


def _sigmoid(x: np.ndarray, a: Activation) -> None:
    _sigmoid_into(x, x)


def _sigmoid_into(x: np.ndarray, out: np.ndarray) -> None:
    # 1 / (1 + exp(-x)): exp overflows to inf below -88.7, giving exactly 0.
    np.negative(x, out=out)
    np.exp(out, out=out)
    np.add(out, np.float32(1), out=out)
    np.reciprocal(out, out=out)


def _silu(x: np.ndarray, a: Activation) -> None:
    # x / (1 + exp(-x)): below -88.7 exp overflows to inf and x / inf is -0.
    t = _temp(x, "t")
    np.negative(x, out=t)
    np.exp(t, out=t)
    np.add(t, np.float32(1), out=t)
    np.divide(x, t, out=x)


def _x_sigmoid(x: np.ndarray, a: Activation) -> None:
    # x * sigmoid(x), the sigmoid rounded first (as a SIGMOID layer and a PROD compute it).
    t = _temp(x, "t")
    _sigmoid_into(x, t)
    np.multiply(x, t, out=x)


def _tanh(x: np.ndarray, a: Activation) -> None:
    np.tanh(x, out=x)


# Numerical Recipes' erfc(z) = t * exp(-z^2 + P(t)), t = 1 / (1 + z/2), z >= 0 (fractional
# error < 1.2e-7 everywhere), with ln(1/2) folded into P's constant: Phi(-|x|) =
# erfc(|x|/sqrt(2)) / 2 = t * exp(P'(t) - x^2/2), t = 1 / (1 + |x| / (2 sqrt(2))).
_ERFC = (ERFC_COEFFS[0] + math.log(0.5), *ERFC_COEFFS[1:])
_ERFC32 = tuple(np.float32(c) for c in _ERFC)


def _gelu(x: np.ndarray, a: Activation) -> None:
    # x * Phi(x), Phi(x) = Phi(-|x|) for x < 0 and 1 - Phi(-|x|) otherwise: the small tail
    # keeps its relative accuracy on both sides.
    ax, t, p = _temp(x, "a"), _temp(x, "t"), _temp(x, "p")
    np.abs(x, out=ax)
    np.multiply(ax, np.float32(1 / (2 * math.sqrt(2))), out=t)
    np.add(t, np.float32(1), out=t)
    np.reciprocal(t, out=t)
    np.multiply(t, _ERFC32[-1], out=p)
    for c in _ERFC32[-2:0:-1]:
        np.add(p, c, out=p)
        np.multiply(p, t, out=p)
    np.add(p, _ERFC32[0], out=p)
    np.square(ax, out=ax)
    np.multiply(ax, np.float32(0.5), out=ax)
    np.subtract(p, ax, out=p)
    np.exp(p, out=p)
    np.multiply(p, t, out=p)  # Phi(-|x|)
    positive = _temp(x, "mask", np.bool_)
    np.greater_equal(x, np.float32(0), out=positive)
    np.subtract(np.float32(1), p, out=p, where=positive)
    np.multiply(x, p, out=x)


def _gelu_tanh(x: np.ndarray, a: Activation) -> None:
    # x/2 * (1 + tanh(u)) == x * sigmoid(2u) == x / (1 + exp(-2u)), u = sqrt(2/pi) * x *
    # (1 + 0.044715 x^2): no cancellation where tanh(u) is near -1.
    t = _temp(x, "t")
    np.square(x, out=t)
    np.multiply(t, np.float32(0.044715), out=t)
    np.add(t, np.float32(1), out=t)
    np.multiply(t, x, out=t)
    np.multiply(t, np.float32(-2 * math.sqrt(2 / math.pi)), out=t)
    np.exp(t, out=t)
    np.add(t, np.float32(1), out=t)
    np.divide(x, t, out=x)


def _hardsigmoid(x: np.ndarray, a: Activation) -> None:
    np.add(x, np.float32(3), out=x)
    _relu6(x, a)
    np.divide(x, np.float32(6), out=x)


def _hardswish(x: np.ndarray, a: Activation) -> None:
    t = _temp(x, "t")
    np.add(x, np.float32(3), out=t)
    _relu6(t, a)
    np.multiply(x, t, out=x)
    np.divide(x, np.float32(6), out=x)


_FORMULAS: dict[str, Callable[[np.ndarray, Activation], None]] = {
    "relu": _relu,
    "relu6": _relu6,
    "clip": _clip,
    "leaky_relu": _leaky_relu,
    "sigmoid": _sigmoid,
    "silu": _silu,
    "x_sigmoid": _x_sigmoid,
    "tanh": _tanh,
    "gelu": _gelu,
    "gelu_tanh": _gelu_tanh,
    "hardsigmoid": _hardsigmoid,
    "hardswish": _hardswish,
}

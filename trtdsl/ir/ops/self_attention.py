"""Self-attention with the projections of a Hugging Face checkpoint under their own names:
``self_attention`` (BERT's ``attention.self``, GPT-2's ``attn``), with an optional mask input
and ``causal``, computed by the kernels (``kernels.linear`` and
``kernels.scaled_dot_product_attention``).

MACs: the projections plus the two batched products (scores and weighted values).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from trtdsl import kernels
from trtdsl.errors import OpArgumentError, ShapeError
from trtdsl.ir.ops.base import (
    Op,
    ParamSpec,
    check_bool,
    check_choice,
    check_float,
    check_int,
    expect_float,
    register_op,
)
from trtdsl.ir.symbolic import dim_value
from trtdsl.ir.types import DType, TensorType

LAYOUTS = ("linear", "conv1d")
"""Weight layouts: ``linear`` (out, in) as ``torch.nn.Linear``; ``conv1d`` (in, out) as Hugging
Face's ``Conv1D`` (GPT-2)."""


def _check_name(op: Op, field: str) -> str | None:
    value = getattr(op, field)
    if value is None:
        return None
    if not isinstance(value, str) or not all(
        part.isidentifier() or part.isdigit() for part in value.split(".")
    ):
        raise OpArgumentError(
            f"self_attention: {field} must be a state_dict name such as 'query' or "
            f"'attn.c_attn', got {value!r}"
        )
    return value


@register_op
@dataclass(frozen=True)
class SelfAttention(Op):
    """Multi-head self-attention with the checkpoint's own projections, as Hugging Face's
    ``BertSelfAttention`` (``q_proj="query", k_proj="key", v_proj="value"``, no ``out_proj``)
    or ``GPT2Attention`` (``qkv_proj="c_attn", out_proj="c_proj", weight_layout="conv1d",
    causal=True``) at inference.

    Inputs: ``x`` (N, L, E) with E = ``embed_dim``, and optionally a ``mask``: bool (True:
    the key takes part, as ``scaled_dot_product_attention``'s ``attn_mask``) or float of x's
    dtype (added to the scaled scores, as BERT's extended attention mask), either (N, L) (a
    key padding mask: Hugging Face's ``attention_mask``) or 4-D broadcastable to
    (N, heads, L, L). Output (N, L, E): the heads' results concatenated, then ``out_proj``
    when given. q, k, v are projections of x split into ``num_heads`` heads of E / heads;
    ``softmax(q k^T * scale + mask) v`` with ``scale`` default 1 / sqrt(E / heads);
    ``causal``: query i attends to keys j <= i (with a mask too: both apply). A query whose
    keys are all masked gets zeros (as PyTorch 2.13).

    Weights, each projection under its name P: ``P.weight`` (E, E) and ``P.bias`` (E,) if
    ``bias``; separate ``q_proj``, ``k_proj``, ``v_proj``, or one ``qkv_proj`` of q, k, v
    stacked: weight (3E, E) (``linear`` layout, ``torch.nn.Linear``'s (out, in)) or (E, 3E)
    (``conv1d`` layout: GPT-2's ``Conv1D``, (in, out)); ``out_proj`` (E, E) optional.
    """

    op_name = "self_attention"
    arity = None

    embed_dim: int
    num_heads: int
    q_proj: str | None = None
    k_proj: str | None = None
    v_proj: str | None = None
    qkv_proj: str | None = None
    out_proj: str | None = None
    weight_layout: str = "linear"
    bias: bool = True
    causal: bool = False
    scale: float | None = None

    def __post_init__(self) -> None:
        check_int(self, "embed_dim", 1)
        check_int(self, "num_heads", 1)
        check_choice(self, "weight_layout", LAYOUTS)
        check_bool(self, "bias")
        check_bool(self, "causal")
        if self.scale is not None:
            check_float(self, "scale", positive=True)
        if self.embed_dim % self.num_heads:
            raise OpArgumentError(
                f"self_attention: embed_dim {self.embed_dim} is not divisible by num_heads "
                f"{self.num_heads}"
            )
        fields = ("q_proj", "k_proj", "v_proj", "qkv_proj", "out_proj")
        names = [n for n in (_check_name(self, f) for f in fields) if n is not None]
        separate = [self.q_proj, self.k_proj, self.v_proj]
        if not (
            (self.qkv_proj is None and None not in separate)
            or (self.qkv_proj is not None and separate == [None] * 3)
        ):
            raise OpArgumentError(
                "self_attention: give q_proj, k_proj and v_proj (separate projections, e.g. "
                "BERT's query, key, value) or qkv_proj alone (one fused projection, e.g. "
                "GPT-2's c_attn)"
            )
        if len(set(names)) != len(names):
            raise OpArgumentError(f"self_attention: projection names repeat: {names}")

    @property
    def head_dim(self) -> int:
        return self.embed_dim // self.num_heads

    def projections(self) -> dict[str, tuple[str, int]]:
        """Projection name -> (what it computes: q, k, v, qkv or out; its output size)."""
        e = self.embed_dim
        found: dict[str, tuple[str, int]] = {}
        if self.qkv_proj is not None:
            found[self.qkv_proj] = ("qkv", 3 * e)
        else:
            for kind in ("q", "k", "v"):
                found[getattr(self, f"{kind}_proj")] = (kind, e)
        if self.out_proj is not None:
            found[self.out_proj] = ("out", e)
        return found

    def params(self, inputs: Sequence[TensorType]) -> dict[str, ParamSpec]:
        specs = {}
        for name, (_, size) in self.projections().items():
            shape = (
                (size, self.embed_dim) if self.weight_layout == "linear" else (self.embed_dim, size)
            )
            specs[f"{name}.weight"] = ParamSpec(shape)
            if self.bias:
                specs[f"{name}.bias"] = ParamSpec((size,))
        return specs

    def mask_shape(self, x: TensorType, mask: TensorType) -> None:
        """ShapeError unless ``mask`` is a valid mask for input ``x``."""
        n, length = x.shape[0], x.shape[1]
        if mask.dtype is not DType.BOOL and mask.dtype != x.dtype:
            raise ShapeError(
                f"self_attention: the mask must be bool or of the input's dtype {x.dtype}, "
                f"got {mask}"
            )
        if mask.rank == 2:
            if mask.shape != (n, length):
                raise ShapeError(
                    f"self_attention: a 2-D mask is a key padding mask (N, L) = "
                    f"({n}, {length}) for input {x}, got {mask}"
                )
            return
        if mask.rank != 4:
            raise ShapeError(
                f"self_attention: the mask must be (N, L) or 4-D (N, heads, L, L), got {mask}"
            )
        target = (n, self.num_heads, length, length)
        for axis, (d, t) in enumerate(zip(mask.shape, target, strict=True)):
            if d != 1 and d != t:
                raise ShapeError(
                    f"self_attention: mask {mask} does not broadcast to (N, heads, L, L) = "
                    f"{target} at axis {axis}"
                )

    def infer(self, inputs: Sequence[TensorType]) -> TensorType:
        if len(inputs) not in (1, 2):
            raise ShapeError(
                f"self_attention: expected 1 input (x) or 2 (x, mask), got {len(inputs)}"
            )
        x = inputs[0]
        expect_float(self, x)
        if x.rank != 3 or x.shape[2] != self.embed_dim:
            raise ShapeError(
                f"self_attention: x must be (N, L, E) with E = embed_dim = {self.embed_dim}, "
                f"got {x}"
            )
        if len(inputs) == 2:
            self.mask_shape(x, inputs[1])
        return x

    def _project(self, x: np.ndarray, params: Mapping[str, np.ndarray], name: str) -> np.ndarray:
        """``x`` (N, L, in) through the projection ``name``: (N, L, out), float32."""
        w = params[f"{name}.weight"]
        bias = params[f"{name}.bias"] if self.bias else None
        return kernels.linear(x, w if self.weight_layout == "linear" else w.T, bias)

    def reference(
        self, inputs: Sequence[np.ndarray], params: Mapping[str, np.ndarray]
    ) -> np.ndarray:
        """In float32 on the kernels: the projections (``kernels.linear``) and the attention
        (``kernels.scaled_dot_product_attention``; a query whose keys are all masked out gets
        zeros, as in PyTorch 2.13)."""
        x = inputs[0]
        h, d = self.num_heads, self.head_dim
        n, length, e = x.shape
        xc = x.astype(np.float32, copy=False)
        if self.qkv_proj is not None:
            q, k, v = np.split(self._project(xc, params, self.qkv_proj), 3, axis=-1)
        else:
            q, k, v = (self._project(xc, params, p) for p in self._qkv_names())
        q, k, v = (t.reshape(n, length, h, d).transpose(0, 2, 1, 3) for t in (q, k, v))
        mask = inputs[1] if len(inputs) == 2 else None
        if mask is not None and mask.ndim == 2:
            mask = mask[:, None, None, :]
        out = kernels.scaled_dot_product_attention(
            q, k, v, mask, self.causal, self.scale, all_excluded=0.0
        )
        merged = out.transpose(0, 2, 1, 3).reshape(n, length, e)
        if self.out_proj is not None:
            merged = self._project(merged, params, self.out_proj)
        return np.ascontiguousarray(merged, dtype=x.dtype)

    def _qkv_names(self) -> tuple[str, str, str]:
        return (self.q_proj, self.k_proj, self.v_proj)  # type: ignore[return-value]

    def macs(
        self,
        inputs: Sequence[TensorType],
        outputs: Sequence[TensorType],
        sizes: Mapping[str, int] | None = None,
    ) -> int:
        sizes = sizes or {}
        x = inputs[0]
        n = dim_value(x.shape[0], sizes, default=1)
        length = dim_value(x.shape[1], sizes, default=1)
        e = self.embed_dim
        projected = sum(size for _, size in self.projections().values())
        return n * length * (e * projected + 2 * length * e)

"""Attention: ``multi_head_attention``, as ``torch.nn.MultiheadAttention`` at inference.

MACs: the four projections plus the two batched products (scores and weighted values).
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
    check_float,
    check_int,
    expect_float,
    register_op,
)
from trtdsl.ir.symbolic import dim_value
from trtdsl.ir.types import TensorType


@register_op
@dataclass(frozen=True)
class MultiheadAttention(Op):
    """Multi-head scaled dot-product attention, as ``torch.nn.MultiheadAttention`` in eval
    mode called with ``need_weights=False`` and no masks.

    Inputs: ``query`` alone (self-attention: key = value = query) or ``query, key, value``.
    Each is (N, L, E) with ``batch_first``, else (L, N, E); key and value share their length S.
    Output: the attention output, shaped like ``query``.
    ``q, k, v = query @ Wq.T + bq, ...`` (W = ``in_proj_weight`` rows [0:E], [E:2E], [2E:3E]),
    split into ``num_heads`` heads of size E / num_heads, ``softmax(q k^T / sqrt(E/h)) v``,
    heads concatenated, then ``out_proj``. ``dropout`` is kept only so that models
    round-trip (it is inactive at inference).

    Weights (PyTorch's names): ``in_proj_weight`` (3E, E), ``in_proj_bias`` (3E,),
    ``out_proj.weight`` (E, E), ``out_proj.bias`` (E,); the biases only if ``bias``.
    """

    op_name = "multi_head_attention"
    arity = None

    embed_dim: int
    num_heads: int
    bias: bool = True
    batch_first: bool = False
    dropout: float = 0.0

    def __post_init__(self) -> None:
        check_int(self, "embed_dim", 1)
        check_int(self, "num_heads", 1)
        check_bool(self, "bias")
        check_bool(self, "batch_first")
        p = check_float(self, "dropout")
        if not 0.0 <= p <= 1.0:
            raise OpArgumentError(f"multi_head_attention: dropout must be in [0, 1], got {p}")
        if self.embed_dim % self.num_heads:
            raise OpArgumentError(
                f"multi_head_attention: embed_dim {self.embed_dim} is not divisible by "
                f"num_heads {self.num_heads}"
            )

    @property
    def head_dim(self) -> int:
        return self.embed_dim // self.num_heads

    def _check(self, inputs: Sequence[TensorType]) -> None:
        if len(inputs) not in (1, 3):
            raise ShapeError(
                f"multi_head_attention: expected 1 input (self-attention) or 3 "
                f"(query, key, value), got {len(inputs)}"
            )
        q = inputs[0]
        for name, t in zip(("query", "key", "value"), inputs, strict=False):
            expect_float(self, t)
            if t.rank != 3 or t.shape[2] != self.embed_dim or t.dtype != q.dtype:
                layout = "(N, L, E)" if self.batch_first else "(L, N, E)"
                raise ShapeError(
                    f"multi_head_attention: {name} must be {q.dtype}{layout} with "
                    f"E = embed_dim = {self.embed_dim}, got {t}"
                )
        if len(inputs) == 3:
            batch = 0 if self.batch_first else 1
            q, k, v = inputs
            if k.shape != v.shape or k.shape[batch] != q.shape[batch]:
                raise ShapeError(
                    f"multi_head_attention: key {k} and value {v} must have one shape with "
                    f"the query's batch size ({q})"
                )

    def params(self, inputs: Sequence[TensorType]) -> dict[str, ParamSpec]:
        e = self.embed_dim
        specs = {"in_proj_weight": ParamSpec((3 * e, e)), "out_proj.weight": ParamSpec((e, e))}
        if self.bias:
            specs["in_proj_bias"] = ParamSpec((3 * e,))
            specs["out_proj.bias"] = ParamSpec((e,))
        return specs

    def infer(self, inputs: Sequence[TensorType]) -> TensorType:
        self._check(inputs)
        return inputs[0]

    def reference(
        self, inputs: Sequence[np.ndarray], params: Mapping[str, np.ndarray]
    ) -> np.ndarray:
        """In float32 on the kernels: the projections (``kernels.linear``, bias included) and
        the attention of every head (``kernels.scaled_dot_product_attention``)."""
        query = inputs[0]
        key, value = (inputs[1], inputs[2]) if len(inputs) == 3 else (query, query)
        e, h, d = self.embed_dim, self.num_heads, self.head_dim
        w = params["in_proj_weight"]
        b = params["in_proj_bias"] if self.bias else None

        def heads(x: np.ndarray, part: int) -> np.ndarray:
            if not self.batch_first:
                x = x.transpose(1, 0, 2)
            rows = slice(part * e, (part + 1) * e)
            bias = None if b is None else b[rows]
            y = kernels.linear(x.astype(np.float32, copy=False), w[rows], bias)  # float32 out
            heads_first: np.ndarray = y.reshape(y.shape[0], y.shape[1], h, d).transpose(0, 2, 1, 3)
            return heads_first  # (N, h, L, d)

        out = kernels.scaled_dot_product_attention(heads(query, 0), heads(key, 1), heads(value, 2))
        merged = out.transpose(0, 2, 1, 3).reshape(out.shape[0], out.shape[2], e)  # (N, L, E)
        out_bias = params["out_proj.bias"] if self.bias else None
        result = kernels.linear(merged, params["out_proj.weight"], out_bias)
        if not self.batch_first:
            result = result.transpose(1, 0, 2)
        return np.ascontiguousarray(result, dtype=query.dtype)

    def macs(
        self,
        inputs: Sequence[TensorType],
        outputs: Sequence[TensorType],
        sizes: Mapping[str, int] | None = None,
    ) -> int:
        sizes = sizes or {}
        q = inputs[0]
        kv = inputs[1] if len(inputs) == 3 else q
        seq = 1 if self.batch_first else 0
        n = dim_value(q.shape[1 - seq], sizes, default=1)
        length = dim_value(q.shape[seq], sizes, default=1)
        source = dim_value(kv.shape[seq], sizes, default=1)
        e = self.embed_dim
        projections = n * (length * e * e * 2 + source * e * e * 2)  # q and out; k and v
        products = n * length * source * e * 2  # scores and weighted values, all heads
        return projections + products

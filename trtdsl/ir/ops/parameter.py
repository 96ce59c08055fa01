"""Learned tensors as graph values: ``parameter`` (an ``nn.Parameter`` used directly). MACs: 0."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from trtdsl.errors import ModelError, OpArgumentError
from trtdsl.ir.ops.base import Op, ParamSpec, check_int_tuple, register_op
from trtdsl.ir.types import DType, TensorType


@register_op
@dataclass(frozen=True)
class Parameter(Op):
    """A learned tensor of static ``shape``: the value of the checkpoint entry named like the
    node, as a module's ``nn.Parameter`` (ViT's ``class_token`` (1, 1, 768),
    ``encoder.pos_embedding`` (1, 197, 768)).

    No inputs; output ``dtype[shape]``. Weight: the node's own name (the empty role ``""``), of
    ``shape`` and ``dtype``.
    """

    op_name = "parameter"
    arity = 0

    shape: tuple[int, ...]
    dtype: DType | str = DType.FLOAT32

    def __post_init__(self) -> None:
        shape = check_int_tuple(self, "shape")
        if any(d < 1 for d in shape or ()):
            raise OpArgumentError(f"parameter: shape entries must be >= 1, got {self.shape!r}")
        try:
            object.__setattr__(self, "dtype", DType.parse(self.dtype))
        except ModelError as e:
            raise OpArgumentError(f"parameter: {e}") from None

    def params(self, inputs: Sequence[TensorType]) -> dict[str, ParamSpec]:
        return {"": ParamSpec(tuple(self.shape), self.dtype)}  # type: ignore[arg-type]

    def infer(self, inputs: Sequence[TensorType]) -> TensorType:
        return TensorType(self.dtype, tuple(self.shape))  # type: ignore[arg-type]

    def reference(
        self, inputs: Sequence[np.ndarray], params: Mapping[str, np.ndarray]
    ) -> np.ndarray:
        # A read-only view: the weights array itself must never be written over (the
        # reference executor reuses dead writeable values in place).
        value: np.ndarray = np.ascontiguousarray(params[""]).view()
        value.flags.writeable = False
        return value

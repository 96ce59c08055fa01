"""Reductions over bitmask axes (reduce, softmax) and matrix multiplication."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from trtdsl import kernels
from trtdsl.emulator.enums import DataType, LayerType, MatrixOperation, ReduceOperation
from trtdsl.emulator.layers.base import (
    ILayer,
    Shape,
    axes_from_mask,
    dyn,
    float_compute,
    gemm_operand,
    require,
    require_float,
    value_property,
)

_REDUCE: dict[ReduceOperation, Callable[..., Any]] = {
    ReduceOperation.SUM: np.sum,
    ReduceOperation.PROD: np.prod,
    ReduceOperation.MAX: np.max,
    ReduceOperation.MIN: np.min,
    ReduceOperation.AVG: np.mean,
}
_REDUCIBLE = (DataType.FLOAT, DataType.HALF, DataType.BF16, DataType.INT32, DataType.INT64)


class IReduceLayer(ILayer):
    """Reduce over the dims set in the ``axes`` bitmask (bit i = dim i), optionally keeping them."""

    _TYPE = LayerType.REDUCE
    _TYPE_NAME = "Reduce"

    op = value_property("op", ReduceOperation, "ReduceOperation.")
    axes = value_property("axes", int, "Bitmask of the reduced dims.")
    keep_dims = value_property("keep_dims", bool, "Keep reduced dims as size 1.")

    def _infer(self, shapes: list[Shape], dtypes: list[DataType]) -> list[tuple[Shape, DataType]]:
        shape, dtype, op = shapes[0], dtypes[0], self._p["op"]
        require(op != ReduceOperation.NONE, "reduce operation NONE is not a reduction")
        require(dtype in _REDUCIBLE, f"reduce does not accept {dtype}")
        axes = axes_from_mask(self._p["axes"], len(shape), "reduce")
        if self._p["keep_dims"]:
            out = tuple(1 if i in axes else d for i, d in enumerate(shape))
        else:
            out = tuple(d for i, d in enumerate(shape) if i not in axes)
        return [(out, dtype)]

    def _compute(self, xs: list[np.ndarray]) -> list[np.ndarray]:
        x = xs[0]
        axes = axes_from_mask(self._p["axes"], x.ndim, "reduce")
        keep, op = self._p["keep_dims"], self._p["op"]
        work = float_compute(x) if x.dtype.kind == "f" else x
        y = _REDUCE[op](work, axis=axes, keepdims=keep)
        return [np.asarray(y, dtype=x.dtype, order="C")]


class ISoftMaxLayer(ILayer):
    """Softmax along the one dim set in ``axes``.

    NOTE: the default is 1 << (rank - 3) (1 << 0 when rank < 3): the channel of NCHW, not the
    last dim as in PyTorch's usual call. As in TensorRT-RTX, setting ``axes`` to a mask without
    exactly one bit logs an error and keeps the previous axes (TensorRT 11.4 documents "only one
    axis can be set", not what happens otherwise).
    """

    _TYPE = LayerType.SOFTMAX
    _TYPE_NAME = "SoftMax"

    axes = value_property(
        "axes",
        int,
        "Bitmask with exactly one bit set.",
        check=lambda value: value > 0 and value & (value - 1) == 0,
        refuse="ISoftMaxLayer::setAxes: API Usage Error (exactly one axis bit must be set)",
    )

    def _infer(self, shapes: list[Shape], dtypes: list[DataType]) -> list[tuple[Shape, DataType]]:
        axes_from_mask(self._p["axes"], len(shapes[0]), "softmax")
        require_float(dtypes[0], "softmax input")
        return [(shapes[0], dtypes[0])]

    def _compute(self, xs: list[np.ndarray]) -> list[np.ndarray]:
        (axis,) = axes_from_mask(self._p["axes"], xs[0].ndim, "softmax")
        return [kernels.softmax(xs[0], axis)]


def _matrix_dims(op: MatrixOperation) -> int:
    return 1 if op == MatrixOperation.VECTOR else 2


class IMatrixMultiplyLayer(ILayer):
    """Batched matrix product: op NONE uses the last two dims as a matrix, TRANSPOSE swaps them,
    VECTOR takes the last dim as a vector. Batch dims broadcast (one side 1) and their number
    must match; output (batch..., M, N) with vector dims dropped."""

    _TYPE = LayerType.MATRIX_MULTIPLY
    _TYPE_NAME = "Matrix Multiply"
    _MAX_INPUTS = 2
    _MIN_INPUTS = 2

    op0 = value_property("op0", MatrixOperation, "How to treat input 0.")
    op1 = value_property("op1", MatrixOperation, "How to treat input 1.")

    def _infer(self, shapes: list[Shape], dtypes: list[DataType]) -> list[tuple[Shape, DataType]]:
        (a, b), (op0, op1) = shapes, (self._p["op0"], self._p["op1"])
        require(dtypes[0] == dtypes[1], f"matrix multiply inputs are {dtypes[0]} and {dtypes[1]}")
        require_float(dtypes[0], "matrix multiply input")
        m0, m1 = _matrix_dims(op0), _matrix_dims(op1)
        require(len(a) >= m0 and len(b) >= m1, f"matrix multiply: ranks of {a}, {b} too small")
        require(
            len(a) - m0 == len(b) - m1,
            f"matrix multiply: {a} and {b} have different numbers of batch dims",
        )
        rows, k0 = (
            (1, a[-1])
            if m0 == 1
            else ((a[-1], a[-2]) if op0 == MatrixOperation.TRANSPOSE else (a[-2], a[-1]))
        )  # noqa: E501
        k1, cols = (
            (b[-1], 1)
            if m1 == 1
            else ((b[-1], b[-2]) if op1 == MatrixOperation.TRANSPOSE else (b[-2], b[-1]))
        )  # noqa: E501
        require(k0 == k1 or dyn(k0, k1), f"matrix multiply: inner dims {k0} and {k1} differ")
        batch = []
        for x, y in zip(a[: len(a) - m0], b[: len(b) - m1], strict=True):
            require(x == y or 1 in (x, y) or dyn(x, y), f"batch dims of {a} and {b} differ")
            batch.append(y if x == 1 else x)
        out = tuple(batch) + ((rows,) if m0 == 2 else ()) + ((cols,) if m1 == 2 else ())
        return [(out, dtypes[0])]

    def _compute(self, xs: list[np.ndarray]) -> list[np.ndarray]:
        return [self._compute_fused(xs, ())]

    def _compute_fused(
        self, xs: list[np.ndarray], epilogue: Sequence[kernels.Activation | np.ndarray]
    ) -> np.ndarray:
        """The product with ``epilogue`` (activations, added biases and residuals, as the
        separate layers would compute them) applied to each tile; matrices only."""
        a, b = (gemm_operand(x, self._tf32) for x in xs)
        op0, op1 = self._p["op0"], self._p["op1"]
        a = a[..., None, :] if op0 == MatrixOperation.VECTOR else a
        b = b[..., :, None] if op1 == MatrixOperation.VECTOR else b
        a = np.swapaxes(a, -1, -2) if op0 == MatrixOperation.TRANSPOSE else a
        b = np.swapaxes(b, -1, -2) if op1 == MatrixOperation.TRANSPOSE else b
        y = kernels.matmul(a, b, epilogue)
        if op1 == MatrixOperation.VECTOR:
            y = y[..., 0]
        if op0 == MatrixOperation.VECTOR:
            y = y[..., 0, :] if op1 != MatrixOperation.VECTOR else y[..., 0]
        return np.asarray(y, dtype=xs[0].dtype, order="C")

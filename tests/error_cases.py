"""The error-case type: attributes or inputs an op must reject. The cases themselves are the
``errors`` field of the op's first row in ``cases.py`` (``ERROR_CASES`` collects them)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from trtdsl.errors import OpArgumentError, ShapeError, TrtdslError
from trtdsl.ir.types import DType, TensorType


@dataclass(frozen=True)
class ErrorCase:
    """An op construction or shape inference that must fail.

    Attributes:
        id: ``<op_name>-<what>``.
        op_name: registry name.
        kwargs: attributes passed to ``make_op``.
        input_shapes: None when ``make_op`` must raise; else the shapes given to
            ``infer_outputs`` (which must raise).
        error: the TrtdslError subclass expected.
        match: regex the message must match (``re.search``).
        input_dtypes: dtype names per input (default float32 for all).
    """

    id: str
    op_name: str
    kwargs: Mapping[str, Any]
    input_shapes: tuple[tuple[int | str, ...], ...] | None
    error: type[TrtdslError]
    match: str
    input_dtypes: tuple[str, ...] | None = field(default=None)


def error_case(
    case_id: str,
    op_name: str,
    kwargs: Mapping[str, Any],
    shapes: tuple[tuple[int | str, ...], ...] | None,
    match: str,
    dtypes: tuple[str, ...] | None = None,
) -> ErrorCase:
    """An ErrorCase: OpArgumentError from ``make_op`` when ``shapes`` is None, else ShapeError
    from shape inference on ``shapes``; the message matches ``match``."""
    error = OpArgumentError if shapes is None else ShapeError
    return ErrorCase(case_id, op_name, kwargs, shapes, error, match, dtypes)


def error_case_input_types(case: ErrorCase) -> tuple[TensorType, ...]:
    """The input types of a shape-error case (float32 unless ``input_dtypes`` says otherwise)."""
    assert case.input_shapes is not None
    dtypes = case.input_dtypes or ("float32",) * len(case.input_shapes)
    return tuple(
        TensorType(DType.parse(d), tuple(s)) for d, s in zip(dtypes, case.input_shapes, strict=True)
    )

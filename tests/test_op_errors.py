"""Every ERROR_CASES entry raises its TrtdslError subclass with a message matching its regex."""

from __future__ import annotations

import pytest
from cases import ERROR_CASES, ErrorCase, error_case_input_types

from trtdsl.errors import OpArgumentError
from trtdsl.ir.ops import make_op, op_class


@pytest.mark.parametrize("case", ERROR_CASES, ids=lambda c: c.id)
def test_error_case(case: ErrorCase) -> None:
    if case.input_shapes is None:
        with pytest.raises(case.error, match=case.match):
            make_op(case.op_name, case.kwargs)
        return
    op = make_op(case.op_name, case.kwargs)
    with pytest.raises(case.error, match=case.match) as info:
        op.infer_outputs(error_case_input_types(case))
    assert case.op_name in str(info.value), "the message names the op"


def test_unknown_op_suggests_close_name() -> None:
    with pytest.raises(OpArgumentError, match="unknown op 'maxpool2d'; did you mean 'max_pool2d'"):
        op_class("maxpool2d")


def test_attribute_messages_say_what_was_given() -> None:
    with pytest.raises(OpArgumentError, match=r"max_pool2d: stride must be >= 1, got \(1, 0\)"):
        make_op("max_pool2d", dict(kernel_size=2, stride=(1, 0)))
    with pytest.raises(OpArgumentError, match=r"reshape: shape entries .* got -2 in \[2, -2\]"):
        make_op("reshape", dict(shape=[2, -2]))


def test_error_cases_sit_on_a_row_of_their_own_op() -> None:
    """The error cases are fields of the case rows: each on its op's first row, once."""
    from cases import CASES

    seen: set[str] = set()
    for case in CASES:
        if case.errors:
            assert case.op.op_name not in seen, f"{case.op.op_name}: errors on two rows"
            seen.add(case.op.op_name)
        assert all(e.op_name == case.op.op_name for e in case.errors), case.id
    assert len(ERROR_CASES) == sum(len(c.errors) for c in CASES) > 100

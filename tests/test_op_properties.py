"""Property tests of every op.

1. Fuzzed attributes and input types make an op raise nothing but TrtdslError.
2. For valid attributes and static inputs, drawn by a strategy per op that only makes valid
   cases (``VALID``), inference accepts them and the reference produces exactly the inferred
   types.

Each test counts the examples that reach its assertions and fails when too few do, so that a
strategy cannot pass by having most of its draws rejected.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis import strategies as st
from op_strategies import VALID, Case

from trtdsl.errors import TrtdslError
from trtdsl.ir.ops import OPS, Op, make_op
from trtdsl.ir.types import DType, TensorType

OP_NAMES = sorted(OPS)
EXAMPLES = 40


@contextmanager
def counting(minimum: float) -> Iterator[dict[str, int]]:
    """Counts ``tried`` and ``reached``; fails unless ``reached >= minimum * tried``."""
    counts = {"tried": 0, "reached": 0}
    yield counts
    assert counts["tried"] >= 10, counts
    assert counts["reached"] >= minimum * counts["tried"], (
        f"only {counts['reached']} of {counts['tried']} examples reached the assertions: "
        "the strategy makes too many cases the op rejects"
    )


# -- 1. fuzzed attributes and types --------------------------------------------------------------

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 8),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=6),
    st.sampled_from(["none", "tanh", "float16", "int32", "N", "H", "-1", ""]),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=4).map(tuple),
        st.dictionaries(st.text(max_size=3), inner, max_size=2),
    ),
    max_leaves=6,
)
DIMS = st.one_of(st.integers(0, 9), st.sampled_from(["N", "H"]))
TYPES = st.builds(
    TensorType,
    st.sampled_from([DType.FLOAT32, DType.FLOAT16, DType.INT32]),
    st.lists(DIMS, max_size=5).map(tuple),
)


def _field_names(op_name: str) -> list[str]:
    return [f.name for f in dataclasses.fields(OPS[op_name])]


@st.composite
def fuzzed_kwargs(draw: st.DrawFn, op_name: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    """``kwargs`` with one or two attributes replaced by fuzz (and sometimes an unknown one)."""
    names = _field_names(op_name)
    chosen = draw(st.lists(st.sampled_from(names), unique=True, max_size=2)) if names else []
    fuzzed = {**kwargs, **{name: draw(VALUES) for name in chosen}}
    if draw(st.integers(0, 4)) == 0:
        fuzzed[draw(st.text(min_size=1, max_size=4))] = draw(VALUES)
    return fuzzed


def _infer_everything(op: Op, inputs: list[TensorType]) -> tuple[TensorType, ...] | None:
    """infer_outputs, params and macs; None if the inputs were rejected with a TrtdslError."""
    try:
        outs = op.infer_outputs(inputs)
        op.params(inputs)
        op.macs(inputs, outs, {"N": 2, "H": 3})
    except TrtdslError:
        return None
    return outs


@pytest.mark.parametrize("op_name", OP_NAMES)
def test_random_attributes_and_types_raise_only_trtdsl_errors(op_name: str) -> None:
    """Each example builds a valid op (which must equal its rebuild) and a fuzzed variant of
    it, and infers both on random input types."""
    # Without a valid-case strategy (a failure of its own) only the fuzzed variants run.
    with counting(minimum=1.0 if op_name in VALID else 0.0) as counts:

        @settings(
            max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow]
        )
        @given(data=st.data())
        def check(data: Any) -> None:
            kwargs = data.draw(VALID[op_name](), label="valid")[0] if op_name in VALID else {}
            fuzzed = data.draw(fuzzed_kwargs(op_name, kwargs), label="fuzzed")
            inputs = data.draw(st.lists(TYPES, max_size=3), label="inputs")
            counts["tried"] += 1  # after the draws: hypothesis abandons some while drawing
            try:
                fuzzed_op = make_op(op_name, fuzzed)
            except TrtdslError:
                pass
            else:
                _infer_everything(fuzzed_op, inputs)
            if op_name not in VALID:
                return
            op = make_op(op_name, kwargs)
            # A constructed op is frozen, hashable where its attributes are, and equal to a
            # rebuild from its attributes.
            assert make_op(op_name, op.attributes()) == op
            assert hash(op) == hash(make_op(op_name, op.attributes()))
            counts["reached"] += 1
            _infer_everything(op, inputs)

        check()


NASTY_VALUES = [
    None,
    True,
    -1,
    0,
    10**400,
    -(10**400),
    2**63,
    1.5,
    float("nan"),
    float("inf"),
    1e308,
    "",
    "x",
    "-1",
    [],
    [None],
    [1, 2, 3],
    [1.5, 2],
    [[1, 2]],
    (True, 1),
    {"a": 1},
    {1, 2},
    np.int64(3),
    np.float32(0.5),
    np.array([1, 2]),
    b"1",
    object(),
]


@pytest.mark.parametrize("op_name", OP_NAMES)
def test_nasty_attribute_values_raise_only_trtdsl_errors(op_name: str) -> None:
    quick = settings(max_examples=1, phases=[Phase.generate], database=None)
    valid = find(VALID[op_name](), lambda _: True, settings=quick)[0] if op_name in VALID else {}
    for name in _field_names(op_name):
        for value in NASTY_VALUES:
            try:
                make_op(op_name, {**valid, name: value})
            except TrtdslError:
                pass


# -- 2. valid cases: inference accepts them, and the reference agrees ----------------------------


def test_every_op_has_a_valid_case_strategy() -> None:
    assert sorted(set(OPS) - set(VALID)) == [], "add a @valid(...) strategy for these ops"


def _array(t: TensorType, rng: np.random.Generator) -> np.ndarray:
    if t.dtype is DType.INT8:
        return rng.integers(-128, 128, t.shape).astype(np.int8)
    if t.dtype in (DType.INT32, DType.INT64):  # indices: valid for every axis of size >= 2
        return rng.integers(0, 2, t.shape).astype(t.dtype.to_numpy())
    if t.dtype is DType.BOOL:
        return rng.random(t.shape) < 0.5
    if t.dtype is DType.FLOAT8_E4M3:
        return np.round(rng.standard_normal(t.shape) * 8).astype(np.float32)  # on the E4M3 grid
    return rng.standard_normal(t.shape).astype(t.dtype.to_numpy())


@pytest.mark.parametrize("op_name", OP_NAMES)
def test_reference_produces_the_inferred_type(op_name: str) -> None:
    if op_name not in VALID:
        pytest.skip("no valid-case strategy (test_every_op_has_a_valid_case_strategy fails)")
    with counting(minimum=1.0) as counts:

        @settings(
            max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow]
        )
        @given(case=VALID[op_name]())
        def check(case: Case) -> None:
            counts["tried"] += 1
            kwargs, inputs = case
            op = make_op(op_name, kwargs)  # a valid case: construction and inference accept it
            outs = op.infer_outputs(inputs)
            rng = np.random.default_rng(0)
            arrays = [_array(t, rng) for t in inputs]
            params = {
                role: np.abs(rng.standard_normal(spec.shape)).astype(spec.dtype.to_numpy()) + 0.5
                for role, spec in op.params(inputs).items()
            }
            with np.errstate(all="ignore"):
                result = op.reference(arrays, params)
            results = result if isinstance(result, tuple) else (result,)
            assert len(results) == len(outs)
            for array, t in zip(results, outs, strict=True):
                assert isinstance(array, np.ndarray), type(array)
                assert array.shape == t.shape
                assert array.dtype == t.dtype.to_numpy()
            counts["reached"] += 1

        check()


def test_a_strategy_whose_draws_are_rejected_fails_the_count() -> None:
    with pytest.raises(AssertionError, match="only 3 of 40 examples reached the assertions"):
        with counting(minimum=0.2) as counts:
            counts.update(tried=40, reached=3)
    with counting(minimum=1.0) as counts:
        counts.update(tried=40, reached=40)

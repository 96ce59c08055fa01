"""Property tests: no attribute values or input types make an op raise anything but TrtdslError,
and whenever inference accepts static inputs, the reference produces exactly the inferred type.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trtdsl.errors import TrtdslError
from trtdsl.ir.ops import OPS, Op, make_op
from trtdsl.ir.types import DType, TensorType

OP_NAMES = sorted(OPS)

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
def fuzzed_kwargs(
    draw: st.DrawFn, op_name: str, values: st.SearchStrategy[Any], max_fields: int | None = None
) -> dict[str, Any]:
    names = _field_names(op_name)
    chosen = (
        draw(st.lists(st.sampled_from(names), unique=True, max_size=max_fields)) if names else []
    )
    kwargs = dict(_minimal_kwargs(op_name)) if draw(st.booleans()) else {}
    kwargs.update({name: draw(values) for name in chosen})
    if draw(st.booleans()) and draw(st.integers(0, 9)) == 0:
        kwargs[draw(st.text(min_size=1, max_size=4))] = draw(values)
    return kwargs


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
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_random_attributes_and_types_raise_only_trtdsl_errors(op_name: str, data: Any) -> None:
    kwargs = data.draw(fuzzed_kwargs(op_name, VALUES), label="kwargs")
    try:
        op = make_op(op_name, kwargs)
    except TrtdslError:
        return
    # A constructed op is frozen, hashable where its attributes are, and equal to a rebuild.
    assert make_op(op_name, op.attributes()) == op
    inputs = data.draw(st.lists(TYPES, max_size=3), label="inputs")
    _infer_everything(op, inputs)


SMALL_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 4),
    st.floats(-2, 2),
    st.sampled_from(["none", "tanh", "float16", "bfloat16", "int32", "N"]),
    st.lists(st.integers(-2, 4), max_size=4),
)
STATIC_TYPES = st.builds(
    TensorType,
    st.just(DType.FLOAT32),
    st.one_of(
        st.lists(st.integers(1, 7), min_size=4, max_size=4),  # NCHW for conv and pooling
        st.lists(st.integers(1, 6), max_size=5),
    ).map(tuple),
)


@pytest.mark.parametrize("op_name", OP_NAMES)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_reference_produces_the_inferred_type(op_name: str, data: Any) -> None:
    kwargs = data.draw(fuzzed_kwargs(op_name, SMALL_VALUES, max_fields=2), label="kwargs")
    try:
        op = make_op(op_name, kwargs)
    except TrtdslError:
        return
    arity = op.arity if op.arity is not None else data.draw(st.integers(1, 3))
    first = data.draw(STATIC_TYPES, label="input0")
    inputs = [first]
    for i in range(1, arity):
        # Mostly the same shape (so binary ops and concat accept), sometimes another one.
        inputs.append(data.draw(st.one_of(st.just(first), STATIC_TYPES), label=f"input{i}"))
    outs = _infer_everything(op, inputs)
    if outs is None:
        return
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(t.shape).astype(np.float32) for t in inputs]
    params = {
        role: np.abs(rng.standard_normal(spec.shape)).astype(spec.dtype.to_numpy()) + 0.5
        for role, spec in op.params(inputs).items()
    }
    with np.errstate(all="ignore"):
        result = op.reference(arrays, params)
    results = result if isinstance(result, tuple) else (result,)
    assert len(results) == len(outs)
    for array, t in zip(results, outs, strict=True):
        assert array.shape == t.shape
        assert array.dtype == t.dtype.to_numpy()
    REFERENCE_RUNS[op_name] = REFERENCE_RUNS.get(op_name, 0) + 1


REFERENCE_RUNS: dict[str, int] = {}


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
    for name in _field_names(op_name):
        for value in NASTY_VALUES:
            try:
                make_op(op_name, {**_minimal_kwargs(op_name), name: value})
            except TrtdslError:
                pass


def _minimal_kwargs(op_name: str) -> dict[str, Any]:
    required = {
        f.name
        for f in dataclasses.fields(OPS[op_name])
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    }
    defaults = {
        "out_channels": 4,
        "kernel_size": 2,
        "out_features": 3,
        "output_size": 1,
        "shape": [-1],
        "dims": [0],
        "dtype": "float16",
        "dim": 0,
        "start": 0,
        "length": 1,
    }
    # Attributes of ops added later default to 1, which most integer attributes accept.
    return {k: defaults.get(k, 1) for k in required}

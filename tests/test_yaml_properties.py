"""Property tests: whatever the document, ``load_yaml_text`` returns a Graph or raises a
TrtdslError (never another exception), and its message is one located line."""

from __future__ import annotations

import re
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trtdsl.errors import TrtdslError
from trtdsl.frontend.yaml import load_yaml_text
from trtdsl.ir.graph import Graph

VALID = """\
name: prop
dims:
  N: {min: 1, opt: 2, max: 4}
inputs:
  x: {shape: [N, 3, 8, 8], dtype: float32}
blocks:
  unit:
    params: {channels: required, stride: 1, project: false}
    layers:
      - {name: conv, op: conv2d, out_channels: $channels * 2, kernel_size: 3, stride: $stride,
         padding: 1, bias: false}
      - {name: bn, op: batch_norm2d}
      - {name: act, op: relu}
      - {name: proj, inputs: input, when: $project, layers: [
          {name: "0", op: conv2d, out_channels: $channels * 2, kernel_size: 1, stride: $stride}]}
      - {name: add, op: add, inputs: [act, proj]}
layers:
  - {name: stem, op: conv2d, out_channels: 4, kernel_size: 3, padding: 1}
  - {name: stage, block: unit, repeat: 2, args: {channels: 4}, first: {stride: 2, project: true}}
  - {name: pool, op: max_pool2d, kernel_size: 2}
  - {name: gap, op: adaptive_avg_pool2d, output_size: 1}
  - {name: flat, op: flatten}
  - {name: fc, op: linear, out_features: 5}
outputs:
  y: fc
"""

WORDS = st.sampled_from(
    ["name", "op", "inputs", "layers", "outputs", "block", "blocks", "repeat", "args", "first",
     "params", "when", "precision", "dims", "shape", "dtype", "conv2d", "relu", "add", "x",
     "input", "stem", "fc", "$channels", "$stride * 2", "$", "$$x", "float16", "required",
     "kernel_size", "out_channels", "min", "opt", "max", "N", "include", "weights", "rename",
     "prefix", "regex", "to", "output", "unit", "layer1.0", "a:1", "(", ""]
)  # fmt: skip
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    WORDS,
    st.text(max_size=8),
)
VALUES = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.one_of(WORDS, st.integers(-3, 3)), children, max_size=4),
    ),
    max_leaves=25,
)

LOCATED = re.compile(r"^<prop>:\d+: ")


def _check(text: str) -> None:
    try:
        result = load_yaml_text(text, "<prop>")
    except TrtdslError as e:
        message = str(e)
        assert "\n" not in message, message
        assert LOCATED.match(message), message
        return
    assert isinstance(result, Graph)


def _dump(value: Any) -> str:
    return yaml.safe_dump(value, sort_keys=False, allow_unicode=True)


def test_the_valid_document_loads() -> None:
    graph = load_yaml_text(VALID, "<prop>")
    assert graph.node("stage.0.proj.0").inputs == ("stem",)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(VALUES)
def test_random_documents_raise_only_located_trtdsl_errors(document: Any) -> None:
    _check(_dump(document))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=60))
def test_random_text_raises_only_located_trtdsl_errors(text: str) -> None:
    _check(text)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every (key/index path) inside a parsed document."""
    found = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            found += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found += _paths(v, (*prefix, i))
    return found


def _replace(value: Any, path: tuple[Any, ...], new: Any, delete: bool) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        copy = dict(value)
        if delete and not rest:
            copy.pop(head)
        else:
            copy[head] = _replace(value[head], rest, new, delete)
        return copy
    copy_list = list(value)
    if delete and not rest:
        copy_list.pop(head)
    else:
        copy_list[head] = _replace(value[head], rest, new, delete)
    return copy_list


BASE = yaml.safe_load(VALID)
BASE_PATHS = _paths(BASE)[1:]


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.tuples(st.sampled_from(BASE_PATHS), VALUES, st.booleans()), min_size=1, max_size=3)
)
def test_mutations_of_a_valid_model_raise_only_located_trtdsl_errors(
    mutations: list[tuple[tuple[Any, ...], Any, bool]],
) -> None:
    document = BASE
    for path, new, delete in mutations:
        try:
            document = _replace(document, path, new, delete)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed or replaced this path
    _check(_dump(document))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, len(VALID) - 1), st.text(max_size=4))
def test_text_edits_of_a_valid_model_raise_only_located_trtdsl_errors(
    position: int, insert: str
) -> None:
    _check(VALID[:position] + insert + VALID[position + 1 :])

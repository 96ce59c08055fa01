"""The NumPy reference executor: runs a Graph node by node with each op's ``reference()``.

It is the specification every other backend is compared against, so it checks everything it
touches: the inputs against the graph's input types, the weights against ``graph.params()``,
and every node's result against the type the IR inferred for it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from trtdsl import kernels
from trtdsl.errors import BackendError, ShapeError, TrtdslError, UsageError, WeightError
from trtdsl.ir.graph import Graph, Node
from trtdsl.ir.ops.activation import ReLU
from trtdsl.ir.ops.base import Op, param_key
from trtdsl.ir.ops.conv import Conv2d
from trtdsl.ir.ops.elementwise import Add
from trtdsl.ir.types import DType, TensorType

_NUMPY_DTYPES = {d: d.to_numpy() for d in DType}

__all__ = ["bind_input_sizes", "capture_reference", "check_weights", "node_params", "run_reference"]


def run_reference(
    graph: Graph, weights: Mapping[str, np.ndarray], inputs: Mapping[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """Run ``graph`` on ``inputs`` with NumPy.

    Args:
        graph: a verified graph.
        weights: ``"{node}.{role}"`` -> array for every non-optional param of
            ``graph.params()`` (e.g. ``BoundWeights.arrays``); shapes and dtypes must match.
        inputs: input name -> array of the input's dtype and shape (symbolic dims may take any
            size, consistently across inputs).
    Returns:
        output port name -> C-contiguous array of the output's type.
    Raises:
        UsageError for missing or unknown input names, ShapeError for an input of the wrong
        shape or dtype, WeightError for missing or mismatched weights, BackendError when an
        op rejects its data.
    """
    values = _execute(graph, weights, inputs, capture=False)
    return {p.name: np.ascontiguousarray(values[p.value]) for p in graph.outputs}


def capture_reference(
    graph: Graph, weights: Mapping[str, np.ndarray], inputs: Mapping[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """Like ``run_reference`` but keeps every value: value name -> array (inputs included).

    Used by layer-by-layer comparison; memory grows with the whole network's activations.
    """
    values = _execute(graph, weights, inputs, capture=True)
    return {name: np.ascontiguousarray(v) for name, v in values.items()}


def bind_input_sizes(graph: Graph, inputs: Mapping[str, np.ndarray]) -> dict[str, int]:
    """Check ``inputs`` against the graph's inputs and return the size bound to each symbol.

    Raises:
        UsageError for missing or unknown names; ShapeError for a wrong rank, size or dtype,
        or a symbolic dimension given two different sizes.
    """
    missing = [n for n in graph.inputs if n not in inputs]
    unknown = [n for n in inputs if n not in graph.inputs]
    if missing or unknown:
        parts = []
        if missing:
            parts.append(f"missing input(s) {', '.join(map(repr, missing))}")
        if unknown:
            parts.append(f"unknown input(s) {', '.join(map(repr, unknown))}")
        raise UsageError(
            f"model {graph.name!r}: {'; '.join(parts)} (inputs: {', '.join(graph.inputs)})"
        )
    sizes: dict[str, int] = {}
    where: dict[str, str] = {}
    for name in graph.inputs:
        t = graph.types[name]
        array = inputs[name]
        if not isinstance(array, np.ndarray):
            raise ShapeError(f"input {name!r}: expected a NumPy array, got {type(array).__name__}")
        expected_dtype = t.dtype.to_numpy()
        if array.dtype != expected_dtype:
            raise ShapeError(
                f"input {name!r}: expected dtype {expected_dtype.name}, got {array.dtype.name}"
            )
        if array.ndim != t.rank:
            raise ShapeError(
                f"input {name!r}: expected shape {t.format_shape()} (rank {t.rank}), "
                f"got {_fmt(array.shape)}"
            )
        for axis, (dim, got) in enumerate(zip(t.shape, array.shape, strict=True)):
            if isinstance(dim, int):
                if dim != got:
                    raise ShapeError(
                        f"input {name!r}: expected shape {t.format_shape()}, got "
                        f"{_fmt(array.shape)} (axis {axis}: {got} != {dim})"
                    )
            elif dim in sizes and sizes[dim] != got:
                raise ShapeError(
                    f"input {name!r}: dimension {dim} is {got} on axis {axis} but "
                    f"{sizes[dim]} in {where[dim]}"
                )
            else:
                sizes[dim] = int(got)
                where[dim] = f"input {name!r}"
    return sizes


def node_params(
    graph: Graph, node: Node, weights: Mapping[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """The weights of ``node`` keyed by role (optional params only when present)."""
    params = {}
    for role, spec in node.op.params(graph.input_types(node)).items():
        key = param_key(node.name, role)
        if key in weights:
            params[role] = weights[key]
        elif not spec.optional:
            raise WeightError(f"{node.where()}: missing weight {key!r}")
    return params


def check_weights(graph: Graph, weights: Mapping[str, np.ndarray]) -> None:
    """Raise one WeightError listing every missing, wrong-shape or wrong-dtype weight."""
    _params_by_node(graph, weights)


def _params_by_node(graph: Graph, weights: Mapping[str, np.ndarray]) -> list[dict[str, np.ndarray]]:
    """Each node's weights by role, after checking them all (one WeightError for all)."""
    problems = []
    by_node: list[dict[str, np.ndarray]] = []
    for node in graph.nodes:
        params = {}
        for role, spec in node.op.params(graph.input_types(node)).items():
            key = param_key(node.name, role)
            if key not in weights:
                if not spec.optional:
                    problems.append(f"{key} missing")
                continue
            array = weights[key]
            want = _NUMPY_DTYPES[spec.dtype]
            if not isinstance(array, np.ndarray):
                problems.append(f"{key} is a {type(array).__name__}, not a NumPy array")
            elif array.shape != spec.shape or array.dtype != want:
                problems.append(
                    f"{key} is {array.dtype.name}[{_fmt(array.shape)}], expected "
                    f"{want.name}[{_fmt(spec.shape)}]"
                )
            params[role] = array
        by_node.append(params)
    if problems:
        raise WeightError(
            f"model {graph.name!r}: {len(problems)} weight problem(s): {'; '.join(problems)}"
        )
    return by_node


def _last_uses(graph: Graph) -> dict[str, int]:
    """Value name -> index of the last node reading it (-1: never read, len: a graph output)."""
    last = {name: -1 for name in graph.inputs}
    for i, node in enumerate(graph.nodes):
        for v in node.outputs:
            last[v] = i
        for v in node.inputs:
            last[v] = i
    for port in graph.outputs:
        last[port.value] = len(graph.nodes)
    return last


def _execute(
    graph: Graph,
    weights: Mapping[str, np.ndarray],
    inputs: Mapping[str, np.ndarray],
    capture: bool,
) -> dict[str, np.ndarray]:
    sizes = bind_input_sizes(graph, inputs)
    params_by_node = _params_by_node(graph, weights)
    values: dict[str, np.ndarray] = {name: inputs[name] for name in graph.inputs}
    last_use = _last_uses(graph)
    free_after: dict[int, list[str]] = {}
    if not capture:
        for value, index in last_use.items():
            free_after.setdefault(index, []).append(value)
        for value in free_after.pop(-1, []):
            values.pop(value, None)
    fused = {} if capture else _conv_relu_pairs(graph)
    relu_done = set(fused.values())
    for i, node in enumerate(graph.nodes):
        args = [values[v] for v in node.inputs]
        params = params_by_node[i]
        in_place = None if capture else _IN_PLACE.get(type(node.op))
        if isinstance(node.op, Add) and node.op.other is not None:
            in_place = None  # a scalar add has one input; the in-place form adds two
        slot = None if in_place is None else _reusable_input(node, i, values, inputs, last_use)
        if node.op.is_noop or i in relu_done:
            results: tuple[np.ndarray, ...] = (args[0],)
        elif i in fused:
            results = (_conv2d_relu(node.op, args[0], params),)
        elif in_place is not None and slot is not None:
            results = (in_place(args, slot),)
        else:
            try:
                out = node.op.reference(args, params)
            except TrtdslError as e:
                raise BackendError(f"{node.where()}: {e}") from None
            results = out if isinstance(out, tuple) else (out,)
        assert len(results) == len(node.outputs), (
            f"{node.name}: reference gave {len(results)} outputs, node declares {len(node.outputs)}"
        )
        for value, array in zip(node.outputs, results, strict=True):
            _check_result(node, value, graph.types[value], array, sizes)
            values[value] = array
        for value in free_after.pop(i, []):
            values.pop(value, None)
        del args, params, results
    return values


def _conv_relu_pairs(graph: Graph) -> dict[int, int]:
    """conv2d node index -> index of the relu that is its output's only reader.

    Such a relu is applied inside the conv kernel while each image's result is in cache;
    the relu node then passes its input through. Not used when capturing (the conv's own
    value would be lost).
    """
    readers: dict[str, list[int]] = {}
    for j, node in enumerate(graph.nodes):
        for v in node.inputs:
            readers.setdefault(v, []).append(j)
    outputs = {p.value for p in graph.outputs}
    producer = {v: i for i, node in enumerate(graph.nodes) for v in node.outputs}
    pairs = {}
    for j, node in enumerate(graph.nodes):
        if not isinstance(node.op, ReLU):
            continue
        value = node.inputs[0]
        i = producer.get(value)
        if (
            i is not None
            and isinstance(graph.nodes[i].op, Conv2d)
            and readers[value] == [j]
            and value not in outputs
        ):
            pairs[i] = j
    return pairs


def _conv2d_relu(op: Op, x: np.ndarray, params: Mapping[str, np.ndarray]) -> np.ndarray:
    """``relu(Conv2d.reference(x))`` computed by one kernel call."""
    assert isinstance(op, Conv2d)
    return kernels.conv2d(
        x,
        params["weight"],
        params.get("bias"),
        stride=op.stride,  # type: ignore[arg-type]
        pad_begin=op.padding,  # type: ignore[arg-type]
        pad_end=op.padding,  # type: ignore[arg-type]
        dilation=op.dilation,  # type: ignore[arg-type]
        groups=op.groups,
        relu=True,
    )


def _relu_in_place(args: list[np.ndarray], slot: int) -> np.ndarray:
    np.maximum(args[0], 0, out=args[0])  # == ReLU.compute, written over its input
    return args[0]


def _add_in_place(args: list[np.ndarray], slot: int) -> np.ndarray:
    np.add(args[0], args[1], out=args[slot])  # == Add.compute (a + b == b + a)
    return args[slot]


_IN_PLACE: dict[type[Op], Callable[[list[np.ndarray], int], np.ndarray]] = {
    ReLU: _relu_in_place,
    Add: _add_in_place,
}
"""Ops that may write their result over a dead input with exactly ``reference()``'s values:
this saves an allocation and a pass over fresh memory per activation and residual add."""


def _reusable_input(
    node: Node,
    index: int,
    values: Mapping[str, np.ndarray],
    inputs: Mapping[str, np.ndarray],
    last_use: Mapping[str, int],
) -> int | None:
    """The position of an input of ``node`` that it may overwrite, or None.

    The input's value must be read by no later node and not be a graph output, its array
    must have the node's output shape and dtype, be writeable, and share no memory with a
    caller's input array or any other live value (views made by reshape or identity).
    """
    for slot, value in enumerate(node.inputs):
        if slot > 1 or last_use[value] != index or node.inputs.count(value) > 1:
            continue
        array = values[value]
        others = [a for name, a in values.items() if name != value]
        if (
            not array.flags.writeable
            or array.shape != np.broadcast_shapes(*(values[v].shape for v in node.inputs))
            or any(np.may_share_memory(array, a) for a in (*others, *inputs.values()))
        ):
            continue
        return slot
    return None


def _check_result(
    node: Node, value: str, t: TensorType, array: np.ndarray, sizes: dict[str, int]
) -> None:
    """Assert that a node's result has its IR type; a mismatch is a bug in the op."""
    assert isinstance(array, np.ndarray), f"{node.name}: reference returned {type(array)}"
    assert array.dtype == _NUMPY_DTYPES[t.dtype], (
        f"{node.name}: {value} has dtype {array.dtype}, IR says {t}"
    )
    assert array.ndim == t.rank, f"{node.name}: {value} has shape {array.shape}, IR says {t}"
    for dim, got in zip(t.shape, array.shape, strict=True):
        if isinstance(dim, str):
            # A symbol first seen on a node output (not on any input) is bound here.
            expected = sizes.setdefault(dim, int(got))
        else:
            expected = dim
        assert got == expected, (
            f"{node.name}: {value} has shape {array.shape}, IR says {t} with {sizes}"
        )


def _fmt(shape: Sequence[int]) -> str:
    return "x".join(str(d) for d in shape) if len(shape) else "scalar"

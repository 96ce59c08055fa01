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
from trtdsl.ir.ops.activation import Activation
from trtdsl.ir.ops.base import Op, param_key
from trtdsl.ir.ops.conv import Conv2d
from trtdsl.ir.ops.elementwise import Add, Binary, Div, Mul, Sub
from trtdsl.ir.ops.linear import Linear
from trtdsl.ir.ops.normalization import BatchNorm2d, batch_norm_scale_shift
from trtdsl.ir.types import DType, TensorType
from trtdsl.kernels.conv import ChannelAffine, EpilogueStep

_NUMPY_DTYPES = {d: d.to_numpy() for d in DType}

__all__ = ["bind_input_sizes", "capture_reference", "check_weights", "node_params", "run_reference"]


def run_reference(
    graph: Graph,
    weights: Mapping[str, np.ndarray],
    inputs: Mapping[str, np.ndarray],
    threads: int | None = None,
) -> dict[str, np.ndarray]:
    """Run ``graph`` on ``inputs`` with NumPy.

    Args:
        graph: a verified graph.
        weights: ``"{node}.{role}"`` -> array for every non-optional param of
            ``graph.params()`` (e.g. ``BoundWeights.arrays``); shapes and dtypes must match.
        inputs: input name -> array of the input's dtype and shape (symbolic dims may take any
            size, consistently across inputs).
        threads: threads for the kernels (None: the current ``trtdsl.kernels.threads``
            setting, by default the cores this process may use); results are the same, bit
            for bit, for every count.
    Returns:
        output port name -> C-contiguous array of the output's type.
    Raises:
        UsageError for missing or unknown input names, ShapeError for an input of the wrong
        shape or dtype, WeightError for missing or mismatched weights, BackendError when an
        op rejects its data.
    """
    with kernels.threads(threads):
        values = _execute(graph, weights, inputs, capture=False)
    return {p.name: np.ascontiguousarray(values[p.value]) for p in graph.outputs}


def capture_reference(
    graph: Graph,
    weights: Mapping[str, np.ndarray],
    inputs: Mapping[str, np.ndarray],
    threads: int | None = None,
) -> dict[str, np.ndarray]:
    """Like ``run_reference`` but keeps every value: value name -> array (inputs included).

    Used by layer-by-layer comparison; memory grows with the whole network's activations.
    Nothing is fused or computed in place, so every value is the op's own ``reference()``.
    """
    with kernels.threads(threads):
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
    fused = {} if capture else _fusions(graph)
    passed = {j: value for chain in fused.values() for j, value in chain.absorbed}
    for i, node in enumerate(graph.nodes):
        args = [values[v] for v in node.inputs]
        params = params_by_node[i]
        in_place = None if capture else _in_place(node.op)
        slot = None if in_place is None else _reusable_input(node, i, values, inputs, last_use)
        if node.op.is_noop:
            results: tuple[np.ndarray, ...] = (args[0],)
        elif i in passed:  # computed by the epilogue of the producer it is fused with
            results = (values[passed[i]],)
        elif i in fused:
            results = (fused[i].run(node.op, args[0], params_by_node, i, values),)
        elif in_place is not None and slot is not None:
            results = (in_place(node.op, args, slot),)
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


class _Chain:
    """A conv2d or linear node and the nodes after it computed in its kernel's epilogue.

    ``steps``: an activation kernel, the name of a value to add (a residual, computed before
    the producer runs), or a batch norm's node index and eps (a per-channel affine map after a
    conv2d); ``absorbed``: each fused node's index with the value it passes through (the
    chain's result, under the node's name).
    """

    def __init__(self) -> None:
        self.steps: list[kernels.Activation | str | tuple[int, float]] = []
        self.absorbed: list[tuple[int, str]] = []

    def run(
        self,
        op: Op,
        x: np.ndarray,
        params: Sequence[Mapping[str, np.ndarray]],
        index: int,
        values: Mapping[str, np.ndarray],
    ) -> np.ndarray:
        """The producer's output with every step applied (the last fused node's values)."""
        epilogue = [self._step(s, params, values) for s in self.steps]
        weights = params[index]
        if isinstance(op, Linear):
            bias = weights.get("bias") if op.bias else None
            return kernels.linear(x, weights["weight"], bias, epilogue)  # type: ignore[arg-type]
        assert isinstance(op, Conv2d)
        return op.convolve(x, weights["weight"], weights.get("bias"), epilogue)

    @staticmethod
    def _step(
        step: kernels.Activation | str | tuple[int, float],
        params: Sequence[Mapping[str, np.ndarray]],
        values: Mapping[str, np.ndarray],
    ) -> EpilogueStep:
        if isinstance(step, str):
            return values[step]
        if isinstance(step, tuple):  # == BatchNorm2d.reference: x * scale + shift in float32
            p = params[step[0]]
            scale, shift = batch_norm_scale_shift(
                p["weight"], p["bias"], p["running_mean"], p["running_var"], step[1]
            )
            return ChannelAffine(scale, shift)
        return step


_MAX_STEPS = 4


def _fusions(graph: Graph) -> dict[int, _Chain]:
    """Producer index -> the chain of activations and residual adds fused into its kernel.

    A node joins the chain when it is the only reader of the chain's value (which is not a
    graph output): an activation, a batch norm after a conv2d, a two-input add of a float32
    value of the same type that exists before the producer runs, or a no-op (dropout). The
    kernels apply each step to the exact values the separate op would see, so results are bit
    for bit those of running the nodes one by one. Not used when capturing (the values in
    between would be lost).
    """
    readers: dict[str, list[int]] = {}
    for j, node in enumerate(graph.nodes):
        for v in node.inputs:
            readers.setdefault(v, []).append(j)
    outputs = {p.value for p in graph.outputs}
    producer = {v: i for i, node in enumerate(graph.nodes) for v in node.outputs}
    chains = {}
    for i, node in enumerate(graph.nodes):
        if not isinstance(node.op, (Conv2d, Linear)):
            continue
        value, chain = node.output, _Chain()
        while len(chain.steps) < _MAX_STEPS and value not in outputs:
            if graph.types[value].dtype != DType.FLOAT32 or len(readers.get(value, ())) != 1:
                break
            j = readers[value][0]
            op = graph.nodes[j].op
            if op.is_noop and len(graph.nodes[j].outputs) == 1:
                pass  # dropout, identity: the value passes through
            elif _uses_kernel(op):
                assert isinstance(op, Activation)
                chain.steps.append(op.kernel())
            elif isinstance(op, BatchNorm2d) and isinstance(node.op, Conv2d):
                chain.steps.append((j, op.eps))
            elif isinstance(op, Add) and op.other is None and len(set(graph.nodes[j].inputs)) == 2:
                other = next(v for v in graph.nodes[j].inputs if v != value)
                if graph.types[other] != graph.types[value] or producer.get(other, -1) >= i:
                    break
                chain.steps.append(other)
            else:
                break
            chain.absorbed.append((j, value))
            value = graph.nodes[j].output
        if chain.steps:
            chains[i] = chain
    return chains


def _uses_kernel(op: Op) -> bool:
    """Whether ``op`` is an activation computed by its kernel (not a replaced ``compute``)."""
    return isinstance(op, Activation) and type(op).compute is Activation.compute


def _activation_in_place(op: Op, args: list[np.ndarray], slot: int) -> np.ndarray:
    assert isinstance(op, Activation)
    return kernels.activate(args[0], op.kernel(), out=args[0])  # == Activation.compute


_BINARY_UFUNCS: dict[type[Op], np.ufunc] = {
    Add: np.add,
    Sub: np.subtract,
    Mul: np.multiply,
    Div: np.divide,
}


def _binary_in_place(op: Op, args: list[np.ndarray], slot: int) -> np.ndarray:
    ufunc = _BINARY_UFUNCS[type(op)]
    with np.errstate(divide="ignore", invalid="ignore"):
        ufunc(args[0], args[1], out=args[slot])  # == Binary.compute (a ufunc of a and b)
    return args[slot]


def _in_place(op: Op) -> Callable[[Op, list[np.ndarray], int], np.ndarray] | None:
    """How ``op`` writes its result over a dead input with exactly ``reference()``'s values:
    this saves an allocation and a pass over fresh memory per activation and residual add."""
    if _uses_kernel(op):
        return _activation_in_place
    if type(op) in _BINARY_UFUNCS and isinstance(op, Binary) and op.other is None:
        return _binary_in_place
    return None


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

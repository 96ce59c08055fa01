"""A plugin custom op as a TensorRT IPluginV3 layer (TensorRT and the emulator; TensorRT-RTX
has no plugins), and the creators that let TensorRT recreate it when an engine is loaded.

Each plugin op gets one creator in the plugin registry (namespace ``trtdsl``, name = op name,
version = its kernel's). The plugin serializes one CHAR field, ``state``: JSON of the op's
attributes, its weight roles, its output dtype and how each output dimension follows the
inputs' (a constant, or dimension j of input i), so a deserialized plugin needs nothing but
its creator, which ``--ops FILE.py`` registers. Its ``enqueue`` compiles the op's CUDA C with
NVRTC (``plugin_kernel``) and launches it; ``run_reference`` is what the emulator runs.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from types import ModuleType
from typing import Any

import numpy as np

from trtdsl.backends.trt.context import EmitContext, trt_dtype
from trtdsl.backends.trt.module import backend_of
from trtdsl.errors import BackendError, TrtdslError, UsageError
from trtdsl.ir.graph import Node
from trtdsl.ir.ops.base import make_op
from trtdsl.ir.ops.custom import PLUGIN_NAMESPACE, CustomOp, op_attributes, user_ops
from trtdsl.ir.types import DType

_CLASSES: dict[str, tuple[type, type]] = {}
_REGISTERED: dict[tuple[str, str], Any] = {}


def refuse_on_rtx(node: Node) -> UsageError:
    """The one-line refusal of a plugin op on TensorRT-RTX."""
    return UsageError(
        f"{node.where()}: custom op {node.op.op_name!r} is a TensorRT plugin and TensorRT-RTX "
        "has no plugins: give the op a composed lowering (emit()) or build with "
        "--backend tensorrt"
    )


def emit_plugin(ctx: EmitContext, node: Node) -> Any:
    """The IPluginV3 layer of a plugin op's node; its weights enter as constants named by
    their state_dict keys (``node/role`` layers), after the node's inputs."""
    op = node.op
    assert isinstance(op, CustomOp) and op.kernel is not None
    if ctx.product == "tensorrt-rtx":
        raise refuse_on_rtx(node)
    if len(node.outputs) != 1:
        raise BackendError(f"{node.where()}: a plugin op has one output")
    in_types = [ctx.input_type(node, i) for i in range(len(node.inputs))]
    out_type = ctx.output_type(node)
    for t in (*in_types, out_type):
        if t.dtype is not DType.FLOAT32:
            raise BackendError(
                f"{node.where()}: plugin op {op.op_name} computes in float32, got {t} "
                "(leave follows_precision False)"
            )
    specs = op.params(in_types)
    tensors = [ctx.input(node, i) for i in range(len(node.inputs))]
    for role, spec in specs.items():
        key = f"{node.name}.{role}"
        if key not in ctx.weights:
            raise BackendError(f"{node.where()}: no weights for {key!r}")
        tensors.append(ctx.constant(node, role, ctx.weights[key], spec.dtype))
    state = {
        "attributes": op_attributes(op),
        "roles": list(specs),
        "inputs": len(node.inputs),
        "dtype": out_type.dtype.value,
        "shape": _shape_recipe(node, [t.shape for t in in_types], out_type.shape),
    }
    trt = ctx.trt
    register_plugin_creators(trt)
    creator = trt.get_plugin_registry().get_creator(op.op_name, op.kernel.version, PLUGIN_NAMESPACE)
    fields = trt.PluginFieldCollection([_state_field(trt, state)])
    plugin = creator.create_plugin(op.op_name, fields, trt.TensorRTPhase.BUILD)
    ctx.keep.append(plugin)
    return ctx.network.add_plugin_v3(tensors, [], plugin)


def register_plugin_creators(trt: ModuleType) -> list[str]:
    """Register a creator for every registered plugin op with ``trt``'s plugin registry
    (once per op source); returns their names. A no-op for TensorRT-RTX (no plugins)."""
    if backend_of(trt) == "tensorrt-rtx":
        return []
    registry = trt.get_plugin_registry()
    names = []
    for name, cls in user_ops().items():
        if cls.kernel is None:
            continue
        key = (trt.__name__, name)
        previous = _REGISTERED.get(key)
        if previous is not None and previous._op_class.source_sha256 == cls.source_sha256:
            names.append(name)
            continue
        if previous is not None:
            registry.deregister_creator(previous)
        _, creator_class = _plugin_classes(trt)
        creator = creator_class(cls)
        registry.register_creator(creator, PLUGIN_NAMESPACE)
        _REGISTERED[key] = creator
        names.append(name)
    return names


def _shape_recipe(
    node: Node, in_shapes: Sequence[tuple[int | str, ...]], out_shape: tuple[int | str, ...]
) -> list[list[int]]:
    """Each output dimension as ``[-1, value]`` (a constant) or ``[i, j]`` (dimension j of
    input i), for ``get_output_shapes``."""
    recipe = []
    for dim in out_shape:
        if isinstance(dim, int):
            recipe.append([-1, dim])
            continue
        found = [
            [i, j] for i, shape in enumerate(in_shapes) for j, d in enumerate(shape) if d == dim
        ]
        if not found:
            raise BackendError(
                f"{node.where()}: plugin op {node.op.op_name}: output dimension {dim!r} is not "
                "a dimension of an input (a plugin's dynamic output sizes must copy an input's)"
            )
        recipe.append(found[0])
    return recipe


def _state_field(trt: ModuleType, state: dict[str, Any]) -> Any:
    text = json.dumps(state, default=lambda v: getattr(v, "value", str(v)))
    data = np.frombuffer(text.encode("utf-8"), dtype=np.int8).copy()
    return trt.PluginField("state", data, trt.PluginFieldType.CHAR)


_MAX_STATE_BYTES = 1 << 20
"""A plugin's serialized state at most (attributes, roles, shape recipe: a few hundred bytes)."""


def _read_state(fields: Any, name: str = "plugin") -> dict[str, Any]:
    """The ``state`` field of a plugin read back from an engine or plan: data, checked here
    (keys, types, sizes) before anything uses it; a BackendError naming the plugin otherwise.
    Nothing in it names code: the op class is the one registered under the plugin's name."""
    for field in fields:
        if field.name != "state":
            continue
        raw = np.asarray(field.data, np.int8).tobytes()
        if len(raw) > _MAX_STATE_BYTES:
            raise BackendError(f"plugin {name}: its state field is {len(raw):,} bytes")
        try:
            state = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            raise BackendError(f"plugin {name}: its state field is not JSON ({e})") from None
        _check_state(state, name)
        return dict(state)
    raise BackendError(f"plugin {name}: created without its 'state' field")


def _check_state(state: Any, name: str) -> None:
    """BackendError unless ``state`` has the shape ``emit_plugin`` writes."""

    def bad(what: str) -> BackendError:
        return BackendError(f"plugin {name}: its state field has {what}")

    expected = {"attributes", "roles", "inputs", "dtype", "shape"}
    if not isinstance(state, dict) or set(state) != expected:
        keys = sorted(state) if isinstance(state, dict) else type(state).__name__
        raise bad(f"keys {keys}, expected {sorted(expected)}")
    if not isinstance(state["attributes"], dict):
        raise bad("non-object attributes")
    roles, inputs = state["roles"], state["inputs"]
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise bad("roles that are not a list of strings")
    if isinstance(inputs, bool) or not isinstance(inputs, int) or not 1 <= inputs <= 64:
        raise bad(f"an input count {inputs!r}")
    if state["dtype"] not in {d.value for d in DType}:
        raise bad(f"an unknown dtype {state['dtype']!r}")
    shape = state["shape"]
    if not isinstance(shape, list) or not 0 <= len(shape) <= 8:
        raise bad("a shape recipe that is not a list of at most 8 dimensions")
    for dim in shape:
        if not (
            isinstance(dim, list)
            and len(dim) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) for v in dim)
            and -1 <= dim[0] < inputs
            and 0 <= dim[1] <= (1 << 31)
        ):
            raise bad(f"a shape dimension {dim!r} (expected [-1, size] or [input, axis])")


def _as_tuples(value: Any) -> Any:
    """JSON lists back to the tuples ops store."""
    if isinstance(value, list):
        return tuple(_as_tuples(v) for v in value)
    return value


def _dims_exprs(trt: ModuleType, exprs: Sequence[Any]) -> Any:
    """A ``DimsExprs`` holding ``exprs``.

    NOTE: the emulator has no ``DimsExprs`` (it is absent from the 11.4 binding strings its
    names are checked against) and takes a plain list; real TensorRT needs the class.
    """
    if not hasattr(trt, "DimsExprs"):
        return list(exprs)
    dims = trt.DimsExprs(len(exprs))
    for index, expr in enumerate(exprs):
        dims[index] = expr
    return dims


def _plugin_classes(trt: ModuleType) -> tuple[type, type]:
    """The plugin and creator classes for ``trt`` (made once per module)."""
    if trt.__name__ in _CLASSES:
        return _CLASSES[trt.__name__]
    # NOTE: the emulator has no IPluginV3 base (see _dims_exprs); TensorRT lists it first.
    names = ("IPluginV3", "IPluginV3OneCore", "IPluginV3OneBuild", "IPluginV3OneRuntime")
    bases = tuple(getattr(trt, n) for n in names if hasattr(trt, n))

    class OpPlugin(*bases):  # type: ignore[misc]
        """One plugin op's node: its attributes, weights and kernel."""

        def __init__(self, op_class: type[CustomOp], state: dict[str, Any]) -> None:
            for base in bases:
                base.__init__(self)
            assert op_class.kernel is not None
            self.num_outputs = 1
            self.plugin_namespace = PLUGIN_NAMESPACE
            self.plugin_name = op_class.op_name
            self.plugin_version = op_class.kernel.version
            self._op_class = op_class
            self._state = state
            attributes = {k: _as_tuples(v) for k, v in state["attributes"].items()}
            try:
                op = make_op(op_class, attributes)  # validated like any op's attributes
            except TrtdslError as e:
                raise BackendError(f"plugin {op_class.op_name}: {e}") from None
            assert isinstance(op, CustomOp)
            self._op = op

        def get_capability_interface(self, type: Any) -> Any:
            return self

        def clone(self) -> Any:
            return OpPlugin(self._op_class, self._state)

        def get_output_data_types(self, input_types: Any) -> list[Any]:
            return [trt_dtype(trt, DType(self._state["dtype"]))]

        def get_output_shapes(self, inputs: Any, shape_inputs: Any, exprBuilder: Any) -> list[Any]:
            exprs = [
                exprBuilder.constant(j) if i < 0 else inputs[i][j] for i, j in self._state["shape"]
            ]
            return [_dims_exprs(trt, exprs)]

        def supports_format_combination(self, pos: int, in_out: Any, num_inputs: int) -> bool:
            desc = in_out[pos].desc
            return bool(desc.format == trt.TensorFormat.LINEAR and desc.type == trt.float32)

        def configure_plugin(self, inp: Any, out: Any) -> None:
            pass

        def on_shape_change(self, inp: Any, out: Any) -> None:
            pass

        def attach_to_context(self, context: Any) -> Any:
            return self.clone()

        def get_fields_to_serialize(self) -> Any:
            return trt.PluginFieldCollection([_state_field(trt, self._state)])

        def set_tactic(self, tactic: Any) -> None:
            pass

        def get_workspace_size(self, inputs: Any, outputs: Any) -> int:
            return 0

        def get_valid_tactics(self) -> list[int]:
            return []

        def enqueue(
            self,
            input_desc: Any,
            output_desc: Any,
            inputs: Any,
            outputs: Any,
            workspace: Any,
            stream: Any,
        ) -> None:
            from trtdsl.backends.trt.plugin_kernel import compile_kernel, launch_kernel

            kernel = self._op_class.kernel
            assert kernel is not None
            shapes = [tuple(int(d) for d in desc.dims) for desc in input_desc]
            compiled = compile_kernel(kernel.source, kernel.name)
            launch = self._op.launch(shapes)
            launch_kernel(compiled, launch, [*map(int, inputs), *map(int, outputs)], int(stream))

        def run_reference(self, arrays: Sequence[np.ndarray]) -> list[np.ndarray]:
            """The op's NumPy reference on the plugin's inputs (the emulator runs this)."""
            count, roles = int(self._state["inputs"]), self._state["roles"]
            if len(arrays) != count + len(roles):
                raise BackendError(
                    f"plugin {self.plugin_name}: {len(arrays)} input tensors, its state says "
                    f"{count} inputs and {len(roles)} weights"
                )
            params = dict(zip(roles, arrays[count:], strict=True))
            out = self._op.reference(list(arrays[:count]), params)
            return [out[0] if isinstance(out, tuple) else out]

    class OpPluginCreator(trt.IPluginCreatorV3One):  # type: ignore[misc,name-defined]
        """Creates a plugin op's plugin from its ``state`` field."""

        def __init__(self, op_class: type[CustomOp]) -> None:
            trt.IPluginCreatorV3One.__init__(self)
            assert op_class.kernel is not None
            self.name = op_class.op_name
            self.plugin_namespace = PLUGIN_NAMESPACE
            self.plugin_version = op_class.kernel.version
            empty = np.zeros(0, dtype=np.int8)
            self.field_names = trt.PluginFieldCollection(
                [trt.PluginField("state", empty, trt.PluginFieldType.CHAR)]
            )
            self._op_class = op_class

        def create_plugin(self, name: str, fc: Any, phase: Any) -> Any:
            return OpPlugin(self._op_class, _read_state(fc, self.name))

    _CLASSES[trt.__name__] = (OpPlugin, OpPluginCreator)
    return OpPlugin, OpPluginCreator

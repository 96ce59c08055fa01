"""User-defined ops: the ``CustomOp`` base class, a plugin's CUDA kernel, and ``custom_op``,
the decorator that registers an op from the user's own file without editing trtdsl.

A custom op is a frozen dataclass like every built-in op (attributes validated in
``__post_init__``, ``params``, ``infer``, ``reference``, ``macs``) with one of two lowerings:

- composed: it defines ``emit(ctx, node)``, which adds TensorRT layers through the same
  emit context the built-in emitters use (works on TensorRT, TensorRT-RTX and the emulator);
- plugin: it sets ``kernel = PluginKernel(source, name)`` (CUDA C, compiled with NVRTC when
  the engine is built or loaded) and defines ``launch(shapes)``; it becomes a TensorRT
  IPluginV3 layer (TensorRT only: TensorRT-RTX has no plugins; the emulator runs the op's
  ``reference`` and says so).

The registry records each custom op's name, file and a SHA-256 of its source (the class and
its kernel), which an engine's sidecar stores and compares: data never names code to import.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import inspect
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from trtdsl.errors import OpArgumentError
from trtdsl.ir.ops.base import OPS, Op

LOWERINGS = ("composed", "plugin")
"""How a custom op becomes TensorRT layers."""

PLUGIN_NAMESPACE = "trtdsl"
"""The plugin registry namespace of every custom plugin op (creator name: the op name)."""

_NAME = re.compile(r"[a-z][a-z0-9_]*")


@dataclass(frozen=True)
class KernelLaunch:
    """One launch of a plugin kernel: CUDA grid and block sizes and the trailing scalars.

    Attributes:
        grid: blocks in x, y, z.
        block: threads per block in x, y, z.
        scalars: the kernel's arguments after its pointers, in order: a Python ``int`` is
            passed as a 32-bit ``int``, a ``float`` as a 32-bit ``float``.
    """

    grid: tuple[int, int, int]
    block: tuple[int, int, int]
    scalars: tuple[int | float, ...] = ()


@dataclass(frozen=True)
class PluginKernel:
    """The CUDA C source of a plugin op's kernel, compiled with NVRTC when it is first used.

    The kernel ``name`` is ``extern "C" __global__`` and takes, in order: one pointer per input
    (``const float*``), one per weight (``const float*``, in ``params()`` order), one per
    output (``float*``), then the scalars of ``CustomOp.launch``. Tensors are contiguous
    float32 in the IR's layout (NCHW for images).

    Attributes:
        source: the CUDA C text (no ``#include`` of host headers; NVRTC compiles it alone).
        name: the kernel's function name.
        version: the plugin version TensorRT records (change it when the kernel's contract
            changes).
    """

    source: str
    name: str
    version: str = "1"

    def __post_init__(self) -> None:
        if not isinstance(self.source, str) or not self.source.strip():
            raise OpArgumentError("PluginKernel: source must be CUDA C text, got none")
        if not isinstance(self.name, str) or not re.fullmatch(r"[A-Za-z_]\w*", self.name):
            raise OpArgumentError(f"PluginKernel: name must be a C identifier, got {self.name!r}")
        if f"{self.name}(" not in self.source.replace(" (", "("):
            raise OpArgumentError(f"PluginKernel: the source defines no kernel named {self.name!r}")


@dataclass(frozen=True)
class CustomOp(Op):
    """Base class of user-defined ops (see the module docstring and docs/custom_ops.md).

    Subclass it as a frozen dataclass, set ``op_name`` (snake_case) and ``arity``, implement
    ``infer`` and ``reference`` (and ``params``/``macs`` when they apply), then either
    ``emit`` (composed) or ``kernel`` and ``launch`` (plugin), and decorate the class with
    ``@custom_op``.
    """

    kernel: ClassVar[PluginKernel | None] = None
    """A plugin op's CUDA kernel; None for a composed op."""
    follows_precision: ClassVar[bool] = False
    """False (default): the precision and INT8 passes leave the op computing in the dtype
    of its inputs as declared in the model; True: it computes in the build's precision like a
    built-in op (its emitter or kernel must then handle that dtype)."""
    lowering: ClassVar[str] = ""
    """``composed`` or ``plugin``; set by ``custom_op``."""
    source_sha256: ClassVar[str] = ""
    """SHA-256 of the class's source and its kernel; set by ``custom_op``."""
    source_file: ClassVar[str] = ""
    """The file that defined the op (``""`` when Python does not know it)."""

    def emit(self, ctx: Any, node: Any) -> Any:
        """Composed lowering: add the op's layers through ``ctx`` (an ``EmitContext``) and
        return the layer producing its output(s), as a built-in emitter does."""
        raise NotImplementedError

    def launch(self, shapes: Sequence[tuple[int, ...]]) -> KernelLaunch:
        """Plugin lowering: the kernel launch for these concrete input shapes (the node's
        inputs, then its weights)."""
        raise NotImplementedError


CustomT = TypeVar("CustomT", bound=type[CustomOp])


def custom_op(cls: CustomT) -> CustomT:
    """Class decorator registering a user-defined op under its ``op_name``.

    Put it above ``@dataclass(frozen=True)``. The op is then usable as ``ModelBuilder``
    method ``b.<op_name>(...)``, in YAML as ``{op: <op_name>, ...}`` and by ``trtdsl``
    commands given ``--ops FILE.py``.

    Raises:
        OpArgumentError: the class is not a frozen dataclass subclassing CustomOp, its name is
            not snake_case or is a built-in op's, it lacks ``infer``/``reference``, it has
            both or neither lowering, or another op of that name with other source is
            registered.
    """
    name = getattr(cls, "op_name", "")
    what = f"custom op {getattr(cls, '__name__', cls)!r}"
    if not (isinstance(cls, type) and issubclass(cls, CustomOp)):
        raise OpArgumentError(f"{what}: @custom_op needs a subclass of trtdsl.CustomOp")
    params = getattr(cls, "__dataclass_params__", None)
    if "__dataclass_fields__" not in vars(cls) or params is None or not params.frozen:
        raise OpArgumentError(
            f"{what}: put @custom_op above @dataclass(frozen=True) (ops are frozen dataclasses)"
        )
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise OpArgumentError(f"{what}: op_name must be snake_case (e.g. 'mish'), got {name!r}")
    for method in ("infer", "reference"):
        if getattr(cls, method) is getattr(Op, method):
            raise OpArgumentError(f"{what} ({name}): define {method}()")
    composed = cls.emit is not CustomOp.emit
    plugin = cls.kernel is not None
    if composed == plugin:
        raise OpArgumentError(
            f"{what} ({name}): define exactly one lowering: emit(ctx, node) (composed from "
            f"TensorRT layers) or kernel = PluginKernel(...) with launch(shapes) (a plugin); "
            f"got {'both' if composed else 'neither'}"
        )
    if plugin and not isinstance(cls.kernel, PluginKernel):
        raise OpArgumentError(f"{what} ({name}): kernel must be a trtdsl.PluginKernel")
    if plugin and cls.launch is CustomOp.launch:
        raise OpArgumentError(f"{what} ({name}): a plugin op defines launch(shapes)")
    if plugin and cls.arity is None:
        raise OpArgumentError(f"{what} ({name}): a plugin op has a fixed arity")
    cls.lowering = "composed" if composed else "plugin"
    cls.source_file = _source_file(cls)
    cls.source_sha256 = _source_digest(cls)
    existing = OPS.get(name)
    if existing is not None:
        if not issubclass(existing, CustomOp):
            raise OpArgumentError(f"{what}: op_name {name!r} is a built-in op; choose another name")
        if existing.source_sha256 != cls.source_sha256:
            raise OpArgumentError(
                f"{what}: op {name!r} is already registered from "
                f"{existing.source_file or 'elsewhere'} with other source"
            )
    OPS[name] = cls
    return cls


def user_ops() -> dict[str, type[CustomOp]]:
    """The registered custom ops, name -> class, sorted by name."""
    return {
        name: cls
        for name, cls in sorted(OPS.items())
        if isinstance(cls, type) and issubclass(cls, CustomOp)
    }


def is_custom(op: Op | type[Op]) -> bool:
    """Whether ``op`` (an op or op class) is user-defined."""
    cls = op if isinstance(op, type) else type(op)
    return issubclass(cls, CustomOp)


@contextlib.contextmanager
def custom_op_scope() -> Iterator[None]:
    """Registrations made inside the block are undone when it ends (one CLI command, a
    test): the registry is restored to what it held before."""
    saved = dict(OPS)
    try:
        yield
    finally:
        OPS.clear()
        OPS.update(saved)


def op_attributes(op: Op) -> dict[str, Any]:
    """The dataclass attributes of ``op`` (field name -> value)."""
    return {f.name: getattr(op, f.name) for f in dataclasses.fields(op)}


def _source_file(cls: type) -> str:
    try:
        return inspect.getsourcefile(cls) or ""
    except (TypeError, OSError):
        return ""


def _source_digest(cls: type[CustomOp]) -> str:
    """SHA-256 of the class's source text (and its kernel's); of its qualified name where
    Python cannot show the source (a class made in an interactive session)."""
    try:
        text = inspect.getsource(cls)
    except (TypeError, OSError):
        text = f"{cls.__module__}.{cls.__qualname__}"
    if cls.kernel is not None:
        text += "\n" + cls.kernel.name + "\n" + cls.kernel.source
    return hashlib.sha256(text.encode("utf-8")).hexdigest()

"""The op protocol, the op registry and the attribute validators every op family uses."""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import numpy as np

from trtdsl.errors import OpArgumentError, ShapeError
from trtdsl.ir.types import DType, TensorType

OPS: dict[str, type[Op]] = {}
"""The single map from op names (YAML ``op:``, builder methods) to op classes."""

OpT = TypeVar("OpT", bound="type[Op]")


@dataclass(frozen=True)
class ParamSpec:
    """One weight an op needs: its shape and the dtype it is stored in.

    The state_dict key of a parameter is ``f"{node.name}.{role}"`` (``param_key``; the empty
    role is the node's own name). An ``optional`` parameter
    is not used by the computation and may be absent from a checkpoint (BatchNorm's
    ``num_batches_tracked``, which PyTorch saves but does not require). A ``buffer`` is saved
    state rather than a trainable parameter (BatchNorm's running statistics): it is bound like
    any weight but, as in PyTorch, not counted among the model's parameters.
    """

    shape: tuple[int, ...]
    dtype: DType = DType.FLOAT32
    optional: bool = False
    buffer: bool = False


@dataclass(frozen=True)
class Op:
    """Base class of all ops. Subclasses are frozen dataclasses with PyTorch attribute names.

    A subclass sets ``op_name`` (its registry name) and ``arity`` (number of inputs, or None
    for one or more), validates its attributes in ``__post_init__`` and implements ``infer``
    and ``reference``; ops with weights implement ``params``.
    """

    op_name: ClassVar[str] = ""
    arity: ClassVar[int | None] = 1
    is_noop: ClassVar[bool] = False
    """True for ops that are the identity at inference (identity, dropout)."""

    def num_outputs(self) -> int:
        """Number of output values (1 for all but splitting ops)."""
        return 1

    def params(self, inputs: Sequence[TensorType]) -> dict[str, ParamSpec]:
        """The weights this op needs given its input types, keyed by state_dict role."""
        return {}

    def infer(self, inputs: Sequence[TensorType]) -> TensorType | tuple[TensorType, ...]:
        """The output type(s) for these input types, or raise ShapeError saying why not."""
        raise NotImplementedError

    def reference(
        self, inputs: Sequence[np.ndarray], params: Mapping[str, np.ndarray]
    ) -> np.ndarray | tuple[np.ndarray, ...]:
        """NumPy semantics of the op: the specification every backend must match."""
        raise NotImplementedError

    def macs(
        self,
        inputs: Sequence[TensorType],
        outputs: Sequence[TensorType],
        sizes: Mapping[str, int] | None = None,
    ) -> int:
        """Multiply-accumulates for one run (symbols sized by ``sizes``, default 1)."""
        return 0

    # -- helpers shared by all ops --------------------------------------------------------

    def infer_outputs(self, inputs: Sequence[TensorType]) -> tuple[TensorType, ...]:
        """``infer`` after checking arity, always as a tuple."""
        check_arity(self, inputs)
        out = self.infer(inputs)
        return out if isinstance(out, tuple) else (out,)

    def attributes(self) -> dict[str, Any]:
        """The op's attributes as a plain dict (field name -> value)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


def param_key(node_name: str, role: str) -> str:
    """The state_dict key of weight ``role`` of node ``node_name``: ``f"{node_name}.{role}"``,
    or the node's own name for the empty role (a ``parameter`` node is its weight, e.g.
    ViT's ``class_token``)."""
    return f"{node_name}.{role}" if role else node_name


def register_op(cls: OpT) -> OpT:
    """Class decorator adding an op class to ``OPS`` under its ``op_name``."""
    name = cls.op_name
    if not name:
        raise TypeError(f"{cls.__name__} has no op_name")
    if name in OPS and OPS[name] is not cls:
        raise TypeError(f"op name {name!r} registered twice ({OPS[name].__name__}, {cls.__name__})")
    OPS[name] = cls
    return cls


def suggest(name: str, choices: Sequence[str]) -> str:
    """``"; did you mean 'x'?"`` for the closest of ``choices``, or an empty string."""
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def op_class(name: str) -> type[Op]:
    """The op class registered as ``name``, or OpArgumentError with a close-match suggestion."""
    try:
        return OPS[name]
    except (KeyError, TypeError):
        raise OpArgumentError(f"unknown op {name!r}{suggest(str(name), sorted(OPS))}") from None


def make_op(name: str | type[Op], kwargs: Mapping[str, Any]) -> Op:
    """Construct an op from keyword arguments, reporting unknown or missing ones clearly."""
    cls = op_class(name) if isinstance(name, str) else name
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in kwargs:
        if key not in fields:
            raise OpArgumentError(
                f"{cls.op_name}: unknown argument {key!r}{suggest(str(key), sorted(fields))} "
                f"(accepted: {', '.join(fields) or 'none'})"
            )
    missing = [
        n
        for n, f in fields.items()
        if n not in kwargs
        and f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise OpArgumentError(f"{cls.op_name}: missing required argument(s) {', '.join(missing)}")
    return cls(**kwargs)


def check_arity(op: Op, inputs: Sequence[object]) -> None:
    if op.arity is None:
        if len(inputs) < 1:
            raise ShapeError(f"{op.op_name}: expected at least 1 input, got 0")
    elif len(inputs) != op.arity:
        raise ShapeError(f"{op.op_name}: expected {op.arity} input(s), got {len(inputs)}")


# -- attribute validators (called from __post_init__; they normalise via object.__setattr__) ---


def _is_int(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def check_int(op: Op, name: str, minimum: int | None = None) -> int:
    """Validate attribute ``name`` as an int >= minimum; returns it."""
    value = getattr(op, name)
    if not _is_int(value) or (minimum is not None and value < minimum):
        bound = f" >= {minimum}" if minimum is not None else ""
        raise OpArgumentError(f"{op.op_name}: {name} must be an int{bound}, got {value!r}")
    object.__setattr__(op, name, int(value))
    return int(value)


def _is_finite(value: Any) -> bool:
    try:
        return bool(np.isfinite(float(value)))
    except OverflowError:  # ints beyond float range
        return False


def check_float(op: Op, name: str, positive: bool = False) -> float:
    """Validate attribute ``name`` as a finite real number (> 0 if ``positive``); returns it."""
    value = getattr(op, name)
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float, np.floating, np.integer))
        or not _is_finite(value)
        or (positive and value <= 0)
    ):
        kind = "a positive number" if positive else "a finite number"
        raise OpArgumentError(f"{op.op_name}: {name} must be {kind}, got {value!r}")
    object.__setattr__(op, name, float(value))
    return float(value)


def check_bool(op: Op, name: str) -> bool:
    value = getattr(op, name)
    if not isinstance(value, (bool, np.bool_)):
        raise OpArgumentError(f"{op.op_name}: {name} must be true or false, got {value!r}")
    object.__setattr__(op, name, bool(value))
    return bool(value)


def check_choice(op: Op, name: str, choices: Sequence[str]) -> str:
    value = getattr(op, name)
    if not isinstance(value, str) or value not in choices:
        raise OpArgumentError(
            f"{op.op_name}: {name} must be one of {', '.join(map(repr, choices))}, got {value!r}"
        )
    return str(value)


def check_pair(op: Op, name: str, minimum: int = 0) -> tuple[int, int]:
    """Validate an int-or-pair attribute (PyTorch's ``_pair``); stores and returns the pair."""
    value = getattr(op, name)
    if _is_int(value):
        pair = (int(value), int(value))
    elif isinstance(value, (list, tuple)) and len(value) == 2 and all(map(_is_int, value)):
        pair = (int(value[0]), int(value[1]))
    else:
        raise OpArgumentError(
            f"{op.op_name}: {name} must be an int or a pair of ints, got {value!r}"
        )
    if min(pair) < minimum:
        raise OpArgumentError(f"{op.op_name}: {name} must be >= {minimum}, got {value!r}")
    object.__setattr__(op, name, pair)
    return pair


def check_int_tuple(op: Op, name: str, allow_none: bool = False) -> tuple[int, ...] | None:
    """Validate a list of ints (axes, shapes); stores it as a tuple."""
    value = getattr(op, name)
    if value is None and allow_none:
        return None
    if _is_int(value):
        value = (value,)
    if not isinstance(value, (list, tuple)) or not all(map(_is_int, value)):
        raise OpArgumentError(f"{op.op_name}: {name} must be a list of ints, got {value!r}")
    result = tuple(int(v) for v in value)
    object.__setattr__(op, name, result)
    return result


def normalize_axis(op: Op, axis: int, rank: int, what: str = "axis") -> int:
    """Map a possibly negative axis into [0, rank) or raise ShapeError."""
    if not -rank <= axis < rank:
        raise ShapeError(f"{op.op_name}: {what} {axis} out of range for rank {rank}")
    return axis % rank


def expect_rank(op: Op, t: TensorType, rank: int, what: str = "input") -> None:
    if t.rank != rank:
        raise ShapeError(f"{op.op_name}: expected a rank-{rank} {what}, got {t}")


def expect_float(op: Op, t: TensorType) -> None:
    if not t.dtype.is_float:
        raise ShapeError(f"{op.op_name}: expected a floating-point input, got {t}")


def static_dim(op: Op, t: TensorType, axis: int, what: str) -> int:
    """The static size of ``t.shape[axis]``, or ShapeError if it is symbolic."""
    d = t.shape[axis]
    if not isinstance(d, int):
        raise ShapeError(f"{op.op_name}: {what} must be static, got dimension {d!r} in {t}")
    return d


Reference = Callable[..., np.ndarray]

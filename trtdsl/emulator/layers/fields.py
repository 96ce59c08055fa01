"""What a layer keeps in ``_p``, declared once: each property key with its kind (Dims, an int,
a member of one enum class, ...) and the check its setter applies.

The property helpers of ``base.py`` record their field on the property they return
(``FieldProperty``); keys a layer sets outside those helpers are declared in its class's
``_FIELDS``. ``plan_fields(cls)`` gathers both over the class hierarchy. Emulated plans write
every property through its kind and read it back only into a value the layer's own setter
would have stored, so a plan cannot hand a layer anything its API refuses.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from types import MappingProxyType
from typing import Any

from trtdsl.emulator.enums import _TrtEnum
from trtdsl.emulator.types import Dims, Permutation
from trtdsl.files import describe_json

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
"""The range of an int property (TensorRT's int64_t; its int32 ones are narrower)."""


class FieldError(ValueError):
    """A property value is not what its field holds; the message says what was expected."""


describe = describe_json
"""A short description of a JSON value for messages (``trtdsl.files.describe_json``)."""


class Kind:
    """How one kind of property value is written into a plan and read back from it."""

    name = "a value"

    def encode(self, value: Any) -> Any:
        """``value`` (a layer's stored property) as JSON-ready data."""
        raise NotImplementedError

    def decode(self, data: Any) -> Any:
        """The property value ``data`` (parsed JSON) holds; FieldError if it holds none."""
        raise NotImplementedError

    def _refuse(self, data: Any) -> FieldError:
        return FieldError(f"expected {self.name}, got {describe(data)}")


def _int(data: Any) -> int:
    if isinstance(data, bool) or not isinstance(data, int):
        raise FieldError(f"expected an int, got {describe(data)}")
    if not INT64_MIN <= data <= INT64_MAX:
        raise FieldError(f"{data} is outside the int64 range")
    return data


def _finite(data: Any) -> float:
    if isinstance(data, bool) or not isinstance(data, int | float):
        raise FieldError(f"expected a finite number, got {describe(data)}")
    try:
        value = float(data)
    except OverflowError:
        value = math.inf
    if not math.isfinite(value):
        raise FieldError(f"expected a finite number, got {value!r}")
    return value


def _encode_finite(value: float) -> float:
    if not math.isfinite(value):
        raise FieldError(f"{value} cannot be stored in a plan (finite numbers only)")
    return float(value)


class _Int(Kind):
    name = "an int"

    def encode(self, value: Any) -> Any:
        return int(value)

    def decode(self, data: Any) -> Any:
        return _int(data)


class _Float(Kind):
    name = "a finite number"

    def encode(self, value: Any) -> Any:
        return _encode_finite(value)

    def decode(self, data: Any) -> Any:
        return _finite(data)


class _Bool(Kind):
    name = "a boolean"

    def encode(self, value: Any) -> Any:
        return bool(value)

    def decode(self, data: Any) -> Any:
        if not isinstance(data, bool):
            raise self._refuse(data)
        return data


class _Tagged(Kind):
    """A value written as a one-key object ``{tag: [entries]}`` (so that a Dims, a Permutation
    and a float tuple cannot be taken for one another), at most ``Dims.MAX_DIMS`` entries."""

    tag = ""

    def encode(self, value: Any) -> Any:
        return {self.tag: [self._encode_entry(v) for v in value]}

    def _encode_entry(self, value: Any) -> Any:
        return int(value)

    def _entries(self, data: Any) -> list[Any]:
        if not isinstance(data, dict) or list(data) != [self.tag]:
            raise self._refuse(data)
        entries = data[self.tag]
        if not isinstance(entries, list) or len(entries) > Dims.MAX_DIMS:
            raise FieldError(f"expected {self.name}, got {describe(entries)} in {self.tag!r}")
        return entries

    def _entry(self, entries: list[Any], decode: Callable[[Any], Any]) -> list[Any]:
        values = []
        for index, entry in enumerate(entries):
            try:
                values.append(decode(entry))
            except FieldError as error:
                raise FieldError(f"{self.tag}[{index}]: {error}") from None
        return values


class _Dims(_Tagged):
    name = f'Dims ({{"dims": [at most {Dims.MAX_DIMS} ints]}})'
    tag = "dims"

    def decode(self, data: Any) -> Any:
        return Dims(self._entry(self._entries(data), _int))


class _Permutation(_Tagged):
    name = f'a Permutation ({{"perm": [at most {Dims.MAX_DIMS} ints]}})'
    tag = "perm"

    def decode(self, data: Any) -> Any:
        return Permutation(self._entry(self._entries(data), _int))


class _Floats(_Tagged):
    name = f'a float tuple ({{"floats": [at most {Dims.MAX_DIMS} finite numbers]}})'
    tag = "floats"

    def _encode_entry(self, value: Any) -> Any:
        return _encode_finite(value)

    def decode(self, data: Any) -> Any:
        return tuple(self._entry(self._entries(data), _finite))


class _Enum(Kind):
    def __init__(self, cls: type[_TrtEnum]) -> None:
        self.cls = cls
        self.name = f'a {cls.__name__} member ({{"enum": "{cls.__name__}", "name": ...}})'

    def encode(self, value: Any) -> Any:
        return {"enum": type(value).__name__, "name": value.name}

    def decode(self, data: Any) -> Any:
        if not isinstance(data, dict) or sorted(data) != ["enum", "name"]:
            raise self._refuse(data)
        enum, name = data["enum"], data["name"]
        if enum != self.cls.__name__:
            raise FieldError(f"expected a {self.cls.__name__} member, got {describe(enum)}")
        if not isinstance(name, str) or name not in self.cls.__members__:
            raise FieldError(f"{describe(name)} is not a member of {self.cls.__name__}")
        return self.cls[name]


class _Optional(Kind):
    def __init__(self, inner: Kind) -> None:
        self.inner = inner
        self.name = f"null or {inner.name}"

    def encode(self, value: Any) -> Any:
        return None if value is None else self.inner.encode(value)

    def decode(self, data: Any) -> Any:
        return None if data is None else self.inner.decode(data)


INT: Kind = _Int()
FLOAT: Kind = _Float()
BOOL: Kind = _Bool()
DIMS: Kind = _Dims()
PERMUTATION: Kind = _Permutation()
FLOATS: Kind = _Floats()


@cache
def enum_kind(cls: type[_TrtEnum]) -> Kind:
    """The kind of a property holding a member of ``cls`` (and of no other enum)."""
    return _Enum(cls)


def optional(kind: Kind) -> Kind:
    """``kind`` or None."""
    return _Optional(kind)


def kind_of(cls: type) -> Kind:
    """The kind of a ``value_property`` of Python type ``cls``."""
    if isinstance(cls, type) and issubclass(cls, _TrtEnum):
        return enum_kind(cls)
    kinds: dict[type, Kind] = {int: INT, float: FLOAT, bool: BOOL}
    if cls not in kinds:
        raise TypeError(f"no plan field kind for {cls!r}")  # a layer-definition bug
    return kinds[cls]


@dataclass(frozen=True)
class PlanField:
    """One ``_p`` key: its kind, and the check (with the setter's refusal) a value must pass."""

    key: str
    kind: Kind
    check: Callable[[Any], bool] | None = None
    refuse: str = ""

    def decode(self, data: Any) -> Any:
        """The value ``data`` holds, as the layer's setter would have stored it."""
        value = self.kind.decode(data)
        if self.check is not None and not self.check(value):
            raise FieldError(f"{self.refuse}; got {value!r}")
        return value


class FieldProperty(property):
    """A property stored in ``_p[field.key]``: what ``plan_fields`` collects."""

    field: PlanField


class WeightsProperty(property):
    """A property stored in ``_w[role]``: what ``plan_weights`` collects."""

    role: str


def field_property(
    field: PlanField, fget: Callable[[Any], Any], fset: Callable[[Any, Any], None], doc: str
) -> property:
    """A property reading and writing ``_p[field.key]`` through ``fget``/``fset``."""
    prop = FieldProperty(fget, fset, doc=doc)
    prop.field = field
    return prop


def weights_slot_property(
    role: str, fget: Callable[[Any], Any], fset: Callable[[Any, Any], None], doc: str
) -> property:
    """A property reading and writing ``_w[role]`` through ``fget``/``fset``."""
    prop = WeightsProperty(fget, fset, doc=doc)
    prop.role = role
    return prop


_FIELD_TABLES: dict[type, Mapping[str, PlanField]] = {}
_WEIGHTS_TABLES: dict[type, frozenset[str]] = {}


def plan_fields(cls: type) -> Mapping[str, PlanField]:
    """Every ``_p`` key of layer class ``cls``: its field properties and ``_FIELDS``, over
    its hierarchy (a subclass's declaration of a key wins)."""
    table = _FIELD_TABLES.get(cls)
    if table is None:
        table = _FIELD_TABLES[cls] = _collect_fields(cls)
    return table


def plan_weights(cls: type) -> frozenset[str]:
    """Every ``_w`` role of layer class ``cls`` (its weights properties)."""
    roles = _WEIGHTS_TABLES.get(cls)
    if roles is None:
        roles = _WEIGHTS_TABLES[cls] = frozenset(
            value.role
            for klass in cls.__mro__
            for value in vars(klass).values()
            if isinstance(value, WeightsProperty)
        )
    return roles


def _collect_fields(cls: type) -> Mapping[str, PlanField]:
    fields: dict[str, PlanField] = {}
    for klass in reversed(cls.__mro__):
        for value in vars(klass).values():
            if isinstance(value, FieldProperty):
                fields[value.field.key] = value.field
        for field in vars(klass).get("_FIELDS", ()):
            fields[field.key] = field
    return MappingProxyType(fields)

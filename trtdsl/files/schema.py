"""Typed records: a JSON document parsed once into frozen dataclasses, every field checked.

A record class is a frozen dataclass whose field annotations say what each JSON value must
be: ``str``, ``int``, ``float``, ``bool``, ``None``, unions (``int | None``), ``tuple[X, ...]``,
``tuple[X, Y]``, ``dict[str, X]``, ``Literal[...]``, nested record classes, ``Any`` (any JSON
value, kept as it is) and ``Annotated[int, Bounds(lo, hi)]``. A field with a default may be
absent; keys the class does not know are ignored (newer writers may add some). Anything else
is one FileFormatError naming the file and the field path (``io.inputs[0].profile.min``).

``record_to_json`` turns a record back into JSON-ready values, so a writer and its readers
share one definition.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any, Literal, TypeVar, Union

from trtdsl.errors import FileFormatError

T = TypeVar("T")


@dataclass(frozen=True)
class Bounds:
    """``Annotated[int, Bounds(0, 2**31 - 1)]``: an int (or float) within [low, high]."""

    low: float
    high: float


def describe_json(value: Any) -> str:
    """A short description of a JSON value for messages: ``the string 'x'``, ``a list of 3``,
    ``the number 1e+308`` (long values cut at 40 characters)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, (int, float)):
        text = repr(value)
        return f"the number {text[:40]}" + ("..." if len(text) > 40 else "")
    if isinstance(value, str):
        return f"the string {value[:40]!r}" + ("..." if len(value) > 40 else "")
    if isinstance(value, list):
        return f"a list of {len(value)}"
    if isinstance(value, dict):
        keys = ", ".join(repr(k) for k in list(value)[:4])
        return f"an object with keys {keys}" if value else "an empty object"
    return type(value).__name__


class _Invalid(Exception):
    def __init__(self, path: str, message: str) -> None:
        super().__init__(path, message)
        self.path = path
        self.message = message


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls, include_extras=True)


def _name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Annotated:
        return _name(typing.get_args(tp)[0])
    if tp is type(None):
        return "null"
    if origin in (Union, types.UnionType):
        return " or ".join(_name(a) for a in typing.get_args(tp))
    if origin is Literal:
        return " or ".join(repr(a) for a in typing.get_args(tp))
    if origin is tuple:
        return "a list"
    if origin in (dict, Mapping):
        return "an object"
    if dataclasses.is_dataclass(tp):
        return "an object"
    return {str: "a string", int: "an integer", float: "a number", bool: "a boolean"}.get(
        tp, getattr(tp, "__name__", str(tp))
    )


def _convert(tp: Any, value: Any, path: str) -> Any:
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if origin is Annotated:
        inner, *extras = typing.get_args(tp)
        result = _convert(inner, value, path)
        for extra in extras:
            if isinstance(extra, Bounds) and not extra.low <= result <= extra.high:
                raise _Invalid(path, f"{result!r} is outside {extra.low:g}..{extra.high:g}")
        return result
    if tp is type(None):
        if value is not None:
            raise _Invalid(path, f"expected null, got {describe_json(value)}")
        return None
    if origin in (Union, types.UnionType):
        options = typing.get_args(tp)
        if value is None and type(None) in options:
            return None
        candidates = [o for o in options if o is not type(None)]
        failures: list[_Invalid] = []
        for option in candidates:
            try:
                return _convert(option, value, path)
            except _Invalid as e:
                failures.append(e)
        deeper = [e for e in failures if e.path != path]
        if len(candidates) == 1 or len(deeper) == 1:
            raise (deeper or failures)[0]  # the value had the right kind: say what is inside
        raise _Invalid(path, f"expected {_name(tp)}, got {describe_json(value)}")
    if origin is Literal:
        if value not in typing.get_args(tp) or isinstance(value, bool) != any(
            isinstance(a, bool) for a in typing.get_args(tp)
        ):
            raise _Invalid(path, f"expected {_name(tp)}, got {describe_json(value)}")
        return value
    if origin is tuple:
        if not isinstance(value, list):
            raise _Invalid(path, f"expected a list, got {describe_json(value)}")
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(args[0], v, f"{path}[{i}]") for i, v in enumerate(value))
        if len(value) != len(args):
            raise _Invalid(path, f"expected a list of {len(args)}, got {describe_json(value)}")
        return tuple(
            _convert(a, v, f"{path}[{i}]") for i, (a, v) in enumerate(zip(args, value, strict=True))
        )
    if origin in (dict, Mapping):
        if not isinstance(value, dict):
            raise _Invalid(path, f"expected an object, got {describe_json(value)}")
        key_type, value_type = typing.get_args(tp)
        if key_type is not str:
            raise TypeError(f"record keys must be str, not {key_type}")  # a schema bug
        return {k: _convert(value_type, v, f"{path}.{k}" if path else k) for k, v in value.items()}
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return _record(tp, value, path)
    if tp is bool:
        if not isinstance(value, bool):
            raise _Invalid(path, f"expected a boolean, got {describe_json(value)}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _Invalid(path, f"expected an integer, got {describe_json(value)}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _Invalid(path, f"expected a number, got {describe_json(value)}")
        try:
            number = float(value)
        except OverflowError:
            number = math.inf
        if not math.isfinite(number):
            raise _Invalid(path, f"expected a finite number, got {describe_json(value)}")
        return number
    if tp is str:
        if not isinstance(value, str):
            raise _Invalid(path, f"expected a string, got {describe_json(value)}")
        return value
    raise TypeError(f"unsupported record field type {tp!r}")  # a schema bug, not bad input


def _record(cls: type[T], value: Any, path: str) -> T:
    if not isinstance(value, dict):
        raise _Invalid(path, f"expected an object, got {describe_json(value)}")
    hints = _hints(typing.cast(Any, cls))
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        key = f.metadata.get("json", f.name)
        where = f"{path}.{key}" if path else key
        if key not in value:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise _Invalid(where, "missing")
            continue
        kwargs[f.name] = _convert(hints[f.name], value[key], where)
    try:
        return cls(**kwargs)
    except (ValueError, TypeError) as e:  # __post_init__ checks across fields
        raise _Invalid(path or "(top)", str(e)) from None


def parse_record(cls: type[T], data: Any, where: str) -> T:
    """``data`` (parsed JSON) as the record class ``cls``.

    Raises:
        FileFormatError: ``"{where}: field 'a.b[2]': expected an integer, got ..."``.
    """
    try:
        return _record(cls, data, "")
    except _Invalid as e:
        field = f"field {e.path!r}: " if e.path else ""
        raise FileFormatError(f"{where}: {field}{e.message}") from None


def record_to_json(record: Any) -> Any:
    """A record (or a value inside one) as JSON-ready values: tuples become lists, nested
    records objects (keys as ``parse_record`` reads them)."""
    if dataclasses.is_dataclass(record) and not isinstance(record, type):
        return {
            f.metadata.get("json", f.name): record_to_json(getattr(record, f.name))
            for f in dataclasses.fields(record)
        }
    if isinstance(record, (list, tuple)):
        return [record_to_json(v) for v in record]
    if isinstance(record, Mapping):
        return {str(k): record_to_json(v) for k, v in record.items()}
    return record

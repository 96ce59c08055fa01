"""Shared pieces of the YAML DSL reader: key sets, blocks, name scopes and value helpers."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trtdsl.errors import ModelError
from trtdsl.frontend.builder import Tensor
from trtdsl.frontend.yaml_expr import ExpressionError, evaluate, is_expression
from trtdsl.frontend.yaml_loader import LineDict, LineList, where
from trtdsl.ir.ops.base import suggest

MODEL_KEYS = (
    "name",
    "description",
    "include",
    "dims",
    "inputs",
    "weights",
    "blocks",
    "layers",
    "outputs",
    "preprocess",
)
LIBRARY_KEYS = ("description", "include", "blocks")
BLOCK_KEYS = ("description", "params", "inputs", "layers", "output")
COMMON_LAYER_KEYS = ("name", "inputs", "precision", "when")
BLOCK_LAYER_KEYS = (*COMMON_LAYER_KEYS, "block", "args", "repeat", "first")
GROUP_LAYER_KEYS = (*COMMON_LAYER_KEYS, "layers", "output")
RESERVED_LAYER_KEYS = (*BLOCK_LAYER_KEYS, "layers", "output", "op")
REQUIRED = "required"
"""The default that marks a block parameter as required."""
MAX_REPEAT = 4096
MAX_DEPTH = 32
MAX_NODES = 100_000
"""The most layers a YAML model may expand to: nested ``repeat``s multiply, and a file of a
few lines must not expand to 10**12 layers (the largest zoo model has a few thousand)."""

Result = Tensor | tuple[Tensor, ...]


@dataclass
class Block:
    name: str
    params: dict[str, Any]
    inputs: tuple[str, ...]
    layers: LineList
    output: Any
    where: str


@dataclass
class Frame:
    """Names visible in one layer list: a model, a block body or a group."""

    prefix: str
    parent: Frame | None
    names: dict[str, Result] = field(default_factory=dict)
    defined_at: dict[str, str] = field(default_factory=dict)
    aliases: set[str] = field(default_factory=set)
    previous: Result | None = None
    upcoming: dict[str, str] = field(default_factory=dict)

    def define(self, local: str, value: Result, loc: str, path: str) -> None:
        if local in self.names:
            raise ModelError(
                f"{loc}: {path}: duplicate name {local!r} (first defined at "
                f"{self.defined_at[local]}); expected unique layer names"
            )
        self.names[local] = value
        self.defined_at[local] = loc

    def export_into(self, parent: Frame, name: str) -> None:
        """Make this frame's names visible in ``parent`` as ``name.<local>``."""
        for local, value in self.names.items():
            if local not in self.aliases:
                parent.names.setdefault(f"{name}.{local}", value)
                parent.defined_at.setdefault(f"{name}.{local}", self.defined_at[local])


REPEAT_KEYS = ("count", "start", "prefix")
SEGMENT = re.compile(r"[A-Za-z0-9_-]+")
"""One segment of a dotted layer name."""


def repetition_names(spec: Any, loc: str, path: str) -> list[str]:
    """The names of a ``repeat``'s repetitions: ``repeat: 3`` -> 0, 1, 2;
    ``repeat: {count: 3, start: 1, prefix: b}`` -> b1, b2, b3; ``repeat: [a, b]`` -> a, b."""
    if isinstance(spec, list):
        names = [str(v) if isinstance(v, int) and not isinstance(v, bool) else v for v in spec]
        if not 1 <= len(names) <= MAX_REPEAT or not all(
            isinstance(n, str) and SEGMENT.fullmatch(n) for n in names
        ):
            raise ModelError(
                f"{loc}: {path}: repeat: expected 1 to {MAX_REPEAT} names of letters, digits, "
                f"'_' and '-', found {describe(spec)}"
            )
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ModelError(f"{loc}: {path}: repeat: duplicate name(s) {', '.join(duplicates)}")
        return names
    count, start, prefix = spec, 0, ""
    if isinstance(spec, dict):
        spec = expect_mapping(spec, loc, path, "a repeat mapping")
        check_keys(spec, REPEAT_KEYS, f"{path}: repeat", "key")
        if "count" not in spec:
            raise ModelError(f"{loc}: {path}: repeat: missing 'count'")
        count, start, prefix = spec["count"], spec.get("start", 0), spec.get("prefix", "")
        if isinstance(start, bool) or not isinstance(start, int) or start < 0:
            raise ModelError(
                f"{loc}: {path}: repeat.start: expected an int >= 0, found {describe(start)}"
            )
        if not isinstance(prefix, str) or (prefix and not SEGMENT.fullmatch(prefix)):
            raise ModelError(
                f"{loc}: {path}: repeat.prefix: expected letters, digits, '_' or '-', "
                f"found {describe(prefix)}"
            )
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_REPEAT:
        raise ModelError(
            f"{loc}: {path}: repeat: expected an int from 1 to {MAX_REPEAT}, "
            f"{{count, start, prefix}} or a list of names, found {describe(count)}"
        )
    return [f"{prefix}{start + i}" for i in range(count)]


def substitute(value: Any, params: Mapping[str, Any], loc: str, path: str, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise ModelError(f"{loc}: {path}: value nested deeper than {MAX_DEPTH}")
    if isinstance(value, str):
        if is_expression(value):
            try:
                return evaluate(value, params)
            except ExpressionError as e:
                raise ModelError(f"{loc}: {path}: {e}") from None
        return value[1:] if value.startswith("$$") else value
    if isinstance(value, list):
        return [
            substitute(v, params, where(value, i, loc), path, depth + 1)
            for i, v in enumerate(value)
        ]
    if isinstance(value, dict):
        return {
            k: substitute(v, params, where(value, k, loc), path, depth + 1)
            for k, v in value.items()
        }
    return value


def freeze(value: Any) -> Any:
    """Lists become tuples so that op attributes are immutable, as in the Python DSL."""
    if isinstance(value, list):
        return tuple(freeze(v) for v in value)
    return value


def expect_mapping(value: Any, loc: str, path: str, expected: str) -> LineDict:
    if not isinstance(value, dict):
        raise ModelError(
            f"{where(value, None, loc)}: {path}: expected {expected}, found {describe(value)}"
        )
    if not isinstance(value, LineDict):
        converted = LineDict(value)
        converted.file, converted.line = loc.rsplit(":", 1)[0], int(loc.rsplit(":", 1)[1])
        return converted
    return value


def check_keys(body: LineDict, allowed: tuple[str, ...], path: str, what: str) -> None:
    for key in body:
        if key not in allowed:
            hint = suggest(key, allowed) if isinstance(key, str) else ""
            raise ModelError(
                f"{body.where(key)}: {path}: unknown {what} {key!r}{hint} "
                f"(expected: {', '.join(allowed)})"
            )


def describe(value: Any) -> str:
    """A short description of a YAML value for 'found ...' messages."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"the number {value!r}"
    if isinstance(value, str):
        return f"the string {value[:40]!r}" if value else "an empty string"
    if isinstance(value, list):
        return f"a list of {len(value)}"
    if isinstance(value, dict):
        return (
            f"a mapping with keys {', '.join(map(str, list(value)[:6]))}"
            if value
            else ("an empty mapping")
        )
    return f"a {type(value).__name__}"


MISSING_HINTS = {
    "inputs": "a mapping name -> {shape, dtype}",
    "layers": "a list of layers",
    "outputs": "a mapping output name -> layer name",
}


def file_identity(filename: str) -> str:
    """A canonical form of a file name, to detect include cycles."""
    try:
        return str(Path(filename).resolve())
    except (OSError, RuntimeError):
        return filename

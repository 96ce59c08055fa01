"""A safe YAML loader that remembers the file and line of every mapping, key and list item."""

from __future__ import annotations

from typing import Any

import yaml

from trtdsl.errors import ModelError


class LineDict(dict):  # type: ignore[type-arg]
    """A YAML mapping that knows where it, and each of its keys, was written.

    Attributes:
        file: the file it was read from.
        line: 1-based line of the mapping's first key.
        key_lines: 1-based line of each key.
    """

    file: str = "<string>"
    line: int = 1

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.key_lines: dict[Any, int] = {}

    def where(self, key: object = None) -> str:
        """``file:line`` of ``key`` (or of the mapping itself)."""
        return f"{self.file}:{self.key_lines.get(key, self.line)}"


class LineList(list):  # type: ignore[type-arg]
    """A YAML sequence that knows where it, and each of its items, was written."""

    file: str = "<string>"
    line: int = 1

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.item_lines: list[int] = []

    def where(self, index: int | None = None) -> str:
        """``file:line`` of item ``index`` (or of the sequence itself)."""
        if index is not None and 0 <= index < len(self.item_lines):
            return f"{self.file}:{self.item_lines[index]}"
        return f"{self.file}:{self.line}"


def where(container: object, key: object = None, default: str = "<string>:1") -> str:
    """``file:line`` of ``key`` in a LineDict/LineList, or ``default`` for plain values."""
    if isinstance(container, (LineDict, LineList)):
        return container.where(key)  # type: ignore[arg-type]
    return default


class _LineLoader(yaml.SafeLoader):
    """SafeLoader building LineDict/LineList; rejects duplicate keys."""

    filename = "<string>"


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)
    mapping = LineDict()
    mapping.file = loader.filename
    mapping.line = node.start_mark.line + 1
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping",
                node.start_mark,
                "found an unhashable key",
                key_node.start_mark,
            ) from None
        if key in mapping:
            raise ModelError(
                f"{loader.filename}:{key_node.start_mark.line + 1}: duplicate key {key!r} "
                f"(first at line {mapping.key_lines[key]})"
            )
        mapping[key] = loader.construct_object(value_node, deep=True)
        mapping.key_lines[key] = key_node.start_mark.line + 1
    return mapping


def _construct_sequence(loader: _LineLoader, node: yaml.SequenceNode) -> LineList:
    sequence = LineList(loader.construct_object(child, deep=True) for child in node.value)
    sequence.file = loader.filename
    sequence.line = node.start_mark.line + 1
    sequence.item_lines = [child.start_mark.line + 1 for child in node.value]
    return sequence


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


def parse_yaml(text: str, filename: str = "<string>") -> Any:
    """Parse one YAML document into plain data with LineDict/LineList containers.

    Raises:
        ModelError ``FILE:LINE: ...`` for malformed YAML (the parser's own position) and for
        duplicate keys.
    """
    try:
        loader = _LineLoader(text)
    except yaml.reader.ReaderError as e:
        line = text[: e.position].count("\n") + 1
        raise ModelError(f"{filename}:{line}: malformed YAML: {e.reason}") from None
    loader.filename = filename
    try:
        return loader.get_single_data()
    except yaml.reader.ReaderError as e:
        line = text[: e.position].count("\n") + 1
        raise ModelError(f"{filename}:{line}: malformed YAML: {e.reason}") from None
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark is not None else 1
        problem = " ".join(str(e.problem or e.context or "malformed YAML").split())
        context = f" ({' '.join(str(e.context).split())})" if e.context and e.problem else ""
        raise ModelError(f"{filename}:{line}: malformed YAML: {problem}{context}") from None
    except yaml.YAMLError as e:
        raise ModelError(f"{filename}:1: malformed YAML: {' '.join(str(e).split())}") from None
    except RecursionError:
        raise ModelError(f"{filename}:1: malformed YAML: nested too deeply") from None
    finally:
        loader.dispose()

"""docs/yaml.md stays true: every ```yaml example on it loads (or fails as its comment says),
produces the nodes its comment names, and every key the reader accepts is documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from trtdsl.errors import ModelError
from trtdsl.frontend.yaml import load_yaml
from trtdsl.frontend.yaml_values import (
    BLOCK_KEYS,
    BLOCK_LAYER_KEYS,
    GROUP_LAYER_KEYS,
    LIBRARY_KEYS,
    MODEL_KEYS,
    REPEAT_KEYS,
)

DOC = Path(__file__).resolve().parents[1] / "docs" / "yaml.md"
EXAMPLE = re.compile(r"(?:<!-- (\w+): ([^>]*?) -->\n)?```yaml\n(.*?)```", re.S)


def _examples() -> list[tuple[str, str, str]]:
    """(kind, argument, text) per example: kind "nodes", "error", "file" or "" (loads)."""
    return [(kind or "", arg or "", text) for kind, arg, text in EXAMPLE.findall(DOC.read_text())]


def _write_files(directory: Path) -> None:
    for kind, name, text in _examples():
        if kind == "file":
            (directory / name).write_text(text)


def test_the_page_has_examples_of_each_kind() -> None:
    kinds = [kind for kind, _, _ in _examples()]
    assert kinds.count("nodes") >= 12 and kinds.count("error") >= 3 and "file" in kinds
    assert "" not in kinds  # every example says what it must produce


@pytest.mark.parametrize(
    "index", [i for i, (kind, _, _) in enumerate(_examples()) if kind != "file"]
)
def test_example_loads_as_documented(tmp_path: Path, index: int) -> None:
    kind, argument, text = _examples()[index]
    _write_files(tmp_path)  # the library files the page defines, for include:
    path = tmp_path / f"example{index}.yaml"
    path.write_text(text)
    if kind == "error":
        with pytest.raises(ModelError) as info:
            load_yaml(path)
        message = str(info.value)
        assert argument in message and message.startswith(f"{path}:"), message
        assert "\n" not in message
        return
    graph = load_yaml(path)
    names = {n.name for n in graph.nodes}
    wanted = [name.strip() for name in argument.split(",")]
    assert set(wanted) <= names, sorted(set(wanted) - names)


def test_every_key_the_reader_accepts_is_documented() -> None:
    spans = " ".join(re.findall(r"`([^`\n]+)`", DOC.read_text()))
    keys = {*MODEL_KEYS, *LIBRARY_KEYS, *BLOCK_KEYS, *BLOCK_LAYER_KEYS, *GROUP_LAYER_KEYS}
    keys |= {*REPEAT_KEYS, "op", "range", "shape", "dtype", "prefix", "regex", "to", "min"}
    undocumented = sorted(k for k in keys if not re.search(rf"\b{k}\b", spans))
    assert not undocumented, undocumented

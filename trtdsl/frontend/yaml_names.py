"""Names in a YAML model: a layer's name, its inputs, and what a name refers to."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from trtdsl.errors import ModelError
from trtdsl.frontend.builder import ModelBuilder, Tensor
from trtdsl.frontend.yaml_loader import LineDict
from trtdsl.frontend.yaml_values import Block, Frame, Result, describe, substitute
from trtdsl.ir.ops.base import suggest


class NameReader:
    """Resolves names: the nearest definition in the frames of the current layer list, a
    group's enclosing lists, or a block body's inputs and the model's inputs (``Frame``)."""

    builder: ModelBuilder
    blocks: dict[str, Block]
    stack: list[str]
    """The blocks being expanded, innermost last."""
    callers: list[Frame]
    """The frame each block in ``stack`` is used from."""

    def _name(self, body: LineDict, params: Mapping[str, Any], index_path: str) -> str | None:
        if "name" not in body:
            return None
        name = self._value(body, "name", params, index_path)
        if isinstance(name, int) and not isinstance(name, bool):
            name = str(name)
        if not isinstance(name, str) or not re.fullmatch(
            r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*", name
        ):
            raise ModelError(
                f"{body.where('name')}: {index_path}: name: expected a "
                f"dotted name of letters, digits, '_' and '-', found {describe(name)}"
            )
        return name

    def _inputs(
        self,
        body: LineDict,
        frame: Frame,
        params: Mapping[str, Any],
        loc: str,
        path: str,
        own: str | None,
    ) -> list[Tensor]:
        if "inputs" not in body:
            if frame.previous is None:
                raise ModelError(
                    f"{loc}: {path}: no previous layer output to take (the model "
                    "has several inputs); expected 'inputs'"
                )
            previous = frame.previous
            return list(previous) if isinstance(previous, tuple) else [previous]
        refs = self._value(body, "inputs", params, path)
        if not isinstance(refs, list):
            refs = [refs]
        if not refs:
            raise ModelError(f"{body.where('inputs')}: {path}: inputs: expected at least one name")
        tensors: list[Tensor] = []
        for ref in refs:
            value = self._resolve(ref, frame, body.where("inputs"), path, own)
            tensors.extend(value if isinstance(value, tuple) else (value,))
        return tensors

    def _resolve(self, ref: Any, frame: Frame, loc: str, path: str, own: str | None) -> Result:
        if isinstance(ref, int) and not isinstance(ref, bool):
            ref = str(ref)
        if not isinstance(ref, str):
            raise ModelError(
                f"{loc}: {path}: expected a layer or input name, found {describe(ref)}"
            )
        base, colon, index_text = ref.partition(":")
        visible: list[str] = []
        upcoming: dict[str, str] = {}
        scope: Frame | None = frame
        value: Result | None = None
        while scope is not None:
            if base in scope.names:
                value = scope.names[base]
                break
            visible.extend(scope.names)
            upcoming = {**scope.upcoming, **upcoming}
            scope = scope.parent
        if value is None:
            if own is not None and base == own:
                raise ModelError(
                    f"{loc}: {path}: layer {own!r} takes its own output as input "
                    "(a cycle); expected an earlier layer"
                )
            if base in upcoming:
                raise ModelError(
                    f"{loc}: {path}: input {ref!r} is defined later (at "
                    f"{upcoming[base]}); layers run in order, so this would be a "
                    "cycle; expected an earlier layer or input"
                )
            self._raise_if_outside_block(base, loc, path)
            raise ModelError(
                f"{loc}: {path}: unknown input {ref!r}, expected an earlier layer or input "
                f"name{suggest(base, visible)}"
            )
        if not colon:
            return value
        outputs = value if isinstance(value, tuple) else (value,)
        if not index_text.isdigit() or int(index_text) >= len(outputs):
            raise ModelError(
                f"{loc}: {path}: {ref!r}: expected an output index below "
                f"{len(outputs)}, found {index_text!r}"
            )
        return outputs[int(index_text)]

    def _raise_if_outside_block(self, base: str, loc: str, path: str) -> None:
        """ModelError saying how to pass ``base`` when it names a layer outside the block
        being expanded (a block sees only its inputs and the model's inputs)."""
        scope: Frame | None = None
        for caller in reversed(self.callers):  # the innermost use first
            scope = caller
            while scope is not None and base not in scope.names:
                scope = scope.parent
            if scope is not None:
                break
        if scope is None:
            return
        block = self.blocks[self.stack[-1]]
        listed = ", ".join([*block.inputs, base])
        raise ModelError(
            f"{loc}: {path}: {base!r} is a layer outside block {block.name!r} (defined at "
            f"{scope.defined_at[base]}); a block sees only its inputs "
            f"({', '.join(block.inputs)}) and the model's inputs: declare it in "
            f"blocks.{block.name} ('inputs: [{listed}]') and pass it where the block is used "
            f"('inputs: [..., {base}]'; with 'repeat', every input after the first goes to "
            "each repetition)"
        )

    def _args(
        self, body: LineDict, key: str, params: Mapping[str, Any], path: str
    ) -> dict[str, Any]:
        if key not in body:
            return {}
        value = self._value(body, key, params, path)
        if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
            raise ModelError(
                f"{body.where(key)}: {path}: {key}: expected a mapping parameter -> "
                f"value, found {describe(value)}"
            )
        return value

    def _value(self, body: LineDict, key: str, params: Mapping[str, Any], path: str) -> Any:
        """``body[key]`` with ``$`` expressions replaced by parameter values."""
        return substitute(body[key], params, body.where(key), f"{path}: {key}", 0)

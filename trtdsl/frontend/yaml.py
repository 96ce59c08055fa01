"""The YAML DSL: models as plain data, expanded into ModelBuilder calls.

A model file::

    name: tiny
    include: blocks.yaml            # optional: files holding shared ``blocks:``
    dims:                           # symbolic dimensions, with their profile range
      N: {min: 1, opt: 8, max: 32}
    inputs:
      x: {shape: [N, 3, 32, 32], dtype: float32}
    weights:                        # optional checkpoint-key rename rules, in order
      rename:
        - {prefix: "module.", to: ""}
        - {regex: "^backbone\\\\.(.*)$", to: "\\\\1"}
    blocks:
      unit:
        params: {channels: required, stride: 1, project: false}
        layers:
          - {name: conv, op: conv2d, out_channels: $channels, kernel_size: 3,
             stride: $stride, padding: 1}
          - {name: act, op: relu}
          - {name: proj, inputs: input, when: $project, layers: [
               {name: "0", op: conv2d, out_channels: $channels, kernel_size: 1,
                stride: $stride}]}
          - {name: add, op: add, inputs: [act, proj]}
    layers:
      - {name: stem, op: conv2d, out_channels: 16, kernel_size: 3, padding: 1}
      - {name: stage1, block: unit, repeat: 2, args: {channels: 32},
         first: {stride: 2, project: true}, precision: float16}
      - {name: head, op: linear, out_features: 10}   # (after pool/flatten in practice)
    outputs:
      logits: head

Layers run in order; each takes the previous layer's output unless it names ``inputs``.
A layer is an op (``op:`` plus the op's keyword arguments), a block instance (``block:``,
``args:``, optional ``repeat:`` giving ``name.0``, ``name.1``, ... and ``first:`` overriding
args for ``name.0``) or a group (``layers:``, a name scope). ``when: false`` skips a layer; its
name then refers to its input (an absent projection is the identity). Inside a block, ``input``
is the block's input and ``$param`` / ``$param * 4`` are its parameters (see ``yaml_expr``).
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from trtdsl.errors import ModelError, TrtdslError
from trtdsl.files import read_text
from trtdsl.frontend.builder import ModelBuilder, Tensor, unknown_op_hint
from trtdsl.frontend.yaml_loader import LineDict, parse_yaml, where
from trtdsl.frontend.yaml_sections import SectionReader
from trtdsl.frontend.yaml_values import (
    BLOCK_LAYER_KEYS,
    COMMON_LAYER_KEYS,
    GROUP_LAYER_KEYS,
    MAX_DEPTH,
    MAX_NODES,
    MAX_REPEAT,
    MISSING_HINTS,
    MODEL_KEYS,
    REQUIRED,
    RESERVED_LAYER_KEYS,
    Block,
    Frame,
    Result,
    check_keys,
    describe,
    expect_mapping,
    file_identity,
    freeze,
    substitute,
)
from trtdsl.ir.graph import Graph
from trtdsl.ir.ops import OPS
from trtdsl.ir.ops.base import make_op, suggest
from trtdsl.ir.types import DType


def load_yaml(path: str | os.PathLike[str]) -> Graph:
    """Load a YAML model file into a verified Graph.

    Raises:
        ModelError ``FILE:LINE: LAYER PATH: what was expected, what was found``.
    """
    path = Path(path)
    text = read_text(path)  # FileError naming it: missing, not a regular file, not UTF-8
    return load_yaml_text(text, str(path), base_dir=path.parent)


def load_yaml_text(
    text: str, filename: str = "<string>", base_dir: str | os.PathLike[str] | None = None
) -> Graph:
    """Load a YAML model from a string; ``include:`` paths are relative to ``base_dir``."""
    doc = parse_yaml(text, filename)
    base = Path(base_dir) if base_dir is not None else Path(".")
    return _ModelReader(filename, base).read(doc)


class _ModelReader(SectionReader):
    def __init__(self, filename: str, base_dir: Path) -> None:
        self.filename = filename
        self.base_dir = base_dir
        self.blocks: dict[str, Block] = {}
        self.builder = ModelBuilder()
        self.stack: list[str] = []

    # -- top level ---------------------------------------------------------------------------

    def read(self, doc: Any) -> Graph:
        top = expect_mapping(doc, f"{self.filename}:1", "model", "a mapping of model sections")
        check_keys(top, MODEL_KEYS, "model", "top-level key")
        for key in ("inputs", "layers", "outputs"):
            if key not in top:
                raise ModelError(
                    f"{top.where()}: model: missing {key!r}; expected {MISSING_HINTS[key]}"
                )
        name = top.get("name", Path(self.filename).stem)
        if not isinstance(name, str) or not name:
            raise ModelError(
                f"{top.where('name')}: name: expected a string, found {describe(name)}"
            )
        self.builder = ModelBuilder(name)
        self.read_includes(top, self.base_dir, [file_identity(self.filename)])
        self.read_blocks(top)
        self.read_dims(top)
        frame = Frame("", None)
        self.read_inputs(top, frame)
        self.read_weights(top)
        self._layers(top["layers"], top.where("layers"), frame, {}, "layers", 0)
        self.read_outputs(top, frame)
        return self.builder.build(source=top.where())

    def read_outputs(self, doc: LineDict, frame: Frame) -> None:
        outputs = expect_mapping(
            doc["outputs"], doc.where("outputs"), "outputs", "a mapping name -> layer"
        )
        if not outputs:
            raise ModelError(f"{doc.where('outputs')}: outputs: expected at least one output")
        for name, ref in outputs.items():
            loc = outputs.where(name)
            if not isinstance(name, str) or not name:
                raise ModelError(f"{loc}: outputs: expected a name, found {describe(name)}")
            value = self._resolve(ref, frame, loc, f"outputs.{name}", None)
            if isinstance(value, tuple):
                raise ModelError(
                    f"{loc}: outputs.{name}: {ref!r} has {len(value)} outputs; "
                    f"expected one, e.g. '{ref}:0'"
                )
            self.builder.output(value, name, source=loc)

    # -- layers ------------------------------------------------------------------------------

    def _layers(
        self,
        entries: Any,
        loc: str,
        frame: Frame,
        params: Mapping[str, Any],
        path: str,
        depth: int,
    ) -> Result:
        """Expand a list of layers into ``frame``; returns the last output."""
        if depth > MAX_DEPTH:
            raise ModelError(f"{loc}: {path}: layers nested deeper than {MAX_DEPTH}")
        if not isinstance(entries, list) or not entries:
            raise ModelError(
                f"{loc}: {path}: expected a non-empty list of layers, found {describe(entries)}"
            )
        declared: list[tuple[str, str]] = []
        for index, entry in enumerate(entries):
            name = entry.get("name") if isinstance(entry, dict) else None
            if isinstance(name, (str, int)) and not isinstance(name, bool):
                declared.append((str(name), where(entries, index, loc)))
        for index, entry in enumerate(entries):
            frame.upcoming = dict(reversed(declared[index:]))
            entry_loc = where(entries, index, loc)
            self._layer(entry, entry_loc, frame, params, f"{path}[{index}]", depth)
        frame.upcoming = {}
        assert frame.previous is not None
        return frame.previous

    def _layer(
        self,
        entry: Any,
        loc: str,
        frame: Frame,
        params: Mapping[str, Any],
        index_path: str,
        depth: int,
    ) -> None:
        body = expect_mapping(entry, loc, index_path, "a mapping with 'op', 'block' or 'layers'")
        loc = body.where()
        kinds = [k for k in ("op", "block", "layers") if k in body]
        name = self._name(body, params, index_path)
        path = self.builder.path(name) if name is not None else index_path
        if len(kinds) != 1:
            found = f"{' and '.join(kinds)}" if kinds else f"keys {', '.join(map(str, body))}"
            raise ModelError(
                f"{loc}: {path}: expected exactly one of 'op', 'block' or 'layers', found {found}"
            )
        kind = kinds[0]
        if kind == "block":
            check_keys(body, BLOCK_LAYER_KEYS, path, "key of a block layer")
        elif kind == "layers":
            check_keys(body, GROUP_LAYER_KEYS, path, "key of a group layer")
        else:
            misplaced = [
                k for k in RESERVED_LAYER_KEYS if k in body and k not in (*COMMON_LAYER_KEYS, "op")
            ]
            if misplaced:
                raise ModelError(
                    f"{body.where(misplaced[0])}: {path}: {misplaced[0]!r} applies "
                    "to block or group layers, not to an op"
                )
        if kind != "op" and name is None:
            raise ModelError(
                f"{loc}: {path}: a {'group' if kind == 'layers' else kind} layer needs a 'name'"
            )
        inputs = self._inputs(body, frame, params, loc, path, name)
        if "when" in body:
            when = self._value(body, "when", params, path)
            if not isinstance(when, bool):
                raise ModelError(
                    f"{body.where('when')}: {path}: when: expected true or false, "
                    f"found {describe(when)}"
                )
            if not when:
                if name is not None:
                    value = inputs[0] if len(inputs) == 1 else tuple(inputs)
                    frame.define(name, value, loc, path)
                return
        precision = None
        if "precision" in body:
            raw = self._value(body, "precision", params, path)
            try:
                precision = DType.parse(raw)
            except TrtdslError as e:
                raise ModelError(f"{body.where('precision')}: {path}: precision: {e}") from None
        if kind == "op":
            result = self._op_layer(body, loc, name, path, inputs, precision, params)
            node_path = (result[0] if isinstance(result, tuple) else result).name.split(":")[0]
            prefix = self.builder.prefix
            local = node_path[len(prefix) + 1 :] if prefix else node_path
        elif kind == "block":
            assert name is not None
            result = self._block_layer(
                body, loc, name, path, inputs, precision, params, frame, depth
            )
            local = name
        else:
            assert name is not None
            result = self._group_layer(
                body, loc, name, path, inputs, precision, params, frame, depth
            )
            local = name
        frame.define(local, result, loc, path)
        frame.previous = result

    def _op_layer(
        self,
        body: LineDict,
        loc: str,
        name: str | None,
        path: str,
        inputs: list[Tensor],
        precision: DType | None,
        params: Mapping[str, Any],
    ) -> Result:
        op_name = self._value(body, "op", params, path)
        kwargs: dict[str, Any] = {}
        for key in body:
            if key in RESERVED_LAYER_KEYS:
                continue
            if not isinstance(key, str):
                raise ModelError(
                    f"{body.where(key)}: {path}: expected argument names, found {describe(key)}"
                )
            kwargs[key] = freeze(self._value(body, key, params, path))
        if not isinstance(op_name, str):
            raise ModelError(
                f"{body.where('op')}: {path}: op: expected an op name, found {describe(op_name)}"
            )
        if op_name not in OPS:
            raise ModelError(
                f"{body.where('op')}: {path}: unknown op {op_name!r}{unknown_op_hint(op_name)}"
            )
        fields = [f.name for f in dataclasses.fields(OPS[op_name])]
        for key in kwargs:
            close = difflib.get_close_matches(key, [*fields, *COMMON_LAYER_KEYS], n=1)
            if key not in fields and close and close[0] in COMMON_LAYER_KEYS:
                raise ModelError(
                    f"{body.where(key)}: {path}: unknown key {key!r}; did you mean "
                    f"{close[0]!r}? (layer keys: {', '.join(COMMON_LAYER_KEYS)}; "
                    f"{op_name} arguments: {', '.join(fields) or 'none'})"
                )
        try:
            op = make_op(op_name, kwargs)
        except TrtdslError as e:
            raise ModelError(f"{loc}: {path}: {e}") from None
        if op.arity == 0 and "inputs" not in body:
            inputs = []  # an op without inputs (a parameter) does not take the previous output
        if self.builder.num_nodes >= MAX_NODES:
            raise ModelError(
                f"{loc}: {path}: the model expands to more than {MAX_NODES:,} layers (nested "
                "repeats multiply); no network trtdsl builds is that large"
            )
        return self.builder.node(op, *inputs, name=name, precision=precision, source=loc)

    def _block_layer(
        self,
        body: LineDict,
        loc: str,
        name: str,
        path: str,
        inputs: list[Tensor],
        precision: DType | None,
        params: Mapping[str, Any],
        frame: Frame,
        depth: int,
    ) -> Result:
        block_name = self._value(body, "block", params, path)
        if not isinstance(block_name, str) or block_name not in self.blocks:
            known = sorted(self.blocks)
            hint = suggest(block_name, known) if isinstance(block_name, str) else ""
            raise ModelError(
                f"{body.where('block')}: {path}: unknown block {block_name!r}{hint} "
                f"(defined: {', '.join(known) or 'none'})"
            )
        block = self.blocks[block_name]
        if block_name in self.stack:
            raise ModelError(f"{loc}: {path}: block {block_name!r} uses itself (recursion)")
        args = self._args(body, "args", params, path)
        first = self._args(body, "first", params, path)
        repeat = None
        if "repeat" in body:
            repeat = self._value(body, "repeat", params, path)
            if (
                isinstance(repeat, bool)
                or not isinstance(repeat, int)
                or not 1 <= repeat <= MAX_REPEAT
            ):
                raise ModelError(
                    f"{body.where('repeat')}: {path}: repeat: expected an int from 1 "
                    f"to {MAX_REPEAT}, found {describe(repeat)}"
                )
        elif "first" in body:
            raise ModelError(f"{body.where('first')}: {path}: 'first' needs 'repeat'")
        child = Frame(path, None)
        self.stack.append(block_name)
        try:
            with self.builder.scope(name, precision):
                if repeat is None:
                    result = self._expand(block, args, inputs, loc, path, depth)
                    child = self._last_frame
                else:
                    current: list[Tensor] = inputs
                    for index in range(repeat):
                        merged = {**args, **first} if index == 0 else args
                        with self.builder.scope(index):
                            result = self._expand(
                                block, merged, current, loc, f"{path}.{index}", depth
                            )
                        self._last_frame.export_into(child, str(index))
                        child.define(str(index), result, loc, f"{path}.{index}")
                        current = list(result) if isinstance(result, tuple) else [result]
        finally:
            self.stack.pop()
        child.export_into(frame, name)
        return result

    def _expand(
        self,
        block: Block,
        args: Mapping[str, Any],
        inputs: list[Tensor],
        loc: str,
        path: str,
        depth: int,
    ) -> Result:
        """One instance of ``block`` in the builder's current scope; sets ``_last_frame``."""
        for key in args:
            if key not in block.params:
                raise ModelError(
                    f"{loc}: {path}: block {block.name!r} has no parameter {key!r}"
                    f"{suggest(str(key), sorted(block.params))} "
                    f"(parameters: {', '.join(block.params) or 'none'})"
                )
        values = {**block.params, **args}
        missing = [k for k, v in values.items() if isinstance(v, str) and v == REQUIRED]
        if missing:
            raise ModelError(
                f"{loc}: {path}: block {block.name!r} needs argument(s) "
                f"{', '.join(missing)} in 'args'"
            )
        if len(inputs) != len(block.inputs):
            raise ModelError(
                f"{loc}: {path}: block {block.name!r} takes {len(block.inputs)} "
                f"input(s), got {len(inputs)}"
            )
        frame = Frame(path, None)
        for input_name, tensor in zip(block.inputs, inputs, strict=True):
            frame.define(input_name, tensor, block.where, f"blocks.{block.name}.inputs")
            frame.aliases.add(input_name)
        frame.previous = inputs[0] if len(inputs) == 1 else tuple(inputs)
        result = self._layers(block.layers, block.where, frame, values, path, depth + 1)
        if block.output is not None:
            result = self._resolve(block.output, frame, block.where, f"{path}.output", None)
        self._last_frame = frame
        return result

    def _group_layer(
        self,
        body: LineDict,
        loc: str,
        name: str,
        path: str,
        inputs: list[Tensor],
        precision: DType | None,
        params: Mapping[str, Any],
        frame: Frame,
        depth: int,
    ) -> Result:
        child = Frame(path, frame)
        child.previous = inputs[0] if len(inputs) == 1 else tuple(inputs)
        with self.builder.scope(name, precision):
            result = self._layers(
                body["layers"], body.where("layers"), child, params, path, depth + 1
            )
            if "output" in body:
                ref = self._value(body, "output", params, path)
                result = self._resolve(ref, child, body.where("output"), f"{path}.output", None)
        child.export_into(frame, name)
        return result

    # -- values and names --------------------------------------------------------------------

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

    _last_frame: Frame

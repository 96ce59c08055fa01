"""The YAML DSL: models as plain data, expanded into ModelBuilder calls.

A model file::

    name: tiny
    include: blocks.yaml            # optional: files holding shared ``blocks:``
    dims:                           # symbolic dimensions, with their profile range
      N: {min: 1, opt: 8, max: 32}
    inputs:
      x: {shape: [N, 3, 32, 32], dtype: float32}
      ids: {shape: [N, 16], dtype: int32, range: [0, 30521]}   # values, both ends included
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
``args:``, optional ``repeat:`` giving ``name.0``, ``name.1``, ... or the names of
``{count, start, prefix}`` or a list, and ``first:`` overriding args for the first repetition)
or a group (``layers:``, a name scope). ``when: false`` skips a layer; its name then refers to
its input (an absent projection is the identity). Inside a block, ``input`` (or the names its
``inputs:`` declares) are the block's inputs, the model's inputs are visible too, and
``$param`` / ``$param * 4`` are its parameters (see ``yaml_expr``). A repeated block's first
input chains from one repetition to the next; its other inputs go to every repetition. An input
may declare ``range: [low, high]`` (integer values, both ends included). docs/yaml.md is the
reference of every key.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from trtdsl.errors import ModelError, TrtdslError
from trtdsl.files import read_text
from trtdsl.frontend.builder import ModelBuilder, Tensor, unknown_op_hint
from trtdsl.frontend.yaml_loader import LineDict, parse_yaml, where
from trtdsl.frontend.yaml_names import NameReader
from trtdsl.frontend.yaml_sections import SectionReader
from trtdsl.frontend.yaml_values import (
    BLOCK_LAYER_KEYS,
    COMMON_LAYER_KEYS,
    GROUP_LAYER_KEYS,
    MAX_DEPTH,
    MAX_NODES,
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
    repetition_names,
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


class _ModelReader(SectionReader, NameReader):
    def __init__(self, filename: str, base_dir: Path) -> None:
        self.filename = filename
        self.base_dir = base_dir
        self.blocks: dict[str, Block] = {}
        self.builder = ModelBuilder()
        self.stack: list[str] = []
        self.callers: list[Frame] = []
        self.inputs_frame = Frame("", None)

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
        # Block bodies see their own inputs and the model's inputs (global names).
        self.inputs_frame = Frame("", None, dict(frame.names), dict(frame.defined_at))
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
        names: list[str] | None = None
        if "repeat" in body:
            names = repetition_names(
                self._value(body, "repeat", params, path), body.where("repeat"), path
            )
        elif "first" in body:
            raise ModelError(f"{body.where('first')}: {path}: 'first' needs 'repeat'")
        child = Frame(path, None)
        self.stack.append(block_name)
        self.callers.append(frame)
        try:
            with self.builder.scope(name, precision):
                if names is None:
                    result = self._expand(block, args, inputs, loc, path, depth)
                    child = self._last_frame
                else:
                    # The first input chains from one repetition to the next; the others
                    # (a mask, say) go to every repetition unchanged.
                    current: list[Tensor] = inputs
                    for index, rep in enumerate(names):
                        merged = {**args, **first} if index == 0 else args
                        with self.builder.scope(rep):
                            result = self._expand(
                                block, merged, current, loc, f"{path}.{rep}", depth
                            )
                        self._last_frame.export_into(child, rep)
                        child.define(rep, result, loc, f"{path}.{rep}")
                        current = (
                            list(result) if isinstance(result, tuple) else [result, *inputs[1:]]
                        )
        finally:
            self.stack.pop()
            self.callers.pop()
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
        frame = Frame(path, self.inputs_frame)
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

    _last_frame: Frame

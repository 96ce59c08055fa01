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

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trtdsl.errors import ModelError, TrtdslError
from trtdsl.frontend.builder import ModelBuilder, Tensor
from trtdsl.frontend.yaml_expr import ExpressionError, evaluate, is_expression
from trtdsl.frontend.yaml_loader import LineDict, LineList, parse_yaml, where
from trtdsl.ir.graph import Graph
from trtdsl.ir.ops.base import make_op, suggest
from trtdsl.ir.types import DType

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

Result = Tensor | tuple[Tensor, ...]


def load_yaml(path: str | os.PathLike[str]) -> Graph:
    """Load a YAML model file into a verified Graph.

    Raises:
        ModelError ``FILE:LINE: LAYER PATH: what was expected, what was found``.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ModelError(f"{path}: cannot read model file: {e.strerror or e}") from None
    return load_yaml_text(text, str(path), base_dir=path.parent)


def load_yaml_text(
    text: str, filename: str = "<string>", base_dir: str | os.PathLike[str] | None = None
) -> Graph:
    """Load a YAML model from a string; ``include:`` paths are relative to ``base_dir``."""
    doc = parse_yaml(text, filename)
    base = Path(base_dir) if base_dir is not None else Path(".")
    return _ModelReader(filename, base).read(doc)


@dataclass
class _Block:
    name: str
    params: dict[str, Any]
    inputs: tuple[str, ...]
    layers: LineList
    output: Any
    where: str


@dataclass
class _Frame:
    """Names visible in one layer list: a model, a block body or a group."""

    prefix: str
    parent: _Frame | None
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

    def export_into(self, parent: _Frame, name: str) -> None:
        """Make this frame's names visible in ``parent`` as ``name.<local>``."""
        for local, value in self.names.items():
            if local not in self.aliases:
                parent.names.setdefault(f"{name}.{local}", value)
                parent.defined_at.setdefault(f"{name}.{local}", self.defined_at[local])


class _ModelReader:
    def __init__(self, filename: str, base_dir: Path) -> None:
        self.filename = filename
        self.base_dir = base_dir
        self.blocks: dict[str, _Block] = {}
        self.builder = ModelBuilder()
        self.stack: list[str] = []

    # -- top level ---------------------------------------------------------------------------

    def read(self, doc: Any) -> Graph:
        top = _mapping(doc, f"{self.filename}:1", "model", "a mapping of model sections")
        _check_keys(top, MODEL_KEYS, "model", "top-level key")
        for key in ("inputs", "layers", "outputs"):
            if key not in top:
                raise ModelError(f"{top.where()}: model: missing {key!r}; expected {_HINTS[key]}")
        name = top.get("name", Path(self.filename).stem)
        if not isinstance(name, str) or not name:
            raise ModelError(f"{top.where('name')}: name: expected a string, found {_kind(name)}")
        self.builder = ModelBuilder(name)
        self._read_includes(top, self.base_dir, [_identity(self.filename)])
        self._read_blocks(top)
        self._read_dims(top)
        frame = _Frame("", None)
        self._read_inputs(top, frame)
        self._read_weights(top)
        self._layers(top["layers"], top.where("layers"), frame, {}, "layers", 0)
        self._read_outputs(top, frame)
        try:
            return self.builder.build()
        except TrtdslError as e:
            raise ModelError(f"{top.where()}: {e}") from None

    def _read_includes(self, doc: LineDict, base_dir: Path, stack: list[str]) -> None:
        if "include" not in doc:
            return
        includes = doc["include"]
        if isinstance(includes, str):
            includes = LineList([includes])
            includes.file, includes.line = doc.file, doc.key_lines["include"]
        if not isinstance(includes, list) or not all(isinstance(i, str) for i in includes):
            raise ModelError(
                f"{doc.where('include')}: include: expected a file name or a list of file names, "
                f"found {_kind(doc['include'])}"
            )
        for index, relative in enumerate(includes):
            loc = where(includes, index, doc.where("include"))
            path = base_dir / relative
            if _identity(str(path)) in stack:
                raise ModelError(f"{loc}: include: {relative} includes itself (an include cycle)")
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as e:
                raise ModelError(
                    f"{loc}: include: cannot read {relative!r}: {getattr(e, 'strerror', e)}"
                ) from None
            library = _mapping(
                parse_yaml(text, str(path)), f"{path}:1", "include", "a mapping with 'blocks'"
            )
            _check_keys(library, LIBRARY_KEYS, "included file", "key")
            self._read_includes(library, path.parent, [*stack, _identity(str(path))])
            self._read_blocks(library)

    def _read_blocks(self, doc: LineDict) -> None:
        if "blocks" not in doc:
            return
        blocks = _mapping(doc["blocks"], doc.where("blocks"), "blocks", "a mapping name -> block")
        for name, spec in blocks.items():
            loc = blocks.where(name)
            if not isinstance(name, str) or not name.isidentifier():
                raise ModelError(f"{loc}: blocks: expected an identifier, found {_kind(name)}")
            if name in self.blocks:
                raise ModelError(
                    f"{loc}: blocks.{name}: duplicate block (first defined at "
                    f"{self.blocks[name].where})"
                )
            body = _mapping(spec, loc, f"blocks.{name}", "a mapping with 'layers'")
            _check_keys(body, BLOCK_KEYS, f"blocks.{name}", "key")
            if "layers" not in body:
                raise ModelError(f"{loc}: blocks.{name}: missing 'layers'; expected a list")
            params = _mapping(
                body.get("params", LineDict()),
                body.where("params"),
                f"blocks.{name}.params",
                "a mapping parameter -> default (or 'required')",
            )
            for key in params:
                if not isinstance(key, str) or not key.isidentifier():
                    raise ModelError(
                        f"{params.where(key)}: blocks.{name}.params: expected identifiers, "
                        f"found {_kind(key)}"
                    )
            inputs = body.get("inputs", ["input"])
            if isinstance(inputs, str):
                inputs = [inputs]
            if (
                not isinstance(inputs, list)
                or not inputs
                or not all(isinstance(i, str) and i for i in inputs)
            ):
                raise ModelError(
                    f"{body.where('inputs')}: blocks.{name}.inputs: expected a list of names, "
                    f"found {_kind(body['inputs'])}"
                )
            self.blocks[name] = _Block(
                name, dict(params), tuple(inputs), body["layers"], body.get("output"), loc
            )

    def _read_dims(self, doc: LineDict) -> None:
        if "dims" not in doc:
            return
        dims = _mapping(doc["dims"], doc.where("dims"), "dims", "a mapping symbol -> range")
        for name, spec in dims.items():
            loc = dims.where(name)
            rng = _mapping(spec, loc, f"dims.{name}", "a mapping {min, opt, max}")
            _check_keys(rng, ("min", "opt", "max"), f"dims.{name}", "key")
            missing = [k for k in ("min", "opt", "max") if k not in rng]
            if missing:
                raise ModelError(f"{loc}: dims.{name}: missing {', '.join(missing)}")
            try:
                self.builder.dim(name, rng["min"], rng["opt"], rng["max"])
            except TrtdslError as e:
                raise ModelError(f"{loc}: dims.{name}: {e}") from None

    def _read_inputs(self, doc: LineDict, frame: _Frame) -> None:
        inputs = _mapping(doc["inputs"], doc.where("inputs"), "inputs", "a mapping name -> spec")
        if not inputs:
            raise ModelError(f"{doc.where('inputs')}: inputs: expected at least one input")
        for name, spec in inputs.items():
            loc = inputs.where(name)
            if not isinstance(name, str) or not name:
                raise ModelError(f"{loc}: inputs: expected a name, found {_kind(name)}")
            body = _mapping(spec, loc, f"inputs.{name}", "a mapping {shape, dtype}")
            _check_keys(body, ("shape", "dtype"), f"inputs.{name}", "key")
            shape = body.get("shape")
            if not isinstance(shape, list):
                raise ModelError(
                    f"{body.where('shape')}: inputs.{name}.shape: expected a list of sizes or "
                    f"dimension names, found {_kind(shape)}"
                )
            for d in shape:
                if isinstance(d, bool) or not isinstance(d, (int, str)):
                    raise ModelError(
                        f"{body.where('shape')}: inputs.{name}.shape: expected ints or "
                        f"dimension names, found {_kind(d)}"
                    )
            tensor = self.builder.input(name, list(shape), body.get("dtype", "float32"), source=loc)
            frame.define(name, tensor, loc, f"inputs.{name}")
            frame.aliases.add(name)
        if len(inputs) == 1:
            frame.previous = next(iter(frame.names.values()))

    def _read_weights(self, doc: LineDict) -> None:
        if "weights" not in doc:
            return
        spec = _mapping(doc["weights"], doc.where("weights"), "weights", "a mapping {rename}")
        _check_keys(spec, ("rename",), "weights", "key")
        rules = spec.get("rename", [])
        if not isinstance(rules, list):
            raise ModelError(
                f"{spec.where('rename')}: weights.rename: expected a list of rules, "
                f"found {_kind(rules)}"
            )
        for index, rule in enumerate(rules):
            loc = where(rules, index, spec.where("rename"))
            path = f"weights.rename[{index}]"
            body = _mapping(rule, loc, path, "{prefix: ..., to: ...} or {regex: ..., to: ...}")
            _check_keys(body, ("prefix", "regex", "to"), path, "key")
            if ("prefix" in body) == ("regex" in body) or "to" not in body:
                raise ModelError(
                    f"{loc}: {path}: expected exactly one of 'prefix' or 'regex', and 'to'; "
                    f"found keys {', '.join(map(str, body))}"
                )
            source = body.get("prefix", body.get("regex"))
            target = body["to"]
            if not isinstance(source, str) or not isinstance(target, str):
                raise ModelError(
                    f"{loc}: {path}: expected strings, found {_kind(source)} and {_kind(target)}"
                )
            if "prefix" in body:
                self.builder.rename_weights(
                    "^" + re.escape(source), target.replace("\\", "\\\\"), source=f"{loc}: {path}"
                )
            else:
                self.builder.rename_weights(source, target, source=f"{loc}: {path}")

    def _read_outputs(self, doc: LineDict, frame: _Frame) -> None:
        outputs = _mapping(
            doc["outputs"], doc.where("outputs"), "outputs", "a mapping name -> layer"
        )
        if not outputs:
            raise ModelError(f"{doc.where('outputs')}: outputs: expected at least one output")
        for name, ref in outputs.items():
            loc = outputs.where(name)
            if not isinstance(name, str) or not name:
                raise ModelError(f"{loc}: outputs: expected a name, found {_kind(name)}")
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
        frame: _Frame,
        params: Mapping[str, Any],
        path: str,
        depth: int,
    ) -> Result:
        """Expand a list of layers into ``frame``; returns the last output."""
        if depth > MAX_DEPTH:
            raise ModelError(f"{loc}: {path}: layers nested deeper than {MAX_DEPTH}")
        if not isinstance(entries, list) or not entries:
            raise ModelError(
                f"{loc}: {path}: expected a non-empty list of layers, found {_kind(entries)}"
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
        frame: _Frame,
        params: Mapping[str, Any],
        index_path: str,
        depth: int,
    ) -> None:
        body = _mapping(entry, loc, index_path, "a mapping with 'op', 'block' or 'layers'")
        loc = body.where()
        kinds = [k for k in ("op", "block", "layers") if k in body]
        name = self._name(body, params)
        path = self.builder.path(name) if name is not None else index_path
        if len(kinds) != 1:
            found = f"{' and '.join(kinds)}" if kinds else f"keys {', '.join(map(str, body))}"
            raise ModelError(
                f"{loc}: {path}: expected exactly one of 'op', 'block' or 'layers', found {found}"
            )
        kind = kinds[0]
        if kind == "block":
            _check_keys(body, BLOCK_LAYER_KEYS, path, "key of a block layer")
        elif kind == "layers":
            _check_keys(body, GROUP_LAYER_KEYS, path, "key of a group layer")
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
            raise ModelError(f"{loc}: {path}: a {kind} layer needs a 'name'")
        inputs = self._inputs(body, frame, params, loc, path, name)
        if "when" in body:
            when = self._value(body, "when", params, path)
            if not isinstance(when, bool):
                raise ModelError(
                    f"{body.where('when')}: {path}: when: expected true or false, "
                    f"found {_kind(when)}"
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
                    f"{body.where(key)}: {path}: expected argument names, found {_kind(key)}"
                )
            kwargs[key] = _freeze(self._value(body, key, params, path))
        if not isinstance(op_name, str):
            raise ModelError(
                f"{body.where('op')}: {path}: op: expected an op name, found {_kind(op_name)}"
            )
        try:
            op = make_op(op_name, kwargs)
        except TrtdslError as e:
            raise ModelError(f"{loc}: {path if name is not None else op_name}: {e}") from None
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
        frame: _Frame,
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
                    f"to {MAX_REPEAT}, found {_kind(repeat)}"
                )
        elif "first" in body:
            raise ModelError(f"{body.where('first')}: {path}: 'first' needs 'repeat'")
        child = _Frame(path, None)
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
        block: _Block,
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
        frame = _Frame(path, None)
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
        frame: _Frame,
        depth: int,
    ) -> Result:
        child = _Frame(path, frame)
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

    def _name(self, body: LineDict, params: Mapping[str, Any]) -> str | None:
        if "name" not in body:
            return None
        name = self._value(body, "name", params, "name")
        if isinstance(name, int) and not isinstance(name, bool):
            name = str(name)
        if not isinstance(name, str) or not re.fullmatch(
            r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*", name
        ):
            raise ModelError(
                f"{body.where('name')}: {self.builder.path('?')}: name: expected a "
                f"dotted name of letters, digits, '_' and '-', found {_kind(name)}"
            )
        return name

    def _inputs(
        self,
        body: LineDict,
        frame: _Frame,
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

    def _resolve(self, ref: Any, frame: _Frame, loc: str, path: str, own: str | None) -> Result:
        if isinstance(ref, int) and not isinstance(ref, bool):
            ref = str(ref)
        if not isinstance(ref, str):
            raise ModelError(f"{loc}: {path}: expected a layer or input name, found {_kind(ref)}")
        base, colon, index_text = ref.partition(":")
        visible: list[str] = []
        upcoming: dict[str, str] = {}
        scope: _Frame | None = frame
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
                f"{loc}: {path}: unknown input {ref!r}{suggest(base, visible)}; "
                f"expected an earlier layer or input name"
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
                f"value, found {_kind(value)}"
            )
        return value

    def _value(self, body: LineDict, key: str, params: Mapping[str, Any], path: str) -> Any:
        """``body[key]`` with ``$`` expressions replaced by parameter values."""
        return _substitute(body[key], params, body.where(key), f"{path}: {key}", 0)

    _last_frame: _Frame


def _substitute(value: Any, params: Mapping[str, Any], loc: str, path: str, depth: int) -> Any:
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
            _substitute(v, params, where(value, i, loc), path, depth + 1)
            for i, v in enumerate(value)
        ]
    if isinstance(value, dict):
        return {
            k: _substitute(v, params, where(value, k, loc), path, depth + 1)
            for k, v in value.items()
        }
    return value


def _freeze(value: Any) -> Any:
    """Lists become tuples so that op attributes are immutable, as in the Python DSL."""
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


def _mapping(value: Any, loc: str, path: str, expected: str) -> LineDict:
    if not isinstance(value, dict):
        raise ModelError(
            f"{where(value, None, loc)}: {path}: expected {expected}, found {_kind(value)}"
        )
    if not isinstance(value, LineDict):
        converted = LineDict(value)
        converted.file, converted.line = loc.rsplit(":", 1)[0], int(loc.rsplit(":", 1)[1])
        return converted
    return value


def _check_keys(body: LineDict, allowed: tuple[str, ...], path: str, what: str) -> None:
    for key in body:
        if key not in allowed:
            hint = suggest(key, allowed) if isinstance(key, str) else ""
            raise ModelError(
                f"{body.where(key)}: {path}: unknown {what} {key!r}{hint} "
                f"(expected: {', '.join(allowed)})"
            )


def _kind(value: Any) -> str:
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


_HINTS = {
    "inputs": "a mapping name -> {shape, dtype}",
    "layers": "a list of layers",
    "outputs": "a mapping output name -> layer name",
}


def _identity(filename: str) -> str:
    """A canonical form of a file name, to detect include cycles."""
    try:
        return str(Path(filename).resolve())
    except (OSError, RuntimeError):
        return filename

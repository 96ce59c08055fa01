"""The declaring sections of a YAML model: include, blocks, dims, inputs and weights."""

from __future__ import annotations

import re
from pathlib import Path

from trtdsl.errors import ModelError, TrtdslError
from trtdsl.files import read_text
from trtdsl.frontend.builder import ModelBuilder
from trtdsl.frontend.yaml_loader import LineDict, LineList, parse_yaml, where
from trtdsl.frontend.yaml_values import (
    BLOCK_KEYS,
    LIBRARY_KEYS,
    Block,
    Frame,
    check_keys,
    describe,
    expect_mapping,
    file_identity,
)


class SectionReader:
    """Reads the sections that declare things (everything but ``layers`` and ``outputs``)."""

    builder: ModelBuilder
    blocks: dict[str, Block]

    def read_includes(self, doc: LineDict, base_dir: Path, stack: list[str]) -> None:
        if "include" not in doc:
            return
        includes = doc["include"]
        if isinstance(includes, str):
            includes = LineList([includes])
            includes.file, includes.line = doc.file, doc.key_lines["include"]
        if not isinstance(includes, list) or not all(isinstance(i, str) for i in includes):
            raise ModelError(
                f"{doc.where('include')}: include: expected a file name or a list of file names, "
                f"found {describe(doc['include'])}"
            )
        for index, relative in enumerate(includes):
            loc = where(includes, index, doc.where("include"))
            path = base_dir / relative
            if file_identity(str(path)) in stack:
                raise ModelError(
                    f"{loc}: include: {relative!r} is already being included (an include cycle)"
                )
            try:
                text = read_text(path)
            except TrtdslError as e:
                raise ModelError(f"{loc}: include: cannot read {relative!r}: {e}") from None
            library = expect_mapping(
                parse_yaml(text, str(path)), f"{path}:1", "include", "a mapping with 'blocks'"
            )
            check_keys(library, LIBRARY_KEYS, "included file", "key")
            self.read_includes(library, path.parent, [*stack, file_identity(str(path))])
            self.read_blocks(library)

    def read_blocks(self, doc: LineDict) -> None:
        if "blocks" not in doc:
            return
        blocks = expect_mapping(
            doc["blocks"], doc.where("blocks"), "blocks", "a mapping name -> block"
        )
        for name, spec in blocks.items():
            loc = blocks.where(name)
            if not isinstance(name, str) or not name.isidentifier():
                raise ModelError(f"{loc}: blocks: expected an identifier, found {describe(name)}")
            if name in self.blocks:
                raise ModelError(
                    f"{loc}: blocks.{name}: duplicate block (first defined at "
                    f"{self.blocks[name].where})"
                )
            body = expect_mapping(spec, loc, f"blocks.{name}", "a mapping with 'layers'")
            check_keys(body, BLOCK_KEYS, f"blocks.{name}", "key")
            if "layers" not in body:
                raise ModelError(f"{loc}: blocks.{name}: missing 'layers'; expected a list")
            params = expect_mapping(
                body.get("params", LineDict()),
                body.where("params"),
                f"blocks.{name}.params",
                "a mapping parameter -> default (or 'required')",
            )
            for key in params:
                if not isinstance(key, str) or not key.isidentifier():
                    raise ModelError(
                        f"{params.where(key)}: blocks.{name}.params: expected identifiers, "
                        f"found {describe(key)}"
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
                    f"found {describe(body['inputs'])}"
                )
            self.blocks[name] = Block(
                name, dict(params), tuple(inputs), body["layers"], body.get("output"), loc
            )

    def read_dims(self, doc: LineDict) -> None:
        if "dims" not in doc:
            return
        dims = expect_mapping(doc["dims"], doc.where("dims"), "dims", "a mapping symbol -> range")
        for name, spec in dims.items():
            loc = dims.where(name)
            rng = expect_mapping(spec, loc, f"dims.{name}", "a mapping {min, opt, max}")
            check_keys(rng, ("min", "opt", "max"), f"dims.{name}", "key")
            missing = [k for k in ("min", "opt", "max") if k not in rng]
            if missing:
                raise ModelError(f"{loc}: dims.{name}: missing {', '.join(missing)}")
            try:
                self.builder.dim(name, rng["min"], rng["opt"], rng["max"])
            except TrtdslError as e:
                raise ModelError(f"{loc}: dims.{name}: {e}") from None

    def read_inputs(self, doc: LineDict, frame: Frame) -> None:
        inputs = expect_mapping(
            doc["inputs"], doc.where("inputs"), "inputs", "a mapping name -> spec"
        )
        if not inputs:
            raise ModelError(f"{doc.where('inputs')}: inputs: expected at least one input")
        for name, spec in inputs.items():
            loc = inputs.where(name)
            if not isinstance(name, str) or not name:
                raise ModelError(f"{loc}: inputs: expected a name, found {describe(name)}")
            body = expect_mapping(spec, loc, f"inputs.{name}", "a mapping {shape, dtype}")
            check_keys(body, ("shape", "dtype", "range"), f"inputs.{name}", "key")
            shape = body.get("shape")
            if not isinstance(shape, list):
                raise ModelError(
                    f"{body.where('shape')}: inputs.{name}.shape: expected a list of sizes or "
                    f"dimension names, found {describe(shape)}"
                )
            for d in shape:
                if isinstance(d, bool) or not isinstance(d, (int, str)):
                    raise ModelError(
                        f"{body.where('shape')}: inputs.{name}.shape: expected ints or "
                        f"dimension names, found {describe(d)}"
                    )
            value_range = body.get("range")
            if "range" in body and (
                not isinstance(value_range, list)
                or len(value_range) != 2
                or not all(isinstance(v, int) and not isinstance(v, bool) for v in value_range)
            ):
                raise ModelError(
                    f"{body.where('range')}: inputs.{name}.range: expected [low, high], two "
                    f"ints (both included), found {describe(value_range)}"
                )
            tensor = self.builder.input(
                name,
                list(shape),
                body.get("dtype", "float32"),
                source=body.where("range") if "range" in body else loc,
                range=None if value_range is None else (value_range[0], value_range[1]),
            )
            frame.define(name, tensor, loc, f"inputs.{name}")
            frame.aliases.add(name)
        if len(inputs) == 1:
            frame.previous = next(iter(frame.names.values()))

    def read_weights(self, doc: LineDict) -> None:
        if "weights" not in doc:
            return
        spec = expect_mapping(doc["weights"], doc.where("weights"), "weights", "a mapping {rename}")
        check_keys(spec, ("rename",), "weights", "key")
        rules = spec.get("rename", [])
        if not isinstance(rules, list):
            raise ModelError(
                f"{spec.where('rename')}: weights.rename: expected a list of rules, "
                f"found {describe(rules)}"
            )
        for index, rule in enumerate(rules):
            loc = where(rules, index, spec.where("rename"))
            path = f"weights.rename[{index}]"
            body = expect_mapping(
                rule, loc, path, "{prefix: ..., to: ...} or {regex: ..., to: ...}"
            )
            check_keys(body, ("prefix", "regex", "to"), path, "key")
            if ("prefix" in body) == ("regex" in body) or "to" not in body:
                raise ModelError(
                    f"{loc}: {path}: expected exactly one of 'prefix' or 'regex', and 'to'; "
                    f"found keys {', '.join(map(str, body))}"
                )
            source = body.get("prefix", body.get("regex"))
            target = body["to"]
            if not isinstance(source, str) or not isinstance(target, str):
                raise ModelError(
                    f"{loc}: {path}: expected strings, found {describe(source)} "
                    f"and {describe(target)}"
                )
            if "prefix" in body:
                self.builder.rename_weights(
                    "^" + re.escape(source), target.replace("\\", "\\\\"), source=f"{loc}: {path}"
                )
            else:
                self.builder.rename_weights(source, target, source=f"{loc}: {path}")

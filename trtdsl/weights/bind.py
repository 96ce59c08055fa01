"""Binding a checkpoint to a graph: every problem found and reported at once, nothing invented.

A checkpoint binds when, after the rename rules, its keys are exactly the graph's parameter keys
(optional ones, such as BatchNorm's ``num_batches_tracked``, may be present or absent), every
shape matches and every dtype fits its role: the same contract as PyTorch's
``load_state_dict(strict=True)``. Float32 tensors are bound as zero-copy views (copied only if
misaligned); F16, BF16 and F64 are converted to float32 (the only other copies made).
"""

from __future__ import annotations

import difflib
import math
import re
import shlex
import types
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from trtdsl.errors import WeightError
from trtdsl.ir.graph import Graph
from trtdsl.ir.ops.base import ParamSpec
from trtdsl.weights.rename import RenameRule, RenameSpec, apply_rules, compile_rules
from trtdsl.weights.rename_hints import SegmentChange, infer_segment_changes
from trtdsl.weights.safetensors import SafetensorsFile

_NUMPY_TO_SAFETENSORS = {
    "float64": "F64",
    "float32": "F32",
    "float16": "F16",
    "int64": "I64",
    "int32": "I32",
    "int16": "I16",
    "int8": "I8",
    "uint8": "U8",
    "bool": "BOOL",
}
_FLOAT_SOURCES = frozenset({"F64", "F32", "F16", "BF16"})
_INT_SOURCES = frozenset({"I64", "I32", "I16", "I8", "U8"})

Interface = Literal["python", "cli"]
"""Which interface a fix is phrased for: ``rename={...}`` in Python, ``--rename`` on the CLI."""


@dataclass(frozen=True)
class BoundWeights:
    """Weights checked against a graph, ready for passes and backends.

    Attributes:
        arrays: ``f"{node.name}.{role}"`` -> array with the ParamSpec's shape, for every
            non-optional parameter of the graph; float roles are float32 (read-only views of
            the file where it stored F32).
        source: where the weights came from (a path, ``random:SEED`` or ``<mapping>``).
        source_dtypes: bound key -> the dtype it had in the source (``"F32"``, ``"BF16"``, ...).
        conversions: bound keys whose data was converted (copied) to fit their role.
        renamed: bound key -> the checkpoint key it came from, for keys a rule changed.
        ignored: checkpoint keys of optional parameters that were present and checked but
            are not needed (``num_batches_tracked``).
    """

    arrays: Mapping[str, np.ndarray]
    source: str
    source_dtypes: Mapping[str, str] = field(default_factory=dict)
    conversions: tuple[str, ...] = ()
    renamed: Mapping[str, str] = field(default_factory=dict)
    ignored: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "arrays", types.MappingProxyType(dict(self.arrays)))
        object.__setattr__(self, "source_dtypes", types.MappingProxyType(dict(self.source_dtypes)))
        object.__setattr__(self, "renamed", types.MappingProxyType(dict(self.renamed)))

    @property
    def nbytes(self) -> int:
        """Total bytes of the bound arrays."""
        return sum(int(a.nbytes) for a in self.arrays.values())

    def report(self) -> str:
        """A short plain-text summary: source, tensor count, bytes, dtypes, conversions."""
        bound_dtypes = Counter(str(a.dtype) for a in self.arrays.values())
        extra = f" (+{len(self.ignored)} optional, unused)" if self.ignored else ""
        lines = [
            f"weights: {self.source}",
            f"  tensors: {len(self.arrays)} bound{extra}, {_format_bytes(self.nbytes)} "
            f"({_format_counts(bound_dtypes)})",
        ]
        if self.source_dtypes:
            lines.append(f"  source dtypes: {_format_counts(Counter(self.source_dtypes.values()))}")
        if self.renamed:
            lines.append(f"  renamed: {len(self.renamed)} keys")
        if self.conversions:
            kinds = Counter(
                f"{self.source_dtypes.get(k, '?')} -> {self.arrays[k].dtype}"
                for k in self.conversions
            )
            lines.append(f"  conversions (copied): {_format_counts(kinds)}")
        else:
            lines.append("  conversions: none (zero-copy)")
        return "\n".join(lines)


def bind_weights(
    graph: Graph,
    tensors: Mapping[str, np.ndarray],
    rename: RenameSpec | None = None,
    *,
    source: str | None = None,
    interface: Interface = "python",
) -> BoundWeights:
    """Check ``tensors`` against every parameter of ``graph`` and bind them.

    Checkpoint keys are renamed first by ``rename`` (``{regex: replacement}`` or a sequence of
    pairs, applied in order with ``re.sub``), then by ``graph.weight_renames``.

    Args:
        graph: the model; ``graph.params()`` gives each key, its role and expected shape.
        tensors: checkpoint key -> array; a SafetensorsFile binds without copying F32 data.
        rename: extra rename rules for this checkpoint.
        source: a label for reports and errors (default: the file path or ``<mapping>``).
        interface: how a suggested rename rule is written: ``"python"`` (``rename={...}``)
            or ``"cli"`` (``--rename PATTERN REPLACEMENT``).
    Returns:
        BoundWeights with one array per non-optional parameter.
    Raises:
        WeightError whose first line summarises and whose next lines list every missing,
        unexpected, wrong-shape, wrong-dtype and colliding key, with close-match suggestions.
    """
    label = source or (tensors.path if isinstance(tensors, SafetensorsFile) else "<mapping>")
    rules = compile_rules(rename, "rename") + compile_rules(
        graph.weight_renames, f"model {graph.name} weight_renames"
    )
    return _bind(graph, tensors, rules, label, interface)


def _bind(
    graph: Graph,
    tensors: Mapping[str, np.ndarray],
    rules: Sequence[RenameRule],
    label: str,
    interface: Interface = "python",
) -> BoundWeights:
    problems: list[str] = []
    counts: Counter[str] = Counter()

    # 1. rename checkpoint keys; collisions are problems
    by_target: dict[str, str] = {}
    for key in tensors:
        target = apply_rules(key, rules) if rules else key
        if target in by_target:
            counts["colliding"] += 1
            problems.append(
                f"  collision   {by_target[target]!r} and {key!r} both rename to {target!r}"
            )
            continue
        by_target[target] = key

    # 2. walk the graph's parameters
    specs: dict[str, ParamSpec] = {}
    missing: list[str] = []
    checks: list[tuple[str, str, ParamSpec]] = []
    for key, _node, _role, spec in graph.params():
        specs[key] = spec
        if key in by_target:
            checks.append((key, by_target[key], spec))
        elif not spec.optional:
            missing.append(key)
    unexpected = [t for t in by_target if t not in specs]

    # 3. missing and unexpected keys, each with the closest counterpart as a suggestion
    missing_optional = [k for k, s in specs.items() if s.optional and k not in by_target]
    suggester = _Suggester(
        {k: specs[k].shape for k in missing + missing_optional},
        {t: _shape_of(tensors, by_target[t]) for t in unexpected},
        [t for t in by_target if t in specs],
    )
    for key in missing:
        hint = suggester.for_missing(key, by_target)
        problems.append(f"  missing     {key} ({_format_spec(specs[key])}){hint}")
    for target in unexpected:
        origin = by_target[target]
        shown = target if origin == target else f"{target} (renamed from {origin})"
        problems.append(f"  unexpected  {shown}{suggester.for_unexpected(target)}")
    counts["missing"] += len(missing)
    counts["unexpected"] += len(unexpected)

    # 4. shapes and dtypes of the keys present
    arrays: dict[str, np.ndarray] = {}
    source_dtypes: dict[str, str] = {}
    conversions: list[str] = []
    renamed: dict[str, str] = {}
    ignored: list[str] = []
    for key, origin, spec in checks:
        outcome = _check_one(tensors, key, origin, spec)
        if isinstance(outcome, _Problem):
            counts[outcome.kind] += 1
            problems.append(outcome.line)
        elif spec.optional:
            ignored.append(origin)
        else:
            array, dtype_name, converted = outcome
            arrays[key] = array
            source_dtypes[key] = dtype_name
            if converted:
                conversions.append(key)
            if origin != key:
                renamed[key] = origin

    if problems:
        summary = ", ".join(f"{n} {kind}" for kind, n in counts.items() if n)
        lines = [
            f"weights {label} do not match model {graph.name!r}: {summary} "
            f"(model needs {sum(not s.optional for s in specs.values())} tensors, "
            f"checkpoint has {len(tensors)})",
        ]
        # first, where they are seen even when the list is long
        lines.extend(suggester.hints(interface))
        lines.extend(problems)
        raise WeightError("\n".join(lines))
    return BoundWeights(arrays, label, source_dtypes, tuple(conversions), renamed, tuple(ignored))


@dataclass(frozen=True)
class _Problem:
    kind: str
    line: str


def _check_one(
    tensors: Mapping[str, np.ndarray], key: str, origin: str, spec: ParamSpec
) -> _Problem | tuple[np.ndarray, str, bool]:
    """The bound array, its source dtype name and whether it was converted; or the problem."""
    note = "" if key == origin else f" (renamed from {origin})"
    try:
        value = tensors[origin]
        if isinstance(tensors, SafetensorsFile):
            dtype_name = tensors.info(origin).dtype
        else:
            value = value if isinstance(value, np.ndarray) else np.asarray(value)
            dtype_name = _NUMPY_TO_SAFETENSORS.get(value.dtype.name, value.dtype.name)
    except (TypeError, ValueError, RuntimeError) as e:
        line = f"  unreadable  {key}: cannot be read as a NumPy array ({e}){note}"
        return _Problem("unreadable", line)
    shape = tuple(int(d) for d in value.shape)
    if shape != spec.shape:
        line = (
            f"  shape       {key}: expected {_format_shape(spec.shape)}, "
            f"got {_format_shape(shape)}{note}"
        )
        return _Problem("wrong shape", line)
    if spec.dtype.is_float:
        if dtype_name not in _FLOAT_SOURCES:
            line = (
                f"  dtype       {key}: {dtype_name} cannot hold a float parameter "
                f"(expected F32, F16, BF16 or F64){note}"
            )
            return _Problem("wrong dtype", line)
        if dtype_name == "BF16":
            # bfloat16 is the high half of a float32: shift the raw bits into place.
            return (value.astype(np.uint32) << 16).view(np.float32), dtype_name, True
        if value.dtype == np.float32 and value.dtype.isnative:
            if value.flags.aligned:
                return value, dtype_name, False
            # A file from another writer may place data at odd offsets; backends hand
            # pointers to native code, so misaligned data is copied once (listed in the report).
            return np.array(value, dtype=np.float32), dtype_name, True
        with np.errstate(over="ignore"):
            converted = value.astype(np.float32)
        if dtype_name == "F64" and not np.isfinite(converted).all() and np.isfinite(value).all():
            line = (
                f"  dtype       {key}: F64 values overflow float32 "
                f"(largest magnitude {float(np.abs(value).max()):.3g}){note}"
            )
            return _Problem("wrong dtype", line)
        return converted, dtype_name, True
    if dtype_name not in _INT_SOURCES:
        line = (
            f"  dtype       {key}: {dtype_name} cannot hold an integer parameter "
            f"(expected {spec.dtype.value}){note}"
        )
        return _Problem("wrong dtype", line)
    target = spec.dtype.to_numpy()
    if value.dtype == target and value.dtype.isnative:
        return value, dtype_name, False
    return value.astype(target), dtype_name, True


def _shape_of(tensors: Mapping[str, np.ndarray], key: str) -> tuple[int, ...] | None:
    """The shape of ``tensors[key]`` without reading its data, or None if unreadable."""
    if isinstance(tensors, SafetensorsFile):
        return tensors.info(key).shape
    try:
        return tuple(int(d) for d in np.shape(tensors[key]))
    except (TypeError, ValueError, RuntimeError):
        return None


class _Suggester:
    """Close-match suggestions between missing model keys and unexpected checkpoint keys.

    A prefix change shared by several keys (``module.``) is found exactly first and suggested
    as a rename rule; then systematic changes of one segment (a renamed segment, an index
    offset such as ``b1`` for ``0``: ``rename_hints.py``), each proposed in one line; other
    keys get the closest key with the same last segment (``weight``) by difflib.
    """

    def __init__(
        self,
        missing: Mapping[str, tuple[int, ...]],
        unexpected: Mapping[str, tuple[int, ...] | None],
        bound: Sequence[str] = (),
    ) -> None:
        self.missing = dict(missing)
        self.unexpected = dict(unexpected)
        self.pairs: dict[str, str] = {}
        self.rule: tuple[str, str, int] | None = None
        found: Counter[tuple[str, str]] = Counter()
        missing_set, unexpected_set = set(missing), set(unexpected)
        for key in unexpected:
            for old, new in _prefix_candidates(key, missing_set):
                found[(old, new)] += 1
        for key in missing:
            for new, old in _prefix_candidates(key, unexpected_set):
                found[(old, new)] += 1
        if found:
            (old, new), n = found.most_common(1)[0]
            if n >= 2 or len(missing) == 1:
                self.rule = (old, new, n)
                for key in unexpected:
                    if key.startswith(old) and new + key[len(old) :] in missing_set:
                        self.pairs[key] = new + key[len(old) :]
                        self.pairs[new + key[len(old) :]] = key
        rest = [k for k in unexpected if k not in self.pairs]
        self.changes = infer_segment_changes(
            [k for k in missing if k not in self.pairs], rest, bound
        )
        for key in rest:
            target = key
            for change in self.changes:
                target = change.apply(target)
            if target != key and target in missing_set:
                self.pairs[key], self.pairs[target] = target, key

    def for_missing(self, key: str, origins: Mapping[str, str]) -> str:
        match = self.pairs.get(key) or _closest(key, self.missing[key], self.unexpected)
        if match is None:
            return ""
        if origins.get(match, match) != match:
            return f"; did you mean {origins[match]} (renamed to {match})?"
        return f"; did you mean {match}?"

    def for_unexpected(self, key: str) -> str:
        match = self.pairs.get(key) or _closest(key, self.unexpected[key], self.missing)
        return f"; did you mean {match}?" if match else ""

    def hints(self, interface: Interface = "python") -> list[str]:
        """One line per systematic change found, with the rule or naming that fixes it."""
        lines = [self.hint(interface)] if self.rule is not None else []
        return lines + [_change_hint(change, interface) for change in self.changes]

    def hint(self, interface: Interface = "python") -> str:
        if self.rule is None:
            return ""
        old, new, n = self.rule
        pattern = "^" + re.escape(old)
        if interface == "cli":
            fix = f"add --rename {shlex.quote(pattern)} {shlex.quote(new)}"
            declare = f'weights: {{rename: [{{prefix: "{old}", to: "{new}"}}]}} in a YAML model'
        else:
            fix = f"bind with rename={{{pattern!r}: {new!r}}}"
            declare = f"b.rename_weights({pattern!r}, {new!r}) in the model"
        return (
            f"  hint: {n} key(s) differ only by the prefix {old!r} -> {new!r}; {fix} "
            f"(or declare it once: {declare})"
        )


def _change_hint(change: SegmentChange, interface: Interface) -> str:
    """``  hint: ...`` for one segment change: a rename rule, or names for the repetitions."""
    rule = change.rename_rule()
    if rule is None:
        yaml = f'repeat: {{count: N, start: {change.first}, prefix: "{change.old}"}}'
        python = f'b.scope(f"{change.old}{{i + {change.first}}}")'
        fix = (
            f"name the model's repetitions as the checkpoint does: {yaml} in a YAML model, "
            f"{python} in Python (no rename rule can shift an index)"
        )
    elif interface == "cli":
        pattern, replacement = rule
        fix = (
            f"add --rename {shlex.quote(pattern)} {shlex.quote(replacement)} (or declare it "
            f"once: weights: {{rename: [{{regex: '{pattern}', to: '{replacement}'}}]}} "
            "in a YAML model)"
        )
    else:
        pattern, replacement = rule
        fix = (
            f"bind with rename={{{pattern!r}: {replacement!r}}} (or declare it once: "
            f"b.rename_weights({pattern!r}, {replacement!r}) in the model)"
        )
    return f"  hint: {change.describe()}; {fix}"


def _closest(
    key: str, shape: tuple[int, ...] | None, pool: Mapping[str, tuple[int, ...] | None]
) -> str | None:
    """The closest key of ``pool``, preferring the same shape and last segment, or None."""
    if not pool:
        return None
    last = key.rsplit(".", 1)[-1]
    same_last = [k for k in pool if k.rsplit(".", 1)[-1] == last]
    narrow = [k for k in same_last if pool[k] == shape] or same_last
    # Keys with another role (``bias`` vs ``num_batches_tracked``) must be much closer.
    close = difflib.get_close_matches(
        key, narrow or list(pool), n=1, cutoff=0.6 if narrow else 0.85
    )
    return close[0] if close else None


def _prefix_candidates(key: str, targets: set[str]) -> list[tuple[str, str]]:
    """(prefix of ``key``, prefix of a target) pairs such that the rest of the key is equal."""
    found = []
    parts = key.split(".")
    for i in range(1, len(parts)):
        rest = ".".join(parts[i:])
        if rest in targets:
            found.append((".".join(parts[:i]) + ".", ""))
    return found


def _format_shape(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"


def _format_spec(spec: ParamSpec) -> str:
    return f"{spec.dtype.value} {_format_shape(spec.shape)}"


def _format_counts(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{name} x{n}" for name, n in sorted(counts.items())) or "none"


def _format_bytes(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    exponent = min(int(math.log(n, 1024)), 3)
    return f"{n / 1024**exponent:.1f} {('B', 'KiB', 'MiB', 'GiB')[exponent]}"

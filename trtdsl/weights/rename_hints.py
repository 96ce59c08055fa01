"""Systematic differences between a checkpoint's keys and a model's, found when binding fails.

When many keys miss by the same change, one line naming the change helps more than hundreds
of per-key suggestions. Two kinds are found, each within one dotted segment of the key:

- a renamed segment: the checkpoint's ``downsample`` is the model's ``shortcut`` (a rename
  rule fixes it: ``\\.downsample\\.`` -> ``.shortcut.``);
- an index offset: the checkpoint numbers ``b1``, ``b2``, ... where the model has ``0``,
  ``1``, ... (timm's RegNet blocks against a plain ``repeat``). No regex can add 1, so the
  fix is to name the repetitions as the checkpoint does: ``repeat: {count: N, start: 1,
  prefix: b}``.

Keys differing in two segments (a rename and an offset at once) are paired too, and the
changes are found one after the other. A change is proposed only when it explains at least
two keys and breaks no key that binds now.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

_INDEXED = re.compile(r"^(\D*?)(\d+)$")

MAX_CHANGES = 3
"""The most changes reported (each one line)."""


@dataclass(frozen=True)
class SegmentChange:
    """A change of one dotted segment shared by several checkpoint keys.

    Attributes:
        kind: ``"rename"`` (segment ``old`` is the model's ``new``) or ``"offset"``
            (segment ``old`` + i is the model's ``new`` + (i + ``offset``)).
        old, new: the checkpoint's and the model's segment (``rename``), or their
            letter prefixes before the index (``offset``: ``"b"`` and ``""``).
        offset: model index minus checkpoint index (``offset`` only).
        count: how many checkpoint keys it makes model keys.
        example: one (checkpoint key, model key) pair it explains.
        first: the checkpoint's index of the model's smallest index (``offset`` only).
    """

    kind: str
    old: str
    new: str
    offset: int
    count: int
    example: tuple[str, str]
    first: int = 0

    def apply(self, key: str) -> str:
        """``key`` with this change applied to every segment it matches."""
        return ".".join(self._segment(s) for s in key.split("."))

    def _segment(self, segment: str) -> str:
        if self.kind == "rename":
            return self.new if segment == self.old else segment
        found = _INDEXED.match(segment)
        if found is None or found.group(1) != self.old:
            return segment
        index = int(found.group(2)) + self.offset
        return f"{self.new}{index}" if index >= 0 else segment

    def describe(self) -> str:
        """The change in words, with its example."""
        checkpoint, model = self.example
        if self.kind == "rename":
            what = f"the segment {self.old!r} of the checkpoint is {self.new!r} in the model"
        else:
            i = self.first
            theirs = f"{self.old}{i}, {self.old}{i + 1}"
            ours = f"{self.new}{i + self.offset}, {self.new}{i + 1 + self.offset}"
            what = f"the checkpoint numbers {theirs}, ... where the model has {ours}, ..."
        return (
            f"{self.count} key(s) differ by a systematic change: {what} ({checkpoint} is {model})"
        )

    def rename_rule(self) -> tuple[str, str] | None:
        """The ``(regex, replacement)`` rule making checkpoint keys model keys (``rename``
        changes only; an index offset needs other names for the repetitions)."""
        if self.kind != "rename":
            return None
        return (
            rf"(^|\.){re.escape(self.old)}(?=\.|$)",
            r"\g<1>" + self.new.replace("\\", "\\\\"),
        )


def infer_segment_changes(
    missing: Iterable[str], unexpected: Iterable[str], bound: Iterable[str] = ()
) -> list[SegmentChange]:
    """The systematic segment changes turning ``unexpected`` checkpoint keys (after the
    rename rules) into ``missing`` model keys, largest first (at most ``MAX_CHANGES``).

    Args:
        bound: checkpoint keys that bind now: a change that would rename one of them away
            from its model key is not proposed.
    """
    missing_keys, unexpected_keys = list(missing), list(unexpected)
    targets = set(missing_keys)
    pending = list(unexpected_keys)
    stable = list(bound)
    changes: list[SegmentChange] = []
    while pending and targets and len(changes) < MAX_CHANGES:
        change = _best_change(pending, targets, stable)
        if change is None:
            break
        changes.append(change)
        moved = [k for k in pending if change.apply(k) in targets]
        targets -= {change.apply(k) for k in moved}
        pending = [change.apply(k) for k in pending if k not in set(moved)]
    return _recount(changes, unexpected_keys, set(missing_keys))


def _recount(
    changes: list[SegmentChange], unexpected: Sequence[str], targets: set[str]
) -> list[SegmentChange]:
    """Each change credited with every key it helps to make a model key, together with the
    changes before and after it (a key may need two)."""
    counts = [0] * len(changes)
    for key in unexpected:
        steps = [key]
        for change in changes:
            steps.append(change.apply(steps[-1]))
        if steps[-1] in targets:
            for i in range(len(changes)):
                counts[i] += steps[i + 1] != steps[i]
    return [replace(c, count=n) for c, n in zip(changes, counts, strict=True) if n >= 2]


def _best_change(
    pending: Sequence[str], targets: set[str], bound: Sequence[str]
) -> SegmentChange | None:
    for most in (1, 2):  # keys differing in one segment first; then in two
        votes: Counter[tuple[str, str, str, int]] = Counter()
        examples: dict[tuple[str, str, str, int], tuple[str, str]] = {}
        ordered = sorted(pending, key=lambda k: not k.endswith(".weight"))  # examples
        for key, target in _pairs(ordered, targets, most):
            for old, new in _differing(key, target):
                for change in _classify(old, new):
                    votes[change] += 1
                    examples.setdefault(change, (key, target))
        for (kind, old, new, offset), _ in votes.most_common(8):
            candidate = SegmentChange(kind, old, new, offset, 0, examples[kind, old, new, offset])
            if kind == "offset" and not _spans_indices(candidate, pending, targets):
                continue
            count = sum(1 for k in pending if candidate.apply(k) in targets)
            if count < 2 or any(candidate.apply(k) != k for k in bound):
                continue
            first = _first_index(candidate, pending, targets)
            return SegmentChange(kind, old, new, offset, count, candidate.example, first)
    return None


def _pairs(pending: Sequence[str], targets: set[str], most: int) -> Iterable[tuple[str, str]]:
    """(checkpoint key, model key) pairs of as many segments, differing in 1..``most``."""
    index: dict[tuple[int, tuple[int, ...], str], list[str]] = defaultdict(list)
    for target in targets:
        parts = target.split(".")
        for holes in _holes(len(parts), most):
            index[len(parts), holes, _masked(parts, holes)].append(target)
    for key in pending:
        parts = key.split(".")
        for holes in _holes(len(parts), most):
            for target in index.get((len(parts), holes, _masked(parts, holes)), ()):
                yield key, target


def _holes(length: int, most: int) -> list[tuple[int, ...]]:
    singles: list[tuple[int, ...]] = [(i,) for i in range(length)]
    if most == 1:
        return singles
    return [(i, j) for i in range(length) for j in range(i + 1, length)]


def _masked(parts: list[str], holes: tuple[int, ...]) -> str:
    return ".".join("\0" if i in holes else p for i, p in enumerate(parts))


def _differing(key: str, target: str) -> list[tuple[str, str]]:
    return [(a, b) for a, b in zip(key.split("."), target.split("."), strict=True) if a != b]


def _classify(old: str, new: str) -> list[tuple[str, str, str, int]]:
    found = [("rename", old, new, 0)]
    a, b = _INDEXED.match(old), _INDEXED.match(new)
    if a is not None and b is not None:
        found.append(("offset", a.group(1), b.group(1), int(b.group(2)) - int(a.group(2))))
    return found


def _spans_indices(change: SegmentChange, pending: Sequence[str], targets: set[str]) -> bool:
    """Whether an offset explains keys of at least two different indices (else it is just
    a renamed segment)."""
    seen = set()
    for key in pending:
        if change.apply(key) in targets:
            seen |= {
                s for s in key.split(".") if (m := _INDEXED.match(s)) and m.group(1) == change.old
            }
    return len(seen) >= 2


def _first_index(change: SegmentChange, pending: Sequence[str], targets: set[str]) -> int:
    """The checkpoint's index where the model's numbering starts (offset changes)."""
    if change.kind != "offset":
        return 0
    indices = [
        int(m.group(2))
        for key in pending
        if change.apply(key) in targets
        for s in key.split(".")
        if (m := _INDEXED.match(s)) and m.group(1) == change.old
    ]
    return min(indices, default=0)

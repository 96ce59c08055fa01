"""Checkpoint-key rename rules: ordered ``(regex, replacement)`` pairs with ``re.sub`` semantics."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from trtdsl.errors import WeightError

RenameSpec = Mapping[str, str] | Sequence[tuple[str, str]]
"""What ``rename=`` accepts: ``{pattern: replacement}`` or ``[(pattern, replacement), ...]``."""


@dataclass(frozen=True)
class RenameRule:
    """One rule: every match of ``pattern`` in a checkpoint key is replaced by ``replacement``."""

    pattern: str
    replacement: str

    def apply(self, key: str) -> str:
        return re.sub(self.pattern, self.replacement, key)


def prefix_rule(old: str, new: str = "") -> tuple[str, str]:
    """The rule replacing a literal key prefix: ``prefix_rule("module.")`` strips ``module.``."""
    return (f"^{re.escape(old)}", new.replace("\\", "\\\\"))


def compile_rules(rules: RenameSpec | None, origin: str = "rename") -> tuple[RenameRule, ...]:
    """Validate rename rules (a Mapping or a sequence of pairs), keeping their order.

    Raises:
        WeightError naming the bad rule when a pattern is not a valid regex or a
        replacement refers to a group the pattern lacks.
    """
    if rules is None:
        return ()
    pairs: Iterable[object] = rules.items() if isinstance(rules, Mapping) else rules
    if isinstance(rules, (str, bytes)):
        raise WeightError(f"{origin}: expected pairs (pattern, replacement), got a string")
    compiled = []
    for pair in pairs:
        if (
            not isinstance(pair, (tuple, list))
            or len(pair) != 2
            or not all(isinstance(p, str) for p in pair)
        ):
            raise WeightError(f"{origin}: expected a (pattern, replacement) pair, got {pair!r}")
        pattern, replacement = pair
        try:
            regex = re.compile(pattern)
            regex.sub(replacement, "")  # checks group references in the replacement
        except re.error as e:
            raise WeightError(f"{origin}: bad rule {pattern!r} -> {replacement!r}: {e}") from None
        compiled.append(RenameRule(pattern, replacement))
    return tuple(compiled)


def apply_rules(key: str, rules: Sequence[RenameRule]) -> str:
    """``key`` after every rule, applied in order."""
    for rule in rules:
        key = rule.apply(key)
    return key

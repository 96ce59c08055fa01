"""The memory budget: every size taken from input is checked against it before anything of
that size is allocated, so an absurd shape or a forged header is one line, not a crash.

The budget is what this process may still allocate: the machine's available memory
(``MemAvailable``), lowered by an address-space or data limit (``ulimit -v``/``-d``) when one
is set.
"""

from __future__ import annotations

import os
import resource

from trtdsl.errors import ResourceLimitError

_FALLBACK = 1 << 34
"""Budget where the system tells nothing (16 GiB): a bound, not a measurement."""


def format_bytes(count: int) -> str:
    """``123 B``, ``4.0 KiB`` ... ``224.0 GiB`` (binary units)."""
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(value) < 1024 or unit == "PiB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def available_memory() -> int:
    """Bytes this process may still allocate (see the module docstring)."""
    budget = _meminfo_available()
    for limit in (resource.RLIMIT_AS, resource.RLIMIT_DATA):
        soft, _ = resource.getrlimit(limit)
        if soft != resource.RLIM_INFINITY:
            budget = min(budget, max(0, soft - _virtual_size()))
    return budget


def _meminfo_available() -> int:
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (OSError, ValueError, AttributeError):
        return _FALLBACK


def _virtual_size() -> int:
    """This process's current address-space size (what ``RLIMIT_AS`` counts)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def require_memory(count: int, what: str) -> None:
    """ResourceLimitError unless ``count`` bytes fit in the budget.

    Args:
        count: bytes the work would allocate (a lower bound is enough: it is checked before
            the work, to refuse what cannot succeed).
        what: what needs them, e.g. ``"--shape x=1x3x100000x100000: the input"``.
    """
    if count <= 0:
        return
    available = available_memory()
    if count > available:
        raise ResourceLimitError(
            f"{what} would need {format_bytes(count)} of memory; this machine has "
            f"{format_bytes(available)} available"
        )

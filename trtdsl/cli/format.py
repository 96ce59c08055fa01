"""Output helpers shared by the subcommands: tables (rich on a terminal, plain text otherwise),
JSON, and number formatting. Only ``trtdsl.cli`` prints; these functions do it for the CLI."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

FORMATS = ("table", "json")


@dataclass(frozen=True)
class Column:
    """One table column: the row key it shows, its header and its alignment."""

    key: str
    header: str
    align: str = "left"
    """``"left"`` or ``"right"`` (numbers)."""


def add_format_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--format table|json`` (default table)."""
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="table",
        help="table (readable; rich on a terminal) or json (machine-readable); default: table",
    )


def format_count(value: int) -> str:
    """``25557032`` -> ``"25,557,032"``."""
    return f"{value:,}"


def format_giga(value: float, digits: int = 2) -> str:
    """``4089184256`` -> ``"4.09 G"``."""
    return f"{value / 1e9:.{digits}f} G"


def format_table(
    columns: Sequence[Column],
    rows: Iterable[Mapping[str, Any]],
    title: str | None = None,
    footer: Sequence[str] = (),
) -> str:
    """A plain-text table with aligned columns, a header rule, and footer lines."""
    cells = [[c.header for c in columns]]
    cells += [[_cell(row.get(c.key)) for c in columns] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]

    def render(line: list[str]) -> str:
        parts = [
            text.rjust(width) if column.align == "right" else text.ljust(width)
            for text, width, column in zip(line, widths, columns, strict=True)
        ]
        return "  ".join(parts).rstrip()

    lines = [title] if title else []
    lines.append(render(cells[0]))
    lines.append("  ".join("-" * w for w in widths))
    lines.extend(render(line) for line in cells[1:])
    lines.extend(footer)
    return "\n".join(lines)


def print_table(
    columns: Sequence[Column],
    rows: Sequence[Mapping[str, Any]],
    title: str | None = None,
    footer: Sequence[str] = (),
    stream: TextIO | None = None,
) -> None:
    """Print a table: a rich table when ``stream`` is a terminal, plain text otherwise."""
    stream = stream if stream is not None else sys.stdout
    if not _is_terminal(stream):
        stream.write(format_table(columns, rows, title, footer) + "\n")
        return
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    cells = [[_cell(row.get(c.key)) for c in columns] for row in rows]
    table = Table(title=title, title_justify="left", header_style="bold")
    widths: list[int] = []
    for index, column in enumerate(columns):
        widest = max([len(column.header), *(len(line[index]) for line in cells)])
        widths.append(widest)
        table.add_column(
            column.header,
            justify="right" if column.align == "right" else "left",
            no_wrap=True,
            min_width=widest,
        )
    for cell_line in cells:
        table.add_row(*(Text(cell) for cell in cell_line))  # Text: "[1, 3]" is not markup
    console = Console(file=stream, highlight=False)
    # Never cut a name or a number: on a narrow terminal, let lines run long instead.
    natural = sum(widths) + 3 * len(columns) + 1
    if natural > console.width:
        console = Console(file=stream, highlight=False, width=natural)
    console.print(table)
    for text in footer:
        console.print(text, markup=False)


def print_json(data: Any, stream: TextIO | None = None) -> None:
    """Print ``data`` as indented JSON (tuples become lists)."""
    stream = stream if stream is not None else sys.stdout
    stream.write(json.dumps(data, indent=2) + "\n")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return format_count(value)
    return str(value)


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False

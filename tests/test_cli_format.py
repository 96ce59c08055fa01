"""The CLI's tables: on a terminal, rich shows cell text as it is (no markup)."""

from __future__ import annotations

import io

from trtdsl.cli.format import Column, print_table


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_rich_tables_do_not_read_cells_as_markup() -> None:
    stream = _Terminal()
    print_table(
        [Column("type", "type")], [{"type": "[int, int]"}, {"type": "[bold]x"}], stream=stream
    )
    text = stream.getvalue()
    assert "[int, int]" in text and "[bold]x" in text

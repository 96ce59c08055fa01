"""The CLI entry point: help, exit codes, one-line errors."""

from __future__ import annotations

import subprocess
import sys

import pytest

from trtdsl.cli.main import SUBCOMMANDS, build_parser, main


def test_help_lists_the_subcommands_that_exist(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "examples:" in out
    registered = build_parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    for name in registered:
        assert name in SUBCOMMANDS and name in out


def test_no_command_exits_2() -> None:
    assert main([]) == 2


def test_unknown_command_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["frobnicate"])
    assert exit_info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_console_script_module_runs() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "trtdsl.cli.main", "--version"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0 and done.stdout.startswith("trtdsl ")

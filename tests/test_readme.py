"""The README's quick start is exactly two commands, and CI runs the second one verbatim."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def quick_start_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return [block.strip() for block in re.findall(r"```bash\n(.*?)```", section, re.S)]


def test_quick_start_has_exactly_two_one_line_commands() -> None:
    commands = quick_start_commands()
    assert len(commands) == 2, commands
    assert all("\n" not in c for c in commands), commands


def test_first_command_installs_and_runs_the_zoo_resnet50() -> None:
    install, _, job = quick_start_commands()[0].partition(" && ")
    assert install.startswith("python3 -m pip install -e .")
    assert job.startswith("trtdsl ") and "resnet50" in job


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    test_command = quick_start_commands()[1]
    assert "pytest" in test_command
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert test_command in ci_lines


def test_ci_fails_when_pytest_collects_nothing() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r'"\$status" -eq 5', ci) and "exit 1" in ci

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
    assert install == "python3 -m pip install -e '.[rtx]'"
    assert job.startswith("trtdsl compile ") and "resnet50" in job
    assert "--emulate" not in job and "emulated" not in job  # a real TensorRT-RTX engine


def test_ci_fails_when_the_real_builder_is_missing() -> None:
    """The rtx tests skip only where tensorrt_rtx is absent: CI must not let that pass."""
    ci = (ROOT / ".ci" / "run").read_text()
    assert "import tensorrt_rtx" in ci


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    test_command = quick_start_commands()[1]
    assert "pytest" in test_command
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert test_command in ci_lines


def test_ci_fails_when_pytest_collects_nothing() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r'"\$status" -eq 5', ci) and "exit 1" in ci


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", (ROOT / "README.md").read_text(), re.S)


def test_readme_python_example_runs() -> None:
    (code,) = _blocks("python")
    namespace: dict[str, object] = {}
    exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102
    graph = namespace["graph"]
    assert [n.name for n in graph.nodes] == [  # type: ignore[attr-defined]
        "layer1.0.conv", "layer1.0.bn", "layer1.0.relu"]  # fmt: skip
    features = namespace["outputs"]["features"]  # type: ignore[index]
    assert features.shape == (2, 16, 32, 32) and (features >= 0).all()


def test_readme_yaml_example_builds(tmp_path: Path) -> None:
    from trtdsl import load_model

    (text,) = _blocks("yaml")
    path = tmp_path / "tiny.yaml"
    path.write_text(text)
    graph = load_model(str(path))
    names = [n.name for n in graph.nodes]
    assert names[:3] == ["layer1.0.conv", "layer1.0.bn", "layer1.0.relu"]
    assert "layer1.1.conv" in names and names[-1] == "fc"
    assert graph.types["fc"].shape == ("N", 10)
    assert graph.node("fc").precision is not None

"""The installable package: the wheel ships the zoo as package data, and every package-data glob
in pyproject.toml matches real files (a glob matching nothing ships nothing, silently)."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from trtdsl.frontend.load import ZOO_DIR, zoo_models

ROOT = Path(__file__).resolve().parents[1]

tomllib = pytest.importorskip("tomllib")  # Python >= 3.11


def _package_data() -> dict[str, list[str]]:
    with open(ROOT / "pyproject.toml", "rb") as f:
        config = tomllib.load(f)
    data: dict[str, list[str]] = config["tool"]["setuptools"]["package-data"]
    return data


def test_every_package_data_glob_matches_a_file() -> None:
    for package, patterns in _package_data().items():
        directory = ROOT / package.replace(".", "/")
        for pattern in patterns:
            assert glob.glob(str(directory / pattern)), f"{package}: {pattern} matches nothing"


def test_the_zoo_lives_in_the_package_and_the_root_zoo_links_to_it() -> None:
    assert ZOO_DIR == ROOT / "trtdsl" / "zoo"
    assert (ROOT / "zoo").resolve() == ZOO_DIR
    assert "resnet50" in zoo_models() and "resnet_blocks" not in zoo_models()


@pytest.mark.slow
def test_wheel_holds_every_zoo_model_and_every_package_data_file(tmp_path: Path) -> None:
    """Builds the wheel from a copy of the sources (the checkout is left untouched)."""
    source = tmp_path / "src"
    shutil.copytree(
        ROOT / "trtdsl", source / "trtdsl", ignore=shutil.ignore_patterns("__pycache__")
    )
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
        + ["--no-index", "-w", str(wheels), str(source)],
        check=True,
        capture_output=True,
        cwd=tmp_path,
    )
    (wheel,) = wheels.glob("trtdsl-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {
        f"trtdsl/zoo/{path.name}"
        for path in ZOO_DIR.iterdir()
        if path.suffix in (".yaml", ".py", ".md")
    }
    models = {name.rsplit("/", 1)[1].rsplit(".", 1)[0] for name in expected}
    assert set(zoo_models()) <= models
    assert expected <= names, sorted(expected - names)
    for package, patterns in _package_data().items():
        prefix = package.replace(".", "/")
        for pattern in patterns:
            matched = glob.glob(pattern, root_dir=ROOT / prefix)
            assert {f"{prefix}/{m}" for m in matched} <= names, pattern
    assert "trtdsl/cli/main.py" in names and "trtdsl/py.typed" in names

    # Installed from the wheel (unpacked first on sys.path), `trtdsl info resnet50` works from
    # a directory that has no zoo/.
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    code = (
        "import sys, trtdsl; from trtdsl.cli.main import main; "
        "print(trtdsl.__file__); sys.exit(main(['info', 'resnet50']))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=elsewhere,
        env={**os.environ, "PYTHONPATH": str(site)},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(str(site / "trtdsl")), result.stdout[:200]
    assert "25,557,032 params" in result.stdout

"""--cache on the commands that build, and trtdsl cache ls|clear."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest


def test_compile_emulated_through_the_cache(
    tmp_path: Path, tiny_model: Path, cli: Callable[..., object]
) -> None:
    argv = (
        "compile",
        str(tiny_model),
        "--weights",
        "random",
        "--emulate",
        "--cache",
        str(tmp_path / "c"),
    )
    first = cli(*argv)
    assert first.code == 0 and "cache: miss " in first.out  # type: ignore[attr-defined]
    second = cli(*argv)
    assert second.code == 0 and "cache: hit " in second.out  # type: ignore[attr-defined]
    assert "build (emulated): skipped (cached" in second.out  # type: ignore[attr-defined]
    assert "check (emulated)" in second.out  # type: ignore[attr-defined]


@pytest.mark.rtx
def test_compile_twice_builds_once_and_writes_the_same_bytes(
    tmp_path: Path, tiny_model: Path, cli: Callable[..., object]
) -> None:
    cache = tmp_path / "cache"
    engines = []
    for name in ("a", "b"):
        out = tmp_path / f"{name}.engine"
        result = cli(
            "compile", str(tiny_model), "--weights", "random", "--backend", "tensorrt-rtx",
            "--cache", str(cache), "-o", str(out), "--no-check",
        )  # fmt: skip
        assert result.code == 0, result.err  # type: ignore[attr-defined]
        engines.append(out.read_bytes())
        sidecar = json.loads(Path(f"{out}.json").read_text())
        assert sidecar["cache"]["hit"] is (name == "b")
    assert "cache: hit" in result.out and "build skipped" in result.out  # type: ignore[attr-defined]
    (entry,) = cache.glob("*.engine")
    assert engines[0] == engines[1] == entry.read_bytes()
    assert engines[0][:4] == b"vtrt"


def test_run_bench_inspect_compare_take_the_cache(
    tmp_path: Path, tiny_model: Path, cli: Callable[..., object]
) -> None:
    cache = str(tmp_path / "c")
    model = ("--weights", "random", "--emulate", "--cache", cache)
    for argv in (
        ("run", str(tiny_model), *model),
        ("bench", str(tiny_model), *model, "--iterations", "2", "--warmup", "1"),
        ("inspect", str(tiny_model), *model),
        ("run", str(tiny_model), *model),
    ):
        result = cli(*argv)
        assert result.code == 0, result.err  # type: ignore[attr-defined]
    assert "cache: hit: build skipped" in result.err  # type: ignore[attr-defined]
    compare = cli("compare", str(tiny_model), *model)
    assert compare.code == 0 and "cache: miss" in compare.err  # type: ignore[attr-defined]
    listing = cli("cache", "ls", cache, "--format", "json")
    entries = json.loads(listing.out)  # type: ignore[attr-defined]
    assert len(entries) == 2 and {e["model"] for e in entries} == {"tiny"}


def test_cache_ls_and_clear(tmp_path: Path, tiny_model: Path, cli: Callable[..., object]) -> None:
    cache = tmp_path / "c"
    assert (
        cli("run", str(tiny_model), "--weights", "random", "--emulate", "--cache", str(cache)).code
        == 0
    )  # type: ignore[attr-defined]
    listing = cli("cache", "ls", str(cache))
    assert listing.code == 0 and "1 cached engine(s)" in listing.out  # type: ignore[attr-defined]
    assert "trtdsl TensorRT emulator" in listing.out and "tiny" in listing.out  # type: ignore[attr-defined]
    cleared = cli("cache", "clear", str(cache))
    assert cleared.code == 0 and "removed 1 cached engine(s)" in cleared.out  # type: ignore[attr-defined]
    assert "no cached engines" in cli("cache", "ls", str(cache)).out  # type: ignore[attr-defined]


def test_bad_cache_directories_exit_2_in_one_line(
    tmp_path: Path, tiny_model: Path, cli: Callable[..., object]
) -> None:
    a_file = tmp_path / "file"
    a_file.write_text("")
    model = ("compile", str(tiny_model), "--weights", "random", "--emulate")
    for argv, message in (
        ((*model, "--cache", str(a_file)), "is a file, not a directory"),
        ((*model, "--cache", "/proc/self"), "is not writable"),
        ((*model, "--cache", str(tmp_path / "no" / "c")), "does not exist"),
        (("run", str(tiny_model), "--weights", "random", "--cache", str(a_file)), "is a file"),
        (("cache", "ls", str(tmp_path / "none")), "no such directory"),
        (("cache", "clear", str(a_file)), "is a file, not a directory"),
    ):
        result = cli(*argv)
        assert result.code == 2, argv  # type: ignore[attr-defined]
        (line,) = result.err.splitlines()  # type: ignore[attr-defined]
        assert message in line, line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "tiny.yaml"]


def test_cache_is_refused_for_an_engine_file_and_the_reference(
    tmp_path: Path, tiny_model: Path, cli: Callable[..., object]
) -> None:
    engine = tmp_path / "m.engine"
    engine.write_bytes(b"x")
    result = cli("run", str(engine), "--cache", str(tmp_path))
    assert result.code == 2 and "--cache applies to a MODEL" in result.err  # type: ignore[attr-defined]
    result = cli(
        "run",
        str(tiny_model),
        "--weights",
        "random",
        "--backend",
        "reference",
        "--cache",
        str(tmp_path),
    )
    assert result.code == 2 and "--cache needs an engine backend" in result.err  # type: ignore[attr-defined]

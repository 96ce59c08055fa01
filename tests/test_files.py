"""trtdsl.files: the one module through which user files are read and written.

Reads take regular files only (a FIFO is refused without blocking, a device is never read),
bounded; outputs are checked before any work and written atomically, in groups all or nothing;
nothing a command read can be written over; ``.npy``/``.npz`` are read header first; typed
records name the field that is wrong. And no code outside ``trtdsl/files`` writes a file.
"""

from __future__ import annotations

import ast
import io
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pytest

from trtdsl import files
from trtdsl.errors import FileError, FileFormatError, ResourceLimitError

PACKAGE = Path(__file__).resolve().parents[1] / "trtdsl"


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.startswith("."))


# -- reading -------------------------------------------------------------------------------------


def test_reads_refuse_what_is_not_a_regular_file(tmp_path: Path) -> None:
    fifo = tmp_path / "x.engine"
    os.mkfifo(fifo)  # opened for reading, a FIFO blocks until a writer comes: never here
    with pytest.raises(FileError, match=r"x\.engine: is a FIFO"):
        files.read_bytes(fifo)
    with pytest.raises(FileError, match=r"is a character device"):
        files.read_bytes("/dev/zero")
    with pytest.raises(FileError, match=r": is a directory"):
        files.read_bytes(tmp_path)
    with pytest.raises(FileError, match=r"missing: no such file"):
        files.read_bytes(tmp_path / "missing")
    link = tmp_path / "zero.engine"
    link.symlink_to("/dev/zero")
    with pytest.raises(FileError, match=r"zero\.engine: is a character device"):
        files.read_bytes(link)


def test_reads_are_bounded(tmp_path: Path) -> None:
    path = tmp_path / "big.json"
    path.write_bytes(b" " * 2048)
    with pytest.raises(FileError, match=r"is 2\.0 KiB, more than the 1\.0 KiB"):
        files.read_bytes(path, limit=1024)
    assert files.read_bytes(path, limit=4096) == b" " * 2048


def test_json_is_strict(tmp_path: Path) -> None:
    for text, message in [
        ('{"a": NaN}', "NaN is not a JSON number"),
        ('{"a": 1, "a": 2}', "duplicate key 'a'"),
        ("[" * 100000, "nested too deeply"),
        ('{"a": ', "Expecting value"),
    ]:
        path = tmp_path / "f.json"
        path.write_text(text)
        with pytest.raises(FileFormatError, match=message):
            files.read_json(path)
    path.write_bytes(b'{"a": "\xff"}')
    with pytest.raises(FileFormatError, match="not UTF-8"):
        files.read_json(path)


# -- outputs -------------------------------------------------------------------------------------


def test_an_output_is_never_an_input(tmp_path: Path) -> None:
    source = tmp_path / "m.yaml"
    source.write_text("name: m\n")
    (tmp_path / "hard.yaml").hardlink_to(source)
    (tmp_path / "soft.yaml").symlink_to(source)
    for name in ("m.yaml", "hard.yaml", "soft.yaml"):
        with pytest.raises(FileError, match=rf"-o .*{name}: is the input .*m\.yaml"):
            files.check_output(tmp_path / name, "-o", [source])
    with files.command_scope():  # what a command read is an input, whatever path names it
        files.read_text(tmp_path / "soft.yaml")
        with pytest.raises(FileError, match=r"is the input"):
            files.write_file(tmp_path / "hard.yaml", b"overwritten")
    assert source.read_text() == "name: m\n"
    files.write_file(tmp_path / "hard.yaml", b"outside a command scope, only checked paths")


def test_outputs_are_checked_before_any_work(tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir()
    cases: list[tuple[Path | str, str]] = [
        (tmp_path / "dir", "is a directory"),
        (Path("/dev/null"), "is a character device"),
        (tmp_path / "missing" / "x", "directory .*missing does not exist"),
        ("", "an empty path"),
    ]
    for path, message in cases:
        with pytest.raises(FileError, match=message):
            files.check_output(path, "-o")
    with pytest.raises(FileError, match="the same file as -o"):
        files.check_outputs([("-o", tmp_path / "a"), ("--mask", tmp_path / "." / "a")])


def test_a_group_is_written_all_or_nothing(tmp_path: Path) -> None:
    engine, sidecar = tmp_path / "m.engine", tmp_path / "m.engine.json"
    files.write_files([(engine, b"old plan"), (sidecar, b"old sidecar")])

    def fails(stream: Any) -> None:
        stream.write(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        files.write_files([(engine, b"new plan"), (sidecar, fails)])
    assert engine.read_bytes() == b"old plan" and sidecar.read_bytes() == b"old sidecar"
    sidecar.unlink()
    sidecar.mkdir()  # the second rename fails after the first succeeded: the first is undone
    with pytest.raises(FileError, match="is a directory"):
        files.write_files([(engine, b"new plan"), (sidecar, b"new sidecar")])
    assert engine.read_bytes() == b"old plan"
    assert _leftovers(tmp_path) == []


def test_a_failed_rename_restores_the_previous_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    files.write_files([(first, b"a1"), (second, b"b1")])
    real = os.replace
    calls: list[str] = []

    def flaky(src: str, dst: str) -> None:
        calls.append(str(dst))
        if str(dst) == str(second) and len(calls) == 2:
            raise OSError(28, "No space left on device")
        real(src, dst)

    monkeypatch.setattr(files.writing.os, "replace", flaky)  # type: ignore[attr-defined]
    with pytest.raises(OSError, match="No space left"):
        files.write_files([(first, b"a2"), (second, b"b2")])
    assert first.read_bytes() == b"a1" and second.read_bytes() == b"b1"
    assert _leftovers(tmp_path) == []


def test_a_directory_is_created_in_one_step(tmp_path: Path) -> None:
    made = files.write_directory(tmp_path / "m", {"config.pbtxt": b"c", "1/model.plan": b"p"})
    assert (made / "1" / "model.plan").read_bytes() == b"p"
    with pytest.raises(FileError, match="already exists"):
        files.write_directory(tmp_path / "m", {"x": b""})

    def fails(stream: Any) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        files.write_directory(tmp_path / "n", {"a": b"a", "b": fails})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]


def test_lock_files_are_regular_files(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "k.lock")
    with (
        pytest.raises(FileError, match="the lock file is a FIFO"),
        files.hold_lock(tmp_path / "k.lock"),
    ):
        pass
    (tmp_path / "l.lock").symlink_to(tmp_path / "elsewhere")
    with (
        pytest.raises(FileError, match="cannot open the lock file"),
        files.hold_lock(tmp_path / "l.lock"),
    ):
        pass
    assert not (tmp_path / "elsewhere").exists()
    with files.hold_lock(tmp_path / "m.lock"):
        assert (tmp_path / "m.lock").stat().st_size == 0


# -- arrays --------------------------------------------------------------------------------------


def _npy_header(shape: tuple[int, ...], descr: str = "<f4") -> bytes:
    text = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}"
    text += " " * (118 - len(text)) + "\n"
    return b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text.encode()


def test_npy_headers_are_checked_before_data_is_read(tmp_path: Path) -> None:
    path = tmp_path / "big.npy"
    path.write_bytes(_npy_header((30_000_000_000,)) + b"\0" * 1024)  # 1 KB claiming 120 GB
    seen: list[tuple[int, ...]] = []

    def refuse(header: files.ArrayHeader) -> None:
        seen.append(header.shape)
        raise FileError("does not fit the model")

    with pytest.raises(FileError, match="does not fit the model"):
        files.load_npy(str(path), check=refuse)
    assert seen == [(30_000_000_000,)]
    with pytest.raises(FileFormatError, match="truncated"):
        files.load_npy(str(path))
    path.write_bytes(_npy_header((2,), "|O") + b"\0" * 16)
    with pytest.raises(FileFormatError, match="never unpickles"):
        files.load_npy(str(path))
    path.write_bytes(b"PK\x03\x04 not an npy")
    with pytest.raises(FileFormatError, match="not a NumPy .npy array"):
        files.load_npy(str(path))
    np.save(path, np.arange(6, dtype=np.int16).reshape(3, 2))
    np.testing.assert_array_equal(files.load_npy(str(path), rows=2), [[0, 1], [2, 3]])
    assert files.load_npy(str(path), mmap=True).sum() == 15


def test_memory_budget_is_checked_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(files.memory, "available_memory", lambda: 1 << 20)  # type: ignore[attr-defined]
    with pytest.raises(ResourceLimitError, match=r"the input would need 2\.0 MiB of memory"):
        files.require_memory(2 << 20, "the input")
    files.require_memory(1 << 19, "the input")


def test_npz_members_are_read_lazily(tmp_path: Path) -> None:
    """A member whose header promises 4 GiB: its header and the 8 rows asked for are all that
    is decompressed (the rest of the member is not even there)."""
    path = tmp_path / "bomb.npz"
    row = np.arange(1024, dtype=np.float32)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("x.npy", "w") as member:
            member.write(_npy_header((1 << 20, 1024)))
            for _ in range(64):
                member.write(row.tobytes())
    with files.NpzArchive(str(path)) as npz:
        assert npz.names == ("x",) and npz.header("x").nbytes == 4 << 30
        np.testing.assert_array_equal(npz.read("x", rows=8), np.tile(row, (8, 1)))
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(FileFormatError, match="not an .npz archive"):
        files.NpzArchive(str(path))


def test_npz_reads_streams(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    np.savez(buffer, a=np.ones(3), b=np.zeros((2, 2), np.float16))
    buffer.seek(0)
    with files.NpzArchive(buffer, "the plan's weights") as npz:
        assert npz.names == ("a", "b") and npz.read("b").dtype == np.float16
        with pytest.raises(FileFormatError, match=r"the plan's weights: has no array 'c'"):
            npz.read("c")


# -- typed records -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Profile:
    min: tuple[Annotated[int, files.Bounds(1, 2**31 - 1)], ...]
    opt: tuple[int, ...] = ()


@dataclass(frozen=True)
class _Record:
    name: str
    profile: _Profile | None = None
    extra: dict[str, float] = field(default_factory=dict)
    level: int | str = 0


def test_records_name_the_field_that_is_wrong() -> None:
    good = files.parse_record(_Record, {"name": "a", "profile": {"min": [1, 2]}}, "f.json")
    assert good == _Record("a", _Profile((1, 2)))
    assert files.record_to_json(good)["profile"] == {"min": [1, 2], "opt": []}
    for data, message in [
        ([], "f.json: expected an object, got a list of 0"),
        ({}, "field 'name': missing"),
        ({"name": 1}, "field 'name': expected a string, got the number 1"),
        ({"name": "a", "profile": {"min": [1, "2"]}}, r"'profile.min\[1\]': expected an integer"),
        ({"name": "a", "profile": {"min": [0]}}, r"'profile.min\[0\]': 0 is outside 1..2"),
        ({"name": "a", "profile": {"min": [True]}}, "expected an integer, got the boolean true"),
        ({"name": "a", "extra": {"k": "x"}}, "'extra.k': expected a number"),
        ({"name": "a", "level": [1]}, "'level': expected an integer or a string, got a list"),
    ]:
        with pytest.raises(FileFormatError, match=message):
            files.parse_record(_Record, data, "f.json")


# -- one module writes ---------------------------------------------------------------------------

_WRITERS = {
    ("os", "replace"),
    ("os", "rename"),
    ("os", "link"),
    ("os", "unlink"),
    ("os", "remove"),
    ("shutil", "rmtree"),
    ("tempfile", "mkstemp"),
    ("tempfile", "mkdtemp"),
    ("tempfile", "NamedTemporaryFile"),
    ("shutil", "copy"),
    ("shutil", "copyfile"),
    ("shutil", "move"),
    ("np", "save"),
    ("np", "savez"),
    ("np", "savez_compressed"),
    ("np", "load"),
}
_METHODS = {"write_bytes", "write_text", "unlink", "rmdir"}


def _offences(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        where = f"{path.relative_to(PACKAGE.parent)}:{node.lineno}"
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            if (func.value.id, func.attr) in _WRITERS:
                # np.savez into an in-memory buffer (the emulated plan's weights) is allowed
                target = node.args[0] if node.args else None
                if not (isinstance(target, ast.Name) and target.id in {"buffer", "f", "stream"}):
                    found.append(f"{where}: {func.value.id}.{func.attr}")
        if isinstance(func, ast.Attribute) and func.attr in _METHODS:
            found.append(f"{where}: .{func.attr}()")
        if isinstance(func, ast.Name) and func.id == "open":
            mode = node.args[1] if len(node.args) > 1 else None
            for keyword in node.keywords:
                if keyword.arg == "mode":
                    mode = keyword.value
            if not (isinstance(mode, ast.Constant) and mode.value in ("r", "rb")):
                found.append(f"{where}: open(..., {ast.unparse(mode) if mode else 'r'})")
            else:
                found.append(f"{where}: open() (read through trtdsl.files)")
        if isinstance(func, ast.Attribute) and func.attr == "open":
            if isinstance(func.value, ast.Name) and func.value.id == "Image":
                arg = node.args[0] if node.args else None
                if not (isinstance(arg, ast.Name) and arg.id in {"stream", "f"}):
                    found.append(f"{where}: Image.open on a path")
    return found


def test_no_code_outside_trtdsl_files_reads_or_writes_a_users_file_itself() -> None:
    """Writes (os.replace, mkstemp, open for writing, Path.write_*, np.save*), removals
    (unlink, rmtree) and raw reads (open, np.load, Image.open on a path) of user files live
    in trtdsl/files only."""
    offences = [
        offence
        for path in sorted(PACKAGE.rglob("*.py"))
        if "files" not in path.relative_to(PACKAGE).parts[:1]
        for offence in _offences(path)
    ]
    assert offences == []


def test_the_files_package_imports_nothing_of_trtdsl_but_errors() -> None:
    for path in sorted((PACKAGE / "files").glob("*.py")):
        tree = ast.parse(path.read_text())
        modules = [
            node.module or ""
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("trtdsl")
        ]
        assert all(m == "trtdsl.errors" or m.startswith("trtdsl.files") for m in modules), path

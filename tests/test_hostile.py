"""Hostile and broken inputs, one case per class of issue 19 and more: no file trtdsl reads can
run code, lose a user's file, exhaust memory or hang; a broken input is exit 2 with one line
naming it, never a traceback or exit 0. (Calibration data and scales files:
test_calibration_hostile.py; emulated plans at the loader: test_emulator_plan_hostile.py.)

Every CLI case checks the whole contract: the exit code, exactly one ``trtdsl: error:`` line,
every input byte-for-byte unchanged, and no temporary file left behind.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import resource
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from engine_files import emulated_plan, write_emulated_engine
from safetensors.numpy import save_file

from trtdsl import load_model, random_weights
from trtdsl.cli.main import main

DYNAMIC = """\
name: tiny
dims:
  N: {min: 1, opt: 2, max: 4}
inputs:
  x: {shape: [N, 3, 8, 8]}
layers:
  - {name: conv, op: conv2d, out_channels: 4, kernel_size: 3, padding: 1}
  - {name: relu, op: relu}
  - {name: pool, op: adaptive_avg_pool2d, output_size: 1}
  - {name: flatten, op: flatten}
  - {name: fc, op: linear, out_features: 5}
outputs:
  logits: fc
"""

PACKAGE = Path(__file__).resolve().parents[1] / "trtdsl"


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A directory holding a dynamic model, its weights and an emulated engine with sidecar;
    the current directory."""
    monkeypatch.chdir(tmp_path)
    model = tmp_path / "m.yaml"
    model.write_text(DYNAMIC)
    graph = load_model(str(model))
    save_file(dict(random_weights(graph)), str(tmp_path / "w.safetensors"))
    write_emulated_engine(tmp_path / "m.engine", model)
    return tmp_path


def _snapshot(directory: Path) -> dict[str, str]:
    """sha256 of every regular file under ``directory`` (symbolic links not followed)."""
    return {
        str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


def _temporaries(directory: Path) -> list[str]:
    return sorted(
        str(p.relative_to(directory))
        for p in directory.rglob(".*")
        if p.name.endswith((".tmp", ".old")) or p.name.startswith(".trtdsl-probe")
    )


@pytest.fixture
def trtdsl(workdir: Path, capsys: pytest.CaptureFixture[str]) -> Callable[..., Run]:
    """``trtdsl("run", ...)`` in-process: also checks that no input changed (every file that
    existed before, unless ``outputs`` names it) and that no temporary file is left."""

    def run(*argv: str, outputs: tuple[str, ...] = ()) -> Run:
        before = _snapshot(workdir)
        code = main(list(argv))
        captured = capsys.readouterr()
        after = _snapshot(workdir)
        changed = [k for k in before if after.get(k) != before[k] and k not in outputs]
        assert changed == [], f"inputs changed by {argv}: {changed}"
        assert _temporaries(workdir) == []
        return Run(code, captured.out, captured.err)

    return run


def refused(result: Run, *fragments: str) -> None:
    """Exit 2 with exactly one ``trtdsl: error:`` line holding every fragment."""
    assert result.code == 2, (result.code, result.err)
    lines = result.err.splitlines()
    errors = [line for line in lines if line.startswith("trtdsl: error: ")]
    assert len(errors) == 1 and "Traceback" not in result.err, result.err
    for fragment in fragments:
        assert fragment in errors[0], (fragment, errors[0])


# -- 1. code execution -----------------------------------------------------------------------------


def test_refit_never_imports_a_model_its_sidecar_names(
    workdir: Path, trtdsl: Callable[..., Run]
) -> None:
    """A downloaded engine + sidecar naming ``evil.py``: refit refuses to load it (it asks
    for --model) and the file's code never runs, before any hash or weights are checked."""
    evil = workdir / "evil.py"
    evil.write_text("open('pwned', 'w').write('ran')\ndef build():\n    raise SystemExit\n")
    write_emulated_engine(workdir / "r.engine", workdir / "m.yaml", refittable=True, spec=str(evil))
    for spec in (str(evil), "evil.py", "./evil", "../" + workdir.name + "/evil.py"):
        sidecar = json.loads((workdir / "r.engine.json").read_text())
        sidecar["model"]["spec"] = spec
        (workdir / "r.engine.json").write_text(json.dumps(sidecar))
        result = trtdsl("refit", "r.engine", "--weights", "w.safetensors", "-o", "out.engine")
        refused(result, "records the model", "pass --model MODEL")
    assert not (workdir / "pwned").exists()


def test_no_data_decides_what_trtdsl_imports_or_executes() -> None:
    """By design: the only dynamic imports are of constant module names (subcommands, the
    TensorRT products) and the user's own model file named on the command line; nothing is
    unpickled, eval'ed or imported by a name read from a file."""
    allowed = {
        ("cli/main.py", "import_module"),  # trtdsl.cli.<name> for name in SUBCOMMANDS
        ("backends/trt/module.py", "import_module"),  # MODULES[backend], a constant table
        ("frontend/load.py", "exec"),  # the .py model the user named on the command line
        # checks that a worker's own error object can cross its multiprocessing queue to the
        # parent that forked it; no file is ever pickled or unpickled
        ("calibration/processes.py", "pickle"),
    }
    found = set()
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            name = None
            if isinstance(node, ast.Call):
                func = node.func
                name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
                literal = node.args and isinstance(node.args[0], ast.Constant)
                if name == "import_module" and literal:
                    name = None  # a module named in the code itself (an optional dependency)
                if any(k.arg == "allow_pickle" and getattr(k.value, "value", False) is True
                       for k in node.keywords):  # fmt: skip
                    name = "allow_pickle=True"
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                modules = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
                if any(
                    m.split(".")[0] in ("pickle", "marshal", "dill", "cloudpickle") for m in modules
                ):
                    name = "pickle"
            dangerous = {
                "import_module", "exec", "eval", "__import__", "spec_from_file_location",
                "exec_module", "load_module", "allow_pickle=True", "pickle", "run_path",
            }  # fmt: skip
            if name in dangerous:
                found.add((str(path.relative_to(PACKAGE)), name))
    assert found <= allowed, sorted(found - allowed)


# -- 2. data loss ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["compile", "m.yaml", "--weights", "random", "--emulate", "-o", "m.yaml"],
        ["compile", "m.yaml", "--weights", "w.safetensors", "-o", "w.safetensors"],
        ["compile", "m.yaml", "--weights", "random", "-o", "m.engine", "--timing-cache", "m.yaml"],
        ["run", "m.yaml", "--weights", "random", "-o", "m.yaml"],
        ["run", "m.yaml", "--weights", "w.safetensors", "--mask", "w.safetensors"],
        ["run", "m.engine", "-o", "m.engine.json"],
        ["export", "m.yaml", "--weights", "random", "--onnx", "m.yaml"],
        ["export", "m.yaml", "--weights", "random", "--polygraphy", "hard.py"],
        ["weights", "init", "m.yaml", "-o", "m.yaml"],
        ["calibrate", "m.yaml", "--weights", "random", "--data", "d.npy", "-o", "d.npy"],
        ["calibrate", "m.yaml", "--weights", "random", "--data", "d.npy", "-o", "m.yaml"],
        ["refit", "m.engine", "--model", "m.yaml", "--weights", "random", "-o", "m.engine"],
        ["refit", "m.engine", "--model", "m.yaml", "--weights", "random", "-o", "soft.engine"],
        ["run", "m.yaml", "--weights", "random", "--input", "x=d.npy", "-o", "hard.npy"],
    ],
    ids=lambda argv: " ".join(argv[:1] + argv[-2:]),
)
def test_an_output_is_never_one_of_the_inputs(
    workdir: Path, trtdsl: Callable[..., Run], argv: list[str]
) -> None:
    np.save(workdir / "d.npy", np.zeros((2, 3, 8, 8), np.float32))
    os.link(workdir / "d.npy", workdir / "hard.npy")
    (workdir / "soft.engine").symlink_to("m.engine")
    os.link(workdir / "m.yaml", workdir / "hard.py")
    refused(trtdsl(*argv), "is the input")


def test_a_failed_sidecar_write_leaves_the_previous_engine_pair(
    workdir: Path, trtdsl: Callable[..., Run], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The engine and its sidecar are one group: when the second rename fails, the first is
    undone, and the user keeps the previous pair (not neither)."""
    write_emulated_engine(workdir / "r.engine", workdir / "m.yaml", refittable=True)
    argv = ["refit", "r.engine", "--model", "m.yaml", "--weights", "random:3", "-o", "prev.engine"]
    assert trtdsl(*argv, outputs=()).code == 0
    previous = _snapshot(workdir)
    import trtdsl.files.writing as writing

    real = os.replace

    def sidecar_fails(src: str, dst: str) -> None:
        if str(dst).endswith("prev.engine.json"):
            raise OSError(28, "No space left on device")
        real(src, dst)

    monkeypatch.setattr(writing.os, "replace", sidecar_fails)
    with pytest.raises(OSError, match="No space left"):
        main(
            ["refit", "r.engine", "--model", "m.yaml", "--weights", "random:4", "-o", "prev.engine"]
        )
    assert _snapshot(workdir) == previous and _temporaries(workdir) == []
    monkeypatch.setattr(writing.os, "replace", real)
    (workdir / "prev.engine.json").unlink()
    (workdir / "prev.engine.json").mkdir()  # refused before any work, prev.engine untouched
    refused(trtdsl(*argv[:-1], "prev.engine"), "prev.engine.json: is a directory")


# -- 3. unbounded memory or a hang -----------------------------------------------------------------


def _npy_header(shape: tuple[int, ...]) -> bytes:
    text = f"{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}"
    text += " " * (118 - len(text)) + "\n"
    return b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text.encode()


def _bomb_npz(path: Path, shape: tuple[int, ...]) -> None:
    """A small archive whose one member ``x`` claims ``shape`` (zeros compress to nothing)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("x.npy", "w", force_zip64=True) as member:
            member.write(_npy_header(shape))
            member.write(bytes(1 << 20))


@pytest.mark.parametrize(
    ("setup", "argv", "fragments"),
    [
        (lambda d: os.mkfifo(d / "x.engine"), ["run", "x.engine"], ["x.engine: is a FIFO"]),
        (
            lambda d: (d / "x.engine").symlink_to("/dev/zero"),
            ["run", "x.engine"],
            ["x.engine: is a character device"],
        ),
        (
            lambda d: os.mkfifo(d / "f.safetensors"),
            ["run", "m.yaml", "--weights", "f.safetensors"],
            ["f.safetensors: is a FIFO"],
        ),
        (lambda d: os.mkfifo(d / "f.yaml"), ["info", "f.yaml"], ["f.yaml: is not a regular file"]),
        (
            lambda d: _bomb_npz(d / "acts.npz", (100000, 3, 8, 8)),
            ["compare", "m.yaml", "--weights", "random", "--against", "acts.npz"],
            ["acts.npz[x]", "N=100000 is outside the declared profile"],
        ),
        (
            lambda d: (d / "big.npy").write_bytes(_npy_header((30_000_000_000,)) + bytes(1000)),
            ["run", "m.yaml", "--weights", "random", "--input", "x=big.npy"],
            ["--input x=big.npy: shape", "expected 4 dimensions"],
        ),
        (
            lambda d: (d / "big.npy").write_bytes(_npy_header((4, 3, 8, 8)) + bytes(1000)),
            ["run", "m.yaml", "--weights", "random", "--input", "x=big.npy"],
            ["big.npy: truncated"],
        ),
        (
            None,
            ["run", "m.yaml", "--weights", "random", "--shape", "x=1x3x100000x100000"],
            ["would need", "GiB of memory; this machine has"],
        ),
        (
            None,
            ["run", "m.engine", "--shape", "x=64x3x8x8"],
            ["--shape x=64x3x8x8: outside the engine's optimization profile 1x3x8x8 .. 4x3x8x8"],
        ),
        (
            lambda d: (d / "big.npy").write_bytes(_npy_header((64, 3, 8, 8)) + bytes(64 * 768)),
            ["run", "m.engine", "--input", "x=big.npy"],
            ["outside the engine's optimization profile"],
        ),
        (
            lambda d: _bomb_npz(d / "data.npz", (1 << 20, 3, 8, 8)),
            [
                "calibrate",
                "m.yaml",
                "--weights",
                "random",
                "--data",
                "data.npz",
                "-o",
                "s.json",
                "--limit",
                "8",
            ],  # fmt: skip
            [],  # accepted: only 8 samples are decompressed (the memory cap below says so)
        ),
    ],
    ids=[
        "fifo-engine",
        "dev-zero",
        "fifo-weights",
        "fifo-model",
        "against-batch",
        "npy-30G",
        "npy-truncated",
        "shape-224G",
        "shape-profile",
        "npy-profile",
        "npz-bomb-limit",
    ],  # fmt: skip
)
def test_sizes_are_checked_before_allocating_and_nothing_blocks(
    workdir: Path,
    setup: Callable[[Path], object] | None,
    argv: list[str],
    fragments: list[str],
) -> None:
    """In a subprocess with a 3 GiB address-space cap and a time limit: each case is one line
    and exit 2 (or succeeds within the cap), never a MemoryError, a kill or a hang."""
    if setup is not None:
        setup(workdir)
    result = _capped(workdir, argv)
    if fragments:
        refused(result, *fragments)
    else:
        assert result.code == 0, result.err


def _capped(directory: Path, argv: list[str], cap: int = 3 << 30, timeout: int = 120) -> Run:
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    done = subprocess.run(
        [sys.executable, "-m", "trtdsl.cli.main", *argv],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=limit,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    return Run(done.returncode, done.stdout, done.stderr)


# -- 4. exit 0 on a broken input -------------------------------------------------------------------


def test_an_engine_and_a_sidecar_that_do_not_belong_together(
    workdir: Path, trtdsl: Callable[..., Run]
) -> None:
    plan = (workdir / "m.engine").read_bytes()
    (workdir / "t.engine").write_bytes(plan[: len(plan) // 2])
    (workdir / "t.engine.json").write_bytes((workdir / "m.engine.json").read_bytes())
    write_emulated_engine(workdir / "o.engine", workdir / "m.yaml", seed=5)
    (workdir / "x.engine").write_bytes(plan)
    (workdir / "x.engine.json").write_bytes((workdir / "o.engine.json").read_bytes())
    for engine in ("t.engine", "x.engine"):
        for command in (["inspect"], ["run"], ["bench", "--iterations", "1"]):
            result = trtdsl(*command[:1], engine, *command[1:])
            refused(result, f"{engine} and {engine}.json do not belong together")
    from trtdsl import Engine
    from trtdsl.errors import FileFormatError

    with pytest.raises(FileFormatError, match="do not belong together"):
        Engine.load(workdir / "x.engine")


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ("import sys\nsys.exit(0)\n", "m.py:2: the model called sys.exit(0)"),
        ("raise SystemExit('bye')\n", "m.py:1: the model called sys.exit('bye')"),
        ("raise KeyboardInterrupt\n", "m.py:1: interrupted while loading the model"),
        (
            "def build():\n    raise ValueError('one\\ntwo\\nthree')\n",
            "m.py:2: ValueError: one: two; three",
        ),
    ],
    ids=["exit-0", "exit-message", "interrupt", "multi-line"],
)
def test_a_python_model_that_exits_is_a_model_error(
    workdir: Path, trtdsl: Callable[..., Run], body: str, fragment: str
) -> None:
    (workdir / "m.py").write_text(body)
    for argv in (["compile", "m.py", "--weights", "random", "--emulate"], ["info", "m.py"]):
        refused(trtdsl(*argv), fragment)


def test_a_models_prints_go_to_stderr(workdir: Path, trtdsl: Callable[..., Run]) -> None:
    (workdir / "p.py").write_text(
        "from trtdsl import ModelBuilder\nprint('hello')\n"
        "def build():\n    print('building')\n    b = ModelBuilder('p')\n"
        "    b.output(b.relu(b.input('x', (1, 4)), name='r'), 'y')\n    return b.build()\n"
    )
    result = trtdsl("info", "p.py", "--format", "json")
    assert result.code == 0 and json.loads(result.out)["model"] == "p"
    assert result.err.splitlines() == ["hello", "building"]


# -- 5. tracebacks on user errors ------------------------------------------------------------------


def _mutate_sidecar(path: Path, change: Callable[[dict], object]) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (lambda d: d.update(io=[]), "field 'io': expected an object, got a list of 0"),
        (
            lambda d: d["io"]["inputs"][0]["profile"].pop("opt"),
            "'io.inputs[0].profile.opt': missing",
        ),
        (lambda d: d["io"]["inputs"][0]["profile"].update(min=[9, 3, 8, 8]), "min <= opt <= max"),
        (lambda d: d.update(precision="int3"), "field 'precision': expected 'fp32'"),
        (lambda d: d["options"].update(shapes={"x": "a:b"}), "field 'options': shapes:"),
        (lambda d: d.update(engine_sha256="ff"), "engine_sha256: expected a sha256"),
        (lambda d: d.update(engine_bytes=-1), "'engine_bytes': -1 is outside"),
        (lambda d: d.pop("model"), "field 'model': missing"),
    ],
    ids=["io-list", "no-opt", "min-opt", "precision", "shapes", "sha", "bytes", "no-model"],
)
def test_a_tampered_sidecar_names_its_field(
    workdir: Path, trtdsl: Callable[..., Run], change: Callable[[dict], object], fragment: str
) -> None:
    _mutate_sidecar(workdir / "m.engine.json", change)
    for argv in (["inspect", "m.engine"], ["run", "m.engine"]):
        refused(trtdsl(*argv), "m.engine.json", fragment)
    (workdir / "m.engine.json").write_text("[1, 2]")
    refused(trtdsl("inspect", "m.engine"), "m.engine.json: expected an object")


@pytest.mark.parametrize(
    ("damage", "fragment"),
    [
        (lambda b: b[:100], "cannot deserialize the engine"),
        (lambda b: b[: len(b) - 200], "cannot deserialize the engine"),
        (lambda b: b.replace(b'"layers"', b'"lay3rs"', 1), "cannot deserialize the engine"),
        (lambda b: b"\x00" * 64, "not an engine trtdsl knows"),
        (lambda b: os.urandom(4000), "not an engine trtdsl knows"),
        (lambda b: b"", "not an engine trtdsl knows (0 bytes"),
    ],
    ids=["head", "tail", "no-layers", "zeros", "random", "empty"],
)
def test_a_damaged_engine_without_a_sidecar_is_named(
    workdir: Path, trtdsl: Callable[..., Run], damage: Callable[[bytes], bytes], fragment: str
) -> None:
    (workdir / "d.engine").write_bytes(damage((workdir / "m.engine").read_bytes()))
    for argv in (["run", "d.engine"], ["inspect", "d.engine"]):
        refused(trtdsl(*argv), "d.engine", fragment)


def test_a_damaged_cache_entry_is_a_miss(workdir: Path, trtdsl: Callable[..., Run]) -> None:
    argv = ["run", "m.yaml", "--weights", "random", "--backend", "emulated", "--cache", "c"]
    assert trtdsl(*argv).code == 0
    (record,) = (workdir / "c").glob("*.json")
    bad_bytes = json.dumps({**json.loads(record.read_text()), "engine_bytes": "x"})
    for damage in ("[]", '{"key": 1}', "not json", bad_bytes):
        record.write_text(damage)
        result = trtdsl(*argv, outputs=(str(record.relative_to(workdir)), record.stem + ".engine"))
        assert result.code == 0, result.err
        assert "ignoring the entry" in result.err and "Traceback" not in result.err
    lock = workdir / "c" / "locks" / f"{record.stem}.lock"
    lock.unlink()
    os.mkfifo(lock)
    refused(trtdsl(*argv), "the lock file is a FIFO")


def test_cache_clear_removes_only_entry_files(workdir: Path, trtdsl: Callable[..., Run]) -> None:
    """A directory, a FIFO or a link with an entry's name: links are removed (never what they
    point to), the rest left and named in a warning; never a traceback."""
    cache = workdir / "c"
    cache.mkdir()
    (cache / f"{'a' * 64}.json").mkdir()
    os.mkfifo(cache / f"{'b' * 64}.engine")
    (cache / f"{'c' * 64}.engine").symlink_to(workdir / "m.yaml")
    result = trtdsl("cache", "clear", "c")
    assert result.code == 0, result.err
    assert result.err.count("is not a file; left as it is") == 2
    assert (workdir / "m.yaml").read_text() == DYNAMIC
    assert not os.path.lexists(cache / f"{'c' * 64}.engine")
    assert trtdsl("cache", "ls", "c").code == 0


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["run", "m.yaml", "--weights", "random", "-o", "nowhere/o.npz"], "does not exist"),
        (["export", "m.yaml", "--weights", "random", "--onnx", "adir"], "adir: is a directory"),
        (["weights", "init", "m.yaml", "-o", "adir"], "-o adir: is a directory"),
        (["weights", "init", "m.yaml", "-o", "/dev/null"], "is a character device"),
        (
            [
                "compile",
                "m.yaml",
                "--weights",
                "random",
                "-o",
                "e.engine",
                "--timing-cache",
                "adir",
            ],
            "--timing-cache adir: is a directory",
        ),  # fmt: skip
        (["export", "m.yaml", "--weights", "random", "--triton", "m.yaml"], "is a file, not a"),
        (
            [
                "compile",
                "m.yaml",
                "--weights",
                "random",
                "--emulate",
                "--shape",
                "x=0x3x8x8:2x3x8x8:4x3x8x8",
            ],
            "--shape (min) x=0x3x8x8: N=0 is outside the declared",
        ),  # fmt: skip
        (
            ["run", "m.yaml", "--weights", "random", "--mask", "a.png", "--boxes", "a.png"],
            "the same file as --mask",
        ),  # fmt: skip
    ],
    ids=[
        "run-o",
        "onnx-dir",
        "init-dir",
        "init-dev",
        "timing-dir",
        "triton-file",
        "min-0",
        "twice",
    ],
)
def test_outputs_and_profiles_are_checked_before_any_work(
    workdir: Path, trtdsl: Callable[..., Run], argv: list[str], fragment: str
) -> None:
    (workdir / "adir").mkdir()
    refused(trtdsl(*argv), fragment)


# -- 6. unclear messages ---------------------------------------------------------------------------


def test_random_bytes_are_no_engine_and_say_so(workdir: Path, trtdsl: Callable[..., Run]) -> None:
    (workdir / "x.engine").write_bytes(os.urandom(1000))
    refused(trtdsl("run", "x.engine"), "x.engine: not an engine trtdsl knows")
    ultralytics = (
        len(b'{"imgsz": 640}').to_bytes(4, "little") + b'{"imgsz": 640}' + b"ftrt" + bytes(64)
    )
    (workdir / "u.engine").write_bytes(ultralytics)
    refused(trtdsl("inspect", "u.engine"), "an Ultralytics engine", "drop its first 18 bytes")


# -- fuzzing: mutated files never crash a command ------------------------------------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)  # fmt: skip


def _paths(value: object, prefix: tuple = ()) -> Iterator[tuple]:
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, (*prefix, index))


def _mutated(document: object, data: st.DataObject) -> object:
    """``document`` with one value (picked anywhere) replaced, deleted or retyped."""
    paths = [p for p in _paths(document) if p]
    path = data.draw(st.sampled_from(paths))
    document = json.loads(json.dumps(document))
    parent = document
    for key in path[:-1]:
        parent = parent[key]  # type: ignore[index]
    action = data.draw(st.sampled_from(["replace", "delete", "retype"]))
    if action == "delete":
        del parent[path[-1]]  # type: ignore[union-attr]
    elif action == "retype":
        old = parent[path[-1]]  # type: ignore[index]
        parent[path[-1]] = [old] if not isinstance(old, list) else {"x": old}  # type: ignore[index]
    else:
        parent[path[-1]] = data.draw(_JSON)  # type: ignore[index]
    return document


class Counter:
    def __init__(self) -> None:
        self.reached = 0


def _in_process(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, int]:
    """Run the CLI; (exit code, stderr, peak traced bytes)."""
    import tracemalloc

    tracemalloc.start()
    try:
        code = main(argv)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return code, capsys.readouterr().err, peak


FUZZ = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
MEMORY_CAP = 256 << 20
"""What one fuzzed command on the tiny model may allocate (NumPy reports to tracemalloc)."""


def _check(
    workdir: Path, argv: list[str], capsys: pytest.CaptureFixture[str], allowed=(0, 2)
) -> None:  # type: ignore[no-untyped-def]
    before = _snapshot(workdir)
    code, err, peak = _in_process(argv, capsys)
    assert code in allowed, err
    if code == 2:
        assert len(err.strip().splitlines()) >= 1 and "Traceback" not in err
    assert _snapshot(workdir) == before and _temporaries(workdir) == []
    assert peak < MEMORY_CAP, f"{argv}: {peak} bytes"


def test_fuzzed_sidecars_never_crash(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sidecar = json.loads((workdir / "m.engine.json").read_text())
    counter = Counter()

    @FUZZ
    @given(data=st.data())
    def check(data: st.DataObject) -> None:
        (workdir / "m.engine.json").write_text(json.dumps(_mutated(sidecar, data)))
        for argv in (["inspect", "m.engine", "--format", "json"], ["run", "m.engine"]):
            _check(workdir, argv, capsys)
        counter.reached += 1

    check()
    assert counter.reached >= 30


def test_fuzzed_cache_records_never_crash(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["run", "m.yaml", "--weights", "random", "--backend", "emulated", "--cache", "c"]
    assert main(argv) == 0
    (record,) = (workdir / "c").glob("*.json")
    original = json.loads(record.read_text())
    counter = Counter()

    @FUZZ
    @given(data=st.data())
    def check(data: st.DataObject) -> None:
        record.write_text(json.dumps(_mutated(original, data)))
        code, err, _ = _in_process(argv, capsys)
        assert code == 0, err  # a damaged entry is a miss: rebuilt and stored again
        record.write_text(json.dumps(_mutated(original, data)))
        code, err, _ = _in_process(["cache", "ls", "c"], capsys)
        assert code == 0, err
        counter.reached += 1

    check()
    assert counter.reached >= 30


def test_fuzzed_plans_never_crash(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plan = emulated_plan(workdir / "m.yaml")
    counter = Counter()

    @FUZZ
    @given(
        cut=st.integers(0, len(plan)),
        flips=st.lists(st.tuples(st.integers(0, len(plan) - 1), st.integers(1, 255)), max_size=4),
    )
    def check(cut: int, flips: list[tuple[int, int]]) -> None:
        data = bytearray(plan)
        for position, value in flips:
            data[position] ^= value
        (workdir / "f.engine").write_bytes(bytes(data[:cut] if cut < 400 else data))
        _check(workdir, ["run", "f.engine"], capsys)
        counter.reached += 1

    check()
    assert counter.reached >= 30


def test_fuzzed_activations_never_crash(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["run", "m.yaml", "--weights", "random", "--save-outputs", "all", "-o", "a.npz"]) == 0
    )
    capsys.readouterr()
    archive = (workdir / "a.npz").read_bytes()
    counter = Counter()

    @FUZZ
    @given(
        cut=st.integers(0, len(archive)),
        flips=st.lists(
            st.tuples(st.integers(0, len(archive) - 1), st.integers(1, 255)), max_size=3
        ),
    )
    def check(cut: int, flips: list[tuple[int, int]]) -> None:
        data = bytearray(archive[:cut])
        for position, value in flips:
            if position < len(data):
                data[position] ^= value
        (workdir / "f.npz").write_bytes(bytes(data))
        argv = ["compare", "m.yaml", "--weights", "random", "--against", "f.npz"]
        _check(workdir, argv, capsys, allowed=(0, 2, 3))  # 3: a value differs
        counter.reached += 1

    check()
    assert counter.reached >= 30


def test_an_engines_integer_inputs_keep_their_declared_range(
    workdir: Path, trtdsl: Callable[..., Run]
) -> None:
    """The sidecar records an integer input's declared range, and random inputs of
    ``run ENGINE`` are drawn from it (ids 0..9 would index rows the table does not have)."""
    (workdir / "e.yaml").write_text(
        "name: e\ndims:\n  N: {min: 1, opt: 2, max: 4}\n"
        "inputs:\n  ids: {shape: [N, 7], dtype: int32, range: [3, 5]}\n"
        "layers:\n  - {name: emb, op: embedding, num_embeddings: 6, embedding_dim: 4}\n"
        "outputs:\n  y: emb\n"
    )
    write_emulated_engine(workdir / "e.engine", workdir / "e.yaml")
    sidecar = json.loads((workdir / "e.engine.json").read_text())
    assert sidecar["io"]["inputs"][0]["range"] == [3, 5]
    result = trtdsl("run", "e.engine", "-o", "out.npz", outputs=("out.npz",))
    assert result.code == 0, result.err
    table = random_weights(load_model(str(workdir / "e.yaml")))["emb.weight"]
    rows = np.load(workdir / "out.npz")["y"].reshape(-1, 4)
    assert {int(np.argmin(np.abs(table - row).sum(axis=1))) for row in rows} <= {3, 4, 5}

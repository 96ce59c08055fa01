"""Forged and broken inputs of calibration (data, scales files, photos) and outputs that would
land on an input: always exit 2 with one line naming the file, never a traceback, a hang, a
memory blow-up or an overwritten file (issue 19)."""

from __future__ import annotations

import json
import math
import os
import resource
import struct
import subprocess
import sys
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trtdsl.calibration import Calibration, CalibrationData
from trtdsl.calibration.scales import MAX_AMAX
from trtdsl.errors import CalibrationError, FileError, TrtdslError, UsageError
from trtdsl.frontend.load import load_model
from trtdsl.weights import random_weights

MODEL = """\
name: tiny
dims: {N: {min: 1, opt: 2, max: 8}}
inputs: {x: {shape: [N, 3, 24, 24], dtype: float32}}
layers:
  - {name: conv, op: conv2d, out_channels: 4, kernel_size: 3, padding: 1}
  - {name: relu, op: relu}
  - {name: pool, op: adaptive_avg_pool2d, output_size: 1}
  - {name: flat, op: flatten, start_dim: 1}
  - {name: fc, op: linear, out_features: 3}
outputs: {logits: fc}
"""

TWO_INPUTS = """\
name: pair
dims: {N: {min: 1, opt: 2, max: 8}}
inputs:
  a: {shape: [N, 3, 24, 24], dtype: float32}
  b: {shape: [N, 3, 24, 24], dtype: float32}
layers:
  - {name: sum, op: add, inputs: [a, b]}
  - {name: conv, op: conv2d, out_channels: 4, kernel_size: 3, padding: 1}
outputs: {y: conv}
"""

SAMPLE = (3, 24, 24)
SAMPLE_BYTES = 4 * math.prod(SAMPLE)


@pytest.fixture
def work(tmp_path: Path) -> Path:
    """A folder with the model, its weights and valid calibration data (x.npy, x.npz)."""
    from safetensors.numpy import save_file

    (tmp_path / "tiny.yaml").write_text(MODEL)
    graph = load_model(tmp_path / "tiny.yaml")
    save_file(random_weights(graph), str(tmp_path / "w.safetensors"))
    samples = np.random.default_rng(0).standard_normal((6, *SAMPLE)).astype(np.float32)
    np.save(tmp_path / "x.npy", samples)
    np.savez_compressed(tmp_path / "x.npz", x=samples)
    return tmp_path


def snapshot(folder: Path) -> dict[str, bytes | str]:
    """Every entry of ``folder`` (recursively) and the content of its regular files."""
    found: dict[str, bytes | str] = {}
    for root, dirs, names in os.walk(folder):
        for name in [*names, *dirs]:
            path = Path(root, name)
            relative = str(path.relative_to(folder))
            if path.is_symlink():
                found[relative] = f"link to {os.readlink(path)}"
            elif path.is_file():
                found[relative] = path.read_bytes()
            else:
                found[relative] = "directory" if path.is_dir() else "special"
    return found


Cli = Callable[..., Any]


def refused(cli: Cli, folder: Path, *argv: str, names: tuple[str, ...]) -> str:
    """Run ``trtdsl *argv``: exit 2, exactly one ``trtdsl: error:`` line on stderr naming
    ``names``, and nothing in ``folder`` changed, added or left behind. Returns the line."""
    before = snapshot(folder)
    result = cli(*argv)
    lines = result.err.splitlines()
    assert result.code == 2, result.err
    assert len(lines) == 1 and lines[0].startswith("trtdsl: error: "), result.err
    for name in names:
        assert name in lines[0], (name, lines[0])
    assert snapshot(folder) == before
    return str(lines[0])


def calibrate_argv(folder: Path, data: str | Path, *extra: str) -> list[str]:
    return [
        "calibrate", str(folder / "tiny.yaml"), "--weights", str(folder / "w.safetensors"),
        "--data", str(data), "-o", str(folder / "s.json"), *extra,
    ]  # fmt: skip


# -- data: .npy and .npz ------------------------------------------------------------------------


def _zero_npz_bomb(path: Path, samples: int) -> int:
    """An .npz whose member ``x`` is ``samples`` zero samples, written without ever holding
    them: the deflate stream of one block of zeros (after a full flush) is repeated. Returns
    the uncompressed size of the member."""
    header = bytearray()

    class _Sink:
        def write(self, data: bytes) -> None:
            header.extend(data)

    np.lib.format.write_array_header_1_0(
        _Sink(), {"descr": "<f4", "fortran_order": False, "shape": (samples, *SAMPLE)}
    )
    block = bytes(128 * SAMPLE_BYTES)
    assert samples % 128 == 0
    repeats = samples // 128
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = deflate.compress(bytes(header)) + deflate.flush(zlib.Z_FULL_FLUSH)
    zeros = deflate.compress(block) + deflate.flush(zlib.Z_FULL_FLUSH)
    assert deflate.compress(block) + deflate.flush(zlib.Z_FULL_FLUSH) == zeros
    tail = deflate.flush()
    crc = zlib.crc32(header)
    for _ in range(repeats):
        crc = zlib.crc32(block, crc)
    size = len(header) + repeats * len(block)
    compressed = len(head) + repeats * len(zeros) + len(tail)
    name = b"x.npy"
    local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0x21, crc, compressed, size, 5, 0)
    central = struct.pack(
        "<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0x21, crc, compressed, size, 5, 0, 0,
        0, 0, 0, 0,
    )  # fmt: skip
    with open(path, "wb") as f:
        f.write(local + name + head)
        for _ in range(repeats):
            f.write(zeros)
        f.write(tail)
        directory = f.tell()
        f.write(central + name)
        f.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(central) + 5, directory, 0))
    return size


def test_npz_bomb_with_limit_inflates_only_the_samples_used(work: Path) -> None:
    """A 2 MB .npz that inflates to 1.6 GB: ``--limit 8`` reads 8 samples, and the command
    succeeds in a process limited to 1 GiB of address space (it used to read every array
    whole before the limit applied)."""
    bomb = work / "bomb.npz"
    size = _zero_npz_bomb(bomb, 128 * 1820)
    assert size > 1.5e9 and bomb.stat().st_size < 3e6
    cap = 1 << 30

    def limit_memory() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    code = "import sys; from trtdsl.cli.main import main; sys.exit(main(sys.argv[1:]))"
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-c", code, *calibrate_argv(work, bomb, "--limit", "8")],
        preexec_fn=limit_memory,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "8 sample(s) (npz)" in done.stdout
    document = json.loads((work / "s.json").read_text())
    assert document["data"]["samples"] == 8 and document["tensors"]["x"]["amax"] == 0


def _forged_npy(path: Path, shape: tuple[int, ...], descr: str = "<f4", data: bytes = b"") -> None:
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(
            f, {"descr": descr, "fortran_order": False, "shape": shape}
        )
        f.write(data)


def _npz_with(path: Path, members: dict[str, bytes]) -> None:
    import zipfile

    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(f"{name}.npy", data)


def _npy_bytes(path: Path) -> bytes:
    data = path.read_bytes()
    path.unlink()
    return data


BILLIONS = (30_000_000_000 // math.prod(SAMPLE), *SAMPLE)
"""A sample count whose samples hold 30 billion float32 values."""


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("npy 30 billion elements", r"x\.npy: truncated: the header promises 17361111x3x24x24"),
        ("npz 30 billion elements", r"x\.npz\[x\]: truncated: the header promises 17361111x3"),
        ("npy object dtype", r"x\.npy: holds object values .* never unpickles"),
        ("npz object dtype", r"x\.npz\[x\]: holds object values .* never unpickles"),
        ("npy wrong static dim", r"x\.npy: shape 4x3x24x25 does not fit model input 'x'"),
        ("npy rank 0", r"x\.npy: shape scalar does not fit model input 'x'"),
        ("npy not numpy", r"x\.npy: not a NumPy \.npy array"),
        ("npz not zip", r"x\.npz: not an \.npz archive"),
        ("npz other name", r"x\.npz: arrays \['y'\] do not match model inputs \['x'\]"),
        ("npz extra member", r"x\.npz: arrays \['x', 'z'\] do not match .*unknown \['z'\]"),
        ("npz fortran order", r"x\.npz\[x\]: stored in Fortran \(column-major\) order"),
        ("npz corrupt data", r"x\.npz\[x\]: cannot read its data"),
    ],
)
def test_forged_arrays_are_one_line(cli: Cli, work: Path, case: str, message: str) -> None:
    npy, npz = work / "x.npy", work / "x.npz"
    npy.unlink()
    npz.unlink()
    scratch = work / "scratch.npy"
    if case == "npy 30 billion elements":
        _forged_npy(npy, BILLIONS, data=bytes(4096))
    elif case == "npz 30 billion elements":
        _forged_npy(scratch, BILLIONS, data=bytes(4096))
        _npz_with(npz, {"x": _npy_bytes(scratch)})
    elif case == "npy object dtype":
        np.save(npy, np.array([{"a": 1}] * 4, dtype=object), allow_pickle=True)
    elif case == "npz object dtype":
        np.save(scratch, np.array([{"a": 1}] * 4, dtype=object), allow_pickle=True)
        _npz_with(npz, {"x": _npy_bytes(scratch)})
    elif case == "npy wrong static dim":
        np.save(npy, np.zeros((4, 3, 24, 25), np.float32))
    elif case == "npy rank 0":
        np.save(npy, np.float32(1))
    elif case == "npy not numpy":
        npy.write_bytes(b"PK\x03\x04 not an array")
    elif case == "npz not zip":
        npz.write_bytes(b"\x93NUMPY not a zip")
    elif case == "npz other name":
        np.savez(npz, y=np.zeros((2, *SAMPLE), np.float32))
    elif case == "npz extra member":
        np.savez(npz, x=np.zeros((2, *SAMPLE), np.float32), z=np.zeros(3))
    elif case == "npz fortran order":
        np.savez(npz, x=np.asfortranarray(np.zeros((2, *SAMPLE), np.float32)))
    elif case == "npz corrupt data":
        np.savez_compressed(npz, x=np.random.default_rng(0).random((64, *SAMPLE), np.float32))
        blob = bytearray(npz.read_bytes())
        middle = len(blob) // 2
        blob[middle : middle + 64] = bytes(64)
        npz.write_bytes(bytes(blob))
    data = npy if case.startswith("npy") else npz
    line = refused(cli, work, *calibrate_argv(work, data), names=(str(data),))
    import re

    assert re.search(message, line), line


def test_npz_members_with_different_sample_counts(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "pair.yaml").write_text(TWO_INPUTS)
    np.savez(
        tmp_path / "ab.npz",
        a=np.zeros((3, *SAMPLE), np.float32),
        b=np.zeros((4, *SAMPLE), np.float32),
    )
    argv = ["calibrate", str(tmp_path / "pair.yaml"), "--weights", "random"]
    line = refused(
        cli, tmp_path, *argv, "--data", str(tmp_path / "ab.npz"), "-o", str(tmp_path / "s.json"),
        names=("ab.npz",),
    )  # fmt: skip
    assert "inputs have different sample counts {'a': 3, 'b': 4}" in line


def test_model_preprocess_of_a_broken_yaml_is_one_error(tmp_path: Path) -> None:
    from trtdsl.calibration import read_model_preprocess
    from trtdsl.errors import ModelError

    (tmp_path / "m.yaml").write_text("name: m\npreprocess: {resize: [1, 2\n")
    with pytest.raises(ModelError, match=r"m\.yaml: not valid YAML at line 3"):
        read_model_preprocess(tmp_path / "m.yaml")
    os.mkfifo(tmp_path / "p.yaml")
    with pytest.raises(FileError, match=r"p\.yaml: is a FIFO"):
        read_model_preprocess(tmp_path / "p.yaml")


def test_big_endian_samples_are_read(work: Path) -> None:
    samples = np.random.default_rng(1).standard_normal((3, *SAMPLE)).astype(">f4")
    np.save(work / "big.npy", samples)
    np.savez(work / "big.npz", x=samples)
    graph = load_model(work / "tiny.yaml")
    for name in ("big.npy", "big.npz"):
        ((_, batch),) = CalibrationData(work / name, graph).batches(8)
        assert batch["x"].dtype == np.float32 and batch["x"].dtype.isnative
        np.testing.assert_array_equal(batch["x"], samples)


def test_fifo_and_device_as_data_neither_hang_nor_crash(cli: Cli, work: Path) -> None:
    fifo = work / "pipe.npy"
    os.mkfifo(fifo)
    line = refused(cli, work, *calibrate_argv(work, fifo), names=(str(fifo),))
    assert "is a FIFO (named pipe), expected a regular file" in line
    line = refused(cli, work, *calibrate_argv(work, "/dev/zero"), names=("/dev/zero",))
    assert "is a character device" in line


def test_activations_out_of_range_are_one_line(cli: Cli, work: Path) -> None:
    """A NaN weight makes every later activation NaN (the histogram used to crash on it, and
    loop forever on inf); samples above float16's range are refused with the value named."""
    from safetensors.numpy import load_file, save_file

    weights = load_file(str(work / "w.safetensors"))
    weights["conv.weight"][0, 0, 0, 0] = np.nan
    save_file(weights, str(work / "nan.safetensors"))
    argv = calibrate_argv(work, work / "x.npy")
    argv[argv.index("--weights") + 1] = str(work / "nan.safetensors")
    line = refused(cli, work, *argv, names=("x.npy",))
    assert "flat: NaN or inf in value 'flat'" in line
    np.save(work / "big.npy", np.full((2, *SAMPLE), 1e5, np.float32))
    line = refused(cli, work, *calibrate_argv(work, work / "big.npy"), names=("big.npy",))
    assert "value 'x' reaches amax 100000, above 65504" in line


def test_subnormal_samples_calibrate_as_zero(cli: Cli, work: Path) -> None:
    np.save(work / "tiny.npy", np.full((2, *SAMPLE), 1e-42, np.float32))
    result = cli(*calibrate_argv(work, work / "tiny.npy", "--method", "max"))
    assert result.code == 0, result.err
    assert Calibration.load(work / "s.json").amax["x"] == 0.0


# -- outputs ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "target", ["model", "weights", "npy", "npz", "hard link to npy", "symlink to model"]
)
def test_output_on_an_input_is_refused_before_any_work(cli: Cli, work: Path, target: str) -> None:
    paths = {
        "model": work / "tiny.yaml",
        "weights": work / "w.safetensors",
        "npy": work / "x.npy",
        "npz": work / "x.npz",
    }
    if target == "hard link to npy":
        output = work / "link.npy"
        os.link(paths["npy"], output)
    elif target == "symlink to model":
        output = work / "link.yaml"
        output.symlink_to(paths["model"])
    else:
        output = paths[target]
    data = paths["npz"] if target == "npz" else paths["npy"]
    argv = calibrate_argv(work, data)
    argv[-1] = str(output)
    line = refused(cli, work, *argv, names=(f"-o {output}",))
    assert "is the input" in line


def test_output_on_a_photo_of_the_data_folder_is_refused(cli: Cli, work: Path) -> None:
    from PIL import Image

    photos = work / "photos"
    photos.mkdir()
    for name in ("a.png", "b.png"):
        Image.new("RGB", (32, 32), (10, 200, 30)).save(photos / name)
    argv = calibrate_argv(work, photos)
    argv[-1] = str(photos / "b.png")
    line = refused(cli, work, *argv, names=(f"-o {photos / 'b.png'}",))
    assert "is the input" in line


def test_image_writers_write_atomically_and_check_labels(tmp_path: Path) -> None:
    from trtdsl.vision import write_mask_png

    with pytest.raises(FileError, match=r"--mask .*: is a directory"):
        write_mask_png(tmp_path, np.zeros((4, 4), np.int64))
    with pytest.raises(UsageError, match=r"class label 70000, outside 0\.\.65535"):
        write_mask_png(tmp_path / "m.png", np.full((4, 4), 70000))
    assert write_mask_png(tmp_path / "m.png", np.ones((4, 4), np.int64))[0][:2] == (1, "1")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.png"]


# -- scales files -------------------------------------------------------------------------------


@pytest.fixture
def scales(work: Path) -> dict[str, Any]:
    """A valid scales document of the work model (calibrated on x.npy)."""
    from trtdsl.cli.main import main

    assert main(calibrate_argv(work, work / "x.npy", "--method", "percentile:99")) == 0
    document: dict[str, Any] = json.loads((work / "s.json").read_text())
    return document


def _mutated(document: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    copy: dict[str, Any] = json.loads(json.dumps(document))
    *parents, last = path.split("/")
    node = copy
    for key in parents:
        node = node[key]
    if value is _DELETE:
        del node[last]
    else:
        node[last] = value
    return copy


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("tensors/x/amax", 1e308, r"field 'tensors\.x': amax 1e\+308 is outside 0 and"),
        ("tensors/x/amax", 70000.0, r"field 'tensors\.x': amax 70000\.0 is outside"),
        ("tensors/x/amax", -1.0, r"field 'tensors\.x': amax -1\.0 is outside"),
        ("tensors/x/amax", 1e-40, r"field 'tensors\.x': amax 1e-40 is outside"),
        ("tensors/x/amax", "4.0", r"field 'tensors\.x\.amax': expected a number, got the str"),
        ("tensors/x/amax", None, r"field 'tensors\.x\.amax': expected a number, got null"),
        ("tensors/x/amax", 10**400, r"field 'tensors\.x\.amax': expected a finite number"),
        ("tensors/x/amax", _DELETE, r"field 'tensors\.x\.amax': missing"),
        ("tensors/x/count", -1, r"field 'tensors\.x': count -1 is outside"),
        ("tensors/x/count", 1.5, r"field 'tensors\.x': count 1\.5 is not a whole number"),
        ("tensors/x/min", 1e9, r"field 'tensors\.x': min 1000000000\.0 is above max"),
        ("tensors", [], r"field 'tensors': expected an object, got a list"),
        ("method", "kl", r"field 'method': expected 'entropy' or 'max' or 'percentile'"),
        ("percentile", 101, r"field '\(top\)': percentile 101\.0: .* in \(0, 100\]"),
        ("version", 2, r"field 'version': scales file version 2, this trtdsl reads 1"),
        ("format", "onnx", r"not a trtdsl scales file"),
        ("model/graph_sha256", "../etc", r"field 'model': graph_sha256: expected a sha256"),
        ("weights", _DELETE, r"field 'weights': missing"),
        ("data/samples", 0, r"field 'data\.samples': 0 is outside 1\.\.9\.2"),
        ("data/preprocess", {"std": [0]}, r"field 'data\.preprocess': std \[0\.0\] must be pos"),
        ("seconds", -2, r"field 'seconds': -2\.0 is outside 0\.\.1e\+09"),
    ],
)
def test_forged_scales_fields(
    tmp_path: Path, scales: dict[str, Any], path: str, value: Any, message: str
) -> None:
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps(_mutated(scales, path, value)))
    with pytest.raises(CalibrationError, match=r"forged\.json: " + message):
        Calibration.load(forged)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (b"", r"not valid JSON"),
        (b'{"format": "trtdsl-calibration", "version": 1, "tensors": {"x": {"amax": NaN',
         r"not valid JSON"),
        (b'{"tensors": {"x": {"amax": NaN}}}', r"not valid JSON \(NaN is not a JSON number\)"),
        (b"[1, 2]", r"not a trtdsl scales file"),
        (b"\xff\xfe{}", r"not (UTF-8|valid JSON)"),
        (b'{"a": 1, "a": 2}', r"duplicate key 'a'"),
    ],
)  # fmt: skip
def test_broken_scales_files(tmp_path: Path, text: bytes, message: str) -> None:
    broken = tmp_path / "broken.json"
    broken.write_bytes(text)
    with pytest.raises(CalibrationError, match=r"broken\.json: .*" + message):
        Calibration.load(broken)


def test_forged_scales_through_the_cli(cli: Cli, work: Path, scales: dict[str, Any]) -> None:
    (work / "s.json").write_text(json.dumps(_mutated(scales, "tensors/x/amax", 1e308)))
    line = refused(
        cli, work, "run", str(work / "tiny.yaml"), "--weights", str(work / "w.safetensors"),
        "--precision", "int8", "--calibration", str(work / "s.json"), "--backend", "reference",
        names=(str(work / "s.json"), "tensors.x"),
    )  # fmt: skip
    assert "amax 1e+308 is outside" in line
    (work / "s.json").write_text(json.dumps(scales))
    result = cli(
        "run", str(work / "tiny.yaml"), "--weights", str(work / "w.safetensors"),
        "--precision", "int8", "--calibration", str(work / "s.json"), "--backend", "reference",
    )  # fmt: skip
    assert result.code == 0, result.err


_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.sampled_from([10**400, -(10**400), 2**63, 0, -0.0, 5e-324, 1e308, MAX_AMAX])
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)


def _paths(document: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(document, dict):
        for key, value in document.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(document, list):
        for index, value in enumerate(document):
            found += _paths(value, (*prefix, index))
    return found


def _mutate(scales: dict[str, Any], data: st.DataObject) -> bytes:
    """The text of ``scales`` with one value replaced or removed, or the text cut or
    overwritten."""
    mode = data.draw(st.sampled_from(["replace", "remove", "cut", "overwrite"]))
    text = json.dumps(scales, indent=1).encode()
    if mode in ("replace", "remove"):
        document = json.loads(text)
        where = data.draw(st.sampled_from(_paths(document)[1:]))
        parent = document
        for key in where[:-1]:
            parent = parent[key]
        if mode == "remove":
            del parent[where[-1]]
        else:
            parent[where[-1]] = data.draw(_JSON)
        return json.dumps(document).encode()
    if mode == "cut":
        return text[: data.draw(st.integers(0, len(text) - 1))]
    at = data.draw(st.integers(0, len(text) - 1))
    return text[:at] + data.draw(st.binary(min_size=1, max_size=4)) + text[at + 4 :]


def test_fuzzed_scales_files_load_or_are_one_error(tmp_path: Path, scales: dict[str, Any]) -> None:
    """Any mutation of a valid scales file loads into a valid Calibration (which saves and
    loads again) or is one CalibrationError naming the file; both outcomes are counted, so the
    test cannot pass by refusing every draw."""
    path = tmp_path / "fuzz.json"
    reached = {"loaded": 0, "refused": 0}

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(data=st.data())
    def load_mutated(data: st.DataObject) -> None:
        path.write_bytes(_mutate(scales, data))
        try:
            loaded = Calibration.load(path)
        except TrtdslError as e:
            assert isinstance(e, CalibrationError)
            message = str(e)
            assert message.startswith(f"{path}: ") and "\n" not in message, message
            reached["refused"] += 1
            return
        assert all(a == 0 or 0 < a <= MAX_AMAX for a in loaded.amax.values())
        again = tmp_path / "again.json"
        loaded.save(again)
        assert Calibration.load(again).amax == loaded.amax
        reached["loaded"] += 1

    load_mutated()
    assert reached["refused"] >= 100 and reached["loaded"] >= 10, reached


# -- photos -------------------------------------------------------------------------------------


def _blank_png(path: Path, width: int, height: int) -> None:
    """A valid 1-bit PNG of ``width`` x ``height`` black pixels (small: its rows compress to
    almost nothing), written without building the image in memory."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    row = bytes(1 + (width + 7) // 8)
    deflate = zlib.compressobj(9)
    parts = [deflate.compress(row * 1000) for _ in range(height // 1000)]
    parts += [deflate.compress(row * (height % 1000)), deflate.flush()]
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", b"".join(parts))
        + chunk(b"IEND", b"")
    )


@pytest.fixture(scope="module")
def bombs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("bombs")
    made = {}
    for name, size in (("huge", 30000), ("large", 10000)):
        path = folder / f"{name}.png"
        _blank_png(path, size, size)
        made[name] = path
    return made


@pytest.mark.parametrize("name", ["huge", "large"])
def test_decompression_bomb_photos_are_one_line(
    cli: Cli, work: Path, bombs: dict[str, Path], name: str
) -> None:
    """30000x30000 (900 Mpixels; Pillow raises) and 10000x10000 (100 Mpixels; Pillow only
    warns, and the CLI silences warnings): both refused before decoding, by calibrate (in a
    data folder) and by run (--input)."""
    assert bombs[name].stat().st_size < 200_000
    photos = work / "photos"
    photos.mkdir()
    photo = photos / f"{name}.png"
    photo.write_bytes(bombs[name].read_bytes())
    line = refused(cli, work, *calibrate_argv(work, photos), names=(str(photo),))
    assert "refused as a possible decompression bomb" in line
    line = refused(
        cli, work, "run", str(work / "tiny.yaml"), "--weights", "random", "--backend",
        "reference", "--input", f"x={photo}", names=(str(photo),),
    )  # fmt: skip
    assert "exceeds limit" in line


def test_photo_folder_with_a_fifo_subfolder_and_dot_files(cli: Cli, work: Path) -> None:
    """Subfolders and dot files are skipped; a FIFO (or device, socket) is refused at once,
    never opened, so nothing waits on it."""
    from PIL import Image

    photos = work / "photos"
    photos.mkdir()
    Image.new("RGB", (40, 30), (200, 10, 10)).save(photos / "a.jpg")
    (photos / "nested").mkdir()
    (photos / "nested" / "notes.txt").write_text("skipped")
    (photos / ".DS_Store").write_bytes(b"\0\1")
    result = cli(*calibrate_argv(work, photos))
    assert result.code == 0, result.err
    assert "1 sample(s) (images)" in result.out
    (work / "s.json").unlink()
    os.mkfifo(photos / "b.jpg")
    line = refused(cli, work, *calibrate_argv(work, photos), names=(str(photos / "b.jpg"),))
    assert "is a FIFO (named pipe), not an image file" in line


def test_damaged_and_foreign_photos_are_one_line(cli: Cli, work: Path) -> None:
    from PIL import Image

    photos = work / "photos"
    photos.mkdir()
    Image.new("RGB", (64, 64), (1, 2, 3)).save(photos / "a.png")
    whole = (photos / "a.png").read_bytes()
    (photos / "a.png").write_bytes(whole[: len(whole) // 2])
    line = refused(cli, work, *calibrate_argv(work, photos), names=(str(photos / "a.png"),))
    assert "not an image Pillow can read" in line
    (photos / "a.png").write_bytes(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n")
    line = refused(cli, work, *calibrate_argv(work, photos), names=(str(photos / "a.png"),))
    assert "not an image Pillow can read" in line  # EPS is not read (Ghostscript)

"""Calibration data: an .npy (single-input models), an .npz (arrays by input name) or a folder
of images with their preprocessing; checked completely and read in batches.

Axis 0 of every array is the sample axis; a sample has the model input's shape without its
batch dimension and exactly its dtype. Images are decoded with Pillow, resized (shorter side),
center-cropped, scaled to [0, 1], normalized by mean/std and laid out NCHW in RGB (or BGR)
order. Any problem (wrong shape or dtype, an empty folder, a file that is not an image, NaN or
inf) is a CalibrationError naming the file; a damaged or forged file is a FileFormatError (from
``trtdsl.files``), which reads every file here.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from trtdsl.errors import CalibrationError, UsageError
from trtdsl.files import (
    ArrayHeader,
    NpzArchive,
    input_size,
    load_npy,
    open_input,
    require_memory,
)
from trtdsl.ir.graph import Graph
from trtdsl.ir.types import TensorType
from trtdsl.vision.preprocess import (  # re-exported: calibration's historical home
    IMAGENET_MEAN as IMAGENET_MEAN,
)
from trtdsl.vision.preprocess import IMAGENET_STD as IMAGENET_STD
from trtdsl.vision.preprocess import PREPROCESS_KEYS as PREPROCESS_KEYS
from trtdsl.vision.preprocess import RESIZE_RATIO as RESIZE_RATIO
from trtdsl.vision.preprocess import Preprocess as Preprocess
from trtdsl.vision.preprocess import read_model_preprocess as read_model_preprocess


class CalibrationData:
    """Samples for every model input, read lazily in batches.

    Nothing of a size taken from the data is allocated before it is checked: an ``.npy`` or
    ``.npz`` header against the model input (dtype, rank, static dimensions, samples on axis
    0), then each batch against the memory budget. An ``.npy`` is memory-mapped; an ``.npz``
    member is decompressed batch by batch, only as far as the samples used (``limit``).

    An image folder holds image files: dot files and subfolders are skipped; anything else
    that is not a regular file (a FIFO, a device, a socket) is refused when the folder is
    opened, as a file that is not an image is refused when read.

    Attributes:
        path: the data file or folder.
        kind: ``"npy"``, ``"npz"`` or ``"images"``.
        samples: how many samples will be read (after ``limit``).
        preprocess: the image preprocessing (None for arrays).
        files: the image files read, in order (after ``limit``; empty for arrays).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        graph: Graph,
        preprocess: Preprocess | None = None,
        limit: int | None = None,
    ) -> None:
        self.path = Path(path)
        self.graph = graph
        self.preprocess: Preprocess | None = None
        self._arrays: dict[str, np.ndarray] = {}  # .npy: the memory-mapped array
        self._headers: dict[str, ArrayHeader] = {}  # .npz: each member's checked header
        self._files: list[Path] = []
        if limit is not None and limit < 1:
            raise UsageError(f"--limit must be >= 1, got {limit}")
        try:
            mode = os.stat(self.path).st_mode
        except FileNotFoundError:
            raise CalibrationError(f"{self.path}: no such file or folder") from None
        except OSError as e:
            raise CalibrationError(f"{self.path}: cannot use it: {e.strerror or e}") from None
        if stat.S_ISDIR(mode):
            self.kind = "images"
            self._open_images(preprocess or Preprocess())
            total = len(self._files)
        elif not stat.S_ISREG(mode):
            input_size(self.path)  # FileError naming what it is (a FIFO is never waited on)
            raise AssertionError("unreachable: not a regular file")
        elif self.path.suffix == ".npy":
            self.kind = "npy"
            total = self._open_npy()
        elif self.path.suffix == ".npz":
            self.kind = "npz"
            total = self._open_npz()
        else:
            raise CalibrationError(
                f"{self.path}: expected an .npy file, an .npz file or a folder of images"
            )
        self.samples = min(total, limit) if limit is not None else total
        self._files = self._files[: self.samples]

    @property
    def files(self) -> tuple[Path, ...]:
        """The image files that will be read (empty for arrays)."""
        return tuple(self._files)

    # -- opening -------------------------------------------------------------------------------

    def _input_type(self, name: str) -> TensorType:
        return self.graph.types[name]

    def _check_header(self, name: str, header: ArrayHeader, where: str) -> int:
        """The sample count of an array for input ``name``, from its header alone."""
        t = self._input_type(name)
        want = t.dtype.to_numpy()
        if header.dtype.newbyteorder("=") != want:
            raise CalibrationError(
                f"{where}: dtype {header.dtype.name}, but model input {name!r} is {t.dtype}"
            )
        ok = len(header.shape) == t.rank and all(
            axis == 0 or (s > 0 and (not isinstance(d, int) or d == s))
            for axis, (d, s) in enumerate(zip(t.shape, header.shape, strict=True))
        )
        if not ok:
            raise CalibrationError(
                f"{where}: shape {header.format_shape()} does not fit model input "
                f"{name!r} {t.format_shape()} (axis 0 holds the samples)"
            )
        if header.shape[0] == 0:
            raise CalibrationError(f"{where}: holds no samples")
        if header.fortran_order and self.path.suffix == ".npz":
            # Its samples are not contiguous: reading the first ones would inflate them all.
            raise CalibrationError(
                f"{where}: stored in Fortran (column-major) order; save the samples in C order "
                "(np.ascontiguousarray) to calibrate from an .npz"
            )
        return header.shape[0]

    def _open_npy(self) -> int:
        if len(self.graph.inputs) != 1:
            raise CalibrationError(
                f"{self.path}: an .npy file feeds single-input models; model "
                f"{self.graph.name!r} has inputs {', '.join(self.graph.inputs)} (use an .npz)"
            )
        name = self.graph.inputs[0]
        where = str(self.path)
        counts: list[int] = []

        def check(header: ArrayHeader) -> None:
            counts.append(self._check_header(name, header, where))

        self._arrays[name] = load_npy(where, where, check=check, mmap=True)
        return counts[0]

    def _open_npz(self) -> int:
        where = str(self.path)
        with NpzArchive(where, where) as npz:
            names = npz.names
            missing = [n for n in self.graph.inputs if n not in npz]
            unknown = [n for n in names if n not in self.graph.inputs]
            if missing or unknown:
                raise CalibrationError(
                    f"{self.path}: arrays {sorted(names)} do not match model inputs "
                    f"{list(self.graph.inputs)}"
                    + (f" (missing {missing})" if missing else "")
                    + (f" (unknown {unknown})" if unknown else "")
                )
            self._headers = {n: npz.header(n) for n in self.graph.inputs}
        counts = {
            n: self._check_header(n, h, f"{self.path}[{n}]") for n, h in self._headers.items()
        }
        if len(set(counts.values())) != 1:
            raise CalibrationError(f"{self.path}: inputs have different sample counts {counts}")
        return next(iter(counts.values()))

    def _open_images(self, preprocess: Preprocess) -> None:
        if len(self.graph.inputs) != 1:
            raise CalibrationError(
                f"{self.path}: a folder of images feeds single-input models; model "
                f"{self.graph.name!r} has inputs {', '.join(self.graph.inputs)}"
            )
        t = self._input_type(self.graph.inputs[0])
        if t.rank != 4 or not all(isinstance(d, int) for d in t.shape[1:]) or not t.dtype.is_float:
            raise CalibrationError(
                f"{self.path}: images need a float NCHW input with static C, H, W; model input "
                f"{self.graph.inputs[0]!r} is {t}"
            )
        channels, height, width = t.shape[1:]
        if channels not in (1, 3) or len(preprocess.mean) not in (1, channels):
            raise CalibrationError(
                f"{self.path}: model input {self.graph.inputs[0]!r} has {channels} channels; "
                f"images give 1 or 3, normalized by {len(preprocess.mean)} mean value(s)"
            )
        crop = preprocess.crop or (int(height), int(width))
        if crop != (height, width):
            raise CalibrationError(
                f"{self.path}: crop {crop[0]}x{crop[1]} differs from model input size "
                f"{height}x{width}"
            )
        resize = preprocess.resize or round(max(crop) * RESIZE_RATIO)
        self.preprocess = replace(preprocess, crop=crop, resize=resize)
        self._files = _list_images(self.path)
        if not self._files:
            raise CalibrationError(f"{self.path}: the folder has no files (expected images)")

    # -- reading -------------------------------------------------------------------------------

    def digest(self) -> str:
        """sha256 of the data read: the file bytes (of the images used, with their names) and
        the sample count and preprocessing."""
        h = hashlib.sha256()
        h.update(json.dumps({"kind": self.kind, "samples": self.samples}).encode())
        if self.preprocess is not None:
            h.update(json.dumps(self.preprocess.to_dict(), sort_keys=True).encode())
        files = self._files if self.kind == "images" else [self.path]
        for path in files:
            h.update(path.name.encode() + b"\0")
            with open_input(path) as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    h.update(chunk)
        return h.hexdigest()

    @property
    def random_access(self) -> bool:
        """Whether ``read_batch`` reads any batch (.npy and images; an .npz is streamed)."""
        return self.kind in ("npy", "images")

    def sample_shapes(self) -> dict[str, tuple[int, ...]]:
        """Each input's sample shape (without the sample axis), from the headers or the
        model's image input."""
        if self.kind == "npy":
            return {n: tuple(a.shape[1:]) for n, a in self._arrays.items()}
        if self.kind == "npz":
            return {n: tuple(h.shape[1:]) for n, h in self._headers.items()}
        name = self.graph.inputs[0]
        return {name: tuple(int(d) for d in self.graph.types[name].shape[1:])}

    def read_batch(self, start: int, stop: int) -> dict[str, np.ndarray]:
        """Samples ``start:stop`` of every input (random-access data only), checked for NaN
        and inf."""
        if self.kind == "images":
            return {self.graph.inputs[0]: self._load_images(self._files[start:stop])}
        if self.kind == "npy":
            return {n: self._rows(n, a, start, stop) for n, a in self._arrays.items()}
        raise AssertionError(f"{self.kind} data is read in order (batches)")

    def batches(self, batch_size: int) -> Iterator[tuple[int, dict[str, np.ndarray]]]:
        """``(first sample index, {input name: array})`` for consecutive batches; every array is
        checked for NaN and inf."""
        if batch_size < 1:
            raise UsageError(f"--batch-size must be >= 1, got {batch_size}")
        if self.random_access:
            for start in range(0, self.samples, batch_size):
                yield start, self.read_batch(start, min(start + batch_size, self.samples))
        else:
            where = str(self.path)
            with NpzArchive(where, where) as npz:
                readers = {n: npz.rows(n) for n in self._headers}
                for name, reader in readers.items():
                    if reader.header != self._headers[name]:
                        raise CalibrationError(f"{reader.where}: changed while it was read")
                for start in range(0, self.samples, batch_size):
                    stop = min(start + batch_size, self.samples)
                    arrays = {n: _native(r.read(stop - start)) for n, r in readers.items()}
                    for name, array in arrays.items():
                        _check_finite(array, self._where(name), start)
                    yield start, arrays

    def _rows(self, name: str, array: np.ndarray, start: int, stop: int) -> np.ndarray:
        """Rows ``start:stop`` of a memory-mapped array, copied (in native byte order)."""
        rows = array[start:stop]
        require_memory(rows.nbytes, f"reading samples {start}..{stop - 1} of {self._where(name)}")
        batch = np.ascontiguousarray(rows, dtype=rows.dtype.newbyteorder("="))
        _check_finite(batch, self._where(name), start)
        return batch

    def _where(self, name: str) -> str:
        return str(self.path) if self.kind == "npy" else f"{self.path}[{name}]"

    def _load_images(self, files: Sequence[Path]) -> np.ndarray:
        t = self._input_type(self.graph.inputs[0])
        samples = [self._load_image(path, int(t.shape[1])) for path in files]
        return np.stack(samples).astype(t.dtype.to_numpy())

    def _load_image(self, path: Path, channels: int) -> np.ndarray:
        from trtdsl.vision.photos import load_photo

        assert self.preprocess is not None
        return load_photo(path, self.preprocess, channels, CalibrationError)


def _list_images(folder: Path) -> list[Path]:
    """The files of an image folder, sorted: dot files and subfolders skipped, anything that
    is not a regular file (followed through symbolic links) refused."""
    found = []
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                path = folder / entry.name
                try:
                    mode = os.stat(path).st_mode
                except OSError as e:
                    raise CalibrationError(f"{path}: cannot use it: {e.strerror or e}") from None
                if stat.S_ISDIR(mode):
                    continue
                if not stat.S_ISREG(mode):
                    raise CalibrationError(
                        f"{path}: is {_describe_kind(mode)}, not an image file (an image "
                        "folder holds image files; subfolders are skipped)"
                    )
                found.append(path)
    except OSError as e:
        raise CalibrationError(f"{folder}: cannot list the folder: {e.strerror or e}") from None
    return sorted(found)


def _describe_kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _native(array: np.ndarray) -> np.ndarray:
    """``array`` in native byte order (an .npz may hold big-endian data)."""
    return array.astype(array.dtype.newbyteorder("="), copy=False)


def _check_finite(array: np.ndarray, where: str, start: int) -> None:
    if np.issubdtype(array.dtype, np.floating) and not np.isfinite(array).all():
        bad = int(np.argwhere(~np.isfinite(array.reshape(array.shape[0], -1)))[0][0])
        raise CalibrationError(f"{where}: sample {start + bad} holds NaN or inf")

"""The scales file's schema: frozen records that ``Calibration.to_json`` writes and
``Calibration.load`` reads (``trtdsl.files.parse_record``/``record_to_json``), so a file is
checked field by field (types, ranges, digests, amax within ``MIN_AMAX..MAX_AMAX`` or 0)
before anything uses it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Annotated, Literal

import numpy as np

from trtdsl.calibration.data import IMAGENET_MEAN, IMAGENET_STD
from trtdsl.calibration.methods import NUM_BINS
from trtdsl.files import Bounds

FORMAT = "trtdsl-calibration"
VERSION = 1

MAX_AMAX = 65504.0
"""The largest amax a scales file may hold: float16's largest value. An int8/fp8 engine
computes the layers around its Q/DQ pairs in float16 (``prepare_graph``'s fallback), and a
dequantize gives values up to amax in that dtype: a larger amax is infinity there (an amax of
1e308 is not even a float32, the dtype of the scale amax / 127 or amax / 448)."""

MIN_AMAX = 448 * float(np.finfo(np.float32).tiny)
"""The smallest non-zero amax (about 5.3e-36): below it, the float32 scale amax / 448 (fp8)
would be subnormal or zero. A tensor whose largest magnitude is smaller is calibrated as all
zero (amax 0, which the quantization pass turns into scale 1 / 127 or 1 / 448)."""

_DIGEST = re.compile(r"[0-9a-f]{64}")


def _check_digest(value: str | None, name: str) -> None:
    if value is not None and not _DIGEST.fullmatch(value):
        raise ValueError(f"{name}: expected a sha256 digest (64 hex digits), got {value[:80]!r}")


_COUNT = Annotated[int, Bounds(1, 2**63 - 1)]
_SIZE = Annotated[int, Bounds(1, 1 << 20)]


@dataclass(frozen=True)
class TensorRecord:
    """One calibrated tensor of a scales file: its amax, the method that chose it (absent in
    files of earlier trtdsl: the file's method), the fraction of the calibration values that
    amax clips, and the statistics of what was seen."""

    amax: float
    min: float | None = None
    max: float | None = None
    count: int | float | None = None  # an int; earlier trtdsl wrote a float
    method: Literal["entropy", "max", "percentile", "mse"] | None = None
    percentile: float | None = None
    clipped: Annotated[float, Bounds(0, 1)] | None = None

    def __post_init__(self) -> None:
        if not (self.amax == 0 or MIN_AMAX <= self.amax <= MAX_AMAX):
            raise ValueError(
                f"amax {self.amax!r} is outside 0 and {MIN_AMAX:.2g}..{MAX_AMAX:g} (an int8/fp8 "
                "engine computes around its scales in float16, whose largest value is 65504)"
            )
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min!r} is above max {self.max!r}")
        count = self.count
        if isinstance(count, float):
            if not (count.is_integer() and 0 <= count <= 2**53):
                raise ValueError(f"count {count!r} is not a whole number of values")
            object.__setattr__(self, "count", int(count))
        elif count is not None and not 0 <= count <= 2**63 - 1:
            raise ValueError(f"count {count!r} is outside 0..{2**63 - 1}")
        _check_percentile(self.method, self.percentile)


def _check_percentile(method: str | None, percentile: float | None) -> None:
    if method == "percentile":
        if percentile is None or not 0 < percentile <= 100:
            raise ValueError(f"percentile {percentile!r}: method percentile needs one in (0, 100]")
    elif percentile is not None:
        raise ValueError(f"percentile {percentile!r}: method {method} takes none")


def _check_rule(text: str) -> None:
    from trtdsl.calibration.methods import MethodRule
    from trtdsl.errors import UsageError

    try:
        MethodRule.parse(text)
    except UsageError as e:
        raise ValueError(str(e)) from None


@dataclass(frozen=True)
class ModelRecord:
    """The model a scales file was made for (``Calibration.check`` compares the digests)."""

    name: str
    graph_sha256: str
    nodes: _COUNT | None = None
    nodes_sha256: str | None = None

    def __post_init__(self) -> None:
        _check_digest(self.graph_sha256, "graph_sha256")
        _check_digest(self.nodes_sha256, "nodes_sha256")


@dataclass(frozen=True)
class WeightsRecord:
    """The weights a scales file was made for."""

    sha256: str

    def __post_init__(self) -> None:
        _check_digest(self.sha256, "sha256")


@dataclass(frozen=True)
class PreprocessRecord:
    """How images were preprocessed (``Preprocess.to_dict``)."""

    resize: _SIZE | None = None
    crop: tuple[_SIZE, _SIZE] | None = None
    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD
    channels: Literal["rgb", "bgr"] = "rgb"
    letterbox: bool = False

    def __post_init__(self) -> None:
        if not (1 <= len(self.mean) <= 4 and 1 <= len(self.std) <= 4):
            raise ValueError("mean and std hold one value per channel (1 to 4)")
        if min(self.std) <= 0:
            raise ValueError(f"std {list(self.std)} must be positive")


@dataclass(frozen=True, kw_only=True)
class DataRecord:
    """What the scales were calibrated on (for the record; nothing is checked against it)."""

    path: str | None = None
    kind: Literal["npy", "npz", "images"] | None = None
    sha256: str | None = None
    samples: _COUNT | None = None
    batch_size: _COUNT | None = None
    preprocess: PreprocessRecord | None = None

    def __post_init__(self) -> None:
        _check_digest(self.sha256, "sha256")


@dataclass(frozen=True, kw_only=True)
class ScalesFile:
    """A scales file (JSON), as ``trtdsl calibrate`` writes it and ``Calibration.load`` reads
    it: one schema for both (``trtdsl.files.parse_record`` / ``record_to_json``).

    ``method`` is ``--method``; ``method_for`` the ``--method-for PATTERN=METHOD`` rules, and
    each tensor records the method it got. ``executor`` says what ran the model and
    ``histogram_sample`` how many values per sample and tensor were binned (None: all)."""

    format: Literal["trtdsl-calibration"]
    version: Literal[1]
    method: Literal["entropy", "max", "percentile", "mse"]
    percentile: float | None = None
    method_for: tuple[str, ...] = ()
    histogram_bins: _SIZE = NUM_BINS
    histogram_sample: _COUNT | None = None
    executor: str | None = None
    model: ModelRecord
    weights: WeightsRecord
    data: DataRecord = field(default_factory=DataRecord)
    seconds: Annotated[float, Bounds(0, 1e9)] = 0.0
    tensors: dict[str, TensorRecord]

    def __post_init__(self) -> None:
        _check_percentile(self.method, self.percentile)
        for rule in self.method_for:
            _check_rule(rule)

"""examples/triton_client.py compiles, imports without tritonclient's HTTP extra, and builds the
request a model exported with --triton takes (it is not run against a server in tests)."""

from __future__ import annotations

import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from scripts import load_script

SCRIPT = Path(__file__).parents[1] / "examples" / "triton_client.py"


def _load() -> ModuleType:
    return load_script(SCRIPT, "triton_client_example")


def test_compiles_and_imports_without_a_client() -> None:
    compile(SCRIPT.read_text(), str(SCRIPT), "exec")
    before = set(sys.modules)
    client = _load()
    assert not [m for m in set(sys.modules) - before if m.startswith("tritonclient")]
    assert callable(client.main)


def test_request_from_model_metadata() -> None:
    client = _load()
    metadata = {
        "inputs": [{"name": "x", "datatype": "FP32", "shape": [-1, 3, 224, 224]}],
        "outputs": [{"name": "logits", "datatype": "FP32", "shape": [-1, 1000]}],
    }
    arrays = client.request_arrays(metadata, batch=4, seed=1)
    assert arrays["x"].shape == (4, 3, 224, 224) and arrays["x"].dtype == np.float32
    given = {"x": np.zeros((2, 3, 224, 224), np.float64)}
    assert client.request_arrays(metadata, 1, given=given)["x"].dtype == np.float32
    logits = np.zeros((2, 1000), np.float32)
    logits[0, [7, 3, 9, 1, 5]] = [5, 4, 3, 2, 1]
    assert client.top5(logits)[0] == [7, 3, 9, 1, 5]
    with pytest.raises(SystemExit, match="dynamic"):
        client.request_arrays({"inputs": [{"name": "t", "datatype": "INT64", "shape": [1, -1]}]}, 1)


def test_tritonclient_matches_the_exported_config() -> None:
    """The config's data types are the KServe datatypes the client sends (TYPE_FP32 -> FP32)."""
    pytest.importorskip("tritonclient")
    from tritonclient.utils import np_to_triton_dtype  # type: ignore[import-untyped]

    from trtdsl.deploy.triton import TRITON_DTYPES

    client = _load()
    for kserve, numpy_type in client.NUMPY_TYPES.items():
        assert np_to_triton_dtype(np.dtype(numpy_type)) == kserve
        assert f"TYPE_{kserve}" in TRITON_DTYPES.values()

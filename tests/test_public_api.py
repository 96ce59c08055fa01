"""The public API: what ``trtdsl`` re-exports, and that importing it stays light."""

from __future__ import annotations

import subprocess
import sys

import trtdsl


def test_every_public_name_is_documented() -> None:
    public = [n for n in dir(trtdsl) if not n.startswith("_")]
    assert len(public) > 40
    undocumented = [n for n in public if not (getattr(trtdsl, n).__doc__ or "").strip()]
    assert undocumented == []


def test_import_does_not_pull_in_tensorrt_cuda_onnx_or_torch() -> None:
    code = (
        "import sys, trtdsl; "
        "print(sorted(m for m in ('tensorrt', 'cuda', 'onnx', 'onnxruntime', 'torch') "
        "if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"

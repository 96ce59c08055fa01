"""trtdsl export --polygraphy: a network script Polygraphy takes as a model. Checked with
Polygraphy on TensorRT-RTX (POLYGRAPHY_USE_TENSORRT_RTX=1) on a CPU as far as a build goes:
inspect model, convert (a real engine), and run --trt up to the step that needs a GPU."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

POLYGRAPHY = shutil.which("polygraphy")


def _script(tmp_path: Path, model: Path, cli: Callable[..., Any], *extra: str) -> Path:
    script = tmp_path / "net.py"
    result = cli("export", str(model), "--weights", "random:3", "--polygraphy", str(script), *extra)
    assert result.code == 0, result.err
    return script


def _polygraphy(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    assert POLYGRAPHY is not None
    env = dict(os.environ, POLYGRAPHY_USE_TENSORRT_RTX="1")
    return subprocess.run(
        [POLYGRAPHY, *argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def test_script_defines_load_network(
    tmp_path: Path, tiny_model: Path, cli: Callable[..., Any]
) -> None:
    script = _script(tmp_path, tiny_model, cli, "--precision", "fp16", "--keep-fp32", "fc")
    text = script.read_text()
    compile(text, str(script), "exec")
    assert "polygraphy inspect model net.py --display-as=trt" in text
    assert (
        "precision='fp16'" in text and "keep_fp32=['fc']" in text and "weights='random:3'" in text
    )
    namespace: dict[str, Any] = {}
    exec(compile(text, str(script), "exec"), namespace)  # noqa: S102
    assert callable(namespace["load_network"])


def test_dynamic_model_script_names_the_profile(tmp_path: Path, cli: Callable[..., Any]) -> None:
    text = _script(tmp_path, Path("resnet18"), cli).read_text()
    assert "--trt-min-shapes x:[1,3,224,224] --trt-opt-shapes x:[8,3,224,224]" in text


def test_mistakes_exit_2(tmp_path: Path, tiny_model: Path, cli: Callable[..., Any]) -> None:
    base = ("export", str(tiny_model), "--weights", "random")
    for argv, message in (
        ((*base, "--polygraphy", str(tmp_path / "net.txt")), "ending in .py"),
        ((*base, "--polygraphy", str(tmp_path / "n.py"), "--backend", "tensorrt-rtx"), "refused"),
        ((*base, "--polygraphy", str(tmp_path / "no" / "n.py")), "does not exist"),
        (
            (
                "export",
                str(tiny_model),
                "--weights",
                str(tmp_path / "w.safetensors"),
                "--polygraphy",
                str(tmp_path / "n.py"),
            ),
            "w.safetensors",
        ),
    ):
        result = cli(*argv)
        assert result.code == 2, argv
        (line,) = result.err.splitlines()
        assert message in line, line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.yaml"]


@pytest.mark.rtx
@pytest.mark.skipif(POLYGRAPHY is None, reason="needs polygraphy (pip install polygraphy)")
def test_polygraphy_inspects_converts_and_builds_with_tensorrt_rtx(
    tmp_path: Path, tiny_model: Path, cli: Callable[..., Any]
) -> None:
    _script(tmp_path, tiny_model, cli)
    inspected = _polygraphy(
        "inspect", "model", "net.py", "--display-as=trt", "--show", "layers", cwd=tmp_path
    )
    assert inspected.returncode == 0, inspected.stdout + inspected.stderr
    out = inspected.stdout + inspected.stderr
    assert "8 Layer(s)" in out and "conv" in out and "fc/weight" in out
    assert "{x [dtype=float32, shape=(2, 3, 8, 8)]}" in out
    converted = _polygraphy("convert", "net.py", "-o", "tiny.engine", cwd=tmp_path)
    assert converted.returncode == 0, converted.stdout + converted.stderr
    assert (tmp_path / "tiny.engine").read_bytes()[:4] == b"vtrt"
    ran = _polygraphy("run", "net.py", "--trt", cwd=tmp_path)
    out = ran.stdout + ran.stderr
    assert "Finished engine building" in out
    from trtdsl.backends.trt import import_trt
    from trtdsl.runtime.engines import machine_gpu

    if machine_gpu(import_trt("tensorrt-rtx"))[0] is None:  # no GPU to run it here
        assert ran.returncode != 0 and "Could not deserialize engine" in out
    else:
        assert ran.returncode == 0, out

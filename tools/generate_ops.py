"""Regenerate the files derived from the op classes: ModelBuilder's method stub
(``trtdsl/frontend/op_methods.pyi``) and the op reference (``docs/ops.md``).

Run after adding or changing an op: ``python tools/generate_ops.py``. Tests fail while either
file is out of date (tests/test_model_errors.py, tests/test_cli_ops.py).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    from trtdsl.frontend.signatures import render_stub

    outputs = {ROOT / "trtdsl" / "frontend" / "op_methods.pyi": render_stub()}
    try:
        from trtdsl.cli.ops import render_markdown
    except ImportError:  # the op reference is generated once trtdsl.cli.ops exists
        pass
    else:
        outputs[ROOT / "docs" / "ops.md"] = render_markdown()
    for path, text in outputs.items():
        old = path.read_text(encoding="utf-8") if path.exists() else None
        if old != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(ROOT)}")
        else:
            print(f"{path.relative_to(ROOT)} is current")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Python files that are not part of the package (the scripts in weights/, zoo/ and examples/,
a module of another distribution) loaded as modules by tests."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType


def load_script(path: Path, name: str, *, register: bool = False) -> ModuleType:
    """The file ``path`` executed as the module ``name``; ``register`` also puts it in
    ``sys.modules`` under that name (for code that looks its module up there)."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    if register:
        sys.modules[name] = module
    spec.loader.exec_module(module)
    return module

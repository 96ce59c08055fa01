"""Extract the identifier list of the real TensorRT Python bindings from a downloaded wheel.

Usage (PyPI only; the wheel itself is never committed):

    pip download --no-deps -d /tmp/trtwheel tensorrt-cu13-bindings==11.4.0.106
    python tools/extract_trt_names.py /tmp/trtwheel/tensorrt_cu13_bindings-11.4.0.106-*.whl \
        > tests/data/trt_names_11.4.txt

The binding module ``tensorrt_bindings/tensorrt.so`` cannot be imported without libnvinfer, so
its names are read as strings: every NUL-terminated run of bytes that is a whole identifier
(class, method, property, argument and enum-member names are stored that way by pybind11).
Mangled C++ symbols (``_Z...``) and mangled type names (typeinfo strings, pybind11 signature
types) are dropped. The Python-level names defined in the wheel's
``__init__.py`` (``volume``, ``nptype``, ``__version__``, ``itemsize``, ``bool``...) are added from
its AST.

NOTE: the linker merges a string into the tail of a longer one (``REFIT`` is stored only as the
end of ``INCLUDE_REFIT``, ``max`` as the end of ``add_softmax``), so a bound name may appear
only as a suffix of a listed identifier; tests/test_emulator_names.py accounts for that.
"""

from __future__ import annotations

import ast
import re
import sys
import zipfile

_IDENTIFIER = re.compile(rb"[A-Za-z_][A-Za-z0-9_]*")
# Itanium-mangled type names without the _Z prefix (typeinfo names such as
# "N8nvinfer16ILayerE" and pybind11 signature types such as "FbRKN8nvinfer16Dims64E...").
_MANGLED = re.compile(
    rb"\d+(nvinfer|pybind11|tensorrt|nvonnxparser|__cxx|basic_string|vector|char_traits|allocator)"
    rb"|^St\d|St\d+vector|^N\d|N\d+[a-z]"
)


def identifiers_from_binary(data: bytes) -> set[str]:
    """Whole-identifier NUL-terminated strings of a shared object, without mangled names."""
    names = set()
    for chunk in data.split(b"\0"):
        if (
            _IDENTIFIER.fullmatch(chunk)
            and not chunk.startswith(b"_Z")
            and not _MANGLED.search(chunk)
        ):
            names.add(chunk.decode("ascii"))
    return names


def identifiers_from_python(source: str) -> set[str]:
    """Names a Python module defines (functions and their arguments, classes, assignments,
    ``X.y = ...`` attributes) or reads (``bool``, ``float32``... of ``from .tensorrt import *``).

    Reads also bring in a few local variable names; that is accepted to keep the rule simple.
    """
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    names.add(target.id)
                elif isinstance(target, ast.Attribute):
                    names.add(target.attr)
    return names


def extract(wheel_path: str) -> list[str]:
    """Sorted identifiers of the bindings ``.so`` and ``__init__.py`` inside a wheel."""
    names: set[str] = set()
    with zipfile.ZipFile(wheel_path) as wheel:
        for member in wheel.namelist():
            if re.fullmatch(r"tensorrt_bindings/tensorrt[^/]*\.so", member):
                names |= identifiers_from_binary(wheel.read(member))
            elif member == "tensorrt_bindings/__init__.py":
                names |= identifiers_from_python(wheel.read(member).decode("utf-8"))
    if not names:
        raise SystemExit(f"{wheel_path}: no tensorrt_bindings/tensorrt*.so found")
    return sorted(names)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        sys.stderr.write(__doc__ or "")
        return 2
    sys.stdout.write("".join(name + "\n" for name in extract(argv[1])))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))

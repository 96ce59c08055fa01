"""Model loading shared by the CLI and the Python API: YAML files, Python files, zoo names."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import sys
import traceback
import types
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar

from trtdsl.errors import ModelError, TrtdslError, UsageError
from trtdsl.files import TEXT_LIMIT, read_text
from trtdsl.frontend.builder import ModelBuilder, Tensor
from trtdsl.frontend.strides import check_stride_multiples
from trtdsl.ir.graph import Graph
from trtdsl.ir.ops.base import suggest
from trtdsl.ir.types import TensorType

ZOO_DIR = Path(__file__).resolve().parents[1] / "zoo"
"""Where zoo models live: ``trtdsl/zoo``, package data (``zoo/`` at the repository root links
to it), so an installed trtdsl has them."""

_YAML_SUFFIXES = (".yaml", ".yml")


def load_model(
    spec: str | os.PathLike[str], shapes: Mapping[str, tuple[int, ...]] | None = None
) -> Graph:
    """Load a model from a ``.yaml`` file, a ``.py`` file or a zoo name.

    Args:
        spec: a path to a YAML model, a path to a Python file whose module defines
            ``build() -> Graph``, or the name of a zoo model (``"resnet50"`` ->
            ``trtdsl/zoo/resnet50.yaml``, else ``resnet50.py``).
        shapes: static shapes replacing the declared shapes of the named inputs; the graph is
            rebuilt so that every type is re-inferred.
    Returns:
        The verified Graph.
    Raises:
        ModelError for a missing file, an unknown zoo name or a bad model; UsageError for a
        ``shapes`` entry naming no input.
    """
    path = resolve_model_path(spec)
    if path.suffix in _YAML_SUFFIXES:
        from trtdsl.frontend.yaml import load_yaml

        graph = load_yaml(path)
    else:
        graph = load_python(path)
    return with_input_shapes(graph, shapes) if shapes else graph


def load_yaml(path: str | os.PathLike[str]) -> Graph:
    """Load a YAML model file (see ``trtdsl.frontend.yaml`` for the format)."""
    from trtdsl.frontend.yaml import load_yaml as _load_yaml

    return _load_yaml(path)


def zoo_models() -> list[str]:
    """Names of the models in the zoo (files ``zoo/<name>.yaml`` or ``zoo/<name>.py``)."""
    if not ZOO_DIR.is_dir():
        return []
    names = {
        p.stem
        for p in ZOO_DIR.iterdir()
        if p.suffix in (*_YAML_SUFFIXES, ".py") and not p.stem.startswith("_")
    }
    return sorted(names - set(_zoo_libraries()))


def _zoo_libraries() -> list[str]:
    """Zoo YAML files holding only shared blocks (no ``layers:``), which are not models."""
    libraries = []
    for p in ZOO_DIR.glob("*.y*ml"):
        try:
            text = p.read_text(encoding="utf-8")
        except OSError:
            continue
        if not re.search(r"^layers\s*:", text, re.MULTILINE):
            libraries.append(p.stem)
    return libraries


def is_zoo_name(spec: str) -> bool:
    """Whether ``spec`` is the bare name of a zoo model (no directory, no suffix)."""
    return "/" not in spec and os.sep not in spec and spec in zoo_models()


def resolve_model_path(spec: str | os.PathLike[str]) -> Path:
    """The file a model spec names: an existing path, or a zoo model name."""
    text = os.fspath(spec)
    path = Path(text)
    if path.suffix in (*_YAML_SUFFIXES, ".py") or os.sep in text or "/" in text:
        if path.exists() and not path.is_file():
            kind = "a directory" if path.is_dir() else "not a regular file (a FIFO or device?)"
            raise ModelError(f"{text}: is {kind}, expected a model file")
        if not path.is_file():
            hint = ""
            if path.stem in zoo_models():
                hint = f" (the zoo has a model {path.stem!r}: pass just its name)"
            raise ModelError(f"{text}: no such model file{hint}")
        if path.suffix not in (*_YAML_SUFFIXES, ".py"):
            raise ModelError(f"{text}: expected a .yaml, .yml or .py model file")
        return path
    for suffix in (*_YAML_SUFFIXES, ".py"):
        candidate = ZOO_DIR / f"{text}{suffix}"
        if candidate.is_file() and text in zoo_models():
            return _relative_if_below_cwd(candidate)
    available = zoo_models()
    raise ModelError(
        f"{text!r} is neither a model file nor a zoo model{suggest(text, available)} "
        f"(zoo: {', '.join(available) or 'empty'})"
    )


def _relative_if_below_cwd(path: Path) -> Path:
    """``zoo/resnet50.yaml`` rather than an absolute path in messages, when under the cwd."""
    try:
        return path.relative_to(Path.cwd())
    except ValueError:
        return path


def load_python(path: str | os.PathLike[str]) -> Graph:
    """Import a Python model file and call its ``build() -> Graph``.

    A mistake in the model (a Python error raised in the model's own code, a wrong call of a
    trtdsl function, a ModelError, ``sys.exit()`` or an interrupt while it runs) becomes one
    ModelError ``FILE:LINE: ...`` at the model's line; an error raised inside trtdsl itself is
    a trtdsl bug and propagates with its traceback. What the model prints goes to stderr, so
    a command's stdout (``info --format json``) stays its own.
    """
    path = Path(path)

    def call_build(module: types.ModuleType) -> tuple[Graph, object]:
        build = getattr(module, "build", None)
        if not callable(build):
            raise ModelError(f"{path}: expected a function build() -> Graph, found none")
        return build(), build

    graph, build = _run_user_file(path, "model", call_build)
    if not isinstance(graph, Graph):
        line = getattr(getattr(build, "__code__", None), "co_firstlineno", None)
        where = f"{path}:{line}" if line else str(path)
        raise ModelError(
            f"{where}: build() returned {type(graph).__name__}, expected a Graph (return b.build())"
        )
    return graph


def load_ops(path: str | os.PathLike[str]) -> types.ModuleType:
    """Run a Python file that defines custom ops (``@trtdsl.custom_op`` classes), registering
    them; returns the file's module, so a model can use its classes.

    The file is read through ``trtdsl.files`` (a regular file, bounded) and run as a ``.py``
    model is; its mistakes are reported the same way, at the file's line. A model file
    calls it as ``trtdsl.load_ops(Path(__file__).with_name("mish.py"))``; every ``trtdsl``
    command calls it for each ``--ops FILE.py``.

    Raises:
        FileError: the path is missing, a directory or not a regular file.
        ModelError: the file is not a ``.py`` file, fails, or defines no custom op.
    """
    from trtdsl.ir.ops.custom import user_ops

    path = Path(path)
    if path.suffix != ".py":
        raise ModelError(f"{path}: --ops takes a Python file (.py) that defines custom ops")
    before = {name: cls.source_sha256 for name, cls in user_ops().items()}

    def keep(module: types.ModuleType) -> types.ModuleType:
        return module

    module = _run_user_file(path, "ops file", keep)
    defined = [
        name
        for name, cls in user_ops().items()
        if cls.__module__ == module.__name__ or before.get(name) != cls.source_sha256
    ]
    if not defined:
        raise ModelError(f"{path}: defines no custom op (a class decorated with @trtdsl.custom_op)")
    return module


T = TypeVar("T")


def _run_user_file(path: Path, what: str, then: Callable[[types.ModuleType], T]) -> T:
    """Execute the user's Python file ``path`` as a module and return ``then(module)``,
    turning the file's own mistakes into one ModelError at its line (see ``load_python``)."""
    source = read_text(path, limit=TEXT_LIMIT)  # a regular file, recorded as an input
    stem = re.sub(r"\W", "_", path.stem)
    module_name = f"_trtdsl_{what.split()[0]}_{stem}_{abs(hash(path.resolve()))}"
    spec = importlib.util.spec_from_loader(module_name, loader=None, origin=str(path))
    if spec is None:
        raise ModelError(f"{path}: cannot import as a Python module")
    module = importlib.util.module_from_spec(spec)
    module.__file__ = str(path)
    sys.modules[module_name] = module
    try:
        with contextlib.redirect_stdout(sys.stderr):
            code = compile(source, str(path), "exec")
            exec(code, module.__dict__)  # the user's own file, named on the command line
            return then(module)
    except SyntaxError as e:
        if e.filename and Path(e.filename).resolve() != path.resolve():
            raise _model_mistake(e, path) from None
        raise ModelError(f"{path}:{e.lineno}: syntax error: {e.msg}") from None
    except TrtdslError as e:
        located = _located(e, path)
        if located is e:
            raise
        raise located from None
    except SystemExit as e:
        article = "an" if what[0] in "aeiou" else "a"
        raise ModelError(
            f"{_model_line(e, path)}: the {what} called sys.exit({e.code!r}) while it was "
            f"loaded; {article} {what} must not exit"
        ) from None
    except KeyboardInterrupt as e:
        raise ModelError(f"{_model_line(e, path)}: interrupted while loading the {what}") from None
    except Exception as e:
        raise _model_mistake(e, path) from None
    finally:
        sys.modules.pop(module_name, None)


def _located(error: TrtdslError, path: Path) -> TrtdslError:
    """``error`` with ``FILE:LINE`` in front where the user's file raised it (a trtdsl call
    in the file refused something) and its message names no file yet; else ``error``."""
    line = _model_line(error, path)
    message = str(error)
    if line == str(path) or message.startswith(str(path)):
        return error
    try:
        return type(error)(f"{line}: {message}")
    except TypeError:  # a subclass that takes other arguments
        return error


def _model_line(error: BaseException, path: Path) -> str:
    """``FILE:LINE`` of the model's last frame in ``error``'s traceback (or ``FILE``)."""
    model = path.resolve()
    frames = list(traceback.walk_tb(error.__traceback__))
    lines = [line for frame, line in frames if Path(frame.f_code.co_filename).resolve() == model]
    return f"{path}:{lines[-1]}" if lines else str(path)


def _model_mistake(error: Exception, path: Path) -> Exception:
    """A ModelError at the model's line for ``error``, or ``error`` itself if trtdsl raised it.

    The traceback says whose mistake it is: raised in the model's code, or in a library it
    called (Python's own argument check for a call included), it is the model's; raised in
    trtdsl's own code (outside the zoo), it is a trtdsl bug.
    """
    frames = list(traceback.walk_tb(error.__traceback__))
    if frames and _inside_trtdsl(frames[-1][0].f_code.co_filename):
        return error
    return ModelError(f"{_model_line(error, path)}: {type(error).__name__}: {error}")


def _inside_trtdsl(filename: str) -> bool:
    """True for trtdsl's own source files (the zoo's models are user code)."""
    package = Path(__file__).resolve().parents[1]
    file = Path(filename).resolve()
    return file.is_relative_to(package) and not file.is_relative_to(ZOO_DIR)


def with_input_shapes(graph: Graph, shapes: Mapping[str, tuple[int, ...]]) -> Graph:
    """Rebuild ``graph`` with new static shapes for some inputs, re-inferring every type.

    Symbolic dimensions no longer used by any input are dropped.

    Raises:
        UsageError if a name is not an input, or a detector's height or width is not a
        multiple of its largest stride (``strides.check_stride_multiples``); ModelError
        (naming the node) if an op rejects the new shapes.
    """
    for name, shape in shapes.items():
        if name not in graph.inputs:
            raise UsageError(
                f"--shape {name}: the model has no input {name!r}{suggest(name, graph.inputs)} "
                f"(inputs: {', '.join(graph.inputs)})"
            )
        if not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
            raise UsageError(f"--shape {name}: expected non-negative ints, got {list(shape)}")
    check_stride_multiples(graph, shapes)
    new_types = {
        name: TensorType(graph.types[name].dtype, tuple(shapes[name]))
        if name in shapes
        else graph.types[name]
        for name in graph.inputs
    }
    used = {s for t in new_types.values() for s in t.symbols}
    builder = ModelBuilder(graph.name)
    for d in graph.dims:
        if d.name in used:
            builder.dim(d.name, d.min, d.opt, d.max)
    tensors: dict[str, Tensor] = {}
    for name in graph.inputs:
        tensors[name] = builder.input(
            name,
            new_types[name].shape,
            new_types[name].dtype,
            source=graph.name,
            range=graph.input_ranges.get(name),
        )
    for node in graph.nodes:
        try:
            result = builder.node(
                node.op,
                *(tensors[v] for v in node.inputs),
                name=node.name,
                precision=node.precision,
                source=node.source or node.name,
            )
        except TrtdslError as e:
            raise ModelError(f"{e} (with input shapes {_format_shapes(shapes)})") from None
        outs = result if isinstance(result, tuple) else (result,)
        tensors.update((t.name, t) for t in outs)
    for port in graph.outputs:
        builder.output(tensors[port.value], port.name)
    for pattern, replacement in graph.weight_renames:
        builder.rename_weights(pattern, replacement, source=graph.name)
    return builder.build(warn_unused=False, source=graph.name)


def _format_shapes(shapes: Mapping[str, tuple[int, ...]]) -> str:
    return ", ".join(f"{k}={'x'.join(map(str, v))}" for k, v in shapes.items())

"""``trtdsl`` entry point: dispatches to one module per subcommand.

Exit codes: 0 success; 2 a user mistake (one line on stderr, no traceback); 1 an internal bug
(traceback); 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any

from trtdsl.errors import TrtdslError

SUBCOMMANDS = (
    "info",
    "run",
    "weights",
    "export",
    "compile",
    "refit",
    "cache",
    "calibrate",
    "bench",
    "inspect",
    "compare",
    "zoo",
    "ops",
)
"""Subcommand module names under ``trtdsl.cli``, in help order. Each module defines
``register(subparsers)``, which adds its parser with ``func=`` set to a ``(args) -> int``."""

EPILOG = """examples:
  trtdsl info zoo/resnet50.yaml
  trtdsl info resnet50 --format json
  trtdsl compile zoo/resnet50.yaml --weights random --emulate
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="trtdsl",
        description="Hand-built TensorRT engines from a Python/YAML network DSL.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"trtdsl {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in SUBCOMMANDS:
        importlib.import_module(f"trtdsl.cli.{name}").register(sub)
    _add_ops_options(sub)
    return parser


WITHOUT_MODELS = ("zoo", "cache")
"""Subcommands that load no model or engine, so take no ``--ops``."""


def _add_ops_options(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """``--ops FILE.py`` (``args.add_ops_option``) on every command that loads a model or an
    engine, on its actions where it has some (``weights check``)."""
    from trtdsl.cli.args import add_ops_option

    for name, parser in sub.choices.items():
        if name in WITHOUT_MODELS:
            continue
        actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        targets = [p for a in actions for p in a.choices.values()] if actions else [parser]
        for target in targets:
            add_ops_option(target)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit code."""
    _log_to_stderr()
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return _run_quietly(args)
    except TrtdslError as e:
        print(f"trtdsl: error: {one_line(str(e))}", file=sys.stderr)
        return 2
    except MemoryError:
        # Sizes taken from input are checked against the memory budget before allocating;
        # this is what is left (memory taken by another process meanwhile, say).
        print(
            f"trtdsl: error: {args.command}: ran out of memory (the machine has "
            f"{_available()} available now)",
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt:
        print("trtdsl: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


def one_line(message: str) -> str:
    """A message on one line: a summary line and the lines under it (a binding report lists
    one key per line) as ``summary: line; line``, inner whitespace runs collapsed."""
    lines = [" ".join(line.split()) for line in message.splitlines()]
    first, *rest = [line for line in lines if line] or [""]
    if not rest:
        return first
    return first + (" " if first.endswith(":") else ": ") + "; ".join(rest)


def _available() -> str:
    from trtdsl.files import available_memory, format_bytes

    return format_bytes(available_memory())


class _OneLine(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        text = " ".join(record.getMessage().split())
        return f"trtdsl: {record.levelname.lower()}: {text}"


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is when a record is emitted (not the stream of the
    first command: an embedding program or a test may replace it between commands)."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def _quoted_elsewhere(record: logging.LogRecord) -> bool:
    """False for an error TensorRT (or the emulator) logged: trtdsl quotes those in the one
    error line it prints when they matter, so they are not printed twice (``TRTDSL_LOG_LEVEL``
    at INFO or DEBUG shows them as they come)."""
    quiet = logging.getLogger("trtdsl").level >= logging.WARNING
    return not (quiet and record.name == "trtdsl.tensorrt" and record.levelno >= logging.ERROR)


def _log_to_stderr() -> None:
    """Warnings of the ``trtdsl`` loggers (library code logs, only the CLI prints) as one line
    each on stderr: ``trtdsl: warning: ...``; ``TRTDSL_LOG_LEVEL=INFO`` (or DEBUG) shows more."""
    logger = logging.getLogger("trtdsl")
    if any(getattr(h, "_trtdsl_cli", False) for h in logger.handlers):
        return
    handler = _StderrHandler()
    handler.setFormatter(_OneLine())
    handler.addFilter(_quoted_elsewhere)
    handler._trtdsl_cli = True  # type: ignore[attr-defined]
    logger.addHandler(handler)
    logger.setLevel(os.environ.get("TRTDSL_LOG_LEVEL", "WARNING").upper())


def _run_quietly(args: argparse.Namespace) -> int:
    """Run the subcommand with NumPy's floating-point warnings silenced (an overflow to inf in
        a float16 run is a finding the commands report: ``compare`` names the layer, not a
        RuntimeWarning with a source line for the user to decode), in a scope that records every
        file it reads, so that none of its outputs can land on one (``trtdsl.files.scope``). The
    custom ops of ``--ops FILE.py`` are registered first, for this command only."""
    import warnings

    import numpy as np

    from trtdsl.cli.args import load_ops_files
    from trtdsl.files import command_scope
    from trtdsl.ir.ops.custom import custom_op_scope

    with warnings.catch_warnings(), np.errstate(all="ignore"), command_scope():
        warnings.simplefilter("ignore", RuntimeWarning)
        with custom_op_scope():  # the ops of --ops FILE.py and of the model: this command's
            load_ops_files(args)
            return int(args.func(args) or 0)


def _version() -> str:
    from trtdsl import __version__

    return __version__


if __name__ == "__main__":
    sys.exit(main())

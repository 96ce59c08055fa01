"""``trtdsl cache ls|clear DIR``: list or empty an engine cache (``--cache DIR``)."""

from __future__ import annotations

import argparse
from typing import Any

from trtdsl.cli.format import Column, add_format_option, print_json, print_table

EXAMPLES = """examples:
  trtdsl compile resnet50 --weights random --cache ~/.cache/trtdsl -o r50.engine
  trtdsl cache ls ~/.cache/trtdsl
  trtdsl cache clear ~/.cache/trtdsl

An entry is keyed on the emitted network (graph, layers, I/O tensors), every weight buffer,
the product and version, the targets (TensorRT-RTX) or GPU (TensorRT), the precision, the
optimization profiles and the builder options; the timing cache is not part of the key.
"""

COLUMNS = (
    Column("key", "key"),
    Column("model", "model"),
    Column("product", "built by"),
    Column("targets", "targets / GPU"),
    Column("precision", "precision"),
    Column("profiles", "profiles"),
    Column("size", "MiB", "right"),
    Column("created", "created"),
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "cache",
        help="list or clear an engine cache directory",
        description="List the engines in an engine cache directory (--cache DIR of compile, "
        "run, bench, inspect, compare and export), or remove them all.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    ls = actions.add_parser("ls", help="list the cached engines")
    ls.add_argument("directory", metavar="DIR")
    add_format_option(ls)
    ls.set_defaults(func=run_ls)
    clear = actions.add_parser("clear", help="remove every cached engine")
    clear.add_argument("directory", metavar="DIR")
    clear.set_defaults(func=run_clear)


def run_ls(args: argparse.Namespace) -> int:
    from trtdsl.deploy.cache import EngineCache

    cache = EngineCache(args.directory, option="", create=False, writable=False)
    rows: list[dict[str, Any]] = []
    for entry in cache.entries():
        key = entry.record.key
        rows.append(
            {
                "key": entry.digest[:12],
                "digest": entry.digest,
                "model": entry.record.model,
                "product": f"{key.product} {key.version}",
                "targets": (
                    ",".join(f"sm_{t}" for t in key.targets)
                    if key.targets
                    else key.gpu or ("portable" if key.backend == "tensorrt-rtx" else "-")
                ),
                "precision": key.precision,
                "profiles": " ".join(f"{n}={r}" for n, r in key.profiles.items()) or "static",
                "size": f"{entry.size / 2**20:.1f}",
                "bytes": entry.size,
                "created": entry.record.created,
                "path": str(entry.engine_path),
            }
        )
    if args.format == "json":
        print_json(rows)
        return 0
    if not rows:
        print(f"{args.directory}: no cached engines")
        return 0
    total = sum(int(r["bytes"]) for r in rows)
    print_table(
        COLUMNS,
        rows,
        title=f"{args.directory}: {len(rows)} cached engine(s), {total / 2**20:.1f} MiB",
    )
    return 0


def run_clear(args: argparse.Namespace) -> int:
    from trtdsl.deploy.cache import EngineCache

    cache = EngineCache(args.directory, option="", create=False)
    count, size = cache.clear()
    print(f"{args.directory}: removed {count} cached engine(s), {size / 2**20:.1f} MiB")
    return 0

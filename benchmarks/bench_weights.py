"""Open + bind a ResNet-50-sized safetensors file: trtdsl (mmap, zero-copy) vs the peer.

    python benchmarks/bench_weights.py [--repeat 21] [--model resnet50]

Writes seeded random weights for the zoo model to a temporary directory (~98 MiB for
ResNet-50), then, each method in a fresh subprocess so that memory figures are its own:

- ``trtdsl``: ``open_safetensors`` + ``bind_weights`` (views of a memory map; no data read);
- ``trtdsl+touch``: the same, then reads every byte once (sum), for a like-for-like data read;
- ``peer``: ``safetensors.numpy.load_file`` (reads and copies every tensor), then
  ``bind_weights`` on the resulting dict.

Time is the median (and min) of ``--repeat`` runs in one process with the file in the page
cache. Memory is the growth of the process's anonymous RSS (private copies; file-backed pages
of the map are shared page cache and are reported separately) over the first run.
Not run in tests.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

GOAL_MS = 10.0


def _status() -> dict[str, int]:
    """Selected /proc/self/status fields in KiB (Linux)."""
    fields = {}
    with open("/proc/self/status") as f:
        for line in f:
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
                fields[name] = int(value.split()[0])
    return fields


def worker(method: str, path: str, model: str, repeat: int) -> dict[str, float]:
    """Run one method ``repeat`` times; return timings (ms) and memory growth (MiB)."""
    import numpy as np
    from safetensors.numpy import load_file

    from trtdsl.frontend.load import load_model
    from trtdsl.weights import bind_weights, open_safetensors

    graph = load_model(model)
    bind_weights(graph, load_file(path))  # warm imports and code paths, then drop it
    import gc

    gc.collect()

    def once() -> object:
        if method == "peer":
            return bind_weights(graph, load_file(path))
        bound = bind_weights(graph, open_safetensors(path))
        if method == "trtdsl+touch":
            for array in bound.arrays.values():
                float(np.sum(array, dtype=np.float64))
        return bound

    before = _status()
    start = time.perf_counter()
    kept = once()
    first = (time.perf_counter() - start) * 1e3
    after = _status()
    del kept
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        kept = once()
        times.append((time.perf_counter() - start) * 1e3)
        del kept
    return {
        "first_ms": first,
        "median_ms": statistics.median(times),
        "min_ms": min(times),
        "anon_mib": (after["RssAnon"] - before["RssAnon"]) / 1024,
        "file_mib": (after["RssFile"] - before["RssFile"]) / 1024,
        "hwm_mib": (after["VmHWM"] - before["VmHWM"]) / 1024,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=21)
    parser.add_argument("--model", default="resnet50")
    parser.add_argument("--worker", nargs=2, metavar=("METHOD", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker[0], args.worker[1], args.model, args.repeat)))
        return 0

    from safetensors.numpy import save_file

    from trtdsl.frontend.load import load_model
    from trtdsl.weights import random_weights

    graph = load_model(args.model)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, f"{args.model}.safetensors")
        save_file(random_weights(graph, 0), path)
        size_mib = os.path.getsize(path) / 2**20
        rows = {}
        for method in ("trtdsl", "trtdsl+touch", "peer"):
            done = subprocess.run(
                [sys.executable, __file__, "--model", args.model, "--repeat", str(args.repeat)]
                + ["--worker", method, path],
                capture_output=True,
                text=True,
                check=True,
            )
            rows[method] = json.loads(done.stdout.strip().splitlines()[-1])

    print(f"{args.model}: {size_mib:.1f} MiB safetensors, {args.repeat} runs per method")
    header = (
        f"{'method':<42}{'median ms':>10}{'min ms':>9}{'first ms':>10}"
        f"{'+anon MiB':>11}{'+file MiB':>11}"
    )
    print(header)
    print("-" * len(header))
    labels = {
        "trtdsl": "trtdsl open_safetensors + bind_weights",
        "trtdsl+touch": "trtdsl, then read every byte once",
        "peer": "safetensors.numpy.load_file + bind",
    }
    for method, r in rows.items():
        print(
            f"{labels[method]:<42}{r['median_ms']:>10.2f}{r['min_ms']:>9.2f}{r['first_ms']:>10.2f}"
            f"{r['anon_mib']:>11.1f}{r['file_mib']:>11.1f}"
        )
    ratio = rows["peer"]["median_ms"] / rows["trtdsl"]["median_ms"]
    verdict = "met" if rows["trtdsl"]["median_ms"] <= GOAL_MS else "NOT met"
    print(
        f"open+bind: {ratio:.0f}x faster than the peer; goal <= {GOAL_MS:.0f} ms {verdict}; "
        f"private copies: {rows['trtdsl']['anon_mib']:.1f} MiB "
        f"vs {rows['peer']['anon_mib']:.1f} MiB"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

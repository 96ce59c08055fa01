"""Benchmark the algorithm of TensorRT-RTX's NMS lowering (``ops/nms_layers.py``) against
torchvision's ``batched_nms`` on the same detections, one run, written in PyTorch eager.

This is NOT a TensorRT number: TensorRT-RTX engines cannot run on this project's machines.
It measures what the lowering computes (TopK of the best-class scores, the pairwise IoU of
K candidates, a (K, K) float16 suppression matrix and a matrix-vector product per fixed-point
iteration, stopped when the keep mask no longer changes; each check syncs with the host, as
a WHILE loop's condition does) against the peer TensorRT's INMSLayer-like kernels represent:
torchvision's CUDA ``batched_nms`` after the same score threshold and the same top-K. Both
must keep the same detections (checked on every run). Also reported: the fixed-point
iterations each image needs.

Detections are synthetic YOLO heads: ``--objects`` objects per image, each seen by ~40
anchors with jittered boxes and scores 0.3..0.95 of its class (real heads look so), 150
false positives a little above the threshold, and background anchors below it; 8400 anchors,
80 classes (YOLOv8 at 640x640).

    python benchmarks/bench_nms.py --device cuda --rounds 20
"""

from __future__ import annotations

import argparse
import functools
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np


def synthetic_head(n: int, objects: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(boxes (n, 8400, 4) xyxy in 640x640 pixels, scores (n, 8400, 80)) float32."""
    rng = np.random.default_rng(seed)
    anchors, classes = 8400, 80
    xy = rng.uniform(0, 640, (n, anchors, 2))
    wh = rng.uniform(8, 120, (n, anchors, 2))
    scores = rng.uniform(0, 0.2, (n, anchors, classes)) ** 3  # background: below 0.25
    for image in range(n):
        slots = rng.permutation(anchors)
        spurious = slots[-150:]  # false positives: one class a little above the threshold
        scores[image, spurious, rng.integers(classes, size=150)] = rng.uniform(0.25, 0.45, 150)
        for o in range(objects):
            centre, size = rng.uniform(60, 580, 2), rng.uniform(30, 250, 2)
            seen = slots[o * 40 : (o + 1) * 40]
            xy[image, seen] = centre + rng.normal(0, 0.03, (40, 2)) * size
            wh[image, seen] = size * rng.uniform(0.92, 1.08, (40, 2))
            scores[image, seen, rng.integers(classes)] = rng.uniform(0.3, 0.95, 40)
    boxes = np.concatenate([xy - wh / 2, xy + wh / 2], axis=2)
    return boxes.astype(np.float32), scores.astype(np.float32)


def lowered(
    torch: Any, boxes: Any, scores: Any, conf: float, iou: float, k: int, max_det: int
) -> tuple[list[Any], list[int]]:
    """The lowering's steps in PyTorch; returns (kept (box, score, class) rows per image,
    the iterations each image needed)."""
    best, label_all = scores.max(dim=2)
    score, index = best.topk(k, dim=1)
    label = label_all.gather(1, index)
    valid = score > conf
    picked = boxes.gather(1, index[..., None].expand(-1, -1, 4))
    lo = torch.minimum(picked[..., :2], picked[..., 2:])
    hi = torch.maximum(picked[..., :2], picked[..., 2:])
    area = (hi - lo).prod(dim=2)
    side = torch.minimum(hi[:, :, None], hi[:, None]) - torch.maximum(lo[:, :, None], lo[:, None])
    inter = side.clamp(min=0).prod(dim=3)
    overlap = inter / (area[:, :, None] + area[:, None] - inter)
    order = torch.arange(k, device=boxes.device)
    suppress = (overlap > iou) & (label[:, :, None] == label[:, None]) & (order[:, None] < order)
    mask = suppress.half()
    start = valid.half()[:, None]
    keep = start
    iterations = 0
    while True:  # as TensorRT's WHILE loop: every image iterates until all stopped changing
        following = (torch.bmm(keep, mask) <= 0).half() * start
        iterations += 1
        if torch.equal(following, keep):
            break
        keep = following
    kept_score = score * keep[:, 0].float()
    top, position = kept_score.topk(min(max_det, k), dim=1)
    rows = []
    for n in range(boxes.shape[0]):
        count = int((top[n] > 0).sum())
        where = position[n, :count]
        rows.append((picked[n, where], top[n, :count], label[n, where]))
    return rows, [iterations] * boxes.shape[0]


def reference(
    torch: Any, ops: Any, boxes: Any, scores: Any, conf: float, iou: float, k: int, max_det: int
) -> list[Any]:
    """torchvision: threshold, the k best, ``batched_nms``, ``max_det`` rows per image."""
    rows = []
    best, label = scores.max(dim=2)
    for n in range(boxes.shape[0]):
        chosen = best[n] > conf
        b, s, c = boxes[n][chosen], best[n][chosen], label[n][chosen]
        if s.numel() > k:
            s, top = s.topk(k)
            b, c = b[top], c[top]
        keep = ops.batched_nms(b, s, c, iou)[:max_det]
        rows.append((b[keep], s[keep], c[keep]))
    return rows


def same_rows(a: Any, b: Any) -> bool:
    """Equal sets of (box, score, class) rows (rounded to 1e-3)."""

    def table(rows: Any) -> set[tuple[float, ...]]:
        box, score, label = (t.float().cpu().numpy() for t in rows)
        full = np.concatenate([box, score[:, None], label[:, None]], axis=1)
        return set(map(tuple, np.round(full.astype(np.float64), 3)))

    return table(a) == table(b)


def timed(function: Callable[[], Any], synchronize: Callable[[], None]) -> float:
    synchronize()
    start = time.perf_counter()
    function()
    synchronize()
    return (time.perf_counter() - start) * 1e3


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--objects", type=int, default=20)
    parser.add_argument("--batches", default="1,8")
    parser.add_argument("--candidates", default="3840,1000")
    args = parser.parse_args(argv)

    import torch
    from torchvision import ops

    device = torch.device(args.device)
    synchronize = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"device: {name}; torch {torch.__version__}; objects per image: {args.objects}")
    print("| batch | K | lowering ms | batched_nms ms | ratio | iterations | same detections |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for batch in (int(b) for b in args.batches.split(",")):
        host_boxes, host_scores = synthetic_head(batch, args.objects, seed=batch)
        boxes = torch.from_numpy(host_boxes).to(device)
        scores = torch.from_numpy(host_scores).to(device)
        for k in (int(c) for c in args.candidates.split(",")):
            conf, iou, max_det = 0.25, 0.7, 300
            rows, iterations = lowered(torch, boxes, scores, conf, iou, k, max_det)
            peer = reference(torch, ops, boxes, scores, conf, iou, k, max_det)
            same = all(same_rows(a, b) for a, b in zip(rows, peer, strict=True))
            mine: list[float] = []
            theirs: list[float] = []
            run_mine = functools.partial(lowered, torch, boxes, scores, conf, iou, k, max_det)
            run_theirs = functools.partial(
                reference, torch, ops, boxes, scores, conf, iou, k, max_det
            )
            for round_ in range(args.warmup + args.rounds):  # alternate the two
                t_mine, t_theirs = timed(run_mine, synchronize), timed(run_theirs, synchronize)
                if round_ >= args.warmup:
                    mine.append(t_mine)
                    theirs.append(t_theirs)
            a, b = statistics.median(mine), statistics.median(theirs)
            print(
                f"| {batch} | {k} | {a:.3f} | {b:.3f} | {a / b:.2f} | {max(iterations)} | "
                f"{'yes' if same else 'NO'} |"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

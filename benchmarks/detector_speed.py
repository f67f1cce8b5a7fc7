"""Inference images/s of every CNN detector at its nominal size, batch 1 and 32: eager fp32 vs bf16 + channels_last.

Usage: python benchmarks/detector_speed.py [--iters 20] [--warmup 3] [--threads 2] [--models meso4 xception]
Median over `--iters` timed calls after `--warmup` untimed ones (batch 32 uses a third as many iterations);
appends a table to benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time

import torch
from _common import append_results

from deepfake_lab.models.catalogue import create_model
from deepfake_lab.models.detectors import CNN_DETECTORS


def images_per_second(model: torch.nn.Module, size: int, batch: int, bf16: bool, iters: int, warmup: int) -> float:
    """Median images/s of `model` on random [batch, 3, size, size] inputs."""
    x = torch.rand(batch, 3, size, size)
    if bf16:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    ctx = torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
    times = []
    with torch.inference_mode(), ctx:
        for i in range(warmup + iters):
            t0 = time.perf_counter()
            model(x)
            if i >= warmup:
                times.append(time.perf_counter() - t0)
    model.to(memory_format=torch.contiguous_format)
    return batch / statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--models", nargs="*", default=list(CNN_DETECTORS))
    ap.add_argument("--note", default="", help="Free text added to the RESULTS.md section (e.g. machine load).")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rows = [
        "| detector | input | params | fp32 b1 | bf16+cl b1 | fp32 b32 | bf16+cl b32 |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in args.models:
        model = create_model(name).eval()
        size = model.image_size
        n_params = sum(p.numel() for p in model.parameters())
        figs = []
        for batch in (1, 32):
            iters = args.iters if batch == 1 else max(2, args.iters // 3)
            for bf16 in (False, True):
                figs.append(images_per_second(model, size, batch, bf16, iters, args.warmup))
        fp1, bf1, fp32, bf32 = figs
        rows.append(f"| {name} | {size}² | {n_params / 1e6:.2f} M | {fp1:.0f} | {bf1:.0f} | {fp32:.0f} | {bf32:.0f} |")
        print(rows[-1], flush=True)
    lines = ["images/s (median), `torch.inference_mode`, default model kwargs.", "", *rows]
    if args.note:
        lines.insert(0, f"note: {args.note}")
    append_results("Detectors: inference speed, eager fp32 vs bf16 + channels_last (issue 6)", lines)


if __name__ == "__main__":
    main()

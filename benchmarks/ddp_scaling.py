"""Training throughput with 1 and 2 torchrun processes (gloo, CPU) on this machine.

Usage: python benchmarks/ddp_scaling.py [--model ae-conv] [--data mnist] [--steps 300] [--batch-size 128]
Each run uses the same global batch; the cores are split between the processes (threads = cores / N).
Appends a table to benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import append_results


def run(nproc: int, threads: int, args: argparse.Namespace, tmp: Path) -> float:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    name = f"p{nproc}t{threads}"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}"]
    cmd += ["-m", "deepfake_lab", "train", args.model, "--data", args.data, "--steps", str(args.steps)]
    cmd += ["--batch-size", str(args.batch_size), "--name", name, "--no-progress"]
    cmd += ["--set", f"train.threads={threads}", "--set", "train.sample_every=1000000"]
    cmd += ["--set", "train.checkpoint_every=1000000", "--set", f"train.log_every={args.steps}"]
    subprocess.run(cmd, cwd=tmp, env=env, check=True, capture_output=True)
    last = json.loads((tmp / "runs" / name / "metrics.jsonl").read_text().splitlines()[-1])
    return float(last["steps_per_second"])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="ae-conv")
    ap.add_argument("--data", default="mnist")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--batch-size", type=int, default=128)
    args = ap.parse_args()
    rows = ["| processes | threads each | steps/s | images/s | vs 1 process, 1 thread |", "|---|---|---|---|---|"]
    base = None
    with tempfile.TemporaryDirectory() as d:
        cores = os.cpu_count() or 2
        for n, threads in ((1, 1), (1, cores), (2, max(1, cores // 2))):
            sps = run(n, threads, args, Path(d))
            base = base or sps
            rows.append(f"| {n} | {threads} | {sps:.1f} | {sps * args.batch_size:.0f} | {sps / base:.2f}× |")
            print(rows[-1], flush=True)
    rows.append("")
    rows.append(
        f"{args.model} on {args.data}, global batch {args.batch_size}, {args.steps} steps, gloo on one machine. "
        "On one 2-core machine the processes only share the same cores: this measures the overhead of the "
        "gradient all-reduce, not a speed-up; scaling comes from more machines (README, 'Beyond one machine')."
    )
    append_results(f"Distributed training: 1 vs 2 processes ({args.model}, issue 10)", rows)


if __name__ == "__main__":
    main()

"""Helpers shared by the benchmark scripts: machine description and appending to RESULTS.md."""

from __future__ import annotations

import os
import platform
import shlex
import sys
from datetime import datetime, timezone
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
FIGURES = Path(__file__).resolve().parent / "figures"


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import torch

    return f"{os.cpu_count()} vCPU {cpu}, torch {torch.__version__}, {torch.get_num_threads()} threads"


def append_results(title: str, lines: list[str]) -> None:
    """Append a dated section (machine, command, figures) to benchmarks/RESULTS.md."""
    head = "" if RESULTS.exists() else "# Benchmark results\n\nAppended by the scripts in `benchmarks/`; newest last.\n"
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    cmd = shlex.join(["python", *sys.argv])
    load = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    block = [
        f"\n## {title} — {stamp}\n",
        f"- machine: {machine()}",
        f"- load average at the end (1/5/15 min): {load} (other work on the machine slows every figure)",
        f"- command: `{cmd}`",
        "",
        *lines,
        "",
    ]
    with RESULTS.open("a") as f:
        f.write(head + "\n".join(block))

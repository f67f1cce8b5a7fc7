"""The shipped detectors per crop: torch eager fp32 / bf16 autocast vs ONNX Runtime (issue 19), side by side.

Usage: python benchmarks/onnx_backend.py [--rounds 5] [--min-time 0.4] [--threads 1] [--cold 3] [--no-append]

1. Crops/s of `detector-default` and `detector-fast` at batch 1 and 8 through the scanner's call contract
   (`DetectorModel.predict` of `pipelines.scan` with precision fp32 / bf16; `OnnxDetector.predict` of
   `pipelines.scan.onnx_backend`), uint8 crops in, probabilities out. The configurations run interleaved, round
   after round (each call repeated for at least --min-time s), so that foreign load hits them alike; the
   figure is the median over rounds. torch and ONNX Runtime both get --threads intra-op threads (the scanner
   gives the detector 1 beside decoding and face detection).
2. A cold process that imports the backend, loads the default detector and scores one crop (what `detect
   photo.jpg` pays before and after the face detector), median wall of --cold fresh processes, and whether
   torch was imported.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable

import numpy as np
import torch
from _common import append_results

from deepfake_lab.pipelines.scan import DEFAULT_DETECTOR, load_torch_detector
from deepfake_lab.pipelines.scan.onnx_backend import load_onnx_detector

BATCHES = (1, 8)


def rate(fn: Callable[[], object], batch: int, min_time: float) -> float:
    """Crops/s of `fn` (one call = `batch` crops): calls repeated for at least `min_time` s, after one warm-up."""
    fn()
    n, t0 = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - t0) < min_time or n < 2:
        fn()
        n += 1
    return n * batch / elapsed


def cold_seconds(code: str, repeats: int) -> tuple[float, bool]:
    """Median wall of a fresh `python -c code` (it prints whether torch was imported)."""
    times, torch_loaded = [], False
    for _ in range(repeats):
        t = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True)
        times.append(time.perf_counter() - t)
        torch_loaded = out.stdout.split()[-1] == "True"
    return statistics.median(times), torch_loaded


def cold_code(backend: str) -> str:
    """Import, load the default detector (verified), score one 112-px crop, print whether torch was imported."""
    if backend == "torch":
        body = "from deepfake_lab.pipelines.scan import load_torch_detector\n"
        body += "det = load_torch_detector(); det.choose_precision('fp32')\n"
    else:
        body = "from deepfake_lab.pipelines.scan.onnx_backend import load_onnx_detector\n"
        body += f"det = load_onnx_detector({str(DEFAULT_DETECTOR)!r})\n"
    body += "import numpy as np, sys\n"
    body += "det.predict(np.zeros((1, det.crop_size, det.crop_size, 3), np.uint8))\n"
    body += "print('torch' in sys.modules)\n"
    return textwrap.dedent(body)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--min-time", type=float, default=0.4, help="seconds per configuration per round")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--cold", type=int, default=3, help="fresh processes per cold figure (0 = skip)")
    ap.add_argument("--names", nargs="+", default=["default", "fast"])
    ap.add_argument("--no-append", dest="append", action="store_false")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    load_start = os.getloadavg()[0]
    rng = np.random.default_rng(0)
    configs: dict[tuple[str, str, int], Callable[[], object]] = {}
    sizes = {}
    for name in args.names:
        tdet = load_torch_detector(name)
        odet = load_onnx_detector(DEFAULT_DETECTOR.with_name(f"detector-{name}.safetensors"), threads=args.threads)
        sizes[name] = odet.crop_size
        for batch in BATCHES:
            crops = rng.integers(0, 256, (batch, odet.crop_size, odet.crop_size, 3), dtype=np.uint8)
            for prec in ("fp32", "bf16"):

                def run_torch(d=tdet, p=prec, c=crops) -> object:
                    d.precision = p
                    return d.predict(c)

                configs[(name, f"torch {prec}", batch)] = run_torch
            configs[(name, "onnxruntime", batch)] = lambda d=odet, c=crops: d.predict(c)
        tdet.choose_precision("fp32")  # channels_last, as the scanner runs it
    rates: dict[tuple[str, str, int], list[float]] = {k: [] for k in configs}
    for _ in range(args.rounds):
        for key, fn in configs.items():
            rates[key].append(rate(fn, key[2], args.min_time))
    med = {k: statistics.median(v) for k, v in rates.items()}
    lines = [
        f"- load average (1 min) at start / end: {load_start:.2f} / {os.getloadavg()[0]:.2f} "
        f"(2 shared vCPUs); {args.threads} intra-op thread(s) for torch and ONNX Runtime (spinning off); "
        f"median of {args.rounds} interleaved rounds of ≥ {args.min_time} s each; uint8 crops → probabilities",
        "",
        "| detector | crop | batch | torch fp32 | torch bf16 | ONNX Runtime | ORT / torch fp32 |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in args.names:
        for batch in BATCHES:
            f32, b16, ort = (med[(name, b, batch)] for b in ("torch fp32", "torch bf16", "onnxruntime"))
            lines.append(
                f"| detector-{name} | {sizes[name]}² | {batch} | {f32:.0f} crops/s | {b16:.0f} crops/s | "
                f"{ort:.0f} crops/s | {ort / f32:.1f}× |"
            )
    if args.cold:
        lines += [
            "",
            f"Cold process: import + load detector-default (weights verified) + score one crop, median of {args.cold}:",
            "",
            "| backend | wall | torch imported |",
            "|---|---|---|",
        ]
        for backend in ("torch", "onnxruntime"):
            secs, loaded = cold_seconds(cold_code(backend), args.cold)
            lines.append(f"| {backend} | {secs:.2f} s | {loaded} |")
    lines.append(f"- load average (1 min) after the cold figures: {os.getloadavg()[0]:.2f}")
    print("\n".join(lines))
    if args.append:
        append_results("detectors: torch eager vs ONNX Runtime per crop (benchmarks/onnx_backend.py)", lines)


if __name__ == "__main__":
    main()

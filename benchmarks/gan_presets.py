"""Full preset runs of the GAN family from the CLI: wall minutes to the preset's last step, and its samples.

The issue asks that each model "produces recognisable samples on its demo data within a documented number of
minutes". This runs `deepfake-lab train PRESET` exactly as a user would (1 torch thread by default, so two
runs can share a 2-core machine), times it, copies the last preview grid to
`benchmarks/figures/preset_<preset>.png` and, with `--fid N`, runs `deepfake-lab eval-gen RUN --n N` on the
z -> image generators. Whether the samples are recognisable is for a person to judge from those figures; the
README records what we saw.

    python benchmarks/gan_presets.py gan-mlp cgan-mlp dcgan-32 --fid 500
    python benchmarks/gan_presets.py pix2pix --set data.name=pairs/edges-woman
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import FIGURES, append_results

CLI = [sys.executable, "-m", "deepfake_lab"]
Z_GENERATORS = {"gan-mlp", "cgan-mlp", "dcgan-32", "dcgan-64", "cdcgan-32", "progan-32"}


def run_preset(preset: str, overrides: list[str], threads: int, root: Path) -> tuple[float, dict, Path]:
    """Train the preset to its end; returns (wall seconds, last metrics line with steps/s, run dir)."""
    run = root / preset
    cmd = [*CLI, "train", preset, "--runs-dir", str(root), "--name", preset, "--no-progress",
           "--set", f"train.threads={threads}"]  # fmt: skip
    for o in overrides:
        cmd += ["--set", o]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True)
    wall = time.perf_counter() - t0
    final = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    return wall, next(r for r in reversed(final) if "steps_per_second" in r), run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("presets", nargs="+")
    ap.add_argument("--set", dest="overrides", action="append", default=[], help="override for every preset")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--fid", type=int, default=0, help="eval-gen --n N on z->image generators (0: skip)")
    ap.add_argument("--no-append", action="store_true")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)  # only so that the machine line in RESULTS.md names the runs' threads
    FIGURES.mkdir(exist_ok=True)
    rows = ["| preset | steps | wall minutes (train) | steps/s | FID / KID | samples |", "|---|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        for preset in args.presets:
            wall, last, run = run_preset(preset, args.overrides, args.threads, root)
            grids = sorted((run / "samples").glob("step_*.png"))
            fig = FIGURES / f"preset_{preset}.png"
            if grids and not args.no_append:  # a trial run leaves the recorded figures alone
                shutil.copyfile(grids[-1], fig)
            fid = "-"
            if args.fid and preset in Z_GENERATORS:
                env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}  # eval-gen: as many threads as training
                subprocess.run([*CLI, "eval-gen", str(run), "--n", str(args.fid)], check=True, env=env)
                ev = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()][-1]
                fid = f"{ev['fid']:.1f} / {ev['kid']:.4f} (n={args.fid})"
            shown = f"`benchmarks/figures/{fig.name}`" if grids else "-"
            rows.append(
                f"| {preset} | {last['step']} | {wall / 60:.1f} | {last['steps_per_second']:.2f} | {fid} | {shown} |"
            )
            print(rows[-1], flush=True)
    over = ", ".join(args.overrides) or "none"
    rows += ["", f"`deepfake-lab train PRESET` with {args.threads} torch thread(s); overrides: {over}."]
    if not args.no_append:
        append_results("GANs: full preset runs from the CLI (minutes to the last step)", rows)


if __name__ == "__main__":
    main()

"""Training speed of the GAN family's second part through the one Trainer (presets, 1 thread by default).

For each preset: build the Trainer from the shipped preset (+ small overrides so it runs on built-in data),
run a few warm-up steps, then time `--steps` steps. Prints steps/s and the wall-clock minutes the preset's
full step budget would take at that speed; appends to RESULTS.md with the load average (the machine is
shared: figures under load are lower bounds of what a quiet machine does).

    OMP_NUM_THREADS=1 python benchmarks/gan_family_speed.py --steps 20
    python benchmarks/gan_family_speed.py --pairs pairs/mesh-woman --faces-a facesets/woman --faces-b facesets/man
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import torch
from _common import append_results
from gan_speed import its

from deepfake_lab.config import apply_overrides
from deepfake_lab.train.run import build_run_config
from deepfake_lab.train.trainer import Trainer


def measure(preset: str, overrides: list[str], steps: int, warmup: int, root: Path) -> tuple[float, int]:
    """(steps/s over `steps` timed steps, the preset's full step budget)."""
    cfg = build_run_config(preset, overrides=overrides)
    budget = cfg.train.steps
    quiet = ["train.sample_every=1000000", "train.checkpoint_every=1000000", "train.log_every=1000000"]
    cfg = apply_overrides(cfg, quiet)
    trainer = Trainer(cfg, root / preset, progress=False, tensorboard=False)
    trainer.prepare()
    its(trainer.train_step, warmup)
    return its(trainer.train_step, steps), budget


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--pairs", type=Path, default=None, help="paired folder for pix2pix (default: grey->colour pairs)")
    ap.add_argument("--faces-a", type=Path, default=None)
    ap.add_argument("--faces-b", type=Path, default=None)
    ap.add_argument("--no-append", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    load0 = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        pairs = args.pairs
        if pairs is None:
            from deepfake_lab.data.paired import make_pairs

            pairs = root / "pairs"
            make_pairs("fashion-mnist", pairs, kind="gray", image_size=64, limit=512)
        runs = [
            ("progan-32", ["task_kwargs.stage_steps=1000000"], "4x4 stage"),
            ("progan-32", ["task_kwargs.stage_steps=1", "task_kwargs.fade_fraction=0"], "32x32 stage"),
            ("pix2pix", [f"data.name={pairs}"], f"{'given' if args.pairs else 'grey->colour'} pairs 64 px"),
            ("cyclegan-mnist-fashion", [], "MNIST <-> Fashion-MNIST 32 px"),
            ("gan-cls-32", ["task_kwargs.encoder=bow"], "Fashion-MNIST captions, bow encoder"),
        ]
        if args.faces_a and args.faces_b:
            runs.append(
                ("cyclegan-faces", [f"data.name={args.faces_a}", f"task_kwargs.data_b={args.faces_b}"], "faces 64 px")
            )
        lines = ["| preset | setting | steps/s | preset budget | minutes at this speed |", "|---|---|---|---|---|"]
        for preset, over, what in runs:
            sps, budget = measure(preset, over, args.steps, args.warmup, root)
            line = f"| {preset} | {what} | {sps:.2f} | {budget} | {budget / sps / 60:.1f} |"
            print(line, flush=True)
            lines.append(line)
    lines.append(f"\n{args.threads} torch thread(s); load average at the start: {load0:.2f}")
    if not args.no_append:
        append_results("GAN family part 2: training speed per preset (Trainer)", lines)


if __name__ == "__main__":
    main()
